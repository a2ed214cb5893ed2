//! Security services (docs/security.md): Security Hub, GuardDuty and Macie administered from one
//! delegated administrator account for the whole organisation, and a central log bucket in
//! Log Archive. CloudFormation has Security Hub's organisation types; it has none for the
//! GuardDuty and Macie organisation administrator or their auto-enable configuration, so
//! those are manual steps in the manifest, with the exact commands.

use mlz_cfn::{LogicalId, Output, Resource, Template, Value};
use mlz_model::{AccountRef, Platform, Security};
use serde_json::json;

use crate::common::{
    account_name, account_ref_ident, account_ref_ident_in, all_ok, bug, new_stack, private_bucket,
    root_ident, slug, tls_only_statement, use_ident, Ident,
};
use crate::plan::{exports, rules, Area, ExportKey, ExportRef, Fact, Need, Service, StackId};
use crate::stack::{Emitted, ManualStep, Stack, StackParam};
use crate::types::{
    GUARDDUTY_DETECTOR, GUARDDUTY_PUBLISHING_DESTINATION, KMS_KEY, MACIE_SESSION, S3_BUCKET_POLICY,
    SECURITYHUB_AGGREGATOR, SECURITYHUB_CONFIGURATION_POLICY, SECURITYHUB_DELEGATED_ADMIN,
    SECURITYHUB_HUB, SECURITYHUB_ORG_CONFIGURATION, SECURITYHUB_POLICY_ASSOCIATION,
};
use crate::EmitError;

const DELEGATED_ADMIN: &str = "delegated-admin";
const LOG_ARCHIVE: &str = "log-archive";
const SECURITY_HUB: &str = "security-hub";

fn id(name: &str) -> StackId {
    StackId::new(Area::Security, name)
}

use crate::common::plain as j;

/// mlz's own JSON that holds intrinsic functions, read as typed values.
fn jx(v: serde_json::Value) -> Value {
    mlz_cfn::parse_value(&v).expect("mlz's own intrinsics are well formed")
}

/// GuardDuty's protection plans: the administrator's detector has them, and the organisation
/// configuration turns the same on in every member (GuardDuty API, `DetectorFeature` and
/// `OrganizationFeature`: the same names).
const GUARDDUTY_FEATURES: &[&str] = &[
    "S3_DATA_EVENTS",
    "EBS_MALWARE_PROTECTION",
    "RDS_LOGIN_EVENTS",
    "LAMBDA_NETWORK_LOGS",
];

