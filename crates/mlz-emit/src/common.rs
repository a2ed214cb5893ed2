//! What every emitter shares: where a template gets the id of an OU, an account or the
//! root from (a literal, an import, or a parameter), export names, stack skeletons,
//! sequential creation, and the frozen hash that spreads items over stacks.

use mlz_cfn::{LogicalId, Parameter, Resource, Template, Value};
use mlz_model::{Account, AccountIdx, AccountRef, CreatedBy, OuIdx, Platform};

use crate::plan::{exports, ExportKey, ExportRef, StackId};
use crate::stack::{DeployKind, Lookup, Stack, StackParam};
use crate::EmitError;

const ROOT_ID_PATTERN: &str = "^r-[0-9a-z]{4,32}$";
const OU_ID_PATTERN: &str = "^ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$";
const ACCOUNT_ID_PATTERN: &str = "^[0-9]{12}$";
/// An identity store group id.
pub const GROUP_ID_PATTERN: &str =
    "^([0-9a-f]{10}-|)[A-Fa-f0-9]{8}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{4}-[A-Fa-f0-9]{12}$";

pub fn ou_logical_id(name: &str) -> Result<LogicalId, EmitError> {
    LogicalId::derive("Ou", name).map_err(|e| bug("organizations", e))
}

pub fn account_logical_id(a: &Account) -> Result<LogicalId, EmitError> {
    LogicalId::new(a.logical_id.clone()).map_err(|e| bug("organizations", e))
}

/// A private S3 bucket as every mlz bucket is: default encryption with a bucket key
/// (`sse_default` is the `ServerSideEncryptionByDefault` object), versioned, all public access
/// blocked, ACLs off, the given lifecycle rules, retained on delete.
pub fn private_bucket(sse_default: Value, lifecycle_rules: Value) -> Resource {
    Resource::new(crate::types::S3_BUCKET)
        .prop(
            "BucketEncryption",
            Value::map([(
                "ServerSideEncryptionConfiguration",
                Value::List(vec![Value::map([
                    ("ServerSideEncryptionByDefault", sse_default),
                    ("BucketKeyEnabled", Value::Bool(true)),
                ])]),
            )]),
        )
        .prop(
            "VersioningConfiguration",
            Value::map([("Status", Value::str("Enabled"))]),
        )
        .prop(
            "PublicAccessBlockConfiguration",
            Value::map([
                ("BlockPublicAcls", Value::Bool(true)),
                ("BlockPublicPolicy", Value::Bool(true)),
                ("IgnorePublicAcls", Value::Bool(true)),
                ("RestrictPublicBuckets", Value::Bool(true)),
            ]),
        )
        .prop(
            "OwnershipControls",
            Value::map([(
                "Rules",
                Value::List(vec![Value::map([(
                    "ObjectOwnership",
                    Value::str("BucketOwnerEnforced"),
                )])]),
            )]),
        )
        .prop(
            "LifecycleConfiguration",
            Value::map([("Rules", lifecycle_rules)]),
        )
        .retained()
}

/// The key-policy statement that lets the key's own account administer it through IAM (the
/// KMS developer guide's default key policy): every customer managed key of mlz has it.
pub fn key_admin_statement() -> Value {
    Value::map([
        ("Sid", Value::str("AccountAdministers")),
        ("Effect", Value::str("Allow")),
        ("Principal", Value::map([("AWS", account_root())])),
        ("Action", Value::str("kms:*")),
        ("Resource", Value::str("*")),
    ])
}

/// The principal of this stack's own account (`arn:<partition>:iam::<account>:root`): one
/// place, typed, so the partition and account are CloudFormation's to fill.
pub fn account_root() -> Value {
    Value::Sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root".into())
}

