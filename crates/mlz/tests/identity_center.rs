//! IAM Identity Center: the permission sets people sign in with, and the cloud admin role
//! only the `serviceCatalog.cloudAdmins` permission sets may assume (docs/identity-center.md).

mod common;
use common::{actions, fixtures};

use std::fs;

use mlz_emit::plan::glob;

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

#[test]
fn the_security_auditor_reads_security_metadata_not_data() {
    // SecurityAudit reads security configuration; ViewOnlyAccess lists and describes
    // resources. ReadOnlyAccess would also read data (S3 objects, DynamoDB items, secrets'
    // metadata and more), which an auditor does not need (IAM user guide, "AWS managed
    // policies for job functions").
    let dir = fixtures().join("reference/expected");
    let t = mlz_model::yaml::parse_cfn(
        &fs::read_to_string(dir.join("identity-center/permission-sets.yaml")).expect("sets"),
    )
    .expect("yaml")
    .to_json();
    let auditor = t["Resources"]
        .as_object()
        .expect("resources")
        .values()
        .find(|r| r["Properties"]["Name"] == "SecurityAuditor")
        .expect("SecurityAuditor permission set");
    let managed = auditor["Properties"]["ManagedPolicies"].to_string();
    assert!(managed.contains("policy/SecurityAudit"), "{managed}");
    assert!(
        managed.contains("policy/job-function/ViewOnlyAccess"),
        "{managed}"
    );
    assert!(!managed.contains("ReadOnlyAccess"), "{managed}");
    assert!(auditor["Properties"]["InlinePolicy"].is_null());
}

/// The data-writing built-in permission sets (dataScientist, dataEngineering) of a team group
/// that lists no stages reach the team's dev and test accounts, never prod; a group that
/// lists prod gets it there (the config grants it).
#[test]
fn data_scientists_and_engineers_write_in_prod_only_when_the_config_says_so() {
    let assigned = |config: &str| -> Vec<(String, String, String)> {
        let l = mlz_model::load("platform.yaml", config, &mlz_model::NoFiles);
        let p = l.platform.expect("valid");
        let ic = p.identity_center.as_ref().expect("identity center");
        let mut out = Vec::new();
        for g in &ic.groups {
            for a in &g.assignments {
                let mlz_model::AccountRef::Account(i) = a.account else {
                    continue;
                };
                let Some((_, stage)) = &p.account(i).team else {
                    continue;
                };
                out.push((
                    g.name.clone(),
                    ic.permission_sets[a.permission_set].name.clone(),
                    stage.clone(),
                ));
            }
        }
        out
    };
    let reference = assigned(mlz_model::REFERENCE_CONFIG);
    for set in ["DataScientist", "DataEngineering"] {
        let stages: Vec<&str> = reference
            .iter()
            .filter(|(_, s, _)| s == set)
            .map(|(_, _, st)| st.as_str())
            .collect();
        assert!(
            stages.contains(&"dev") && stages.contains(&"test"),
            "{set}: {stages:?}"
        );
        assert!(!stages.contains(&"prod"), "{set} reaches prod: {stages:?}");
    }
    // Team leads and ML engineers still reach prod.
    for set in ["AdministratorAccess", "MLEngineering"] {
        assert!(
            reference.iter().any(|(_, s, st)| s == set && st == "prod"),
            "{set}"
        );
    }
    // Listing the stages grants prod.
    let from = "    - name: \"{{team}}-DataScientists\"\n      permissionSets: [DataScientist]\n";
    assert!(mlz_model::REFERENCE_CONFIG.contains(from));
    let granted = mlz_model::REFERENCE_CONFIG
        .replace(from, &format!("{from}      stages: [dev, test, prod]\n"));
    assert!(assigned(&granted)
        .iter()
        .any(|(_, s, st)| s == "DataScientist" && st == "prod"));
}