pub fn emit(p: &Platform, out: &mut Emitted) -> Result<(), Vec<EmitError>> {
    let Some(s) = &p.security else {
        return Ok(());
    };
    let mut errs = Vec::new();
    let mut push = |r: Result<Stack, EmitError>| match r {
        Ok(st) => out.stacks.push(st),
        Err(e) => errs.push(e),
    };
    push(delegated_admin(p, s));
    push(log_archive(p, s));
    push(security_hub(p, s));
    for r in &p.organization.governed_regions {
        push(detectors(p, s, r));
    }
    let detectors_deployed: Vec<Need> = p
        .organization
        .governed_regions
        .iter()
        .map(|r| Need::new(Fact::Deployed(detectors_id(r)), &rules::OUTPUTS_FIRST))
        .collect();
    let admin = account_name(p, s.admin);
    let mut designate = Vec::new();
    let mut auto_enable = Vec::new();
    let mut macie_members = Vec::new();
    for r in &p.organization.governed_regions {
        designate.push(format!("aws guardduty enable-organization-admin-account --admin-account-id <{admin} account id> --region {r}"));
        designate.push(format!("aws macie2 enable-organization-admin-account --admin-account-id <{admin} account id> --region {r}"));
        let features = serde_json::to_string(
            &GUARDDUTY_FEATURES
                .iter()
                .map(|f| json!({ "Name": f, "AutoEnable": "ALL" }))
                .collect::<Vec<_>>(),
        )
        .unwrap_or_default();
        auto_enable.push(format!(
            "aws guardduty update-organization-configuration --detector-id <output DetectorId of {}> --auto-enable-organization-members ALL --features '{features}' --region {r}",
            detectors_id(r).path()
        ));
        auto_enable.push(format!(
            "aws macie2 update-organization-configuration --auto-enable --region {r}"
        ));
        // Auto-enable reaches accounts added from now on; the existing ones are made members
        // one by one (CreateMember). A delegated administrator may list the organisation's
        // accounts (RegisterDelegatedAdministrator grants read-only access to Organizations).
        macie_members.push(format!(
            "aws organizations list-accounts --query \"Accounts[?State=='ACTIVE'].[Id,Email]\" --output text | while read -r id email; do [ \"$id\" = \"<{admin} account id>\" ] || aws macie2 create-member --account accountId=\"$id\",email=\"$email\" --region {r} || echo \"$id: see the error above (an account already a member says so)\"; done"
        ));
    }
    out.steps.push(ManualStep {
        id: "security-hub-trusted-access".into(),
        account: AccountRef::Management,
        reason: "Security Hub's integration with AWS Organizations must be on before a delegated administrator is designated; CloudFormation has no resource type for it.".into(),
        commands: vec!["aws organizations enable-aws-service-access --service-principal securityhub.amazonaws.com".into()],
        provides: vec![Fact::TrustedAccess(Service::SecurityHub)],
        requires: Vec::new(),
    });
    out.steps.push(ManualStep {
        id: "security-organization-admin".into(),
        account: AccountRef::Management,
        reason: format!(
            "CloudFormation has no resource type for the GuardDuty or Macie organisation administrator. Run after the detector stacks (so {admin}'s own detector and Macie session are the stacks' ones), in every governed region."
        ),
        commands: designate,
        provides: vec![
            Fact::DelegatedAdmin { service: Service::GuardDuty, account: s.admin },
            Fact::DelegatedAdmin { service: Service::Macie, account: s.admin },
        ],
        requires: detectors_deployed.clone(),
    });
    let mut requires = detectors_deployed;
    requires.push(Need::new(
        Fact::DelegatedAdmin {
            service: Service::GuardDuty,
            account: s.admin,
        },
        &rules::SECURITY_AUTO_ENABLE,
    ));
    requires.push(Need::new(
        Fact::DelegatedAdmin {
            service: Service::Macie,
            account: s.admin,
        },
        &rules::SECURITY_AUTO_ENABLE,
    ));
    out.steps.push(ManualStep {
        id: "security-auto-enable".into(),
        account: s.admin,
        reason: "CloudFormation has no resource type for the GuardDuty or Macie organisation configuration: turn on auto-enable, with the administrator's GuardDuty protection plans, for every existing and new member account, after security-organization-admin.".into(),
        commands: auto_enable,
        provides: Vec::new(),
        requires: requires.clone(),
    });
    out.steps.push(ManualStep {
        id: "macie-existing-members".into(),
        account: s.admin,
        reason: "Macie's auto-enable covers only accounts added to the organisation later (DescribeOrganizationConfiguration: autoEnable is for accounts that are added): make every account that exists now a member, in every governed region. CloudFormation has no resource type for it.".into(),
        commands: macie_members,
        provides: Vec::new(),
        requires,
    });
    all_ok(errs)
}

