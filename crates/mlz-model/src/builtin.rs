//! Policy documents mlz writes for you, from facts already in the config.
//!
//! They are built as JSON values, never as text, and kept deliberately small: the size
//! limit for a service control policy is 5,120 characters.

use serde_json::{json, Value};

use crate::model::PolicyType;
use crate::raw::RawBuiltin;

/// Global services whose API calls land in us-east-1 (or are region-less) and must stay
/// usable when the region-deny policy is in force: every action Control Tower's own Region
/// deny control exempts (below), and these.
const MORE_GLOBAL_SERVICE_ACTIONS: &[&str] = &["wellarchitected:*"];

/// The NotAction list of Control Tower's Region deny control (GRREGIONDENY /
/// CT.MULTISERVICE.PV.1), as AWS publishes it (Control Tower controls reference, "Deny access to
/// AWS based on the requested AWS Region").
const CONTROL_TOWER_REGION_DENY: &[&str] = &[
    "a4b:*",
    "access-analyzer:*",
    "account:*",
    "acm:*",
    "activate:*",
    "artifact:*",
    "aws-marketplace-management:*",
    "aws-marketplace:*",
    "aws-portal:*",
    "billing:*",
    "billingconductor:*",
    "budgets:*",
    "ce:*",
    "chatbot:*",
    "chime:*",
    "cloudfront:*",
    "cloudtrail:LookupEvents",
    "compute-optimizer:*",
    "config:*",
    "consoleapp:*",
    "consolidatedbilling:*",
    "cur:*",
    "datapipeline:GetAccountLimits",
    "devicefarm:*",
    "directconnect:*",
    "ec2:DescribeRegions",
    "ec2:DescribeTransitGateways",
    "ec2:DescribeVpnGateways",
    "ecr-public:*",
    "fms:*",
    "freetier:*",
    "globalaccelerator:*",
    "health:*",
    "iam:*",
    "importexport:*",
    "invoicing:*",
    "iq:*",
    "kms:*",
    "license-manager:ListReceivedLicenses",
    "lightsail:Get*",
    "mobileanalytics:*",
    "networkmanager:*",
    "notifications-contacts:*",
    "notifications:*",
    "organizations:*",
    "payments:*",
    "pricing:*",
    "quicksight:DescribeAccountSubscription",
    "resource-explorer-2:*",
    "route53-recovery-cluster:*",
    "route53-recovery-control-config:*",
    "route53-recovery-readiness:*",
    "route53:*",
    "route53domains:*",
    "s3:CreateMultiRegionAccessPoint",
    "s3:DeleteMultiRegionAccessPoint",
    "s3:DescribeMultiRegionAccessPointOperation",
    "s3:GetAccountPublicAccessBlock",
    "s3:GetBucketLocation",
    "s3:GetBucketPolicyStatus",
    "s3:GetBucketPublicAccessBlock",
    "s3:GetMultiRegionAccessPoint",
    "s3:GetMultiRegionAccessPointPolicy",
    "s3:GetMultiRegionAccessPointPolicyStatus",
    "s3:GetStorageLensConfiguration",
    "s3:GetStorageLensDashboard",
    "s3:ListAllMyBuckets",
    "s3:ListMultiRegionAccessPoints",
    "s3:ListStorageLensConfigurations",
    "s3:PutAccountPublicAccessBlock",
    "s3:PutMultiRegionAccessPointPolicy",
    "savingsplans:*",
    "shield:*",
    "sso:*",
    "sts:*",
    "support:*",
    "supportapp:*",
    "supportplans:*",
    "sustainability:*",
    "tag:GetResources",
    "tax:*",
    "trustedadvisor:*",
    "vendor-insights:ListEntitledSecurityProfiles",
    "waf-regional:*",
    "waf:*",
    "wafv2:*",
];

/// Roles that must keep working everywhere: those that deploy the platform's stacks in
/// member accounts (Control Tower's execution role, StackSet instances).
const CONTROL_TOWER_EXEMPT: &[&str] = &[
    "arn:aws:iam::*:role/AWSControlTowerExecution",
    "arn:aws:iam::*:role/stacksets-exec-*",
];
/// Without Control Tower, stacks in member accounts deploy as the role AWS Organizations
/// creates in the accounts it creates.
const ORGANIZATIONS_EXEMPT: &[&str] = &[
    "arn:aws:iam::*:role/OrganizationAccountAccessRole",
    "arn:aws:iam::*:role/stacksets-exec-*",
];