/// The bucket-policy statement that refuses any request not made over TLS.
pub fn tls_only_statement(bucket_arn: Value, objects_arn: Value) -> Value {
    Value::map([
        ("Sid", Value::str("TlsOnly")),
        ("Effect", Value::str("Deny")),
        ("Principal", Value::str("*")),
        ("Action", Value::str("s3:*")),
        ("Resource", Value::List(vec![bucket_arn, objects_arn])),
        (
            "Condition",
            Value::map([(
                "Bool",
                Value::map([("aws:SecureTransport", Value::str("false"))]),
            )]),
        ),
    ])
}

/// `https://<artifact bucket>.s3.<region>.<suffix>/<key>`: where a template in the artifact
/// bucket of the stack's own account and region is read from.
pub fn template_url(p: &Platform, key: &str) -> Result<Value, EmitError> {
    Ok(Value::SubWith(
        format!("https://${{Bucket}}.s3.${{AWS::Region}}.${{AWS::URLSuffix}}/{key}"),
        std::collections::BTreeMap::from([(
            "Bucket".to_owned(),
            exports::import(p, &ExportKey::ArtifactBucket)?,
        )]),
    ))
}

/// An IAM Identity Center instance ARN, as the AWS::SSO resource schemas give it (the
/// `InstanceArn` pattern of AWS::SSO::PermissionSet and AWS::SSO::Assignment).
pub const INSTANCE_ARN_PATTERN: &str =
    "^arn:aws(-[a-z]{1,5}){0,3}:sso:::instance/(sso)?ins-[a-zA-Z0-9-.]{16}$";

/// A Service Catalog product's one provisioning artifact: named by the template's content
/// version, loaded from the artifact bucket under `key`.
pub fn artifact_parameters(p: &Platform, version: &str, key: &str) -> Result<Value, EmitError> {
    Ok(Value::List(vec![Value::map([
        ("Name", Value::str(version)),
        (
            "Description",
            Value::str(format!("Template content {version}")),
        ),
        (
            "Info",
            Value::map([("LoadTemplateFromURL", template_url(p, key)?)]),
        ),
    ])]))
}

/// mlz's own plain JSON (written with `json!`, no intrinsic functions) as a value.
pub fn plain(v: serde_json::Value) -> Value {
    Value::from_json(&v)
        .expect("mlz's own JSON holds no intrinsic functions (typed values write those)")
}

/// A Lambda function's log group, kept a year.
pub fn log_group() -> Resource {
    Resource::new(crate::types::LOGS_LOG_GROUP).prop("RetentionInDays", Value::Int(365))
}

/// The one step that gives CloudFormation StackSets trusted access to AWS Organizations,
/// whatever the number of emitters with service-managed StackSets.
pub fn require_stack_sets(out: &mut crate::stack::Emitted) {
    const ID: &str = "stack-sets-trusted-access";
    if out.steps.iter().any(|s| s.id == ID) {
        return;
    }
    out.steps.push(crate::stack::ManualStep {
        id: ID.into(),
        account: AccountRef::Management,
        reason: "Service-managed StackSets need CloudFormation's trusted access to AWS Organizations; CloudFormation cannot turn it on itself.".into(),
        commands: vec!["aws cloudformation activate-organizations-access".into()],
        provides: vec![crate::plan::Fact::TrustedAccess(crate::plan::Service::StackSets)],
        requires: Vec::new(),
    });
}

/// The function behind a custom resource: a log group (`<name>Logs`), a role (`<name>Role`)
/// that Lambda assumes, allowed `statements` and writing to its own log group, and the
/// function (`<name>Function`, or `function_id`) running `code` (Python, inline). Returns the
/// function's logical id.
pub struct CustomFunction<'a> {
    pub name: &'a str,
    pub function_id: Option<&'a str>,
    pub role_description: &'a str,
    pub policy_name: &'a str,
    pub statements: Vec<Value>,
    pub description: &'a str,
    pub timeout: i64,
    pub code: &'a str,
}