/// Security Hub's delegated administrator, set from the management account.
fn delegated_admin(p: &Platform, s: &Security) -> Result<Stack, EmitError> {
    let mut t = Template::new(format!(
        "{}: {} as Security Hub's delegated administrator. Deploy in the management account, home region.",
        p.organization.name,
        account_name(p, s.admin)
    ));
    let mut params = Vec::new();
    let admin = use_ident(p, account_ref_ident(p, s.admin)?, &mut t, &mut params)?;
    t.add_resource(
        LogicalId::new("SecurityHubAdmin").map_err(|e| bug(DELEGATED_ADMIN, e))?,
        Resource::new(SECURITYHUB_DELEGATED_ADMIN).prop("AdminAccountId", admin),
    )
    .map_err(|e| bug(DELEGATED_ADMIN, e))?;
    let mut st = new_stack(p, id(DELEGATED_ADMIN), t);
    st.parameters = params;
    st.provides.push(Fact::DelegatedAdmin {
        service: Service::SecurityHub,
        account: s.admin,
    });
    if s.admin != AccountRef::Management {
        st.requires.push(Need::new(
            Fact::AccountExists(s.admin),
            &rules::ACCOUNT_FIRST,
        ));
    }
    st.requires.push(Need::new(
        Fact::TrustedAccess(Service::SecurityHub),
        &rules::SECURITY_HUB_TRUSTED_ACCESS,
    ));
    // Designating the administrator turns Security Hub on in it (Security Hub user guide,
    // "Setting up": "Security Hub is enabled automatically for the chosen account"): the
    // detector stacks' AWS::SecurityHub::Hub must come first, or they fail on the hub.
    for r in &p.organization.governed_regions {
        st.requires.push(Need::new(
            Fact::Deployed(detectors_id(r)),
            &rules::SECURITY_HUB_ENABLED_FIRST,
        ));
    }
    Ok(st)
}

/// The condition on GuardDuty's use of the central bucket and key: for the administrator's
/// detectors only, its account and (aws:SourceArn) a detector of that account in any governed
/// region (GuardDuty user guide, "Exporting generated findings to Amazon S3": the bucket and
/// key policies' conditions). A detector's id exists only once it is made: hence the pattern.
fn guardduty_for(admin: Value) -> Value {
    let detectors = Value::SubWith(
        "arn:${AWS::Partition}:guardduty:*:${Admin}:detector/*".into(),
        [("Admin".to_owned(), admin.clone())].into_iter().collect(),
    );
    Value::map([
        ("StringEquals", Value::map([("aws:SourceAccount", admin)])),
        ("ArnLike", Value::map([("aws:SourceArn", detectors)])),
    ])
}

