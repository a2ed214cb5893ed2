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
    let mut roles: Vec<String> = base.iter().map(|s| (*s).to_owned()).collect();
    // The region-deny policy also exempts Control Tower's service roles, which work in every
    // region the landing zone governs.
    let mut region_deny: Vec<String> = if control_tower {
        CONTROL_TOWER_SERVICE_ROLES
            .iter()
            .map(|s| (*s).to_owned())
            .collect()
    } else {
        roles.clone()
    };
    let mut passers = Vec::new();
    if let Some(prefix) = pipeline {
        let deploy = crate::model::pipeline_deploy_role(prefix);
        let action = crate::model::pipeline_action_role(prefix);
        let arn = format!("arn:aws:iam::*:role/{deploy}");
        roles.push(arn.clone());
        region_deny.push(arn);
        passers.push(format!("arn:aws:iam::*:role/{action}"));
    }
    let mut protected: Vec<String> = roles.iter().chain(&region_deny).cloned().collect();
    protected.sort();
    protected.dedup();
    passers.extend(protected.iter().cloned());
    Exempt {
        roles,
        region_deny,
        protected,
        passers,
    }
}

/// Who the builtin SCPs exempt: the deployers (`roles`), and for the region-deny policy
/// also Control Tower's own roles (`region_deny`). An exemption by role name holds only while
/// no one else can make, change, assume or pass a role of that name: `protected` is every
/// exempted name, which only the exempted roles may touch, and `passers` the principals that
/// may pass one to a service (the exempted roles, and the pipeline's action role, which passes
/// the deploy role to CloudFormation).
#[derive(Clone, Debug, Default)]
pub struct Exempt {
    pub roles: Vec<String>,
    pub region_deny: Vec<String>,
    pub protected: Vec<String>,
    pub passers: Vec<String>,
}

/// What would let a member account's administrator borrow an exempted role: making one of
/// that name, changing its trust or policies, assuming it, or passing it to a service
/// (AWS Organizations user guide, "Service control policy examples": "Prevent IAM principals
/// from making changes to a specific IAM role", with iam:CreateRole and sts:AssumeRole added
/// so no one can make or assume a role of an exempted name).
const ROLE_CHANGES: &[&str] = &[
    "iam:AttachRolePolicy",
    "iam:CreateRole",
    "iam:DeleteRole",
    "iam:DeleteRolePermissionsBoundary",
    "iam:DeleteRolePolicy",
    "iam:DetachRolePolicy",
    "iam:PutRolePermissionsBoundary",
    "iam:PutRolePolicy",
    "iam:TagRole",
    "iam:UntagRole",
    "iam:UpdateAssumeRolePolicy",
    "iam:UpdateRole",
    "iam:UpdateRoleDescription",
    "sts:AssumeRole",
];

/// The statements that keep the exempted role names to their owners, in every builtin SCP
/// that exempts by name.
fn protect_exempt_roles(exempt: &Exempt) -> [Value; 2] {
    let owners: Vec<&String> = {
        let mut v: Vec<&String> = exempt.roles.iter().chain(&exempt.region_deny).collect();
        v.sort();
        v.dedup();
        v
    };
    [
        json!({
            "Sid": "ProtectExemptRoles",
            "Effect": "Deny",
            "Action": ROLE_CHANGES,
            "Resource": exempt.protected,
            "Condition": { "ArnNotLike": { "aws:PrincipalARN": owners } }
        }),
        json!({
            "Sid": "PassExemptRolesOnlyAsDeployers",
            "Effect": "Deny",
            "Action": "iam:PassRole",
            "Resource": exempt.protected,
            "Condition": { "ArnNotLike": { "aws:PrincipalARN": exempt.passers } }
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
        RawBuiltin::DenyOutsideGovernedRegions => json!({
            "Version": crate::aws::IAM_POLICY_VERSION,
            "Statement": [{
                "Sid": "DenyOutsideGovernedRegions",
                "Effect": "Deny",
                "NotAction": CONTROL_TOWER_REGION_DENY.iter().chain(MORE_GLOBAL_SERVICE_ACTIONS).collect::<Vec<_>>(),
                "Resource": "*",
                "Condition": {
                    "StringNotEquals": { "aws:RequestedRegion": governed_regions },
                    "ArnNotLike": { "aws:PrincipalARN": exempt.region_deny }
                }
            }, protect_exempt_roles(exempt)[0], protect_exempt_roles(exempt)[1]]
        }),
        RawBuiltin::ProtectSecurityServices => json!({
            "Version": crate::aws::IAM_POLICY_VERSION,
            "Statement": [{
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
            }, protect_exempt_roles(exempt)[0], protect_exempt_roles(exempt)[1]]
        }),
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
                for a in [
                    "iam:CreateRole",
                    "iam:UpdateAssumeRolePolicy",
                    "iam:PutRolePolicy",
                    "iam:AttachRolePolicy",
                    "sts:AssumeRole",
                ] {
                    assert!(
                        protect["Action"].as_array().unwrap().contains(&json!(a)),
                        "{a}"
                    );
                }
                assert_eq!(pass["Action"], "iam:PassRole");
                let passers = pass["Condition"]["ArnNotLike"]["aws:PrincipalARN"]
                    .as_array()
                    .unwrap();
                assert!(passers.contains(&json!("arn:aws:iam::*:role/mlz-pipeline-action")));
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
