//! Who may deploy what: service control policies against the principal that deploys each
//! stack. Two checks: Control Tower's mandatory role-protection SCP (a role of a protected
//! name can only be made by `AWSControlTowerExecution` or a StackSet), and the
//! organisation's own SCPs (a Deny on the actions a stack's resources need must exempt the
//! stack's deployer).
//!
//! Only statements the plan can evaluate offline are checked: `Deny` with `Action` (not
//! `NotAction`) whose only conditions exempt principals by ARN. A deny that also depends on
//! the region, tags or the request is left alone (the region-deny policy exempts only
//! requests outside the governed regions, where mlz deploys nothing).

use mlz_cfn::Value;
use mlz_model::{AccountRef, OuIdx, Platform, PolicyType};

use super::{enrolled, rules, DeployAs};
use crate::stack::{DeployKind, Stack};
use crate::types;
use crate::EmitError;

/// Role names Control Tower's mandatory SCP protects in enrolled accounts.
const CT_PROTECTED_ROLES: &[&str] = &[
    "*AWSControlTower*",
    "aws-controltower-*",
    "stacksets-exec-*",
];

/// The API actions CloudFormation's handlers call to update or delete these resource types,
/// where an SCP of the platform may deny them (resource provider schemas, handlers.update
/// and handlers.delete permissions, as bundled with cfn-lint 1.58.0).
const PROTECTED_ACTIONS: &[(&str, &[&str])] = &[
    (
        types::GUARDDUTY_DETECTOR,
        &["guardduty:UpdateDetector", "guardduty:DeleteDetector"],
    ),
    (
        types::GUARDDUTY_PUBLISHING_DESTINATION,
        &[
            "guardduty:UpdatePublishingDestination",
            "guardduty:DeletePublishingDestination",
        ],
    ),
    (
        types::MACIE_SESSION,
        &["macie2:UpdateMacieSession", "macie2:DisableMacie"],
    ),
    (
        types::SECURITYHUB_ORG_CONFIGURATION,
        &["securityhub:UpdateOrganizationConfiguration"],
    ),
    (
        types::SECURITYHUB_AGGREGATOR,
        &[
            "securityhub:UpdateFindingAggregator",
            "securityhub:DeleteFindingAggregator",
        ],
    ),
    (
        types::SECURITYHUB_CONFIGURATION_POLICY,
        &[
            "securityhub:UpdateConfigurationPolicy",
            "securityhub:DeleteConfigurationPolicy",
        ],
    ),
    (
        types::SECURITYHUB_POLICY_ASSOCIATION,
        &[
            "securityhub:StartConfigurationPolicyAssociation",
            "securityhub:StartConfigurationPolicyDisassociation",
        ],
    ),
];

pub use mlz_model::aws::glob;

fn strings(v: &serde_json::Value) -> Vec<&str> {
    match v {
        serde_json::Value::String(s) => vec![s.as_str()],
        serde_json::Value::Array(a) => a.iter().filter_map(|x| x.as_str()).collect(),
        _ => Vec::new(),
    }
}

/// A Deny statement the plan can evaluate: the actions it denies and the principal ARN
/// patterns it exempts.
struct Deny<'a> {
    policy: &'a str,
    sid: String,
    actions: Vec<&'a str>,
    exempt: Vec<&'a str>,
}

fn denies<'a>(name: &'a str, doc: &'a serde_json::Value) -> Vec<Deny<'a>> {
    let statements: Vec<&serde_json::Value> = match &doc["Statement"] {
        serde_json::Value::Array(a) => a.iter().collect(),
        s @ serde_json::Value::Object(_) => vec![s],
        _ => Vec::new(),
    };
    let mut out = Vec::new();
    for s in statements {
        if s["Effect"] != "Deny" || s.get("Action").is_none() {
            continue;
        }
        let mut exempt = Vec::new();
        let mut other_condition = false;
        if let Some(cond) = s["Condition"].as_object() {
            for (op, keys) in cond {
                let Some(keys) = keys.as_object() else {
                    other_condition = true;
                    continue;
                };
                for (k, v) in keys {
                    let principal = k.eq_ignore_ascii_case("aws:PrincipalArn");
                    let negated = matches!(
                        op.as_str(),
                        "ArnNotLike" | "StringNotLike" | "ArnNotEquals" | "StringNotEquals"
                    );
                    if principal && negated {
                        exempt.extend(strings(v));
                    } else {
                        other_condition = true;
                    }
                }
            }
        }
        if other_condition {
            continue;
        }
        out.push(Deny {
            policy: name,
            sid: s["Sid"].as_str().unwrap_or("").to_owned(),
            actions: strings(&s["Action"]),
            exempt,
        });
    }
    out
}