/// The central log bucket: KMS-encrypted, versioned, TLS only, no public access, with a
/// lifecycle; GuardDuty in the administrator account may write findings to it.
fn log_archive(p: &Platform, s: &Security) -> Result<Stack, EmitError> {
    let path = LOG_ARCHIVE;
    let mut t = Template::new(format!(
        "{}: the central security log bucket and its key. Deploy in {}, home region.",
        p.organization.name,
        account_name(p, s.log_archive)
    ));
    let mut params: Vec<StackParam> = Vec::new();
    let admin = use_ident(
        p,
        account_ref_ident_in(p, s.admin, s.log_archive)?,
        &mut t,
        &mut params,
    )?;
    let from_detectors = guardduty_for(admin);
    let key = LogicalId::new("LogKey").map_err(|e| bug(path, e))?;
    t.add_resource(
        key.clone(),
        Resource::new(KMS_KEY)
            .prop("Description", "Encrypts the central security log bucket")
            .prop("EnableKeyRotation", Value::Bool(true))
            .prop(
                "KeyPolicy",
                Value::map([
                    ("Version", Value::str(mlz_model::aws::IAM_POLICY_VERSION)),
                    (
                        "Statement",
                        Value::List(vec![
                            crate::common::key_admin_statement(),
                            Value::map([
                                ("Sid", Value::str("GuardDutyEncryptsFindings")),
                                ("Effect", Value::str("Allow")),
                                (
                                    "Principal",
                                    j(json!({ "Service": "guardduty.amazonaws.com" })),
                                ),
                                ("Action", Value::str("kms:GenerateDataKey")),
                                ("Resource", Value::str("*")),
                                ("Condition", from_detectors.clone()),
                            ]),
                        ]),
                    ),
                ]),
            )
            .retained(),
    )
    .map_err(|e| bug(path, e))?;
    let mut rules = vec![json!({
        "Id": "retention",
        "Status": "Enabled",
        "ExpirationInDays": s.retention_days,
        "NoncurrentVersionExpiration": { "NoncurrentDays": 90 },
        "AbortIncompleteMultipartUpload": { "DaysAfterInitiation": 7 }
    })];
    if s.retention_days > 180 {
        rules[0]["Transitions"] = json!([{ "StorageClass": "GLACIER_IR", "TransitionInDays": 90 }]);
    }
    let bucket = LogicalId::new("LogBucket").map_err(|e| bug(path, e))?;
    t.add_resource(
        bucket.clone(),
        private_bucket(
            Value::map([
                ("SSEAlgorithm", Value::str("aws:kms")),
                ("KMSMasterKeyID", Value::GetAtt(key.clone(), "Arn".into())),
            ]),
            j(json!(rules)),
        ),
    )
    .map_err(|e| bug(path, e))?;
    let arn = Value::GetAtt(bucket.clone(), "Arn".into());
    let objects = Value::Sub("${LogBucket.Arn}/*".into());
    t.add_resource(
        LogicalId::new("LogBucketPolicy").map_err(|e| bug(path, e))?,
        Resource::new(S3_BUCKET_POLICY)
            .prop("Bucket", Value::Ref(bucket.clone()))
            .prop(
                "PolicyDocument",
                Value::map([
                    ("Version", Value::str(mlz_model::aws::IAM_POLICY_VERSION)),
                    (
                        "Statement",
                        Value::List(vec![
                            tls_only_statement(arn.clone(), objects.clone()),
                            Value::map([
                                ("Sid", Value::str("GuardDutyLocatesBucket")),
                                ("Effect", Value::str("Allow")),
                                (
                                    "Principal",
                                    j(json!({ "Service": "guardduty.amazonaws.com" })),
                                ),
                                ("Action", Value::str("s3:GetBucketLocation")),
                                ("Resource", arn.clone()),
                                ("Condition", from_detectors.clone()),
                            ]),
                            Value::map([
                                ("Sid", Value::str("GuardDutyWritesFindings")),
                                ("Effect", Value::str("Allow")),
                                (
                                    "Principal",
                                    j(json!({ "Service": "guardduty.amazonaws.com" })),
                                ),
                                ("Action", Value::str("s3:PutObject")),
                                ("Resource", objects),
                                ("Condition", from_detectors.clone()),
                            ]),
                        ]),
                    ),
                ]),
            ),
    )
    .map_err(|e| bug(path, e))?;
    for (name, value, key) in [
        ("LogBucketArn", arn, ExportKey::LogBucketArn),
        (
            "LogKeyArn",
            Value::GetAtt(key, "Arn".into()),
            ExportKey::LogKeyArn,
        ),
    ] {
        t.add_output(
            LogicalId::new(name).map_err(|e| bug(path, e))?,
            Output {
                description: None,
                value,
                export: exports::export(p, &key)?,
                condition: None,
            },
        )
        .map_err(|e| bug(path, e))?;
    }
    let mut st = new_stack(p, id(LOG_ARCHIVE), t);
    st.account = s.log_archive;
    st.parameters = params;
    Ok(st)
}