pub fn custom_function(
    t: &mut Template,
    f: CustomFunction<'_>,
    path: &str,
) -> Result<LogicalId, EmitError> {
    let id = |suffix: &str| LogicalId::new(format!("{}{suffix}", f.name)).map_err(|e| bug(path, e));
    let logs = id("Logs")?;
    t.add_resource(logs.clone(), log_group())
        .map_err(|e| bug(path, e))?;
    let role = id("Role")?;
    let mut statements = f.statements;
    statements.push(Value::map([
        ("Effect", Value::str("Allow")),
        (
            "Action",
            Value::list_of_str(["logs:CreateLogStream", "logs:PutLogEvents"]),
        ),
        ("Resource", Value::GetAtt(logs.clone(), "Arn".into())),
    ]));
    let lambda_trust = Value::map([
        ("Version", Value::str(mlz_model::aws::IAM_POLICY_VERSION)),
        (
            "Statement",
            Value::List(vec![Value::map([
                ("Effect", Value::str("Allow")),
                (
                    "Principal",
                    Value::map([("Service", Value::str("lambda.amazonaws.com"))]),
                ),
                ("Action", Value::str("sts:AssumeRole")),
            ])]),
        ),
    ]);
    t.add_resource(
        role.clone(),
        Resource::new(crate::types::IAM_ROLE)
            .prop("Description", f.role_description)
            .prop("AssumeRolePolicyDocument", lambda_trust)
            .prop(
                "Policies",
                Value::List(vec![Value::map([
                    ("PolicyName", Value::str(f.policy_name)),
                    (
                        "PolicyDocument",
                        Value::map([
                            ("Version", Value::str(mlz_model::aws::IAM_POLICY_VERSION)),
                            ("Statement", Value::List(statements)),
                        ]),
                    ),
                ])]),
            ),
    )
    .map_err(|e| bug(path, e))?;
    let function = match f.function_id {
        Some(fid) => LogicalId::new(fid).map_err(|e| bug(path, e))?,
        None => id("Function")?,
    };
    let r = Resource::new(crate::types::LAMBDA_FUNCTION)
        .prop("Description", f.description)
        .prop("Runtime", "python3.13")
        .prop("Handler", "index.handler")
        .prop("Timeout", Value::Int(f.timeout));
    // No ReservedConcurrentExecutions: new accounts have a concurrency quota of 10 and
    // reject any reservation (plan rule `lambda-reserved-concurrency`).
    let r = r
        .prop("Role", Value::GetAtt(role, "Arn".into()))
        .prop(
            "LoggingConfig",
            Value::map([("LogGroup", Value::Ref(logs))]),
        )
        .prop("Code", Value::map([("ZipFile", Value::str(f.code))]));
    t.add_resource(function.clone(), r)
        .map_err(|e| bug(path, e))?;
    Ok(function)
}

/// How long CloudFormation waits for a custom resource's answer: a minute past its function's
/// timeout, not the default hour, so a function that is killed (timeout, throttling) fails the
/// stack soon (CloudFormation template reference, `ServiceTimeout` of custom resources, 1 to
/// 3600 seconds). The Account Factory lookup has none: adding one would update the lookup in
/// every vending stack, and a newer active Account Factory artifact would then update every
/// vended account's provisioned product.
pub fn service_timeout(function_timeout: i64) -> Value {
    Value::Int(function_timeout + 60)
}

/// An AWS managed policy by name (from `mlz_model::managed_policies`), partition-aware; a
/// full ARN the config gives as it is.
pub fn managed_policy(name: &str) -> Value {
    if name.starts_with("arn:") {
        Value::str(name)
    } else {
        Value::Sub(mlz_model::managed_policies::arn_sub(name))
    }
}