/// Control Tower's own roles in every governed region (its Region deny control exempts the
/// same: the Config recorder, the SNS forwarder, the flow-log role, the execution role).
const CONTROL_TOWER_SERVICE_ROLES: &[&str] = &[
    "arn:aws:iam::*:role/AWSControlTowerExecution",
    "arn:aws:iam::*:role/aws-controltower-ConfigRecorderRole",
    "arn:aws:iam::*:role/aws-controltower-ForwardSnsNotificationRole",
    "arn:aws:iam::*:role/AWSControlTower_VPCFlowLogsRole",
    "arn:aws:iam::*:role/stacksets-exec-*",
];

/// The principals the builtin SCPs exempt: the deployers of member-account stacks, and the
/// pipeline's CloudFormation role when the config has a pipeline (`pipeline`: the stack prefix
/// its roles are named with); the pipeline's action role is the one principal that passes that
/// role to CloudFormation.
pub fn exempt_roles(control_tower: bool, pipeline: Option<&str>) -> Exempt {
    let base = if control_tower {
        CONTROL_TOWER_EXEMPT
    } else {
        ORGANIZATIONS_EXEMPT
    };
    let role = |name: &str| format!("arn:aws:iam::*:role/{name}");
    let mut roles: Vec<String> = base.iter().map(|s| (*s).to_owned()).collect();
    // The region-deny policy exempts Control Tower's service roles, which work in every
    // region the landing zone governs; not the pipeline's deploy role, whose stacks are all in
    // governed regions.
    let region_deny: Vec<String> = if control_tower {
        CONTROL_TOWER_SERVICE_ROLES
            .iter()
            .map(|s| (*s).to_owned())
            .collect()
    } else {
        roles.clone()
    };
    let mut pipeline_roles = Vec::new();
    let mut assumers = Vec::new();
    if let Some(prefix) = pipeline {
        roles.push(role(&crate::model::pipeline_deploy_role(prefix)));
        // The roles the pipeline works through in every account, and the pipeline's own
        // (pipeline/roles-*, pipeline/pipeline): whoever holds them deploys as the deploy role.
        let action = crate::model::pipeline_action_role(prefix);
        for name in [
            action.clone(),
            format!("{prefix}-pipeline-read"),
            format!("{prefix}-pipeline-steps"),
        ] {
            pipeline_roles.push(role(&name));
        }
        assumers = vec![
            role(&format!("{prefix}-pipeline")),
            role(&format!("{prefix}-pipeline-build")),
        ];
    }
    // The protect-security-services policy keeps its own exempted names to themselves; the
    // region-deny policy keeps its names (`region_deny`) the same way.
    let owners = roles.clone();
    let mut protected: Vec<String> = owners
        .iter()
        .chain(&pipeline_roles)
        .chain(&assumers)
        .cloned()
        .collect();
    protected.sort();
    protected.dedup();
    // Who may pass a protected role, and change the platform's stacks: the owners, and the
    // pipeline's action role (CodePipeline's CloudFormation actions).
    let mut deployers = owners.clone();
    deployers.extend(pipeline_roles.first().cloned());
    Exempt {
        roles,
        region_deny,
        owners,
        protected,
        deployers,
        pipeline_roles,
        assumers,
        stacks: pipeline.map(|prefix| format!("arn:aws:cloudformation:*:*:stack/{prefix}-*/*")),
    }
}

/// Who the builtin SCPs exempt: the deployers (`roles`), and for the region-deny policy
/// Control Tower's own roles (`region_deny`). An exemption by role name holds only while no one
/// else can make, change, assume or pass a role of that name, or have CloudFormation act as it:
/// `protected` are the exempted roles and the pipeline's, which only the exempted roles
/// (`owners`) may change; `deployers` may also pass them and change the platform's `stacks`
/// (whose service role is the exempt deploy role); the pipeline's account roles
/// (`pipeline_roles`) are assumed only by the pipeline (`assumers`).
#[derive(Clone, Debug, Default)]
pub struct Exempt {
    pub roles: Vec<String>,
    pub region_deny: Vec<String>,
    pub owners: Vec<String>,
    pub protected: Vec<String>,
    pub deployers: Vec<String>,
    pub pipeline_roles: Vec<String>,
    pub assumers: Vec<String>,
    pub stacks: Option<String>,
}