/// Security Hub for the organisation, from the administrator account: with several governed
/// regions, central configuration (a finding aggregator in the home region, a configuration
/// policy with AWS Foundational Security Best Practices, associated with the root); with one,
/// the organisation configuration auto-enables Security Hub and its default standards.
fn security_hub(p: &Platform, s: &Security) -> Result<Stack, EmitError> {
    let path = SECURITY_HUB;
    let mut t = Template::new(format!(
        "{}: Security Hub for the whole organisation. Deploy in {}, home region, after {DELEGATED_ADMIN}.",
        p.organization.name,
        account_name(p, s.admin)
    ));
    let mut params = Vec::new();
    let others: Vec<String> = p
        .organization
        .governed_regions
        .iter()
        .filter(|r| **r != p.organization.home_region)
        .cloned()
        .collect();
    let org = LogicalId::new("OrganizationConfiguration").map_err(|e| bug(path, e))?;
    if others.is_empty() {
        t.add_resource(
            org,
            Resource::new(SECURITYHUB_ORG_CONFIGURATION)
                .prop("AutoEnable", Value::Bool(true))
                .prop("AutoEnableStandards", "DEFAULT")
                .prop("ConfigurationType", "LOCAL"),
        )
        .map_err(|e| bug(path, e))?;
    } else {
        let agg = LogicalId::new("FindingAggregator").map_err(|e| bug(path, e))?;
        t.add_resource(
            agg.clone(),
            Resource::new(SECURITYHUB_AGGREGATOR)
                .prop("RegionLinkingMode", "SPECIFIED_REGIONS")
                .prop("Regions", Value::list_of_str(others)),
        )
        .map_err(|e| bug(path, e))?;
        let mut oc = Resource::new(SECURITYHUB_ORG_CONFIGURATION)
            .prop("AutoEnable", Value::Bool(false))
            .prop("AutoEnableStandards", "NONE")
            .prop("ConfigurationType", "CENTRAL");
        oc.depends_on.insert(agg);
        t.add_resource(org.clone(), oc).map_err(|e| bug(path, e))?;
        let policy = LogicalId::new("BaselinePolicy").map_err(|e| bug(path, e))?;
        let mut pol = Resource::new(SECURITYHUB_CONFIGURATION_POLICY)
                .prop("Name", format!("{}-baseline", p.organization.stack_prefix))
                .prop("Description", "Security Hub on, with AWS Foundational Security Best Practices, in every account")
                .prop(
                    "ConfigurationPolicy",
                    jx(json!({ "SecurityHub": {
                        "ServiceEnabled": true,
                        "EnabledStandardIdentifiers": [{ "Fn::Sub": "arn:${AWS::Partition}:securityhub:${AWS::Region}::standards/aws-foundational-security-best-practices/v/1.0.0" }],
                        "SecurityControlsConfiguration": { "DisabledSecurityControlIdentifiers": [] }
                    } })),
                );
        pol.depends_on.insert(org);
        t.add_resource(policy.clone(), pol)
            .map_err(|e| bug(path, e))?;
        let root = use_ident(p, root_ident(p)?, &mut t, &mut params)?;
        t.add_resource(
            LogicalId::new("BaselineForRoot").map_err(|e| bug(path, e))?,
            Resource::new(SECURITYHUB_POLICY_ASSOCIATION)
                .prop("TargetType", "ROOT")
                .prop("TargetId", root)
                .prop("ConfigurationPolicyId", Value::GetAtt(policy, "Id".into())),
        )
        .map_err(|e| bug(path, e))?;
    }
    let mut st = new_stack(p, id(SECURITY_HUB), t);
    st.account = s.admin;
    st.parameters = params;
    // Security Hub is on in the administrator account (the detector stacks) first.
    for r in &p.organization.governed_regions {
        st.requires.push(Need::new(
            Fact::Deployed(detectors_id(r)),
            &rules::SECURITY_HUB_ENABLED_FIRST,
        ));
    }
    st.requires.push(Need::new(
        Fact::DelegatedAdmin {
            service: Service::SecurityHub,
            account: s.admin,
        },
        &rules::SECURITY_HUB_ADMIN,
    ));
    Ok(st)
}

/// The administrator's own GuardDuty detector, Macie session and Security Hub in one region;
/// GuardDuty exports the region's findings to the central log bucket.
fn detectors_id(region: &str) -> StackId {
    id(&format!("detectors-{}", slug(region)))
}

