//! Organizations: the accounts mlz creates or looks up, and the service control policies
//! that must leave every deployer its way in (docs/organizations.md).

mod common;
use common::{fixtures, json, reference};

use std::fs;

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

#[test]
fn the_builtin_scps_exempt_every_member_account_deployer() {
    let m = json(&reference().join("manifest.json"));
    let policies =
        fs::read_to_string(fixtures().join("reference/expected/organizations/policies.yaml"))
            .expect("policies");
    for t in m["templates"].as_array().expect("templates") {
        if t["kind"] != "stack" || t["account"]["role"] == "management" {
            continue;
        }
        let who = t["deployAs"]["principal"].as_str().expect("principal");
        // The reference has a pipeline: CloudFormation runs as the pipeline's role.
        assert_eq!(who, "mlz-pipeline-deploy", "{}", t["path"]);
        assert!(
            policies.contains(&format!(":iam::*:role/{who}")),
            "{} deploys as {who}, which the builtin SCPs do not exempt",
            t["path"]
        );
    }
}

/// The role names an SCP of the output exempts (`ArnNotLike aws:PrincipalARN`) cannot be
/// borrowed: in the same policy, a deny keeps making, changing, assuming and passing them to
/// the exempted roles (and passing the deploy role to the pipeline's action role), for every
/// golden case. The deploy-as roles of member-account stacks are among the exempted.
#[test]
fn every_exempted_role_name_is_protected_in_its_policy() {
    let mut checked = 0;
    for (path, text) in common::golden_templates() {
        if !path.contains("/organizations/") {
            continue;
        }
        let t = mlz_model::yaml::parse_cfn(&text).expect("yaml").to_json();
        for (id, r) in common::resources(&t, "AWS::Organizations::Policy") {
            if r["Properties"]["Type"] != "SERVICE_CONTROL_POLICY" {
                continue;
            }
            let statements = r["Properties"]["Content"]["Statement"]
                .as_array()
                .expect("statements");
            let by_sid = |sid: &str| statements.iter().find(|s| s["Sid"] == sid);
            for s in statements {
                let Some(exempted) = s["Condition"]["ArnNotLike"]["aws:PrincipalARN"].as_array()
                else {
                    continue;
                };
                if s["Sid"] == "ProtectExemptRoles" || s["Sid"] == "PassExemptRolesOnlyAsDeployers"
                {
                    continue;
                }
                let protect = by_sid("ProtectExemptRoles").unwrap_or_else(|| {
                    panic!("{path} {id} exempts roles but does not protect them")
                });
                let pass = by_sid("PassExemptRolesOnlyAsDeployers")
                    .unwrap_or_else(|| panic!("{path} {id}: no PassRole protection"));
                let denies = |st: &serde_json::Value, a: &str| {
                    common::actions(st).iter().any(|p| match p.split_once('*') {
                        Some((h, _)) => a.starts_with(h),
                        None => p == a,
                    })
                };
                for a in [
                    "iam:CreateRole",
                    "iam:UpdateAssumeRolePolicy",
                    "iam:PutRolePolicy",
                    "iam:AttachRolePolicy",
                    "iam:DeleteRole",
                ] {
                    assert!(denies(protect, a), "{path} {id}: {a} is not denied");
                }
                let assume = by_sid("NeverAssumeExemptRoles")
                    .unwrap_or_else(|| panic!("{path} {id}: exempted roles may be assumed"));
                assert!(denies(assume, "sts:AssumeRole"));
                assert_eq!(protect["Effect"], "Deny");
                assert_eq!(pass["Action"], "iam:PassRole");
                for arn in exempted {
                    let arn = match arn {
                        serde_json::Value::Object(o) => o["Fn::Sub"].clone(),
                        other => other.clone(),
                    };
                    let covered = |st: &serde_json::Value| {
                        st["Resource"]
                            .as_array()
                            .expect("resources")
                            .iter()
                            .any(|r| r == &arn || r.get("Fn::Sub") == Some(&arn))
                    };
                    assert!(
                        covered(protect),
                        "{path} {id}: {arn} is exempted but anyone may make or change it"
                    );
                    assert!(
                        covered(pass),
                        "{path} {id}: {arn} is exempted but anyone may pass it"
                    );
                }
                checked += 1;
            }
        }
    }
    assert!(checked >= 4, "{checked} exempting statements");
}