/// Every role a permission set may pass exists: some template of the reference output makes
/// a role its pattern matches (the data engineers' `mlz-glue-*` is the blueprints'
/// `mlz-glue-jobs`).
#[test]
fn every_role_a_permission_set_passes_is_made_somewhere() {
    let dir = fixtures().join("reference/expected");
    let sets = mlz_model::yaml::parse_cfn(
        &fs::read_to_string(dir.join("identity-center/permission-sets.yaml")).expect("sets"),
    )
    .expect("yaml")
    .to_json();
    let mut names: Vec<String> = Vec::new();
    for (path, text) in common::golden_templates() {
        if !path.starts_with("reference/") {
            continue;
        }
        let t = mlz_model::yaml::parse_cfn(&text).expect("yaml").to_json();
        for (_, r) in common::resources(&t, "AWS::IAM::Role") {
            match &r["Properties"]["RoleName"] {
                serde_json::Value::String(s) => names.push(s.clone()),
                serde_json::Value::Object(o) => {
                    if let Some(s) = o.get("Fn::Sub").and_then(|v| v.as_str()) {
                        names.push(s.to_owned());
                    }
                }
                _ => {}
            }
        }
    }
    let mut checked = 0;
    for ps in sets["Resources"].as_object().expect("resources").values() {
        let Some(statements) = ps["Properties"]["InlinePolicy"]["Statement"].as_array() else {
            continue;
        };
        for st in statements {
            if !actions(st).iter().any(|a| a == "iam:PassRole") {
                continue;
            }
            let arn = st["Resource"]["Fn::Sub"]
                .as_str()
                .or(st["Resource"].as_str())
                .expect("a role pattern");
            let pattern = arn.rsplit('/').next().expect("role name");
            // A made name's ${…} parts stand for a value: "x".
            let made = names.iter().any(|n| glob(pattern, &placeholders_as_x(n)));
            assert!(
                made,
                "{}: no template makes a role {pattern}",
                ps["Properties"]["Name"]
            );
            checked += 1;
        }
    }
    assert!(checked >= 2, "{checked} PassRole statements");
}

fn placeholders_as_x(name: &str) -> String {
    let mut out = String::new();
    let mut rest = name;
    while let Some(i) = rest.find("${") {
        out.push_str(&rest[..i]);
        out.push('x');
        rest = rest[i..].find('}').map_or("", |e| &rest[i + e + 1..]);
    }
    out.push_str(rest);
    out
}

/// SageMaker's request condition keys that exist only on the Create actions of jobs, endpoints
/// and apps (Service Authorization Reference, "Actions, resources, and condition keys for
/// Amazon SageMaker AI": StopTrainingJob, StopProcessingJob and the like take only
/// `aws:ResourceTag/…`). On any other action such a key is absent, so a condition on it denies
/// (or, with `Null: false`, never allows).
const CREATE_ONLY_KEYS: &[&str] = &[
    "sagemaker:VpcSubnets",
    "sagemaker:VpcSecurityGroupIds",
    "sagemaker:VolumeKmsKey",
    "sagemaker:OutputKmsKey",
    "sagemaker:InstanceTypes",
    "sagemaker:NetworkIsolation",
    "sagemaker:InterContainerTrafficEncryption",
    "sagemaker:MaxRuntimeInSeconds",
];

/// No statement of a permission set or role in the reference output gives a Stop, Describe,
/// List or Delete action behind a condition key that only Create actions carry: people must be
/// able to stop the jobs they start.
#[test]
fn no_stop_sits_behind_a_create_only_condition_key() {
    let mut checked = 0;
    for (path, text) in common::golden_templates() {
        if !path.starts_with("reference/") {
            continue;
        }
        let t = mlz_model::yaml::parse_cfn(&text).expect("yaml").to_json();
        let statements: Vec<serde_json::Value> = t["Resources"]
            .as_object()
            .into_iter()
            .flat_map(|rs| rs.values())
            .flat_map(common::identity_statements)
            .collect();
        for st in &statements {
            let keys: Vec<&String> = st["Condition"]
                .as_object()
                .into_iter()
                .flat_map(|ops| ops.values())
                .filter_map(|m| m.as_object())
                .flat_map(|m| m.keys())
                .collect();
            if !keys.iter().any(|k| CREATE_ONLY_KEYS.contains(&k.as_str())) {
                continue;
            }
            for a in actions(st) {
                let verb = a.split(':').nth(1).unwrap_or("");
                assert!(
                    verb.starts_with("Create"),
                    "{path} {}: {a} behind a Create-only condition key {keys:?}",
                    st["Sid"]
                );
            }
            checked += 1;
        }
    }
    assert!(
        checked >= 1,
        "no statement uses a Create-only key: the test proves nothing"
    );
}