/// What would let a member account's administrator borrow an exempted role: making one of
/// that name, changing its trust or policies (AWS Organizations user guide, "Service control
/// policy examples": "Prevent IAM principals from making changes to a specific IAM role", with
/// iam:CreateRole added; the wildcards cover the role actions of each verb).
const ROLE_CHANGES: &[&str] = &[
    "iam:Attach*",
    "iam:Create*",
    "iam:Delete*",
    "iam:Detach*",
    "iam:Put*",
    "iam:Tag*",
    "iam:Untag*",
    "iam:Update*",
];

/// A stack whose service role is the exempt deploy role acts as that role for anyone who may
/// update or delete it, even without iam:PassRole (CloudFormation user guide, "CloudFormation
/// service role": "other users ... can use this role, even if they don't have permission to
/// pass it").
const STACK_CHANGES: &[&str] = &[
    "cloudformation:CancelUpdateStack",
    "cloudformation:ContinueUpdateRollback",
    "cloudformation:CreateChangeSet",
    "cloudformation:CreateStack",
    "cloudformation:DeleteStack",
    "cloudformation:ExecuteChangeSet",
    "cloudformation:RollbackStack",
    "cloudformation:SetStackPolicy",
    "cloudformation:UpdateStack",
    "cloudformation:UpdateTerminationProtection",
];

/// The statements that keep the exempted role names to their owners, in every builtin SCP
/// that exempts by name.
fn protect_exempt_roles(exempt: &Exempt) -> Vec<Value> {
    let mut out = protect_names(&exempt.protected, &exempt.owners, &exempt.deployers);
    if !exempt.pipeline_roles.is_empty() {
        out.push(json!({
            "Sid": "PipelineRolesOnlyForThePipeline",
            "Effect": "Deny",
            "Action": "sts:AssumeRole",
            "Resource": exempt.pipeline_roles,
            "Condition": { "ArnNotLike": { "aws:PrincipalARN": exempt.assumers } }
        }));
    }
    if let Some(stacks) = &exempt.stacks {
        out.push(json!({
            "Sid": "PlatformStacksOnlyByDeployers",
            "Effect": "Deny",
            "Action": STACK_CHANGES,
            "Resource": stacks,
            "Condition": { "ArnNotLike": { "aws:PrincipalARN": exempt.deployers } }
        }));
    }
    out
}

/// Making, changing, assuming or passing any of `names` is denied to all but `owners` (and
/// passing to `passers`).
fn protect_names(names: &[String], owners: &[String], passers: &[String]) -> Vec<Value> {
    vec![
        json!({
            "Sid": "ProtectExemptRoles",
            "Effect": "Deny",
            "Action": ROLE_CHANGES,
            "Resource": names,
            "Condition": { "ArnNotLike": { "aws:PrincipalARN": owners } }
        }),
        // The exempted roles are assumed from the management account, by AWS services or by
        // service-linked roles, none of which an SCP restricts: no one in a member account.
        json!({
            "Sid": "NeverAssumeExemptRoles",
            "Effect": "Deny",
            "Action": "sts:AssumeRole",
            "Resource": owners,
            "Condition": { "ArnNotLike": { "aws:PrincipalARN": owners } }
        }),
        json!({
            "Sid": "PassExemptRolesOnlyAsDeployers",
            "Effect": "Deny",
            "Action": "iam:PassRole",
            "Resource": names,
            "Condition": { "ArnNotLike": { "aws:PrincipalARN": passers } }
        }),
    ]
}

pub fn policy_type(b: RawBuiltin) -> PolicyType {
    match b {
        RawBuiltin::EnforceSecureTransport => PolicyType::ResourceControl,
        RawBuiltin::DenyLeaveOrganization
        | RawBuiltin::DenyOutsideGovernedRegions
        | RawBuiltin::ProtectSecurityServices => PolicyType::ServiceControl,
    }
}

/// An SCP of one statement that exempts roles by name, with the statements that keep those
/// names to their owners.
fn with_protection(statement: Value, protection: Vec<Value>) -> Value {
    let mut statements = vec![statement];
    statements.extend(protection);
    json!({ "Version": crate::aws::IAM_POLICY_VERSION, "Statement": statements })
}