/// Makes every ARN in a template's resources and outputs partition-aware: a string with
/// `arn:aws:` becomes an `Fn::Sub` of `arn:${AWS::Partition}:` (its own `${…}`, IAM policy
/// variables, escaped as `${!…}`), and `Fn::Sub` texts get the same. The same template then
/// deploys in aws, aws-cn and aws-us-gov. Strings inside `Fn::ImportValue` are export names,
/// never ARNs, and are left alone.
pub fn partition_aware(t: &mut Template) {
    const LITERAL: &str = "arn:aws:";
    const PARTITION: &str = "arn:${AWS::Partition}:";
    let mut fix = |v: &mut Value| match v {
        Value::Str(s) if s.contains(LITERAL) => {
            let text = s.replace("${", "${!").replace(LITERAL, PARTITION);
            *v = Value::Sub(text);
        }
        Value::Sub(s) | Value::SubWith(s, _) if s.contains(LITERAL) => {
            *s = s.replace(LITERAL, PARTITION);
        }
        _ => {}
    };
    for r in t.resources.values_mut() {
        for v in r.properties.values_mut() {
            v.walk_mut(&mut fix);
        }
    }
    for o in t.outputs.values_mut() {
        o.value.walk_mut(&mut fix);
    }
}

/// What an end user needs to find and launch Service Catalog products (the product actions of
/// AWSServiceCatalogEndUserFullAccess; the launch role does the service work).
pub const SERVICE_CATALOG_LAUNCH_ACTIONS: &[&str] = &[
    "servicecatalog:SearchProducts",
    "servicecatalog:DescribeProduct",
    "servicecatalog:DescribeProductView",
    "servicecatalog:DescribeProvisioningParameters",
    "servicecatalog:DescribeProvisioningArtifact",
    "servicecatalog:ListLaunchPaths",
    "servicecatalog:ListProvisioningArtifacts",
    "servicecatalog:ProvisionProduct",
];

/// What an end user needs to manage provisioned products; for people, limited to their own
/// with `servicecatalog:userLevel` (where an action carries the key).
pub const SERVICE_CATALOG_MANAGE_ACTIONS: &[&str] = &[
    "servicecatalog:UpdateProvisionedProduct",
    "servicecatalog:TerminateProvisionedProduct",
    "servicecatalog:DescribeProvisionedProduct",
    "servicecatalog:GetProvisionedProductOutputs",
    "servicecatalog:SearchProvisionedProducts",
    "servicecatalog:ScanProvisionedProducts",
    "servicecatalog:DescribeRecord",
    "servicecatalog:ListRecordHistory",
    "servicecatalog:ListServiceActionsForProvisioningArtifact",
    "servicecatalog:ExecuteProvisionedProductServiceAction",
];

/// An emitter's result: every error it collected, or none.
pub fn all_ok(errs: Vec<EmitError>) -> Result<(), Vec<EmitError>> {
    if errs.is_empty() {
        Ok(())
    } else {
        Err(errs)
    }
}

pub fn bug(template: &str, e: impl std::fmt::Display) -> EmitError {
    EmitError {
        template: template.to_owned(),
        message: e.to_string(),
        hint: None,
    }
}

/// Where a template gets the id of an OU, an account or the root from.
pub enum Ident {
    Literal(String),
    Import(ExportKey),
    Param {
        id: LogicalId,
        description: String,
        pattern: &'static str,
        lookup: Lookup,
    },
    /// A parameter whose value is an export of another account's stack.
    ExportParam {
        id: LogicalId,
        description: String,
        pattern: &'static str,
        export: ExportRef,
    },
}

pub fn root_ident(p: &Platform) -> Result<Ident, EmitError> {
    Ok(match &p.organization.root_id {
        Some(r) => Ident::Literal(r.clone()),
        None => Ident::Param {
            id: LogicalId::new("RootId").map_err(|e| bug("organizations", e))?,
            description: "The organization root id (r-...): aws organizations list-roots".into(),
            pattern: ROOT_ID_PATTERN,
            lookup: Lookup::RootId,
        },
    })
}