/// Every permission set that may tag SageMaker resources denies the Studio isolation tag:
/// whoever can retag a colleague's profile can open it.
#[test]
fn no_permission_set_can_move_the_studio_isolation_tag() {
    let dir = fixtures().join("reference/expected");
    let t = mlz_model::yaml::parse_cfn(
        &fs::read_to_string(dir.join("identity-center/permission-sets.yaml")).expect("sets"),
    )
    .expect("yaml")
    .to_json();
    let mut seen = 0;
    for ps in t["Resources"].as_object().expect("resources").values() {
        let Some(statements) = ps["Properties"]["InlinePolicy"]["Statement"].as_array() else {
            continue;
        };
        let tags = statements.iter().any(|s| {
            s["Effect"] == "Allow"
                && actions(s)
                    .iter()
                    .any(|a| a == "sagemaker:AddTags" || a == "sagemaker:*")
        });
        if !tags {
            continue;
        }
        let denied = statements.iter().any(|s| {
            s["Effect"] == "Deny"
                && actions(s).iter().any(|a| a == "sagemaker:AddTags")
                && s["Condition"].to_string().contains("studio-user")
        });
        assert!(
            denied,
            "{} may set the studio-user tag",
            ps["Properties"]["Name"]
        );
        seen += 1;
    }
    assert!(seen >= 2, "{seen} tagging permission sets");
}

/// People who explore and move data never write registered model artefacts or captured
/// inference data (an approved package serves its artefact by key), and data scientists can
/// give their in-VPC jobs the volume-key grant those jobs need.
#[test]
fn people_never_overwrite_model_artefacts_and_can_key_their_jobs() {
    let dir = fixtures().join("reference/expected");
    let t = mlz_model::yaml::parse_cfn(
        &fs::read_to_string(dir.join("identity-center/permission-sets.yaml")).expect("sets"),
    )
    .expect("yaml")
    .to_json();
    let set = |name: &str| -> Vec<serde_json::Value> {
        t["Resources"]
            .as_object()
            .expect("resources")
            .values()
            .find(|r| r["Properties"]["Name"] == name)
            .and_then(|r| {
                r["Properties"]["InlinePolicy"]["Statement"]
                    .as_array()
                    .cloned()
            })
            .unwrap_or_else(|| panic!("{name}"))
    };
    for name in ["DataScientist", "DataEngineering"] {
        let deny = set(name)
            .into_iter()
            .find(|s| s["Sid"] == "NeverWriteModelArtefacts")
            .unwrap_or_else(|| panic!("{name} may overwrite model artefacts"));
        assert_eq!(deny["Effect"], "Deny");
        let text = deny["Resource"].to_string();
        for mark in ["-artefacts-", "-pipeline-", "-models-", "-capture-"] {
            assert!(text.contains(mark), "{name}: {mark}");
        }
        assert!(actions(&deny).iter().any(|a| a == "s3:PutObject"));
    }
    let grant = set("DataScientist")
        .into_iter()
        .find(|s| s["Sid"] == "JobVolumeKeys")
        .expect("the data scientists' jobs get no volume-key grant");
    assert_eq!(
        grant["Condition"]["Bool"]["kms:GrantIsForAWSResource"],
        "true"
    );
}
