//! Rules the output relies on that no linter checks, tested on every golden output
//! (docs/aws-rules.md lists each with its source).

mod common;
use common::fixtures;

use std::fs;
use std::path::Path;

/// Every generated template of every valid golden case: (case/path, text).
fn templates() -> Vec<(String, String)> {
    fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, String)>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else if p.extension().is_some_and(|x| x == "yaml" || x == "json")
                && !p.ends_with("manifest.json")
                && p.components().any(|c| c.as_os_str() == "expected")
            {
                let text = fs::read_to_string(&p).expect("read");
                if text.contains("AWSTemplateFormatVersion") {
                    let rel = p.strip_prefix(root).unwrap_or(&p).display().to_string();
                    out.push((rel, text));
                }
            }
        }
    }
    let mut out = Vec::new();
    walk(&fixtures(), &fixtures(), &mut out);
    out.sort();
    assert!(out.len() > 100, "only {} golden templates", out.len());
    out
}

#[test]
fn every_managed_policy_arn_comes_from_the_checked_list() {
    let mut seen = 0;
    for (path, text) in templates() {
        for (at, _) in text.match_indices("iam::aws:policy/") {
            let rest = &text[at + "iam::aws:policy/".len()..];
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || "_/+=,.@-".contains(*c))
                .collect();
            seen += 1;
            assert!(
                mlz_model::managed_policies::find(&name).is_some(),
                "{path}: managed policy {name} is not in mlz_model::managed_policies"
            );
            // Partition-aware: the ARN starts with arn:${AWS::Partition}, never arn:aws.
            let start = text[..at].rfind("arn:").unwrap_or(0);
            assert!(
                text[start..at].contains("${AWS::Partition}"),
                "{path}: {} is not partition-aware",
                &text[start..at + 16 + name.len()]
            );
        }
    }
    assert!(seen > 10, "only {seen} managed-policy ARNs seen");
}

#[test]
fn project_profiles_name_blueprints_by_id_from_their_account() {
    let dir = fixtures().join("reference/expected");
    let text = fs::read_to_string(dir.join("unified-studio/projects.yaml")).expect("projects");
    let t = mlz_model::yaml::parse_cfn(&text).expect("yaml").to_json();
    let m: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.join("manifest.json")).expect("manifest"))
            .expect("json");
    let entry = m["templates"]
        .as_array()
        .expect("templates")
        .iter()
        .find(|e| e["path"] == "unified-studio/projects.yaml")
        .expect("projects in the manifest");
    let mut profiles = 0;
    for r in t["Resources"].as_object().expect("resources").values() {
        if r["Type"] != "AWS::DataZone::ProjectProfile" {
            continue;
        }
        profiles += 1;
        for c in r["Properties"]["EnvironmentConfigurations"]
            .as_array()
            .expect("configurations")
        {
            let id = &c["EnvironmentBlueprintId"];
            // Never the blueprint's name: a Ref to a parameter that takes the id from the
            // export of the profile account's blueprints stack (or an import in this account).
            assert!(!id.is_string(), "blueprint by name: {id}");
            if let Some(param) = id["Ref"].as_str() {
                let p = entry["parameters"]
                    .as_array()
                    .expect("parameters")
                    .iter()
                    .find(|p| p["name"] == param)
                    .expect("declared parameter");
                let export = p["valueFromExport"]["export"]
                    .as_str()
                    .expect("from an export");
                assert!(export.starts_with("mlz-Studio-Blueprint"), "{export}");
                assert_ne!(p["valueFromExport"]["account"], "Data Governance");
            } else {
                assert!(id["Fn::ImportValue"].is_string(), "{id}");
            }
        }
    }
    assert!(profiles >= 2);
}

#[test]
fn no_template_names_the_aws_partition() {
    // `arn:${AWS::Partition}:…`, so that the same templates deploy in aws-cn and aws-us-gov.
    for (path, text) in templates() {
        assert!(!text.contains("arn:aws:"), "{path} has a literal arn:aws:");
    }
}