pub fn ou_ident(p: &Platform, i: OuIdx) -> Result<Ident, EmitError> {
    let ou = p.ou(i);
    let lid = ou_logical_id(&ou.name)?;
    Ok(match (&ou.id, ou.created_by) {
        (Some(id), _) => Ident::Literal(id.clone()),
        (None, CreatedBy::Mlz) => Ident::Import(ExportKey::OuId(i)),
        (None, by) => Ident::Param {
            id: LogicalId::new(format!("{lid}Id")).map_err(|e| bug("organizations", e))?,
            description: format!(
                "The id (ou-...) of OU {}, created by {}",
                ou.path,
                created_by_text(by)
            ),
            pattern: OU_ID_PATTERN,
            lookup: Lookup::OuId(ou_path(p, i)),
        },
    })
}

pub fn account_ident(p: &Platform, i: AccountIdx) -> Result<Ident, EmitError> {
    let a = p.account(i);
    Ok(match &a.id {
        Some(id) => Ident::Literal(id.clone()),
        // Vended or created by mlz, or looked up by e-mail (`looked_up`): all exported by a
        // management-account stack.
        None => Ident::Import(ExportKey::AccountId(i)),
    })
}

/// Accounts mlz neither vends nor creates and whose id the config does not give (Control
/// Tower's log archive and audit accounts, accounts that joined the organisation): the
/// organizations/account-ids stack looks their ids up by e-mail.
pub fn looked_up(a: &Account) -> bool {
    a.id.is_none() && a.created_by != CreatedBy::Mlz
}

/// An account's key: `management`, or the config's key of the account.
pub fn account_key(p: &Platform, a: AccountRef) -> String {
    match a {
        AccountRef::Management => "management".to_owned(),
        AccountRef::Account(i) => p.account(i).key.clone(),
    }
}

/// A region as a logical-id part: `eu-west-1` → `EuWest1`.
pub fn region_id(r: &str) -> String {
    LogicalId::derive("", r)
        .map(|id| id.to_string())
        .unwrap_or_default()
}

/// An OU's names from the root down: how the pipeline finds an OU it did not create.
pub fn ou_path(p: &Platform, i: OuIdx) -> Vec<String> {
    let mut names = Vec::new();
    let mut at = Some(i);
    while let Some(o) = at {
        names.push(p.ou(o).name.clone());
        at = p.ou(o).parent;
    }
    names.reverse();
    names
}

fn created_by_text(by: CreatedBy) -> &'static str {
    match by {
        CreatedBy::Mlz => "mlz",
        CreatedBy::ControlTower => "Control Tower",
        CreatedBy::External => "someone else (external)",
    }
}

/// Turns an [`Ident`] into a value, declaring the template parameter it needs on first use.
pub fn use_ident(
    p: &Platform,
    ident: Ident,
    t: &mut Template,
    params: &mut Vec<StackParam>,
) -> Result<Value, EmitError> {
    Ok(match ident {
        Ident::Literal(s) => Value::Str(s),
        Ident::Import(key) => exports::import(p, &key)?,
        Ident::Param {
            id,
            description,
            pattern,
            lookup,
        } => param_ident(t, params, id, description, pattern, None, Some(lookup)),
        Ident::ExportParam {
            id,
            description,
            pattern,
            export,
        } => param_ident(t, params, id, description, pattern, Some(export), None),
    })
}

fn param_ident(
    t: &mut Template,
    params: &mut Vec<StackParam>,
    id: LogicalId,
    description: String,
    pattern: &'static str,
    from_export: Option<ExportRef>,
    lookup: Option<Lookup>,
) -> Value {
    if !t.parameters.contains_key(&id) {
        let param = Parameter::string(description.clone()).with_pattern(
            pattern,
            "must be an id of the form shown in the description",
        );
        t.add_parameter(id.clone(), param).expect(
            "not there yet (checked above), and no resource id ends in Id as parameter ids do",
        );
        params.push(StackParam {
            name: id.to_string(),
            description,
            value: None,
            from_export,
            lookup,
        });
    }
    Value::Ref(id)
}

