//! Rules the output relies on that no linter checks, tested on every golden output
//! (docs/aws-rules.md lists each with its source).

mod common;
use common::{fixtures, golden_templates as templates};

use std::fs;

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

/// What a policy statement's `Resource` names, as text (`Fn::Sub` bodies, `Fn::GetAtt`
/// as `X.Arn`, `Ref` as `X`).
fn resource_texts(r: &serde_json::Value) -> Vec<String> {
    use serde_json::Value;
    match r {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().flat_map(resource_texts).collect(),
        Value::Object(o) => {
            if let Some(sub) = o.get("Fn::Sub") {
                match sub {
                    Value::String(s) => vec![s.clone()],
                    Value::Array(a) => vec![a[0].as_str().unwrap_or_default().to_owned()],
                    _ => Vec::new(),
                }
            } else if let Some(Value::Array(g)) = o.get("Fn::GetAtt") {
                vec![format!(
                    "${{{}.{}}}",
                    g[0].as_str().unwrap_or(""),
                    g[1].as_str().unwrap_or("")
                )]
            } else if let Some(Value::String(x)) = o.get("Ref") {
                vec![format!("${{{x}}}")]
            } else {
                vec!["<computed>".to_owned()]
            }
        }
        _ => Vec::new(),
    }
}

fn grants(st: &serde_json::Value, action: &str) -> bool {
    st["Effect"] == "Allow"
        && common::actions(st)
            .iter()
            .any(|p| common::action_matches(p, action))
}