/// OUs from `ou` up to the root.
fn ancestors(p: &Platform, ou: OuIdx) -> Vec<OuIdx> {
    let mut out = vec![ou];
    let mut cur = p.ou(ou).parent;
    while let Some(o) = cur {
        out.push(o);
        cur = p.ou(o).parent;
    }
    out
}

pub fn check(
    p: &Platform,
    stacks: &[Stack],
    deploy_as: &[DeployAs],
    files: &[String],
    errs: &mut Vec<EmitError>,
) {
    for (i, s) in stacks.iter().enumerate() {
        if !matches!(s.deploy, DeployKind::Stack | DeployKind::StackSet) {
            continue;
        }
        let role_arn = deploy_as[i]
            .role_name()
            .map(|r| format!("arn:aws:iam::123456789012:role/{r}"));
        control_tower_roles(p, s, &deploy_as[i], &files[i], errs);
        let AccountRef::Account(a) = s.account else {
            continue;
        };
        let Some(role_arn) = role_arn else { continue };
        let acc = p.account(a);
        let ous = ancestors(p, acc.ou);
        let applies = p.policies.iter().filter(|pol| {
            pol.policy_type == PolicyType::ServiceControl
                && (pol.targets.root
                    || pol.targets.ous.iter().any(|o| ous.contains(o))
                    || pol.targets.accounts.contains(&a))
        });
        for pol in applies {
            for d in denies(&pol.name, &pol.document) {
                if d.exempt.iter().any(|e| glob(e, &role_arn)) {
                    continue;
                }
                for r in s.template.resources.values() {
                    let Some((_, needed)) = PROTECTED_ACTIONS
                        .iter()
                        .find(|(t, _)| *t == r.resource_type)
                    else {
                        continue;
                    };
                    if let Some(action) = needed
                        .iter()
                        .find(|n| d.actions.iter().any(|pat| glob(pat, n)))
                    {
                        errs.push(EmitError {
                            template: files[i].clone(),
                            message: format!(
                                "deploys as {} in account {}, but SCP {} (statement {}) denies {action}, which updating its {} needs, and does not exempt that role [{}]: {} (source: {})",
                                deploy_as[i].principal(),
                                acc.name,
                                d.policy,
                                if d.sid.is_empty() { "without Sid" } else { d.sid.as_str() },
                                r.resource_type,
                                rules::SCP_EXEMPTS_DEPLOYER.id,
                                rules::SCP_EXEMPTS_DEPLOYER.text,
                                rules::SCP_EXEMPTS_DEPLOYER.source
                            ),
                            hint: Some(rules::SCP_EXEMPTS_DEPLOYER.hint.into()),
                        });
                        break;
                    }
                }
            }
        }
    }
}

/// A role whose name Control Tower's mandatory SCP protects can be created in an enrolled
/// account only by `AWSControlTowerExecution` or a StackSet's `stacksets-exec-*` role.
fn control_tower_roles(
    p: &Platform,
    s: &Stack,
    deploy_as: &DeployAs,
    file: &str,
    errs: &mut Vec<EmitError>,
) {
    let in_enrolled = match s.deploy {
        DeployKind::StackSet => p.control_tower.as_ref().is_some_and(|c| c.enabled),
        _ => enrolled(p, s.account),
    };
    if !in_enrolled
        || matches!(
            deploy_as,
            DeployAs::ControlTowerExecution | DeployAs::StackSetExecution
        )
    {
        return;
    }
    for r in s.template.resources.values() {
        if r.resource_type != types::IAM_ROLE {
            continue;
        }
        let Some(Value::Str(name)) = r.properties.get("RoleName") else {
            continue;
        };
        if CT_PROTECTED_ROLES.iter().any(|pat| glob(pat, name)) {
            errs.push(EmitError {
                template: file.to_owned(),
                message: format!(
                    "creates role {name} in an enrolled account as {}, which Control Tower's mandatory SCP denies [{}]: {} (source: {})",
                    deploy_as.principal(),
                    rules::CONTROL_TOWER_ROLE_SCP.id,
                    rules::CONTROL_TOWER_ROLE_SCP.text,
                    rules::CONTROL_TOWER_ROLE_SCP.source
                ),
                hint: Some(rules::CONTROL_TOWER_ROLE_SCP.hint.into()),
            });
        }
    }
}