/// A stack in the management account and home region, deployed as the plan chooses.
pub fn new_stack(p: &Platform, id: StackId, template: Template) -> Stack {
    Stack {
        id,
        template,
        account: AccountRef::Management,
        region: p.organization.home_region.clone(),
        deploy: DeployKind::Stack,
        deploy_as: None,
        parameters: Vec::new(),
        imports: Vec::new(),
        provides: Vec::new(),
        requires: Vec::new(),
        stack_set: None,
        upload: None,
        operations: None,
        limit_hint: "this template cannot be split by mlz yet: please report it with your config",
        contents: None,
    }
}

/// Makes the given resources (in this order) create one after another. AWS Organizations
/// rejects concurrent changes (the Account resource documentation requires `DependsOn` between
/// accounts of one template), so every resource waits for the one before it, unless it already
/// references it (a redundant `DependsOn` is a cfn-lint warning).
pub fn chain(t: &mut Template, ids: &[LogicalId]) {
    for pair in ids.windows(2) {
        let (prev, cur) = (&pair[0], &pair[1]);
        let Some(r) = t.resources.get_mut(cur) else {
            continue;
        };
        let mut referenced = false;
        for v in r.properties.values() {
            v.walk(&mut |v| {
                if matches!(v, Value::Ref(x) | Value::GetAtt(x, _) if x == prev) {
                    referenced = true;
                }
            });
        }
        if !referenced {
            r.depends_on.insert(prev.clone());
        }
    }
}

