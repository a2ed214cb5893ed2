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
/// pipeline's CloudFormation role when the config has a pipeline (`deploy_role`).
pub fn exempt_roles(control_tower: bool, deploy_role: Option<&str>) -> Exempt {
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
    if let Some(r) = deploy_role {
        let arn = format!("arn:aws:iam::*:role/{r}");
        roles.push(arn.clone());
        region_deny.push(arn);
    }
    Exempt { roles, region_deny }
}

/// Who the builtin SCPs exempt: the deployers (`roles`), and for the region-deny policy
/// also Control Tower's own roles (`region_deny`).
#[derive(Clone, Debug, Default)]
pub struct Exempt {
    pub roles: Vec<String>,
    pub region_deny: Vec<String>,
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
            }]
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
            }]
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
            let size = serde_json::to_string(&document(b, &regions, &exempt_roles(true, None)))
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
}