pub fn document(b: RawBuiltin, governed_regions: &[String], exempt: &Exempt) -> Value {
    match b {
        RawBuiltin::DenyLeaveOrganization => json!({
            "Version": crate::aws::IAM_POLICY_VERSION,
            "Statement": [{
                "Sid": "DenyLeaveOrganization",
                "Effect": "Deny",
                "Action": "organizations:LeaveOrganization",
                "Resource": "*"
            }]
        }),
        RawBuiltin::DenyOutsideGovernedRegions => with_protection(
            json!({
                "Sid": "DenyOutsideGovernedRegions",
                "Effect": "Deny",
                "NotAction": CONTROL_TOWER_REGION_DENY.iter().chain(MORE_GLOBAL_SERVICE_ACTIONS).collect::<Vec<_>>(),
                "Resource": "*",
                "Condition": {
                    "StringNotEquals": { "aws:RequestedRegion": governed_regions },
                    "ArnNotLike": { "aws:PrincipalARN": exempt.region_deny }
                }
            }),
            protect_names(
                &exempt.region_deny,
                &exempt.region_deny,
                &exempt.region_deny,
            ),
        ),
        RawBuiltin::ProtectSecurityServices => with_protection(
            json!({
                "Sid": "ProtectSecurityServices",
                "Effect": "Deny",
                "Action": [
                    "access-analyzer:DeleteAnalyzer",
                    "cloudtrail:DeleteTrail",
                    "cloudtrail:StopLogging",
                    "cloudtrail:UpdateTrail",
                    "config:DeleteConfigurationRecorder",
                    "config:DeleteDeliveryChannel",
                    "config:StopConfigurationRecorder",
                    "guardduty:DeleteDetector",
                    "guardduty:DeleteMembers",
                    "guardduty:DisassociateFromAdministratorAccount",
                    "guardduty:DisassociateFromMasterAccount",
                    "guardduty:StopMonitoringMembers",
                    "guardduty:UpdateDetector",
                    "macie2:DisableMacie",
                    "macie2:DisassociateFromAdministratorAccount",
                    "macie2:DisassociateFromMasterAccount",
                    "securityhub:DeleteMembers",
                    "securityhub:DisableSecurityHub",
                    "securityhub:DisassociateFromAdministratorAccount",
                    "securityhub:DisassociateFromMasterAccount",
                    "securityhub:DisassociateMembers"
                ],
                "Resource": "*",
                "Condition": { "ArnNotLike": { "aws:PrincipalARN": exempt.roles } }
            }),
            protect_exempt_roles(exempt),
        ),
        RawBuiltin::EnforceSecureTransport => json!({
            "Version": crate::aws::IAM_POLICY_VERSION,
            "Statement": [{
                "Sid": "EnforceSecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": ["kms:*", "s3:*", "secretsmanager:*", "sqs:*", "sts:*"],
                "Resource": "*",
                "Condition": { "BoolIfExists": { "aws:SecureTransport": "false" } }
            }]
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_fit_the_size_limit() {
        let regions: Vec<String> = crate::aws::REGIONS
            .iter()
            .map(|r| (*r).to_owned())
            .collect();
        for b in [
            RawBuiltin::DenyLeaveOrganization,
            RawBuiltin::DenyOutsideGovernedRegions,
            RawBuiltin::ProtectSecurityServices,
            RawBuiltin::EnforceSecureTransport,
        ] {
            // The largest: every region, and a pipeline's roles with the longest prefix.
            let prefix = "p".repeat(20); // stackPrefix: at most 20 characters (the schema)
            let exempt = exempt_roles(true, Some(&prefix));
            let size = serde_json::to_string(&document(b, &regions, &exempt))
                .unwrap()
                .len();
            assert!(
                size <= policy_type(b).max_document_chars(),
                "{b:?} is {size} characters"
            );
        }
    }

    #[test]
    fn region_deny_exempts_what_control_towers_exempts() {
        let d = document(
            RawBuiltin::DenyOutsideGovernedRegions,
            &["eu-west-1".to_owned()],
            &exempt_roles(true, None),
        );
        let not_action = d["Statement"][0]["NotAction"].as_array().unwrap().clone();
        for a in CONTROL_TOWER_REGION_DENY {
            assert!(not_action.contains(&json!(a)), "{a}");
        }
    }

    #[test]
    fn region_deny_uses_the_governed_regions() {
        let d = document(
            RawBuiltin::DenyOutsideGovernedRegions,
            &["eu-west-1".to_owned()],
            &exempt_roles(true, None),
        );
        assert_eq!(
            d["Statement"][0]["Condition"]["StringNotEquals"]["aws:RequestedRegion"],
            json!(["eu-west-1"])
        );
    }

    /// No exempted name can be borrowed: every SCP that exempts roles by name denies making,
    /// changing and assuming them to all but the exempted roles, and passing them to all but
    /// those and the pipeline's action role.
    #[test]
    fn exempted_role_names_are_kept_to_their_owners() {
        for control_tower in [true, false] {
            let exempt = exempt_roles(control_tower, Some("mlz"));
            for b in [
                RawBuiltin::DenyOutsideGovernedRegions,
                RawBuiltin::ProtectSecurityServices,
            ] {
                let d = document(b, &["eu-west-1".to_owned()], &exempt);
                let statements = d["Statement"].as_array().unwrap();
                let exempted: Vec<&Value> = statements[0]["Condition"]["ArnNotLike"]
                    ["aws:PrincipalARN"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .collect();
                let protect = statements
                    .iter()
                    .find(|s| s["Sid"] == "ProtectExemptRoles")
                    .unwrap();
                let pass = statements
                    .iter()
                    .find(|s| s["Sid"] == "PassExemptRolesOnlyAsDeployers")
                    .unwrap();
                for arn in &exempted {
                    assert!(
                        protect["Resource"].as_array().unwrap().contains(arn),
                        "{b:?} {arn}"
                    );
                    assert!(
                        pass["Resource"].as_array().unwrap().contains(arn),
                        "{b:?} {arn}"
                    );
                }
                let denies = |st: &Value, a: &str| {
                    let list = match &st["Action"] {
                        Value::String(x) => vec![x.clone()],
                        other => other
                            .as_array()
                            .unwrap()
                            .iter()
                            .map(|v| v.as_str().unwrap().to_owned())
                            .collect(),
                    };
                    list.iter().any(|p| match p.split_once('*') {
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
                    assert!(denies(protect, a), "{a}");
                }
                let assume = statements
                    .iter()
                    .find(|s| s["Sid"] == "NeverAssumeExemptRoles")
                    .unwrap();
                assert!(denies(assume, "sts:AssumeRole"));
                for arn in &exempted {
                    assert!(
                        assume["Resource"].as_array().unwrap().contains(arn),
                        "{b:?} {arn}"
                    );
                }
                assert_eq!(pass["Action"], "iam:PassRole");
                let passers = pass["Condition"]["ArnNotLike"]["aws:PrincipalARN"]
                    .as_array()
                    .unwrap();
                if b == RawBuiltin::ProtectSecurityServices {
                    assert!(passers.contains(&json!("arn:aws:iam::*:role/mlz-pipeline-action")));
                    // The pipeline's stacks run as the exempt deploy role: only deployers
                    // change them, and only the pipeline assumes its account roles.
                    let stacks = statements
                        .iter()
                        .find(|s| s["Sid"] == "PlatformStacksOnlyByDeployers")
                        .unwrap();
                    assert!(
                        denies(stacks, "cloudformation:UpdateStack")
                            && denies(stacks, "cloudformation:DeleteStack")
                    );
                    assert_eq!(
                        stacks["Resource"],
                        "arn:aws:cloudformation:*:*:stack/mlz-*/*"
                    );
                    let roles = statements
                        .iter()
                        .find(|s| s["Sid"] == "PipelineRolesOnlyForThePipeline")
                        .unwrap();
                    assert!(roles["Resource"]
                        .as_array()
                        .unwrap()
                        .contains(&json!("arn:aws:iam::*:role/mlz-pipeline-action")));
                    assert!(protect["Resource"]
                        .as_array()
                        .unwrap()
                        .contains(&json!("arn:aws:iam::*:role/mlz-pipeline-action")));
                }
                // An administrator's role is none of them.
                let admin = "arn:aws:iam::111122223333:role/AWSReservedSSO_AdministratorAccess_0";
                let owners = protect["Condition"]["ArnNotLike"]["aws:PrincipalARN"]
                    .as_array()
                    .unwrap();
                for o in owners.iter().chain(passers) {
                    let o = o.as_str().unwrap();
                    let (head, tail) = o.split_once('*').unwrap();
                    let tail = tail.replace('*', "");
                    assert!(
                        !(admin.starts_with(head) && admin.ends_with(&tail)),
                        "{o} lets an administrator in"
                    );
                }
            }
        }
    }
}