/// FNV-1a, 64 bit. Frozen: changing it would move team accounts between stacks.
pub fn stable_hash(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The team-account stack a team belongs to.
pub fn team_bucket(team: &str, buckets: u32) -> u32 {
    (stable_hash(team) % u64::from(buckets.max(1))) as u32
}

/// A 12-digit account id: the management account's, or one of the platform's accounts.
pub fn account_ref_ident(p: &Platform, r: AccountRef) -> Result<Ident, EmitError> {
    match r {
        AccountRef::Account(i) => account_ident(p, i),
        AccountRef::Management => Ok(match &p.organization.management.id {
            Some(id) => Ident::Literal(id.clone()),
            None => Ident::Param {
                id: LogicalId::new("ManagementAccountId").map_err(|e| bug("common", e))?,
                description: format!(
                    "The 12-digit id of the management account ({})",
                    p.organization.management.name
                ),
                pattern: ACCOUNT_ID_PATTERN,
                lookup: Lookup::ManagementAccountId,
            },
        }),
    }
}

const OU_ARN_PATTERN: &str =
    "^arn:aws[a-z-]*:organizations::[0-9]{12}:ou/o-[a-z0-9]{10,32}/ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$";

/// An OU's ARN (what Control Tower takes as a target): imported from the OU stack when
/// mlz creates the OU, a parameter otherwise.
/// [`ou_arn_ident`] for a stack deployed in `consumer`: imports become parameters that name
/// the export they take.
/// The ARNs of `ous` as principals of a RAM share made in `consumer`'s stack `t`.
pub fn ou_principals(
    p: &Platform,
    ous: &[OuIdx],
    consumer: AccountRef,
    t: &mut Template,
    params: &mut Vec<StackParam>,
) -> Result<Vec<Value>, EmitError> {
    ous.iter()
        .map(|&ou| use_ident(p, ou_arn_ident_in(p, ou, consumer)?, t, params))
        .collect()
}

pub fn ou_arn_ident_in(p: &Platform, i: OuIdx, consumer: AccountRef) -> Result<Ident, EmitError> {
    Ok(match ou_arn_ident(p, i)? {
        Ident::Import(key) if consumer != AccountRef::Management => Ident::ExportParam {
            id: LogicalId::new(format!("{}Arn", ou_logical_id(&p.ou(i).name)?))
                .map_err(|e| bug("common", e))?,
            description: format!(
                "The ARN of OU {} (export {} in the management account)",
                p.ou(i).path,
                key.name(p)?
            ),
            pattern: OU_ARN_PATTERN,
            export: ExportRef {
                key,
                account: AccountRef::Management,
                region: p.organization.home_region.clone(),
            },
        },
        other => other,
    })
}

pub fn ou_arn_ident(p: &Platform, i: OuIdx) -> Result<Ident, EmitError> {
    let ou = p.ou(i);
    let lid = ou_logical_id(&ou.name)?;
    Ok(match ou.created_by {
        CreatedBy::Mlz => Ident::Import(ExportKey::OuArn(i)),
        by => Ident::Param {
            id: LogicalId::new(format!("{lid}Arn")).map_err(|e| bug("common", e))?,
            description: format!(
                "The ARN of OU {}, created by {}",
                ou.path,
                created_by_text(by)
            ),
            pattern: OU_ARN_PATTERN,
            lookup: Lookup::OuArn(ou_path(p, i)),
        },
    })
}

/// Like [`chain`], but `lanes` resources may be in flight at once: resource `i` waits for
/// resource `i - lanes`.
pub fn chain_lanes(t: &mut Template, ids: &[LogicalId], lanes: usize) {
    for i in lanes.max(1)..ids.len() {
        chain(t, &[ids[i - lanes.max(1)].clone(), ids[i].clone()]);
    }
}

/// A content hash of a template, for version names that change exactly when the template does.
pub fn content_version(t: &Template) -> String {
    let canonical = t.fingerprint();
    format!("v-{:016x}", stable_hash(&canonical))
}

/// The stack an item belongs to when items are spread over `buckets` stacks.
pub fn bucket_of(key: &str, buckets: u32) -> usize {
    (stable_hash(key) % u64::from(buckets.max(1))) as usize
}

/// Zero-padded bucket numbers, as wide as the largest one (at least two digits).
pub fn bucket_label(b: usize, buckets: u32) -> String {
    let width = (buckets.saturating_sub(1)).to_string().len().max(2);
    format!("{b:0width$}")
}

/// A file-name-safe form of an account key: `Data Lake` → `data-lake`.
/// The name of an account, the management account included.
pub fn account_name(p: &Platform, a: AccountRef) -> String {
    match a {
        AccountRef::Management => p.organization.management.name.clone(),
        AccountRef::Account(i) => p.account(i).name.clone(),
    }
}

/// An account's name, and the label its per-account stacks are named with
/// (`bucket-<label>`): `management`, or the slug of its key.
pub fn account_label(p: &Platform, a: AccountRef) -> (String, String) {
    match a {
        AccountRef::Management => (
            p.organization.management.name.clone(),
            "management".to_owned(),
        ),
        AccountRef::Account(i) => (p.account(i).name.clone(), slug(&p.account(i).key)),
    }
}

pub fn slug(key: &str) -> String {
    let mut out = String::with_capacity(key.len());
    for c in key.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.trim_matches('-').to_owned()
}

/// What a stack in `consumer` may use for an id: exports live in the management account's
/// stacks, so in any other account an imported id becomes a parameter instead.
pub fn in_account(
    p: &Platform,
    ident: Ident,
    consumer: AccountRef,
    lid: &LogicalId,
    what: &str,
    pattern: &'static str,
) -> Result<Ident, EmitError> {
    Ok(match ident {
        Ident::Import(key) if consumer != AccountRef::Management => Ident::ExportParam {
            id: LogicalId::new(format!("{lid}Id")).map_err(|e| bug("common", e))?,
            description: format!(
                "The id of {what} (export {} in the management account)",
                key.name(p)?
            ),
            pattern,
            export: ExportRef {
                key,
                account: AccountRef::Management,
                region: p.organization.home_region.clone(),
            },
        },
        other => other,
    })
}

/// [`account_ref_ident`] for a stack deployed in `consumer`.
pub fn account_ref_ident_in(
    p: &Platform,
    r: AccountRef,
    consumer: AccountRef,
) -> Result<Ident, EmitError> {
    let ident = account_ref_ident(p, r)?;
    match r {
        AccountRef::Account(i) => in_account(
            p,
            ident,
            consumer,
            &account_logical_id(p.account(i))?,
            &format!("account {}", p.account(i).name),
            ACCOUNT_ID_PATTERN,
        ),
        AccountRef::Management => Ok(ident),
    }
}

/// [`ou_ident`] for a stack deployed in `consumer`.
pub fn ou_ident_in(p: &Platform, ou: OuIdx, consumer: AccountRef) -> Result<Ident, EmitError> {
    in_account(
        p,
        ou_ident(p, ou)?,
        consumer,
        &ou_logical_id(&p.ou(ou).name)?,
        &format!("OU {}", p.ou(ou).path),
        OU_ID_PATTERN,
    )
}

/// The role in every account that receives portfolios which provisions products.
pub const CLOUD_ADMIN_ROLE: &str = "mlz-cloud-admin";

/// The SSM parameters in which the built-in network blueprints record the account's platform
/// VPC and its private subnets (a StringList), where products and Unified Studio read them.
pub const PLATFORM_VPC_PARAMETER: &str = "/mlz/platform-vpc/id";
pub const PLATFORM_SUBNETS_PARAMETER: &str = "/mlz/platform-vpc/private-subnet-ids";
/// The platform VPC's IPv4 range, for products that admit clients of the VPC only.
pub const PLATFORM_CIDR_PARAMETER: &str = "/mlz/platform-vpc/cidr";

/// The regions where account `i` has the platform VPC: those its AFC blueprint deploys to,
/// when mlz vends the account and the blueprint records the VPC and its subnets in the SSM
/// parameters above (as the built-in network blueprints do).
pub fn platform_vpc_regions(p: &Platform, i: AccountIdx) -> &[String] {
    let a = p.account(i);
    let (Some(bi), Some(ct)) = (a.blueprint, p.control_tower.as_ref()) else {
        return &[];
    };
    let Some(b) = ct.blueprints.get(bi) else {
        return &[];
    };
    let records = |name: &str| {
        b.template.resources.values().any(|r| {
            r.resource_type == crate::types::SSM_PARAMETER
                && r.properties.get("Name") == Some(&Value::str(name))
        })
    };
    let vended = a.created_by == CreatedBy::Mlz && a.id.is_none();
    if ct.enabled
        && ct.hub.is_some()
        && vended
        && records(PLATFORM_VPC_PARAMETER)
        && records(PLATFORM_SUBNETS_PARAMETER)
    {
        &b.regions
    } else {
        &[]
    }
}

/// A StackSet template's parameters, as the manifest shows them: its holder passes them all.
pub fn passed_by_stack_set(params: Vec<StackParam>) -> Vec<StackParam> {
    params
        .into_iter()
        .map(|mut sp| {
            sp.value = Some("passed by the StackSet".into());
            sp
        })
        .collect()
}

/// `items.iter().map(f)` on every core, in order. Threads take the next item as they finish
/// one (templates differ a hundredfold in size, so equal shares would leave a core idle).
pub fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(items.len());
    if threads <= 1 {
        return items.iter().map(f).collect();
    }
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(item) = items.get(i) else {
                return done;
            };
            done.push((i, f(item)));
        }
    };
    let mut results: Vec<(usize, R)> = std::thread::scope(|scope| {
        let others: Vec<_> = (1..threads).map(|_| scope.spawn(work)).collect();
        let mut all = work();
        for h in others {
            all.extend(h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)));
        }
        all
    });
    results.sort_unstable_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, r)| r).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_frozen() {
        // These values are a contract: team accounts must never move between stacks.
        assert_eq!(stable_hash(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(stable_hash("a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(
            team_bucket("fraud-detection", 32),
            (stable_hash("fraud-detection") % 32) as u32
        );
    }
}