fn detectors(p: &Platform, s: &Security, region: &str) -> Result<Stack, EmitError> {
    let sid = detectors_id(region);
    let path = sid.path();
    let mut t = Template::new(format!(
        "{}: GuardDuty (exporting findings to the central log bucket), Macie and Security Hub in the security administrator account. Deploy in {}, {region}.",
        p.organization.name,
        account_name(p, s.admin)
    ));
    let mut params = Vec::new();
    let det = LogicalId::new("Detector").map_err(|e| bug(&path, e))?;
    let features: Vec<serde_json::Value> = GUARDDUTY_FEATURES
        .iter()
        .map(|f| json!({ "Name": f, "Status": "ENABLED" }))
        .collect();
    t.add_resource(
        det.clone(),
        Resource::new(GUARDDUTY_DETECTOR)
            .prop("Enable", Value::Bool(true))
            .prop("FindingPublishingFrequency", "FIFTEEN_MINUTES")
            .prop("Features", j(json!(features))),
    )
    .map_err(|e| bug(&path, e))?;
    t.add_resource(
        LogicalId::new("MacieSession").map_err(|e| bug(&path, e))?,
        Resource::new(MACIE_SESSION)
            .prop("Status", "ENABLED")
            .prop("FindingPublishingFrequency", "FIFTEEN_MINUTES"),
    )
    .map_err(|e| bug(&path, e))?;
    // Security Hub on in the administrator account, in every governed region, before the
    // aggregator and the organisation configuration of security/security-hub (the aggregation
    // and linked regions must have it on; AWS's SRA enables it in the administrator account
    // first, too). Standards come from the central configuration policy.
    t.add_resource(
        LogicalId::new("SecurityHub").map_err(|e| bug(&path, e))?,
        Resource::new(SECURITYHUB_HUB)
            .prop("EnableDefaultStandards", Value::Bool(false))
            .prop("ControlFindingGenerator", "SECURITY_CONTROL")
            .prop("AutoEnableControls", Value::Bool(true)),
    )
    .map_err(|e| bug(&path, e))?;
    // Export settings are per region: every region's detector exports to the central bucket.
    {
        let in_log_archive = |key: ExportKey| ExportRef {
            key,
            account: s.log_archive,
            region: p.organization.home_region.clone(),
        };
        let bucket = use_ident(
            p,
            Ident::ExportParam {
                id: LogicalId::new("LogBucketArn").map_err(|e| bug(&path, e))?,
                description: format!(
                    "The central log bucket's ARN: output LogBucketArn of {}",
                    id(LOG_ARCHIVE).path()
                ),
                pattern: "^arn:aws[a-z-]*:s3:::[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
                export: in_log_archive(ExportKey::LogBucketArn),
            },
            &mut t,
            &mut params,
        )?;
        let key = use_ident(
            p,
            Ident::ExportParam {
                id: LogicalId::new("LogKeyArn").map_err(|e| bug(&path, e))?,
                description: format!(
                    "The central log key's ARN: output LogKeyArn of {}",
                    id(LOG_ARCHIVE).path()
                ),
                pattern: "^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[a-f0-9-]+$",
                export: in_log_archive(ExportKey::LogKeyArn),
            },
            &mut t,
            &mut params,
        )?;
        t.add_resource(
            LogicalId::new("FindingsToLogArchive").map_err(|e| bug(&path, e))?,
            Resource::new(GUARDDUTY_PUBLISHING_DESTINATION)
                .prop("DetectorId", Value::Ref(det.clone()))
                .prop("DestinationType", "S3")
                .prop(
                    "DestinationProperties",
                    Value::map([("DestinationArn", bucket), ("KmsKeyArn", key)]),
                ),
        )
        .map_err(|e| bug(&path, e))?;
    }
    t.add_output(
        LogicalId::new("DetectorId").map_err(|e| bug(&path, e))?,
        Output {
            description: Some("The GuardDuty detector id".into()),
            value: Value::Ref(det),
            export: None,
            condition: None,
        },
    )
    .map_err(|e| bug(&path, e))?;
    let mut st = new_stack(p, sid.clone(), t);
    st.provides.push(Fact::Deployed(sid));
    st.account = s.admin;
    st.region = region.to_owned();
    st.parameters = params;
    Ok(st)
}