#[test]
fn every_configured_account_tag_reaches_the_vended_account() {
    let dir = fixtures().join("reference");
    let text = fs::read_to_string(dir.join("platform.yaml")).expect("config");
    let p = mlz_model::load("platform.yaml", &text, &mlz::DirFiles { base: dir.clone() })
        .platform
        .expect("valid");
    // Every vending template, parsed once.
    let mut resources = serde_json::Map::new();
    for (path, text) in templates() {
        if path.starts_with("reference/")
            && (path.contains("/vending-") || path.contains("control-tower/account-tags"))
        {
            let t = mlz_model::yaml::parse_cfn(&text).expect("yaml").to_json();
            for (k, v) in t["Resources"].as_object().expect("resources") {
                resources.insert(k.clone(), v.clone());
            }
        }
    }
    let mut checked = 0;
    // Vended accounts are tagged by their vending stack, the others (Control Tower's own) by
    // control-tower/account-tags.
    for a in p.accounts.iter().filter(|a| !a.tags.is_empty()) {
        let r = resources
            .get(&format!("{}Tags", a.logical_id))
            .unwrap_or_else(|| panic!("no tags resource for {}", a.name));
        assert_eq!(r["Type"], "Custom::AccountTags");
        if a.created_by == mlz_model::CreatedBy::Mlz && a.id.is_none() {
            assert_eq!(
                r["Properties"]["AccountId"]["Fn::GetAtt"][0],
                a.logical_id.as_str(),
                "{} tags the account its product vends",
                a.name
            );
        }
        let got: std::collections::BTreeMap<String, String> = r["Properties"]["Tags"]
            .as_array()
            .expect("tags")
            .iter()
            .map(|t| {
                (
                    t["Key"].as_str().unwrap_or_default().to_owned(),
                    t["Value"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        assert_eq!(got, a.tags, "{}", a.name);
        checked += 1;
    }
    // Platform accounts (owner, cost-centre), Control Tower's (owner) and team accounts (team,
    // stage and the team's).
    assert!(checked >= 14, "only {checked} tagged accounts");
}

#[test]
fn portfolio_principals_can_launch_and_the_launch_role_can_validate() {
    let dir = fixtures().join("reference/expected");
    let read = |p: &str| {
        mlz_model::yaml::parse_cfn(&fs::read_to_string(dir.join(p)).expect("template"))
            .expect("yaml")
            .to_json()
    };
    let sets = read("identity-center/permission-sets.yaml");
    let mut named = std::collections::BTreeSet::new();
    for (path, text) in templates() {
        if !path.starts_with("reference/expected/service-catalog/portfolio-") {
            continue;
        }
        for (at, _) in text.match_indices("AWSReservedSSO_") {
            let rest = &text[at + "AWSReservedSSO_".len()..];
            named.insert(rest.split('_').next().unwrap_or_default().to_owned());
        }
    }
    assert!(named.contains("MLEngineering"), "{named:?}");
    for name in &named {
        let ps = sets["Resources"]
            .as_object()
            .expect("resources")
            .values()
            .find(|r| r["Properties"]["Name"] == name.as_str())
            .unwrap_or_else(|| panic!("no permission set {name}"));
        let policy = ps["Properties"]["InlinePolicy"].to_string();
        for action in [
            "servicecatalog:ProvisionProduct",
            "servicecatalog:SearchProducts",
            "servicecatalog:ListLaunchPaths",
        ] {
            assert!(policy.contains(action), "{name} cannot {action}");
        }
    }
    // ValidateTemplate has no resource-level permissions: it must be allowed on *.
    let role = read("service-catalog/launch-role-analytics.yaml");
    let statements = &role["Resources"]["LaunchRole"]["Properties"]["Policies"][0]
        ["PolicyDocument"]["Statement"];
    let ok = statements.as_array().expect("statements").iter().any(|s| {
        s["Resource"] == "*"
            && s["Action"]
                .to_string()
                .contains("cloudformation:ValidateTemplate")
    });
    assert!(ok, "ValidateTemplate is not allowed on *");
}

use mlz_emit::plan::glob;

fn actions(s: &serde_json::Value) -> Vec<String> {
    match &s["Action"] {
        serde_json::Value::String(a) => vec![a.clone()],
        serde_json::Value::Array(l) => l
            .iter()
            .filter_map(|a| a.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

#[test]
fn a_data_scientist_cannot_change_the_isolation_tag_or_make_domains() {
    let dir = fixtures().join("reference/expected");
    let t = mlz_model::yaml::parse_cfn(
        &fs::read_to_string(dir.join("identity-center/permission-sets.yaml")).expect("sets"),
    )
    .expect("yaml")
    .to_json();
    let ds = t["Resources"]
        .as_object()
        .expect("resources")
        .values()
        .find(|r| r["Properties"]["Name"] == "DataScientist")
        .expect("DataScientist permission set");
    let statements = ds["Properties"]["InlinePolicy"]["Statement"]
        .as_array()
        .expect("statements")
        .clone();
    let mut denied = false;
    for s in &statements {
        let acts = actions(s);
        let allows = |a: &str| acts.iter().any(|p| glob(p, a));
        if s["Effect"] == "Allow" {
            if allows("sagemaker:AddTags") {
                assert_eq!(
                    s["Condition"]["Null"]["sagemaker:TaggingAction"], "false",
                    "AddTags outside a Create call: {s}"
                );
            }
            assert!(!allows("sagemaker:DeleteTags"), "{s}");
            for a in [
                "sagemaker:CreateDomain",
                "sagemaker:CreateUserProfile",
                "sagemaker:UpdateUserProfile",
            ] {
                assert!(!allows(a), "a data scientist may {a}: {s}");
            }
        } else if allows("sagemaker:AddTags") && allows("sagemaker:DeleteTags") {
            denied |= s["Condition"]["ForAnyValue:StringEquals"]["aws:TagKeys"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == "studio-user"));
        }
    }
    assert!(
        denied,
        "no Deny of AddTags/DeleteTags on the studio-user tag"
    );
    // The presigned-URL separation needs IAM mode, which both Studio products default to.
    let presigned = statements.iter().any(|s| {
        actions(s)
            .iter()
            .any(|a| a == "sagemaker:CreatePresignedDomainUrl")
    });
    assert!(presigned);
    // Private spaces and their apps belong to the profile the session is for.
    let domain =
        fs::read_to_string(dir.join("products/analytics/studio-domain.yaml")).expect("domain");
    assert_eq!(
        domain
            .matches("user-profile/${!sagemaker:DomainId}/${!sagemaker:UserProfileName}")
            .count(),
        2,
        "spaces and apps pinned to the session's own profile"
    );
    for product in ["studio-domain", "studio-user-profile"] {
        let text = fs::read_to_string(dir.join(format!("products/analytics/{product}.yaml")))
            .expect("product");
        let t = mlz_model::yaml::parse_cfn(&text).expect("yaml").to_json();
        assert_eq!(t["Parameters"]["AuthMode"]["Default"], "IAM", "{product}");
    }
}

#[test]
fn the_transit_gateway_is_shared_only_with_the_ous_of_attaching_accounts() {
    let dir = fixtures().join("reference");
    let text = fs::read_to_string(dir.join("platform.yaml")).expect("config");
    let p = mlz_model::load("platform.yaml", &text, &mlz::DirFiles { base: dir.clone() })
        .platform
        .expect("valid");
    let n = p.network.as_ref().expect("network");
    // No hub where no spoke can exist: the corporate-network blueprint deploys in the home
    // region only.
    assert!(!dir
        .join("expected/network/transit-gateway-eu-central-1.yaml")
        .exists());
    #[allow(clippy::single_element_loop)]
    for region in ["eu-west-1"] {
        let mut want: Vec<String> = n
            .ranges
            .iter()
            .filter(|r| r.region == region)
            .map(|r| {
                let ou = &p.ou(p.account(r.account).ou).name;
                format!("Ou{}Arn", ou.replace(' ', ""))
            })
            .collect();
        want.sort();
        want.dedup();
        let t = mlz_model::yaml::parse_cfn(
            &fs::read_to_string(
                dir.join(format!("expected/network/transit-gateway-{region}.yaml")),
            )
            .expect("hub"),
        )
        .expect("yaml")
        .to_json();
        let mut got: Vec<String> = t["Resources"]["HubShare"]["Properties"]["Principals"]
            .as_array()
            .expect("principals")
            .iter()
            .filter_map(|v| v["Ref"].as_str().map(str::to_owned))
            .collect();
        got.sort();
        assert_eq!(got, want, "{region}");
        assert!(!got.is_empty());
    }
}

#[test]
fn every_group_the_domain_uses_has_a_profile_first() {
    let dir = fixtures().join("reference/expected/unified-studio");
    let read = |f: &str| {
        mlz_model::yaml::parse_cfn(&fs::read_to_string(dir.join(f)).expect("template"))
            .expect("yaml")
            .to_json()
    };
    let domain = read("domain.yaml");
    let projects = read("projects.yaml");
    let res = domain["Resources"].as_object().expect("resources");
    // The group id value each profile is made for, as JSON text.
    let profiled: Vec<String> = res
        .values()
        .filter(|r| r["Type"] == "AWS::DataZone::GroupProfile")
        .map(|r| r["Properties"]["GroupIdentifier"].to_string())
        .collect();
    assert!(!profiled.is_empty());
    for (id, r) in res {
        if r["Type"] == "AWS::DataZone::Owner" {
            let g = r["Properties"]["Owner"]["Group"]["GroupIdentifier"].to_string();
            assert!(
                profiled.contains(&g),
                "owner {id}: group {g} has no profile"
            );
            let deps = r["DependsOn"].to_string();
            assert!(
                deps.contains("GroupProfile"),
                "owner {id} does not wait for the profile"
            );
        }
    }
    // Project members are the same groups (the projects stack deploys after the domain's).
    let mut members = 0;
    for r in projects["Resources"]
        .as_object()
        .expect("resources")
        .values()
    {
        for m in r["Properties"]["MembershipAssignments"]
            .as_array()
            .into_iter()
            .flatten()
        {
            members += 1;
            let g = m["Member"]["GroupIdentifier"]["Ref"]
                .as_str()
                .expect("a parameter");
            assert!(
                profiled.iter().any(|p| p.contains(g)),
                "member group {g} has no profile"
            );
        }
    }
    assert!(members > 0);
}

#[test]
fn the_domain_execution_role_trusts_as_the_admin_guide_gives() {
    let t = mlz_model::yaml::parse_cfn(
        &fs::read_to_string(fixtures().join("reference/expected/unified-studio/domain.yaml"))
            .expect("domain"),
    )
    .expect("yaml")
    .to_json();
    let s = &t["Resources"]["DomainExecutionRole"]["Properties"]["AssumeRolePolicyDocument"]
        ["Statement"][0];
    assert_eq!(s["Principal"]["Service"], "datazone.amazonaws.com");
    assert!(s["Condition"]["StringEquals"]["aws:SourceAccount"].is_object());
    assert_eq!(
        s["Condition"]["ForAllValues:StringLike"]["aws:TagKeys"],
        "datazone*"
    );
    let actions = s["Action"].to_string();
    for a in ["sts:AssumeRole", "sts:TagSession", "sts:SetContext"] {
        assert!(actions.contains(a), "{a}");
    }
}

#[test]
fn the_cloud_admin_role_can_be_assumed_from_identity_center() {
    // aws:MultiFactorAuthPresent never holds in a federated session (IAM user guide,
    // MFA-protected API access): the trust names the Identity Center roles instead.
    let text = fs::read_to_string(
        fixtures().join("reference/expected/service-catalog/cloud-admin-role.yaml"),
    )
    .expect("cloud admin role");
    assert!(!text.contains("aws:MultiFactorAuthPresent"));
    let t = mlz_model::yaml::parse_cfn(&text).expect("yaml").to_json();
    let s =
        &t["Resources"]["CloudAdminRole"]["Properties"]["AssumeRolePolicyDocument"]["Statement"][0];
    let pattern = s["Condition"]["ArnLike"]["aws:PrincipalArn"].to_string();
    assert!(
        pattern.contains("role/aws-reserved/sso.amazonaws.com/*/AWSReservedSSO_"),
        "{pattern}"
    );
}

/// Accounts mlz neither vends nor creates and whose id the config does not give (Control
/// Tower's log archive and audit accounts) are looked up by e-mail and exported: no template
/// asks a person for their id.
#[test]
fn accounts_mlz_does_not_create_are_looked_up() {
    let l = mlz_model::load(
        "platform.yaml",
        mlz_model::REFERENCE_CONFIG,
        &mlz_model::NoFiles,
    );
    let p = l.platform.expect("reference");
    let dir = fixtures().join("reference/expected");
    let t = mlz_model::yaml::parse_cfn(
        &fs::read_to_string(dir.join("organizations/account-ids.yaml")).expect("account-ids"),
    )
    .expect("yaml")
    .to_json();
    let m: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.join("manifest.json")).expect("manifest"))
            .expect("json");
    let mut looked_up = 0;
    for a in &p.accounts {
        let lid = &a.logical_id;
        let outside = a.id.is_none() && a.created_by != mlz_model::CreatedBy::Mlz;
        let lookup = &t["Resources"][format!("{lid}Lookup")];
        assert_eq!(!lookup.is_null(), outside, "{}", a.name);
        if !outside {
            continue;
        }
        looked_up += 1;
        assert_eq!(lookup["Type"], "Custom::AccountId");
        assert_eq!(lookup["Properties"]["Email"], a.email.as_str());
        let out = &t["Outputs"][format!("{lid}Id")];
        assert_eq!(out["Value"]["Fn::GetAtt"][0], format!("{lid}Lookup"));
        assert_eq!(out["Export"]["Name"], format!("mlz-{lid}-Id"));
        // Wherever a template takes the id as a parameter, the parameter names the export.
        for e in m["templates"].as_array().expect("templates") {
            for prm in e["parameters"].as_array().into_iter().flatten() {
                if prm["name"] == format!("{lid}Id").as_str() {
                    assert_eq!(
                        prm["valueFromExport"]["export"],
                        format!("mlz-{lid}-Id"),
                        "{}: {}",
                        e["path"],
                        a.name
                    );
                }
            }
        }
    }
    assert!(looked_up >= 2, "the log archive and audit accounts");
}

/// The cloud admin role is assumable from exactly the `serviceCatalog.cloudAdmins`
/// permission sets' Identity Center sessions: their roles are the only trusted principals,
/// and their permission sets allow `sts:AssumeRole` on it; the data scientists' neither.
#[test]
fn only_the_cloud_admin_permission_sets_assume_the_cloud_admin_role() {
    let dir = fixtures().join("reference/expected");
    let read = |path: &str| {
        mlz_model::yaml::parse_cfn(&fs::read_to_string(dir.join(path)).expect(path))
            .expect("yaml")
            .to_json()
    };
    let role = read("service-catalog/cloud-admin-role.yaml");
    let trust = &role["Resources"]["CloudAdminRole"]["Properties"]["AssumeRolePolicyDocument"]
        ["Statement"][0];
    let trusted: Vec<String> = trust["Condition"]["ArnLike"]["aws:PrincipalArn"]
        .as_array()
        .expect("a list of Identity Center roles")
        .iter()
        .map(|v| v["Fn::Sub"].as_str().unwrap_or_default().to_owned())
        .collect();
    let admins = ["MLEngineering", "AdministratorAccess"];
    // Two patterns per permission set: roles made in us-east-1 have no region in their path.
    assert_eq!(trusted.len(), 2 * admins.len());
    assert!(trusted
        .iter()
        .all(|t| t.contains("sso.amazonaws.com/AWSReservedSSO_")
            || t.contains("sso.amazonaws.com/*/AWSReservedSSO_")));
    let sets = read("identity-center/permission-sets.yaml");
    for (id, ps) in sets["Resources"].as_object().expect("resources") {
        if ps["Type"] != "AWS::SSO::PermissionSet" {
            continue;
        }
        let name = ps["Properties"]["Name"].as_str().unwrap_or_default();
        let is_admin = admins.contains(&name);
        let pattern = format!("/AWSReservedSSO_{name}_*");
        assert_eq!(
            trusted.iter().any(|t| t.ends_with(&pattern)),
            is_admin,
            "{id}: trusted"
        );
        let may_assume = ps["Properties"]["InlinePolicy"]["Statement"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|s| s["Sid"] == "AssumeCloudAdmin" && s["Action"] == "sts:AssumeRole");
        assert_eq!(may_assume, is_admin, "{id}: may assume");
    }
}

#[test]
fn a_cloud_admin_that_is_no_permission_set_is_an_error() {
    let text = mlz_model::REFERENCE_CONFIG.replacen(
        "cloudAdmins: [MLEngineering, AdministratorAccess]",
        "cloudAdmins: [MLEngineerin]",
        1,
    );
    assert_ne!(text, mlz_model::REFERENCE_CONFIG);
    let l = mlz_model::load("platform.yaml", &text, &mlz_model::NoFiles);
    let codes: Vec<&str> = l.diagnostics.iter().map(|d| d.code).collect();
    assert_eq!(codes, ["unknown-permission-set"]);
    let d = &l.diagnostics[0];
    assert!(d.span.is_some());
    assert_eq!(d.path.to_string(), "serviceCatalog.cloudAdmins[0]");
    assert!(d
        .hint
        .as_deref()
        .unwrap_or_default()
        .contains("MLEngineering"));
}

/// Values the platform knows are filled in the vending requests, or named by the export that
/// holds them: the sandbox's budget alert address, the Security Tooling account, the
/// Transit Gateway; only what exists nowhere in the config is left to fill.
#[test]
fn vending_requests_fill_what_the_platform_knows() {
    let dir = fixtures().join("reference/expected/vending");
    let mut checked = 0;
    for e in fs::read_dir(&dir).expect("vending") {
        let path = e.expect("entry").path();
        let v: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(&path).expect("read")).expect("json");
        let b = &v["blueprint"];
        if b.is_null() {
            continue;
        }
        checked += 1;
        for p in b["parametersToFill"].as_array().expect("to fill") {
            assert!(
                !p["valueFromExport"]["export"].is_null(),
                "{}: {} is left to fill with nowhere named to find it",
                path.display(),
                p["name"]
            );
        }
        if b["name"] == "sandbox" {
            assert_eq!(b["parameters"]["BudgetAlertEmail"], v["account"]["email"]);
        }
    }
    assert!(checked > 5, "{checked} vending requests with a blueprint");
}

/// Every resource whose deletion or replacement loses data or access is retained on both:
/// Transit Gateways, KMS keys, buckets, the Unified Studio and Studio domains and projects,
/// accounts (Organizations or Account Factory), the landing zone, model registries.
#[test]
fn what_holds_data_or_access_is_retained() {
    const KEPT: &[&str] = &[
        "AWS::EC2::TransitGateway",
        "AWS::KMS::Key",
        "AWS::S3::Bucket",
        "AWS::DataZone::Domain",
        "AWS::DataZone::Project",
        "AWS::SageMaker::Domain",
        "AWS::Organizations::Account",
        "AWS::ServiceCatalog::CloudFormationProvisionedProduct",
        "AWS::ControlTower::LandingZone",
        "AWS::SageMaker::ModelPackageGroup",
    ];
    let mut seen = std::collections::BTreeMap::new();
    // What mlz writes (not the input files of the invalid cases).
    for (path, text) in templates()
        .into_iter()
        .filter(|(p, _)| p.contains("/expected/"))
    {
        let t = mlz_model::yaml::parse_cfn(&text).expect("yaml").to_json();
        for (id, r) in t["Resources"].as_object().into_iter().flatten() {
            let ty = r["Type"].as_str().unwrap_or_default();
            if !KEPT.contains(&ty) {
                continue;
            }
            *seen.entry(ty.to_owned()).or_insert(0) += 1;
            assert_eq!(r["DeletionPolicy"], "Retain", "{path}: {id} ({ty})");
            assert_eq!(r["UpdateReplacePolicy"], "Retain", "{path}: {id} ({ty})");
        }
    }
    for ty in KEPT {
        assert!(
            seen.contains_key(*ty),
            "no {ty} in the golden outputs: {seen:?}"
        );
    }
}

/// Every stack has its configuration file (CodePipeline's template-configuration format):
/// the parameter values mlz knows, and a stack policy that denies replacing or deleting the
/// identity resources it holds.
#[test]
fn every_stack_has_its_configuration_with_a_stack_policy_for_identities() {
    let dir = fixtures().join("reference/expected");
    let m: serde_json::Value =
        serde_json::from_str(&fs::read_to_string(dir.join("manifest.json")).expect("manifest"))
            .expect("json");
    let protected = [
        "AWS::Organizations::Account",
        "AWS::ServiceCatalog::CloudFormationProvisionedProduct",
        "AWS::SSO::PermissionSet",
        "AWS::DataZone::Domain",
        "AWS::EC2::TransitGateway",
    ];
    let mut policies = 0;
    for t in m["templates"].as_array().expect("templates") {
        let kind = t["kind"].as_str().unwrap_or_default();
        let cfg = t["configuration"].as_str();
        if kind != "stack" && kind != "stackSet" {
            assert!(cfg.is_none(), "{}", t["path"]);
            continue;
        }
        let cfg = cfg.unwrap_or_else(|| panic!("{} has no configuration", t["path"]));
        let c: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(dir.join(cfg)).expect("configuration"))
                .expect("json");
        for p in t["parameters"].as_array().expect("parameters") {
            let name = p["name"].as_str().unwrap_or_default();
            assert_eq!(c["Parameters"][name], p["value"].clone(), "{cfg}: {name}");
        }
        let body = mlz_model::yaml::parse_cfn(
            &fs::read_to_string(dir.join(t["path"].as_str().unwrap_or_default()))
                .expect("template"),
        )
        .expect("yaml")
        .to_json();
        let held: std::collections::BTreeSet<&str> = body["Resources"]
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(_, r)| r["Type"].as_str())
            .filter(|ty| protected.contains(ty))
            .collect();
        let deny = &c["StackPolicy"]["Statement"][1];
        if held.is_empty() {
            assert!(c["StackPolicy"].is_null(), "{cfg}");
        } else {
            policies += 1;
            assert_eq!(deny["Effect"], "Deny", "{cfg}");
            assert_eq!(
                deny["Action"],
                serde_json::json!(["Update:Replace", "Update:Delete"]),
                "{cfg}"
            );
            let listed: std::collections::BTreeSet<&str> = deny["Condition"]["StringEquals"]
                ["ResourceType"]
                .as_array()
                .expect("types")
                .iter()
                .filter_map(|v| v.as_str())
                .collect();
            assert_eq!(listed, held, "{cfg}");
        }
    }
    assert!(policies >= 4, "{policies} stacks with a stack policy");
}