/// Every principal of the output that reads or writes objects of an SSE-KMS bucket of the
/// platform can use the bucket's key: `kms:Decrypt` to read and `kms:GenerateDataKey` to write
/// (Amazon S3 user guide, "Using server-side encryption with AWS KMS keys"), on that very key or
/// through S3 only (`kms:ViaService`). A statement's buckets are those of its template it names
/// (SSE-KMS or not, from the bucket), or, when it names buckets by pattern or `*`, any of the
/// account's, except the artifact buckets (`mlz-artifacts-*`, SSE-S3 so that CloudFormation and
/// Service Catalog read templates across accounts) and Service Catalog's template reads.
#[test]
fn every_principal_with_access_to_an_sse_kms_bucket_can_use_its_key() {
    let mut checked = 0;
    for (path, text) in templates() {
        let t = mlz_model::yaml::parse_cfn(&text).expect("yaml").to_json();
        let Some(resources) = t["Resources"].as_object() else {
            continue;
        };
        // This template's buckets: logical id → its key's logical id (None: not SSE-KMS).
        let buckets: std::collections::BTreeMap<&String, Option<String>> = resources
            .iter()
            .filter(|(_, r)| r["Type"] == "AWS::S3::Bucket")
            .map(|(id, r)| {
                let sse = &r["Properties"]["BucketEncryption"]["ServerSideEncryptionConfiguration"]
                    [0]["ServerSideEncryptionByDefault"];
                let key = (sse["SSEAlgorithm"] == "aws:kms")
                    .then(|| resource_texts(&sse["KMSMasterKeyID"]).join(""));
                (id, key)
            })
            .collect();
        for (id, r) in resources {
            let statements = common::identity_statements(r);
            if statements.is_empty() {
                continue;
            }
            for (s3, kms) in [
                ("s3:GetObject", "kms:Decrypt"),
                ("s3:PutObject", "kms:GenerateDataKey"),
            ] {
                // The keys this principal needs for that access: Some(key) for a bucket of
                // this template, None for "some SSE-KMS bucket of the account".
                let mut needs: Vec<Option<String>> = Vec::new();
                for st in statements.iter().filter(|st| grants(st, s3)) {
                    if st["Condition"]
                        .to_string()
                        .contains("servicecatalog:provisioning")
                    {
                        continue; // Service Catalog's product templates (artifact buckets)
                    }
                    for res in resource_texts(&st["Resource"]) {
                        let own = buckets.iter().find(|(b, _)| {
                            res.contains(&format!("${{{b}.Arn}}"))
                                || res.contains(&format!("${{{b}}}"))
                        });
                        match own {
                            Some((_, key)) => {
                                if let Some(k) = key {
                                    needs.push(Some(k.clone()));
                                }
                            }
                            None if res.contains("mlz-artifacts-") => {}
                            None => needs.push(None),
                        }
                    }
                }
                for need in needs {
                    let ok = statements.iter().filter(|st| grants(st, kms)).any(|st| {
                        let through_s3 = st["Condition"].to_string().contains("kms:ViaService")
                            && st["Condition"].to_string().contains("s3.");
                        // On the bucket's own key; for buckets named by pattern, on keys the
                        // statement names (the buckets' keys, passed as parameters or made beside).
                        let keys = resource_texts(&st["Resource"]);
                        let on_key = match &need {
                            Some(k) => keys.iter().any(|r| r.contains(k.as_str())),
                            None => !keys.is_empty() && keys.iter().all(|r| r != "*"),
                        };
                        through_s3 || on_key
                    });
                    assert!(
                        ok,
                        "{path} {id}: {s3} on an SSE-KMS bucket ({}) without {kms} on its key",
                        need.as_deref().unwrap_or("any of the account's")
                    );
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 50, "{checked} accesses checked");
}

/// The longest a `Fn::Sub` name can become: `${AWS::AccountId}` 12 characters, a region 14
/// (`ap-southeast-2`), a parameter its `MaxLength` or longest allowed value, an account-id
/// parameter 12.
fn longest_name(t: &serde_json::Value, body: &str) -> Result<usize, String> {
    let mut len = 0;
    let mut rest = body;
    while let Some(i) = rest.find("${") {
        len += i;
        let end = rest[i..].find('}').ok_or("unclosed ${")? + i;
        let name = &rest[i + 2..end];
        let p = &t["Parameters"][name];
        len += match name {
            "AWS::AccountId" => 12,
            "AWS::Region" => "ap-southeast-2".len(),
            _ if p["AllowedPattern"] == "^[0-9]{12}$" => 12,
            _ => match (p["MaxLength"].as_u64(), p["AllowedValues"].as_array()) {
                (Some(n), _) => n as usize,
                (None, Some(vs)) => vs
                    .iter()
                    .filter_map(|v| v.as_str())
                    .map(str::len)
                    .max()
                    .unwrap_or(0),
                _ => return Err(format!("${{{name}}} has no bound")),
            },
        };
        rest = &rest[end + 1..];
    }
    Ok(len + rest.len())
}

/// Every name mlz writes stays within AWS's limit for the longest names the config language
/// allows: a 20-character stack prefix, 40-character portfolio names, and team names as long as
/// the reference's e-mail pattern lets them be (43: `aws+<team>-prod@example.com` is at most
/// 64 characters, `email-length`). Limits: IAM role 64 (IAM
/// user guide, "IAM and AWS STS quotas"), bucket 63 and lower case (S3 user guide, "Bucket
/// naming rules"), permission set 32 (Identity Center API, CreatePermissionSet), StackSet and
/// stack 128 (CloudFormation API), Organizations policy 128, budget 100, Service Catalog
/// portfolio display name 100, scheduler schedule 64, scaling policy 256.
#[test]
fn no_name_exceeds_its_limit_for_the_longest_config() {
    let long_team = |t: &str| format!("{t}-{}", "x".repeat(43 - t.len() - 1));
    let mut text = mlz_model::REFERENCE_CONFIG.replace(
        "  stackPrefix: mlz\n",
        &format!("  stackPrefix: {}\n", "p".repeat(20)),
    );
    for team in ["fraud-detection", "churn-prediction"] {
        text = text.replace(team, &long_team(team));
    }
    for pf in ["analytics", "model-building", "model-deployment"] {
        let from = format!("    - name: {pf}\n");
        assert!(text.contains(&from), "{pf}");
        text = text.replace(
            &from,
            &format!("    - name: {pf}-{}\n", "y".repeat(40 - pf.len() - 1)),
        );
    }
    let files = match mlz::compile(
        "longest.yaml",
        &text,
        &mlz_model::NoFiles,
        mlz_emit::Options::default(),
    ) {
        mlz::Outcome::Generated { output, .. } => output.files,
        mlz::Outcome::Invalid { report } | mlz::Outcome::Failed { report } => {
            panic!("the longest config is refused:\n{report}")
        }
    };
    let limits: &[(&str, &str, usize)] = &[
        ("AWS::IAM::Role", "RoleName", 64),
        ("AWS::S3::Bucket", "BucketName", 63),
        ("AWS::SSO::PermissionSet", "Name", 32),
        ("AWS::CloudFormation::StackSet", "StackSetName", 128),
        ("AWS::Organizations::Policy", "Name", 128),
        ("AWS::Budgets::Budget", "Budget", 100),
        ("AWS::ServiceCatalog::Portfolio", "DisplayName", 100),
        ("AWS::Scheduler::Schedule", "Name", 64),
        (
            "AWS::ApplicationAutoScaling::ScalingPolicy",
            "PolicyName",
            256,
        ),
    ];
    let mut checked = 0;
    for (path, bytes) in &files {
        if !path.ends_with(".yaml") {
            continue;
        }
        let Ok(t) = mlz_model::yaml::parse_cfn(&String::from_utf8_lossy(bytes)) else {
            continue;
        };
        let t = t.to_json();
        let Some(resources) = t["Resources"].as_object() else {
            continue;
        };
        for (id, r) in resources {
            for (ty, key, limit) in limits {
                if r["Type"] != *ty {
                    continue;
                }
                let v = if *key == "Budget" {
                    &r["Properties"]["Budget"]["BudgetName"]
                } else {
                    &r["Properties"][*key]
                };
                let body = match v {
                    serde_json::Value::String(s) => s.clone(),
                    serde_json::Value::Object(o) => match o.get("Fn::Sub") {
                        Some(serde_json::Value::String(s)) => s.clone(),
                        _ => continue,
                    },
                    _ => continue,
                };
                let n = longest_name(&t, &body).unwrap_or_else(|e| panic!("{path} {id}: {e}"));
                assert!(
                    n <= *limit,
                    "{path} {id}: {key} {body:?} can be {n} characters (limit {limit})"
                );
                if *ty == "AWS::S3::Bucket" {
                    let literal: String = body
                        .split("${")
                        .map(|p| p.rsplit('}').next().unwrap_or(p))
                        .collect();
                    assert_eq!(
                        literal,
                        literal.to_lowercase(),
                        "{path} {id}: {body} has upper case"
                    );
                }
                checked += 1;
            }
        }
    }
    let manifest: serde_json::Value =
        serde_json::from_slice(&files["manifest.json"]).expect("manifest");
    for t in manifest["templates"].as_array().expect("templates") {
        if let Some(name) = t["stackName"].as_str() {
            assert!(
                name.len() <= 128,
                "stack {name} is {} characters",
                name.len()
            );
            checked += 1;
        }
    }
    assert!(checked > 100, "{checked} names checked");
}

/// Every custom resource but the Account Factory lookup (docs/aws-rules.md says why) waits
/// for its function a minute past the function's timeout, not CloudFormation's default hour.
#[test]
fn custom_resources_time_out_soon_after_their_function() {
    let mut checked = 0;
    for (path, text) in templates() {
        let t = mlz_model::yaml::parse_cfn(&text).expect("yaml").to_json();
        let Some(resources) = t["Resources"].as_object() else {
            continue;
        };
        for (id, r) in resources {
            let ty = r["Type"].as_str().unwrap_or("");
            if !ty.starts_with("Custom::") || ty == "Custom::AccountFactoryArtifact" {
                continue;
            }
            let timeout = r["Properties"]["ServiceTimeout"]
                .as_u64()
                .unwrap_or_else(|| panic!("{path} {id}: no ServiceTimeout"));
            // The function, when it is in the same template.
            let function = r["Properties"]["ServiceToken"]["Fn::GetAtt"][0].as_str();
            if let Some(f) = function {
                let limit = resources[f]["Properties"]["Timeout"]
                    .as_u64()
                    .expect("Timeout");
                assert!(
                    timeout > limit && timeout <= limit + 120,
                    "{path} {id}: {timeout} s for a {limit} s function"
                );
            }
            assert!((1..=3600).contains(&timeout));
            checked += 1;
        }
    }
    assert!(checked >= 10, "{checked} custom resources");
}

/// Every IAM role's inline policies fit IAM's aggregate quota for a role, 10,240 characters
/// without white space (IAM user guide, "IAM and AWS STS quotas"), with every ARN as written
/// for the aws partition. The launch roles, the largest, grew with the handler permissions.
#[test]
fn every_role_fits_the_inline_policy_quota() {
    let mut largest = (0, String::new());
    for (path, text) in templates() {
        let t = mlz_model::yaml::parse_cfn(&text).expect("yaml").to_json();
        for (id, r) in common::resources(&t, "AWS::IAM::Role") {
            let n: usize = r["Properties"]["Policies"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|p| {
                    serde_json::to_string(&p["PolicyDocument"])
                        .expect("json")
                        .replace(r#"{"Fn::Sub":"arn:${AWS::Partition}:"#, r#""arn:aws:"#)
                        .chars()
                        .filter(|c| !c.is_whitespace())
                        .count()
                })
                .sum();
            assert!(n <= 10_240, "{path} {id}: {n} characters of inline policy");
            if n > largest.0 {
                largest = (n, format!("{path} {id}"));
            }
        }
    }
    assert!(largest.0 > 5_000, "largest {largest:?}");
}
