//! The generated deployment pipeline (`pipeline/…`): CodePipeline (V2) in the account the
//! config names, one stage per wave of the plan, one CloudFormation action per stack in its
//! account and region, CodeBuild actions for the manual steps that are API calls and approval
//! actions for the ones that need a person. docs/pipeline.md describes the design and
//! docs/aws-rules.md the rules it relies on, with their sources.
//!
//! Account ids of accounts the pipeline itself vends are unknown when the pipeline is
//! created, and an action's `RoleArn` must name one. So the plan splits in two phases: the
//! nodes in accounts that exist before the pipeline (and whatever only they need) run in the
//! pipelines of `pipeline/pipeline.yaml`, deployed by hand once; the last of them looks the
//! vended accounts' ids up and deploys `pipeline/pipeline-vended.yaml`, whose pipelines run
//! the rest. Values a stack needs from another account or region, and values that exist only
//! in AWS (the root id, group ids…), are looked up by a resolve action at the start of the
//! stage that needs them (`pipeline/resolve.py`, driven by `pipeline/wiring.json`), which
//! writes the stacks' complete configuration files.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use mlz_cfn::{LogicalId, Output, Parameter, Resource, Template, Value};
use mlz_model::{AccountRef, CreatedBy, Platform};
use serde::Serialize;
use serde_json::json;

use crate::common::{bug, new_stack, private_bucket, tls_only_statement};
use crate::manifest::{configuration_path, Manifest};
use crate::plan::{exports, ExportKey, NodeRef, Plan, StackId};
use crate::stack::{DeployKind, Lookup, ManualStep, Stack};
use crate::types::{IAM_ROLE, KMS_KEY, S3_BUCKET_POLICY};
use crate::EmitError;

/// CodePipeline's quotas (CodePipeline user guide, "Quotas in AWS CodePipeline"): stages per
/// pipeline, actions per stage, actions per pipeline.
pub const MAX_STAGES: usize = 50;
pub const MAX_ACTIONS_PER_STAGE: usize = 50;
pub const MAX_ACTIONS: usize = 500;
/// Action configuration values are at most 1,000 characters (same page).
const MAX_CONFIG_VALUE: usize = 1000;

const CLOUDFORMATION: &str = "cloudformation.amazonaws.com";
const BUILD_IMAGE: &str = "aws/codebuild/amazonlinux-x86_64-standard:5.0";
const SOURCE_KEY: &str = "mlz/output.zip";

/// The roles mlz installs in every account the pipeline deploys to.
pub struct RoleNames {
    /// Assumed by the pipeline for each action in the account (cross-account action role).
    pub action: String,
    /// CloudFormation's service role for the account's stacks.
    pub deploy: String,
    /// Read-only: stack outputs and exports; in the management account also the
    /// organisation and Identity Center lookups.
    pub read: String,
    /// The manual steps that are API calls.
    pub steps: String,
    /// In the pipeline account: CodePipeline's service role, CodeBuild's, EventBridge's.
    pub pipeline: String,
    pub build: String,
    pub events: String,
}

pub fn role_names(prefix: &str) -> RoleNames {
    RoleNames {
        action: format!("{prefix}-pipeline-action"),
        deploy: mlz_model::pipeline_deploy_role(prefix),
        read: format!("{prefix}-pipeline-read"),
        steps: format!("{prefix}-pipeline-steps"),
        pipeline: format!("{prefix}-pipeline"),
        build: format!("{prefix}-pipeline-build"),
        events: format!("{prefix}-pipeline-events"),
    }
}

/// The API calls a step may make, and the IAM actions each needs. The organisation
/// integrations (delegated administrators, trusted access) also enable service access,
/// register the administrator and create the service-linked role, as the services'
/// "Permissions required to designate a delegated administrator" sections list. A step with
/// a call not in this table becomes an approval action: a person runs it.
const STEP_APIS: &[(&str, &[&str])] = &[
    (
        "organizations enable-policy-type",
        &[
            "organizations:EnablePolicyType",
            "organizations:DescribeOrganization",
        ],
    ),
    (
        "organizations enable-aws-service-access",
        &[
            "organizations:EnableAWSServiceAccess",
            "organizations:DescribeOrganization",
        ],
    ),
    (
        "organizations register-delegated-administrator",
        &[
            "organizations:RegisterDelegatedAdministrator",
            "organizations:ListDelegatedAdministrators",
            "organizations:DescribeOrganization",
        ],
    ),
    (
        "cloudformation activate-organizations-access",
        &[
            "cloudformation:ActivateOrganizationsAccess",
            "organizations:EnableAWSServiceAccess",
            "organizations:DescribeOrganization",
            "organizations:ListAWSServiceAccessForOrganization",
            "iam:CreateServiceLinkedRole",
        ],
    ),
    (
        "servicecatalog enable-aws-organizations-access",
        &[
            "servicecatalog:EnableAWSOrganizationsAccess",
            "organizations:EnableAWSServiceAccess",
            "organizations:DescribeOrganization",
            "organizations:ListAWSServiceAccessForOrganization",
        ],
    ),
    (
        "ram enable-sharing-with-aws-organization",
        &[
            "ram:EnableSharingWithAwsOrganization",
            "organizations:EnableAWSServiceAccess",
            "organizations:DescribeOrganization",
            "iam:CreateServiceLinkedRole",
        ],
    ),
    (
        "guardduty enable-organization-admin-account",
        &[
            "guardduty:EnableOrganizationAdminAccount",
            "guardduty:ListOrganizationAdminAccounts",
            "organizations:EnableAWSServiceAccess",
            "organizations:RegisterDelegatedAdministrator",
            "organizations:ListDelegatedAdministrators",
            "organizations:ListAWSServiceAccessForOrganization",
            "organizations:DescribeOrganization",
            "iam:CreateServiceLinkedRole",
        ],
    ),
    (
        "macie2 enable-organization-admin-account",
        &[
            "macie2:EnableOrganizationAdminAccount",
            "macie2:ListOrganizationAdminAccounts",
            "organizations:EnableAWSServiceAccess",
            "organizations:RegisterDelegatedAdministrator",
            "organizations:ListDelegatedAdministrators",
            "organizations:ListAWSServiceAccessForOrganization",
            "organizations:DescribeOrganization",
            "iam:CreateServiceLinkedRole",
        ],
    ),
    (
        "guardduty update-organization-configuration",
        &["guardduty:UpdateOrganizationConfiguration"],
    ),
    (
        "macie2 update-organization-configuration",
        &["macie2:UpdateOrganizationConfiguration"],
    ),
    (
        "cloudformation list-exports",
        &["cloudformation:ListExports"],
    ),
    ("s3 cp", &["s3:PutObject"]),
];

/// The IAM actions a command needs, or `None` when it is not an API call mlz knows.
fn command_actions(command: &str) -> Option<&'static [&'static str]> {
    let call = command
        .split("$(")
        .nth(1)
        .map_or(command, |inner| inner)
        .trim_start_matches(|c: char| c != 'a')
        .trim_start();
    let mut words = call.split_whitespace();
    if words.next() != Some("aws") {
        return None;
    }
    let svc = words.next()?;
    let op = words.next()?;
    let key = format!("{svc} {op}");
    STEP_APIS
        .iter()
        .find(|(k, _)| *k == key)
        .map(|(_, actions)| *actions)
}

/// A value the resolve action finds, as `pipeline/wiring.json` spells it.
fn source_of_lookup(p: &Platform, l: &Lookup) -> serde_json::Value {
    match l {
        Lookup::PipelineDeployRoleArn => json!({
            "lookup": "roleArn",
            "account": "management",
            // CloudFormation calls Service Catalog as the stack's service role.
            "role": role_names(&p.organization.stack_prefix).deploy,
        }),
        other => other.wire(),
    }
}

fn account_key(p: &Platform, a: AccountRef) -> String {
    match a {
        AccountRef::Management => "management".to_owned(),
        AccountRef::Account(i) => p.account(i).key.clone(),
    }
}

/// An account exists before the pipeline: the management account, accounts Control Tower or
/// someone else created, accounts whose id the config gives.
fn exists_before(p: &Platform, a: AccountRef) -> bool {
    match a {
        AccountRef::Management => true,
        AccountRef::Account(i) => {
            let acc = p.account(i);
            acc.created_by != CreatedBy::Mlz || acc.id.is_some()
        }
    }
}

/// The template parameter that holds an account's id in the pipeline templates.
fn account_param(p: &Platform, a: AccountRef) -> String {
    match a {
        AccountRef::Management => "ManagementAccountId".to_owned(),
        AccountRef::Account(i) => format!("{}Id", p.account(i).logical_id),
    }
}

fn region_id(region: &str) -> String {
    region
        .split('-')
        .map(|w| {
            let mut c = w.chars();
            c.next()
                .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                .unwrap_or_default()
        })
        .collect()
}

/// `[A-Za-z0-9.@\-_]+`, at most 100 characters (action and stage names).
fn action_name(path: &str) -> String {
    let stem = path
        .strip_suffix(".yaml")
        .or_else(|| path.strip_suffix(".json"))
        .unwrap_or(path);
    let name: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-_.@".contains(c) {
                c
            } else {
                '.'
            }
        })
        .collect();
    name.chars().take(100).collect()
}

fn lid(s: impl Into<String>, path: &str) -> Result<LogicalId, EmitError> {
    LogicalId::new(s.into()).map_err(|e| bug(path, e))
}

fn j(v: serde_json::Value) -> Value {
    Value::from_json(&v)
}

fn statement(sid: &str, actions: &[&str], resource: Value) -> Value {
    Value::map([
        ("Sid", Value::str(sid)),
        ("Effect", Value::str("Allow")),
        ("Action", Value::list_of_str(actions.iter().copied())),
        ("Resource", resource),
    ])
}

fn document(statements: Vec<Value>) -> Value {
    Value::map([
        ("Version", Value::str("2012-10-17")),
        ("Statement", Value::List(statements)),
    ])
}

fn inline_policy(name: &str, statements: Vec<Value>) -> Value {
    Value::List(vec![Value::map([
        ("PolicyName", Value::str(name)),
        ("PolicyDocument", document(statements)),
    ])])
}

/// A role of account `account` (a template parameter), by name.
fn role_arn(account: &str, name: &str) -> Value {
    Value::Sub(format!(
        "arn:${{AWS::Partition}}:iam::${{{account}}}:role/{name}"
    ))
}

/// Trust in one role of the pipeline account. The principal is the account and the role a
/// condition: IAM rejects a trust policy that names a role that does not exist yet, and these
/// roles are made before the pipeline's (IAM user guide, "IAM JSON policy elements:
/// Principal", role principals).
fn trust_role(principal: Value) -> Value {
    document(vec![Value::map([
        ("Effect", Value::str("Allow")),
        (
            "Principal",
            Value::map([(
                "AWS",
                Value::Sub("arn:${AWS::Partition}:iam::${PipelineAccountId}:root".into()),
            )]),
        ),
        ("Action", Value::str("sts:AssumeRole")),
        (
            "Condition",
            Value::map([("ArnEquals", Value::map([("aws:PrincipalArn", principal)]))]),
        ),
    ])])
}

fn string_param(
    t: &mut Template,
    name: &str,
    description: &str,
    pattern: &str,
    path: &str,
) -> Result<(), EmitError> {
    let id = lid(name, path)?;
    if t.parameters.contains_key(&id) {
        return Ok(());
    }
    t.add_parameter(
        id,
        Parameter::string(description).with_pattern(pattern, "see the description"),
    )
    .map_err(|e| bug(path, e))
}

const ACCOUNT_ID_PATTERN: &str = "^[0-9]{12}$";

/// The roles one account gets: the action role the pipeline assumes, CloudFormation's service
/// role, the read role the resolve actions assume and (when the account has steps) the steps
/// role, with the IAM actions of `step_actions`.
fn account_roles(
    t: &mut Template,
    p: &Platform,
    step_actions: &BTreeSet<&'static str>,
    management: bool,
    path: &str,
) -> Result<(), EmitError> {
    let r = role_names(&p.organization.stack_prefix);
    let prefix = &p.organization.stack_prefix;
    string_param(
        t,
        "PipelineAccountId",
        "The 12-digit id of the account the pipeline runs in (pipeline.account)",
        ACCOUNT_ID_PATTERN,
        path,
    )?;
    let pipeline_role = role_arn("PipelineAccountId", &r.pipeline);
    let build_role = role_arn("PipelineAccountId", &r.build);
    // The action role: what CodePipeline's CloudFormation action calls in the account (the
    // stack operations, passing the deploy role), and the artifacts it reads and writes in
    // the pipeline account's stores (CodePipeline user guide, "Create a pipeline that uses
    // resources from another AWS account").
    let action = Resource::new(IAM_ROLE)
        .prop("RoleName", r.action.as_str())
        .prop(
            "Description",
            "Assumed by the mlz pipeline for its CloudFormation actions in this account.",
        )
        .prop("AssumeRolePolicyDocument", trust_role(pipeline_role))
        .prop(
            "Policies",
            inline_policy(
                "pipeline-action",
                vec![
                    statement(
                        "Stacks",
                        &[
                            "cloudformation:CreateStack",
                            "cloudformation:UpdateStack",
                            "cloudformation:DescribeStacks",
                            "cloudformation:DescribeStackEvents",
                            "cloudformation:GetTemplate",
                            "cloudformation:SetStackPolicy",
                            "cloudformation:CreateChangeSet",
                            "cloudformation:DescribeChangeSet",
                            "cloudformation:ExecuteChangeSet",
                            "cloudformation:DeleteChangeSet",
                        ],
                        Value::Sub(format!(
                            "arn:${{AWS::Partition}}:cloudformation:*:${{AWS::AccountId}}:stack/{prefix}-*/*"
                        )),
                    ),
                    statement(
                        "Templates",
                        &["cloudformation:ValidateTemplate", "cloudformation:GetTemplateSummary"],
                        Value::str("*"),
                    ),
                    Value::map([
                        ("Sid", Value::str("PassDeployRole")),
                        ("Effect", Value::str("Allow")),
                        ("Action", Value::str("iam:PassRole")),
                        (
                            "Resource",
                            Value::Sub(format!(
                                "arn:${{AWS::Partition}}:iam::${{AWS::AccountId}}:role/{}",
                                r.deploy
                            )),
                        ),
                        (
                            "Condition",
                            j(json!({ "StringEquals": { "iam:PassedToService": CLOUDFORMATION } })),
                        ),
                    ]),
                    // The actions write no output artifacts (no OutputFileName): read only.
                    statement(
                        "Artifacts",
                        &["s3:GetObject", "s3:GetObjectVersion"],
                        Value::Sub(format!(
                            "arn:${{AWS::Partition}}:s3:::{prefix}-pipeline-${{PipelineAccountId}}-*/*"
                        )),
                    ),
                    Value::map([
                        ("Sid", Value::str("ArtifactKeys")),
                        ("Effect", Value::str("Allow")),
                        (
                            "Action",
                            Value::list_of_str(["kms:Decrypt", "kms:DescribeKey"]),
                        ),
                        (
                            "Resource",
                            Value::Sub("arn:${AWS::Partition}:kms:*:${PipelineAccountId}:key/*".into()),
                        ),
                        (
                            "Condition",
                            j(json!({ "StringLike": { "kms:ViaService": "s3.*.amazonaws.com" } })),
                        ),
                    ]),
                ],
            ),
        );
    t.add_resource(lid("PipelineActionRole", path)?, action)
        .map_err(|e| bug(path, e))?;
    // CloudFormation's service role for the account's stacks: only CloudFormation can use it,
    // and only the action role may pass it. The stacks create IAM roles, accounts, SCPs and
    // Identity Center assignments: AWS's AdministratorAccess, as CDK's bootstrap execution role
    // and Control Tower's AWSControlTowerExecution have.
    let deploy = Resource::new(IAM_ROLE)
        .prop("RoleName", r.deploy.as_str())
        .prop(
            "Description",
            "CloudFormation's service role for the mlz pipeline's stacks in this account.",
        )
        .prop(
            "AssumeRolePolicyDocument",
            document(vec![Value::map([
                ("Effect", Value::str("Allow")),
                (
                    "Principal",
                    Value::map([("Service", Value::str(CLOUDFORMATION))]),
                ),
                // No aws:SourceAccount condition: no AWS document says CloudFormation sends it
                // when it assumes a stack's service role (review finding).
                ("Action", Value::str("sts:AssumeRole")),
            ])]),
        )
        .prop(
            "ManagedPolicyArns",
            Value::List(vec![crate::common::managed_policy("AdministratorAccess")]),
        );
    t.add_resource(lid("PipelineDeployRole", path)?, deploy)
        .map_err(|e| bug(path, e))?;
    let read = Resource::new(IAM_ROLE)
        .prop("RoleName", r.read.as_str())
        .prop(
            "Description",
            "Assumed by the mlz pipeline's resolve actions to read stack outputs (and, in the management account, the organisation).",
        )
        .prop("AssumeRolePolicyDocument", trust_role(build_role.clone()))
        .prop(
            "Policies",
            inline_policy("pipeline-read", {
                let mut v = vec![statement(
                    "Outputs",
                    &["cloudformation:DescribeStacks", "cloudformation:ListExports"],
                    Value::str("*"),
                )];
                if management {
                    // What pipeline/resolve.py looks up: the root, OUs and accounts, the
                    // Identity Center instance and groups, Control Tower's baselines.
                    v.push(statement(
                        "Lookups",
                        &[
                            "organizations:DescribeOrganization",
                            "organizations:ListRoots",
                            "organizations:ListOrganizationalUnitsForParent",
                            "organizations:ListAccounts",
                            "sso:ListInstances",
                            "identitystore:GetGroupId",
                            "controltower:ListBaselines",
                            "controltower:ListEnabledBaselines",
                        ],
                        Value::str("*"),
                    ));
                }
                v
            }),
        );
    t.add_resource(lid("PipelineReadRole", path)?, read)
        .map_err(|e| bug(path, e))?;
    if !step_actions.is_empty() {
        let mut by_service: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for a in step_actions {
            by_service
                .entry(a.split(':').next().unwrap_or(a))
                .or_default()
                .push(a);
        }
        let mut statements = Vec::new();
        for (svc, actions) in by_service {
            let resource = match svc {
                // Uploads go to mlz's own artifact buckets only.
                "s3" => Value::Sub(format!(
                    "arn:${{AWS::Partition}}:s3:::{prefix}-artifacts-*/*"
                )),
                // Only the service-linked roles the integrations create.
                "iam" => Value::Sub(
                    "arn:${AWS::Partition}:iam::${AWS::AccountId}:role/aws-service-role/*".into(),
                ),
                _ => Value::str("*"),
            };
            let sid: String = svc.chars().filter(char::is_ascii_alphanumeric).collect();
            statements.push(statement(&sid, &actions, resource));
        }
        let steps = Resource::new(IAM_ROLE)
            .prop("RoleName", r.steps.as_str())
            .prop(
                "Description",
                "Assumed by the mlz pipeline's step actions: the API calls of this account's manual steps.",
            )
            .prop("AssumeRolePolicyDocument", trust_role(build_role))
            .prop("Policies", inline_policy("pipeline-steps", statements));
        t.add_resource(lid("PipelineStepsRole", path)?, steps)
            .map_err(|e| bug(path, e))?;
    }
    Ok(())
}

/// What one action of a pipeline does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Act {
    /// A CloudFormation action deploying stack `stacks[i]`.
    Deploy(usize),
    /// A manual step `steps[j]`: a CodeBuild action when `automated`, an approval otherwise.
    Step { j: usize, automated: bool },
}

struct StagePlan {
    name: String,
    acts: Vec<Act>,
    /// Accounts whose roles the resolve action waits for (accounts the pipeline vended).
    wait_for: Vec<AccountRef>,
    /// Stacks of the stage with parameters the resolve action fills.
    wired: Vec<usize>,
}

impl StagePlan {
    fn resolves(&self) -> bool {
        !self.wait_for.is_empty() || !self.wired.is_empty()
    }
    fn actions(&self) -> usize {
        self.acts.len() + usize::from(self.resolves())
    }
}

struct PipelinePlan {
    name: String,
    vended: bool,
    stages: Vec<StagePlan>,
}

/// The manifest's `pipeline` section.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineEntry {
    pub account: String,
    pub region: String,
    /// Every template of `pipeline/`, with its region and how it deploys.
    pub templates: Vec<PipelineTemplateEntry>,
    /// The files the resolve and step actions read (not templates).
    pub files: Vec<String>,
    /// Run once in the management account before the bootstrap: the roles template holds a
    /// service-managed StackSet, which needs StackSets' trusted access to Organizations.
    pub prepare: Vec<String>,
    /// Deployed by hand, once, in this order (the README gives the commands).
    pub bootstrap: Vec<BootstrapEntry>,
    pub pipelines: Vec<PipelineSummary>,
    /// Where each node of the plan runs.
    pub actions: Vec<ActionEntry>,
    /// Parameters only a person knows: the resolve action reads them from Parameter Store.
    pub external_values: Vec<ExternalEntry>,
    /// After the bootstrap: upload the output folder and start the first pipeline.
    pub run: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineTemplateEntry {
    pub path: String,
    pub region: String,
    pub deployed_by: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BootstrapEntry {
    pub template: String,
    pub stack_name: String,
    pub account: String,
    pub region: String,
    pub capabilities: Vec<&'static str>,
    pub parameters: Vec<String>,
    /// The command that deploys it, each parameter's value looked up where it can be.
    pub command: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PipelineSummary {
    pub name: String,
    pub template: String,
    pub stages: usize,
    pub actions: usize,
    /// The pipeline whose success starts this one (EventBridge).
    pub starts_after: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ActionEntry {
    /// A template path, or `step <id>`.
    pub node: String,
    pub pipeline: String,
    pub stage: String,
    pub action: String,
    /// `cloudFormation`, `stackSetResource` (deployed by its holder's action), `codeBuild`,
    /// `approval`.
    pub kind: &'static str,
    pub role: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExternalEntry {
    pub template: String,
    pub parameter: String,
    pub parameter_store: String,
    pub why: String,
}

pub struct Built {
    pub stacks: Vec<Stack>,
    pub files: Vec<(String, String)>,
    pub entry: PipelineEntry,
}

/// The value sources of a step's placeholders (`<root id>`, `<Name account id>`, `<output Key
/// of path>`), or `None` when a placeholder is not one the resolve action can fill.
fn placeholders(
    p: &Platform,
    stacks: &[Stack],
    ext: &str,
    commands: &[String],
) -> Option<BTreeMap<String, serde_json::Value>> {
    let prefix = &p.organization.stack_prefix;
    let mut out = BTreeMap::new();
    for c in commands {
        let mut rest = c.as_str();
        while let Some(start) = rest.find('<') {
            let after = &rest[start + 1..];
            let end = after.find('>')?;
            let inner = &after[..end];
            rest = &after[end + 1..];
            let source = if inner == "root id" {
                json!({ "lookup": "rootId" })
            } else if let Some(name) = inner.strip_suffix(" account id") {
                let a = if name == p.organization.management.name {
                    AccountRef::Management
                } else {
                    AccountRef::Account(mlz_model::AccountIdx(
                        p.accounts.iter().position(|a| a.name == name)?,
                    ))
                };
                json!({ "lookup": "accountId", "account": account_key(p, a) })
            } else if let Some(o) = inner.strip_prefix("output ") {
                let (key, path) = o.split_once(" of ")?;
                let s = stacks.iter().find(|s| s.id.path() == path)?;
                json!({ "output": {
                    "stack": s.id.stack_name(prefix),
                    "account": account_key(p, s.account),
                    "region": s.region,
                    "key": key,
                } })
            } else {
                return None;
            };
            let _ = ext;
            out.insert(format!("<{inner}>"), source);
        }
    }
    Some(out)
}

/// Can the pipeline run this step itself: every command an API call mlz knows, every
/// placeholder one the resolve action fills. Import steps end in a change set a person
/// reviews.
fn automatable(p: &Platform, stacks: &[Stack], ext: &str, st: &ManualStep) -> bool {
    !st.id.starts_with("import-into-")
        && !st.commands.is_empty()
        && st.commands.iter().all(|c| command_actions(c).is_some())
        && placeholders(p, stacks, ext, &st.commands).is_some()
}

/// Which nodes run in the second phase: nodes in accounts the pipeline vends, and nodes
/// that wait for one of them.
fn vended_phase(p: &Platform, plan: &Plan, stacks: &[Stack], steps: &[ManualStep]) -> Vec<bool> {
    let n = stacks.len() + steps.len();
    let mut late = vec![false; n];
    for wave in &plan.waves {
        for &node in wave {
            let i = plan.index(node);
            let account = match node {
                NodeRef::Stack(s) => stacks[s].account,
                NodeRef::Step(j) => steps[j].account,
            };
            late[i] = !exists_before(p, account)
                || plan.depends_on[i].keys().any(|d| late[plan.index(*d)]);
        }
    }
    late
}

/// Splits actions (in wave order, with their wave) into stages of at most
/// [`MAX_ACTIONS_PER_STAGE`] actions, and stages into pipelines within [`MAX_STAGES`] and
/// [`MAX_ACTIONS`].
#[allow(clippy::too_many_arguments)]
fn pack(
    p: &Platform,
    stacks: &[Stack],
    acts: &[(usize, Act)],
    vended: bool,
    first_index: usize,
    reserve_first: (usize, usize),
    reserve_last: (usize, usize),
) -> Vec<PipelinePlan> {
    let prefix = &p.organization.stack_prefix;
    let mut stages: Vec<StagePlan> = Vec::new();
    let mut waited: BTreeSet<AccountRef> = BTreeSet::new();
    let mut i = 0;
    while i < acts.len() {
        let wave = acts[i].0;
        let mut k = i;
        while k < acts.len() && acts[k].0 == wave {
            k += 1;
        }
        // One slot for the resolve action.
        let chunks: Vec<&[(usize, Act)]> = acts[i..k].chunks(MAX_ACTIONS_PER_STAGE - 1).collect();
        let many = chunks.len() > 1;
        for (c, chunk) in chunks.into_iter().enumerate() {
            let mut wait_for = Vec::new();
            let mut wired = Vec::new();
            for (_, a) in chunk {
                let account = match *a {
                    Act::Deploy(s) => {
                        if stacks[s].parameters.iter().any(|pp| pp.value.is_none()) {
                            wired.push(s);
                        }
                        Some(stacks[s].account)
                    }
                    Act::Step { .. } => None,
                };
                if let Some(acc) = account {
                    if !exists_before(p, acc) && waited.insert(acc) {
                        wait_for.push(acc);
                    }
                }
            }
            let name = if many {
                format!("Wave-{wave}-{}", c + 1)
            } else {
                format!("Wave-{wave}")
            };
            stages.push(StagePlan {
                name,
                acts: chunk.iter().map(|(_, a)| *a).collect(),
                wait_for,
                wired,
            });
        }
        i = k;
    }
    let mut pipelines: Vec<PipelinePlan> = Vec::new();
    let mut current: Vec<StagePlan> = Vec::new();
    // The source stage and its action count, and the first pipeline's reserved stage.
    let (mut stages_used, mut actions) = (1 + reserve_first.0, 1 + reserve_first.1);
    let total = stages.len();
    for (si, st) in stages.into_iter().enumerate() {
        let (xs, xa) = if si + 1 == total {
            reserve_last
        } else {
            (0, 0)
        };
        let n = st.actions();
        if !current.is_empty()
            && (stages_used + 1 + xs > MAX_STAGES || actions + n + xa > MAX_ACTIONS)
        {
            pipelines.push(PipelinePlan {
                name: String::new(),
                vended,
                stages: std::mem::take(&mut current),
            });
            (stages_used, actions) = (1, 1);
        }
        stages_used += 1;
        actions += n;
        current.push(st);
    }
    if !current.is_empty() {
        pipelines.push(PipelinePlan {
            name: String::new(),
            vended,
            stages: current,
        });
    }
    for (n, pl) in pipelines.iter_mut().enumerate() {
        pl.name = format!("{prefix}-{}", first_index + n + 1);
    }
    pipelines
}

/// Everything the templates of one phase need to name.
struct Cx<'a> {
    p: &'a Platform,
    stacks: &'a [Stack],
    steps: &'a [ManualStep],
    m: &'a Manifest,
    r: RoleNames,
    /// The pipeline's own account: its id is `AWS::AccountId` in the pipeline templates.
    home: AccountRef,
    region: String,
    ext: &'a str,
}

impl Cx<'_> {
    /// The `${…}` name of an account's id in a pipeline template.
    fn account_var(&self, a: AccountRef) -> String {
        if a == self.home {
            mlz_cfn::Pseudo::AccountId.name().to_owned()
        } else {
            account_param(self.p, a)
        }
    }

    fn role(&self, a: AccountRef, name: &str) -> Value {
        role_arn(&self.account_var(a), name)
    }

    fn stage_key(pl: &str, stage: &str) -> String {
        format!("{pl}/{stage}")
    }
}

fn action_type(category: &str, provider: &str) -> Value {
    Value::map([
        ("Category", Value::str(category)),
        ("Owner", Value::str("AWS")),
        ("Provider", Value::str(provider)),
        ("Version", Value::str("1")),
    ])
}

fn artifacts(names: &[&str]) -> Value {
    Value::List(
        names
            .iter()
            .map(|n| Value::map([("Name", Value::str(*n))]))
            .collect(),
    )
}

fn build_env(mode: &str, target: &str) -> String {
    serde_json::to_string(&json!([
        { "name": "MLZ_MODE", "value": mode, "type": "PLAINTEXT" },
        { "name": "MLZ_TARGET", "value": target, "type": "PLAINTEXT" },
    ]))
    .unwrap_or_default()
}

fn build_action(
    name: &str,
    project: &Value,
    mode: &str,
    target: &str,
    output: Option<&str>,
    run_order: i64,
) -> Value {
    let mut a = vec![
        ("Name", Value::str(name)),
        ("ActionTypeId", action_type("Build", "CodeBuild")),
        (
            "Configuration",
            Value::map([
                ("ProjectName", project.clone()),
                ("PrimarySource", Value::str("Source")),
                ("EnvironmentVariables", Value::str(build_env(mode, target))),
            ]),
        ),
        ("InputArtifacts", artifacts(&["Source"])),
        ("RunOrder", Value::Int(run_order)),
    ];
    if let Some(o) = output {
        a.push(("OutputArtifacts", artifacts(&[o])));
    }
    Value::map(a)
}

/// Approval text: the step's reason and commands, within CodePipeline's 1,000 characters.
fn approval_text(st: &ManualStep) -> String {
    let mut text = format!("{} {}", st.reason, st.commands.join(" ; "));
    if text.len() > MAX_CONFIG_VALUE {
        let mut cut = MAX_CONFIG_VALUE - 40;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push_str(" … (the rest in README.md)");
    }
    text
}

/// One pipeline's stages (after its source stage) as CloudFormation values, the wiring of
/// its resolve actions and steps, and where each node runs.
fn stages(
    cx: &Cx<'_>,
    pl: &PipelinePlan,
    project: &Value,
    wiring: &mut Wiring,
    entries: &mut Vec<ActionEntry>,
) -> Vec<Value> {
    let p = cx.p;
    let mut out = Vec::new();
    for (si, st) in pl.stages.iter().enumerate() {
        let key = Cx::stage_key(&pl.name, &st.name);
        let resolved = format!("Resolved{}", si + 1);
        let mut actions = Vec::new();
        if st.resolves() {
            actions.push(build_action(
                "Resolve",
                project,
                "stage",
                &key,
                Some(&resolved),
                1,
            ));
            wiring.stage(cx, &key, st);
        }
        for act in &st.acts {
            match *act {
                Act::Deploy(s) => {
                    let stack = &cx.stacks[s];
                    let t = &cx.m.templates[s];
                    let name = action_name(&t.path);
                    let config = configuration_path(&t.path);
                    let from = if st.wired.contains(&s) {
                        resolved.as_str()
                    } else {
                        "Source"
                    };
                    let mut inputs = vec!["Source"];
                    if from != "Source" {
                        inputs.push(from);
                    }
                    let mut conf = vec![
                        ("ActionMode", Value::str("CREATE_UPDATE")),
                        (
                            "StackName",
                            Value::str(t.stack_name.clone().unwrap_or_default()),
                        ),
                        ("TemplatePath", Value::str(format!("Source::{}", t.path))),
                        (
                            "TemplateConfiguration",
                            Value::str(format!("{from}::{config}")),
                        ),
                        ("RoleArn", cx.role(stack.account, &cx.r.deploy)),
                    ];
                    if !t.capabilities.is_empty() {
                        conf.push(("Capabilities", Value::str(t.capabilities.join(","))));
                    }
                    actions.push(Value::map([
                        ("Name", Value::str(name.clone())),
                        ("ActionTypeId", action_type("Deploy", "CloudFormation")),
                        ("Region", Value::str(stack.region.clone())),
                        ("RoleArn", cx.role(stack.account, &cx.r.action)),
                        ("Configuration", Value::map(conf)),
                        ("InputArtifacts", artifacts(&inputs)),
                        ("RunOrder", Value::Int(2)),
                    ]));
                    entries.push(ActionEntry {
                        node: t.path.clone(),
                        pipeline: pl.name.clone(),
                        stage: st.name.clone(),
                        action: name.clone(),
                        kind: "cloudFormation",
                        role: Some(format!(
                            "{} ({})",
                            cx.r.action,
                            account_key(p, stack.account)
                        )),
                    });
                    // The StackSets this stack holds deploy with it.
                    for (k, other) in cx.stacks.iter().enumerate() {
                        if other
                            .stack_set
                            .as_ref()
                            .is_some_and(|ss| ss.holder == stack.id)
                        {
                            entries.push(ActionEntry {
                                node: cx.m.templates[k].path.clone(),
                                pipeline: pl.name.clone(),
                                stage: st.name.clone(),
                                action: name.clone(),
                                kind: "stackSetResource",
                                role: Some(format!(
                                    "{} ({})",
                                    cx.r.action,
                                    account_key(p, stack.account)
                                )),
                            });
                        }
                    }
                }
                Act::Step { j, automated } => {
                    let step = &cx.steps[j];
                    let name = action_name(&format!("step.{}", step.id));
                    if automated {
                        actions.push(build_action(&name, project, "step", &step.id, None, 2));
                        wiring.step(cx, step);
                    } else {
                        actions.push(Value::map([
                            ("Name", Value::str(name.clone())),
                            ("ActionTypeId", action_type("Approval", "Manual")),
                            (
                                "Configuration",
                                Value::map([("CustomData", Value::str(approval_text(step)))]),
                            ),
                            ("RunOrder", Value::Int(2)),
                        ]));
                    }
                    entries.push(ActionEntry {
                        node: format!("step {}", step.id),
                        pipeline: pl.name.clone(),
                        stage: st.name.clone(),
                        action: name,
                        kind: if automated { "codeBuild" } else { "approval" },
                        role: automated
                            .then(|| format!("{} ({})", cx.r.steps, account_key(p, step.account))),
                    });
                }
            }
        }
        out.push(Value::map([
            ("Name", Value::str(st.name.clone())),
            ("Actions", Value::List(actions)),
        ]));
    }
    out
}

/// A CloudFormation action of the pipeline's own templates (in the pipeline account, but
/// for the management account's roles), with its configuration from `Resolved`.
fn own_action(cx: &Cx<'_>, s: &Stack, id: &StackId, caps: &str, run_order: i64) -> Value {
    let file = id.file(cx.ext);
    let mut conf = vec![
        ("ActionMode", Value::str("CREATE_UPDATE")),
        (
            "StackName",
            Value::str(id.stack_name(&cx.p.organization.stack_prefix)),
        ),
        ("TemplatePath", Value::str(format!("Source::{file}"))),
        (
            "TemplateConfiguration",
            Value::str(format!("ResolvedPipeline::{}", configuration_path(&file))),
        ),
        ("RoleArn", cx.role(s.account, &cx.r.deploy)),
    ];
    if !caps.is_empty() {
        conf.push(("Capabilities", Value::str(caps)));
    }
    Value::map([
        ("Name", Value::str(action_name(&file))),
        ("ActionTypeId", action_type("Deploy", "CloudFormation")),
        ("Region", Value::str(s.region.clone())),
        ("RoleArn", cx.role(s.account, &cx.r.action)),
        ("Configuration", Value::map(conf)),
        ("InputArtifacts", artifacts(&["Source", "ResolvedPipeline"])),
        ("RunOrder", Value::Int(run_order)),
    ])
}

/// The first stage of the first pipeline: the pipeline updates its roles, its artifact
/// stores and then itself from the new output (`RestartExecutionOnUpdate` then runs the new
/// definition), so only the first deployment is by hand.
fn self_update(
    cx: &Cx<'_>,
    pipeline: &str,
    project: &Value,
    bootstrap: &[&Stack],
    own: &StackId,
    own_params: serde_json::Map<String, serde_json::Value>,
    wiring: &mut Wiring,
) -> Value {
    let p = cx.p;
    let key = Cx::stage_key(pipeline, "Pipeline");
    let mut actions = vec![build_action(
        "Resolve",
        project,
        "stage",
        &key,
        Some("ResolvedPipeline"),
        1,
    )];
    let mut resolved = Vec::new();
    for s in bootstrap {
        let caps = crate::plan::capabilities(&s.template).join(",");
        actions.push(own_action(cx, s, &s.id, &caps, 2));
        let params: serde_json::Map<String, serde_json::Value> = s
            .template
            .parameters
            .keys()
            .map(|k| {
                let src = match k.as_str() {
                    "RootId" => json!({ "lookup": "rootId" }),
                    "PipelineAccountId" => {
                        json!({ "lookup": "accountId", "account": account_key(p, cx.home) })
                    }
                    _ => json!({ "lookup": "organizationId" }),
                };
                (k.to_string(), src)
            })
            .collect();
        let file = s.id.file(cx.ext);
        resolved.push(json!({ "template": file, "configuration": configuration_path(&file), "parameters": params }));
    }
    let own_file = own.file(cx.ext);
    let home = Stack {
        account: cx.home,
        region: cx.region.clone(),
        ..new_stack(p, own.clone(), Template::new(String::new()))
    };
    actions.push(own_action(cx, &home, own, "CAPABILITY_NAMED_IAM", 3));
    resolved.push(json!({ "template": own_file, "configuration": configuration_path(&own_file), "parameters": own_params }));
    wiring
        .stages
        .insert(key, json!({ "waitFor": [], "stacks": resolved }));
    Value::map([
        ("Name", Value::str("Pipeline")),
        ("Actions", Value::List(actions)),
    ])
}

/// `pipeline/wiring.json`: what each resolve action looks up and each step runs.
#[derive(Default)]
struct Wiring {
    stages: serde_json::Map<String, serde_json::Value>,
    steps: serde_json::Map<String, serde_json::Value>,
    external: Vec<ExternalEntry>,
}

impl Wiring {
    fn source(
        &mut self,
        cx: &Cx<'_>,
        s: &Stack,
        pp: &crate::stack::StackParam,
    ) -> serde_json::Value {
        let p = cx.p;
        if let Some(e) = &pp.from_export {
            return json!({ "export": {
                "name": e.key.name(p).unwrap_or_default(),
                "account": account_key(p, e.account),
                "region": e.region,
            } });
        }
        match &pp.lookup {
            Some(Lookup::External) | None => {
                let stem = s.id.path();
                let ssm = format!(
                    "/{}/pipeline/external/{stem}/{}",
                    p.organization.stack_prefix, pp.name
                );
                self.external.push(ExternalEntry {
                    template: s.id.file(cx.ext),
                    parameter: pp.name.clone(),
                    parameter_store: ssm.clone(),
                    why: pp.description.clone(),
                });
                json!({ "lookup": "external", "parameterStore": ssm })
            }
            Some(l) => source_of_lookup(p, l),
        }
    }

    fn stage(&mut self, cx: &Cx<'_>, key: &str, st: &StagePlan) {
        let mut stacks = Vec::new();
        for &s in &st.wired {
            let stack = &cx.stacks[s];
            let mut params = serde_json::Map::new();
            for pp in &stack.parameters {
                if pp.value.is_none() {
                    let src = self.source(cx, stack, pp);
                    params.insert(pp.name.clone(), src);
                }
            }
            let path = &cx.m.templates[s].path;
            stacks.push(json!({
                "template": path,
                "configuration": configuration_path(path),
                "parameters": params,
            }));
        }
        self.stages.insert(
            key.to_owned(),
            json!({
                "waitFor": st.wait_for.iter().map(|a| account_key(cx.p, *a)).collect::<Vec<_>>(),
                "stacks": stacks,
            }),
        );
    }

    fn step(&mut self, cx: &Cx<'_>, st: &ManualStep) {
        let values = placeholders(cx.p, cx.stacks, cx.ext, &st.commands).unwrap_or_default();
        self.steps.insert(
            st.id.clone(),
            json!({
                "account": account_key(cx.p, st.account),
                "commands": st.commands,
                "values": values,
            }),
        );
    }
}

fn export_name(p: &Platform, what: &'static str) -> Result<String, EmitError> {
    ExportKey::Pipeline(what).name(p)
}

fn import(p: &Platform, what: &'static str) -> Result<Value, EmitError> {
    exports::import(p, &ExportKey::Pipeline(what))
}

fn artifact_bucket_name(p: &Platform, region: &str) -> Value {
    Value::Sub(format!(
        "{}-pipeline-${{AWS::AccountId}}-{region}",
        p.organization.stack_prefix
    ))
}

fn org_param(t: &mut Template, path: &str) -> Result<(), EmitError> {
    string_param(
        t,
        "OrganizationId",
        "The organisation's id (o-...): aws organizations describe-organization",
        "^o-[a-z0-9]{10,32}$",
        path,
    )
}

/// The KMS key of an artifact store: the pipeline account administers it; the action roles
/// of the organisation's accounts use it through S3 (cross-account actions need a customer
/// managed key the target account's action role may use: CodePipeline user guide, "Create a
/// pipeline in CodePipeline that uses resources from another AWS account").
fn artifact_key(p: &Platform) -> Resource {
    let r = role_names(&p.organization.stack_prefix);
    Resource::new(KMS_KEY)
        .prop("Description", "Encrypts the mlz pipeline's artifacts")
        .prop("EnableKeyRotation", Value::Bool(true))
        .prop(
            "KeyPolicy",
            document(vec![
                j(json!({
                    "Sid": "AccountAdministers",
                    "Effect": "Allow",
                    "Principal": { "AWS": { "Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root" } },
                    "Action": "kms:*",
                    "Resource": "*"
                })),
                Value::map([
                    ("Sid", Value::str("ActionRolesReadThroughS3")),
                    ("Effect", Value::str("Allow")),
                    ("Principal", j(json!({ "AWS": "*" }))),
                    (
                        "Action",
                        Value::list_of_str(["kms:Decrypt", "kms:DescribeKey"]),
                    ),
                    ("Resource", Value::str("*")),
                    (
                        "Condition",
                        Value::map([
                            ("StringEquals", Value::map([("aws:PrincipalOrgID", Value::Ref(LogicalId::new("OrganizationId").expect("valid id")))])),
                            ("ArnLike", Value::map([("aws:PrincipalArn", Value::Sub(format!("arn:${{AWS::Partition}}:iam::*:role/{}", r.action)))])),
                            ("StringLike", Value::map([("kms:ViaService", Value::str("s3.*.amazonaws.com"))])),
                        ]),
                    ),
                ]),
            ]),
        )
        .retained()
}

/// An artifact store bucket (named so that the pipeline of another region can name it) and
/// its policy: TLS only, and the organisation's action roles read and write artifacts.
fn add_store(
    t: &mut Template,
    p: &Platform,
    region: &str,
    key: Value,
    path: &str,
) -> Result<(), EmitError> {
    let r = role_names(&p.organization.stack_prefix);
    let bucket = private_bucket(
        Value::map([
            ("SSEAlgorithm", Value::str("aws:kms")),
            ("KMSMasterKeyID", key),
        ]),
        j(json!([{ "Id": "expire-artifacts", "Status": "Enabled", "ExpirationInDays": 90, "NoncurrentVersionExpiration": { "NoncurrentDays": 30 }, "AbortIncompleteMultipartUpload": { "DaysAfterInitiation": 7 } }])),
    )
    .prop("BucketName", artifact_bucket_name(p, region));
    t.add_resource(lid("ArtifactBucket", path)?, bucket)
        .map_err(|e| bug(path, e))?;
    let policy = Resource::new(S3_BUCKET_POLICY)
        .prop("Bucket", Value::Ref(lid("ArtifactBucket", path)?))
        .prop(
            "PolicyDocument",
            document(vec![
                tls_only_statement(
                    Value::GetAtt(lid("ArtifactBucket", path)?, "Arn".into()),
                    Value::Sub("${ArtifactBucket.Arn}/*".into()),
                ),
                Value::map([
                    ("Sid", Value::str("ActionRolesRead")),
                    ("Effect", Value::str("Allow")),
                    ("Principal", j(json!({ "AWS": "*" }))),
                    (
                        "Action",
                        Value::list_of_str(["s3:GetObject", "s3:GetObjectVersion"]),
                    ),
                    ("Resource", Value::Sub("${ArtifactBucket.Arn}/*".into())),
                    (
                        "Condition",
                        Value::map([
                            (
                                "StringEquals",
                                Value::map([(
                                    "aws:PrincipalOrgID",
                                    Value::Ref(lid("OrganizationId", path)?),
                                )]),
                            ),
                            (
                                "ArnLike",
                                Value::map([(
                                    "aws:PrincipalArn",
                                    Value::Sub(format!(
                                        "arn:${{AWS::Partition}}:iam::*:role/{}",
                                        r.action
                                    )),
                                )]),
                            ),
                        ]),
                    ),
                ]),
            ]),
        );
    t.add_resource(lid("ArtifactBucketPolicy", path)?, policy)
        .map_err(|e| bug(path, e))
}

/// `pipeline/artifacts-<region>.yaml`: the artifact store of a region other than the
/// pipeline's (cross-region actions need one bucket and key per region, in the pipeline's
/// account: CodePipeline user guide, "Add a cross-Region action").
fn artifact_store(cx: &Cx<'_>, region: &str) -> Result<Stack, EmitError> {
    let p = cx.p;
    let id = StackId::new(crate::plan::Area::Pipeline, format!("artifacts-{region}"));
    let path = id.path();
    let mut t = Template::new(format!(
        "{}: the mlz pipeline's artifact store in {region}. Deploy once, by hand, in the pipeline account ({}), {region}, before pipeline/pipeline.",
        p.organization.name,
        crate::common::account_name(p, cx.home)
    ));
    org_param(&mut t, &path)?;
    t.add_resource(lid("ArtifactKey", &path)?, artifact_key(p))
        .map_err(|e| bug(&path, e))?;
    add_store(
        &mut t,
        p,
        region,
        Value::GetAtt(lid("ArtifactKey", &path)?, "Arn".into()),
        &path,
    )?;
    t.add_output(
        lid("ArtifactKeyArn", &path)?,
        Output {
            description: Some(format!("The artifact key of {region}")),
            value: Value::GetAtt(lid("ArtifactKey", &path)?, "Arn".into()),
            export: exports::export(p, &ExportKey::Pipeline("ArtifactKeyArn"))?,
            condition: None,
        },
    )
    .map_err(|e| bug(&path, e))?;
    let mut s = new_stack(p, id, t);
    s.account = cx.home;
    s.region = region.to_owned();
    Ok(s)
}

/// The accounts whose roles a phase's actions use (not the pipeline's own account).
fn used_accounts(cx: &Cx<'_>, plans: &[PipelinePlan]) -> BTreeSet<AccountRef> {
    let mut out = BTreeSet::new();
    for pl in plans {
        for st in &pl.stages {
            for a in &st.acts {
                match *a {
                    Act::Deploy(s) => out.insert(cx.stacks[s].account),
                    Act::Step { j, automated: true } => out.insert(cx.steps[j].account),
                    // A person runs an approval's step.
                    Act::Step {
                        automated: false, ..
                    } => false,
                };
            }
        }
    }
    out.remove(&cx.home);
    out
}

/// The regions a phase's CloudFormation actions deploy to, and the pipeline's own.
fn used_regions(cx: &Cx<'_>, plans: &[PipelinePlan]) -> BTreeSet<String> {
    let mut out = BTreeSet::from([cx.region.clone()]);
    for pl in plans {
        for st in &pl.stages {
            for a in &st.acts {
                if let Act::Deploy(s) = a {
                    out.insert(cx.stacks[*s].region.clone());
                }
            }
        }
    }
    out
}

/// The accounts a pipeline template names (each a parameter, but the pipeline's own): the
/// ones its actions use, and the ones its roles are granted. The shared roles of the first
/// template may assume the roles of every account that exists before the pipeline; the
/// second template grants the vended ones.
fn template_accounts(
    cx: &Cx<'_>,
    plans: &[PipelinePlan],
    vended: bool,
    before: &BTreeSet<AccountRef>,
) -> (BTreeSet<AccountRef>, BTreeSet<AccountRef>) {
    let used = used_accounts(cx, plans);
    let granted: BTreeSet<AccountRef> = if vended {
        used.iter()
            .copied()
            .filter(|a| !exists_before(cx.p, *a))
            .collect()
    } else {
        before.clone()
    };
    let mut named = used;
    named.extend(granted.iter().copied());
    named.remove(&cx.home);
    (named, granted)
}

fn assume(sid: &str, arns: Vec<Value>) -> Value {
    Value::map([
        ("Sid", Value::str(sid)),
        ("Effect", Value::str("Allow")),
        ("Action", Value::str("sts:AssumeRole")),
        ("Resource", Value::List(arns)),
    ])
}

fn service_trust(service: &str) -> Value {
    document(vec![Value::map([
        ("Effect", Value::str("Allow")),
        ("Principal", Value::map([("Service", Value::str(service))])),
        ("Action", Value::str("sts:AssumeRole")),
        (
            "Condition",
            Value::map([(
                "StringEquals",
                Value::map([(
                    "aws:SourceAccount",
                    Value::Pseudo(mlz_cfn::Pseudo::AccountId),
                )]),
            )]),
        ),
    ])])
}

const BUILDSPEC: &str = "version: 0.2\nphases:\n  build:\n    commands:\n      - python3 pipeline/resolve.py \"$MLZ_MODE\" \"$MLZ_TARGET\" resolved\nartifacts:\n  base-directory: resolved\n  files:\n    - '**/*'\n";

/// The shared resources of the pipeline account, made by `pipeline/pipeline.yaml`: the home
/// region's artifact store, the source bucket, CodePipeline's, CodeBuild's and EventBridge's
/// roles and the build project the resolve and step actions run.
fn shared_resources(
    t: &mut Template,
    cx: &Cx<'_>,
    regions: &BTreeSet<String>,
    accounts: &BTreeSet<AccountRef>,
    step_accounts: &BTreeSet<AccountRef>,
    path: &str,
) -> Result<(), EmitError> {
    let p = cx.p;
    let prefix = &p.organization.stack_prefix;
    let r = &cx.r;
    t.add_resource(lid("ArtifactKey", path)?, artifact_key(p))
        .map_err(|e| bug(path, e))?;
    t.add_resource(
        lid("ArtifactKeyAlias", path)?,
        Resource::new(crate::types::KMS_ALIAS)
            .prop("AliasName", format!("alias/{prefix}-pipeline"))
            .prop("TargetKeyId", Value::Ref(lid("ArtifactKey", path)?)),
    )
    .map_err(|e| bug(path, e))?;
    let key = Value::GetAtt(lid("ArtifactKey", path)?, "Arn".into());
    add_store(t, p, &cx.region, key.clone(), path)?;
    let source = private_bucket(
        j(json!({ "SSEAlgorithm": "AES256" })),
        j(json!([{ "Id": "expire-old-versions", "Status": "Enabled", "NoncurrentVersionExpiration": { "NoncurrentDays": 90 }, "AbortIncompleteMultipartUpload": { "DaysAfterInitiation": 7 } }])),
    )
    .prop(
        "BucketName",
        Value::Sub(format!("{prefix}-pipeline-source-${{AWS::AccountId}}-{}", cx.region)),
    );
    t.add_resource(lid("SourceBucket", path)?, source)
        .map_err(|e| bug(path, e))?;
    t.add_resource(
        lid("SourceBucketPolicy", path)?,
        Resource::new(S3_BUCKET_POLICY)
            .prop("Bucket", Value::Ref(lid("SourceBucket", path)?))
            .prop(
                "PolicyDocument",
                document(vec![tls_only_statement(
                    Value::GetAtt(lid("SourceBucket", path)?, "Arn".into()),
                    Value::Sub("${SourceBucket.Arn}/*".into()),
                )]),
            ),
    )
    .map_err(|e| bug(path, e))?;
    // Every artifact store's objects and keys.
    let mut store_objects = Vec::new();
    let mut keys = vec![key.clone()];
    for region in regions {
        store_objects.push(Value::Sub(format!(
            "arn:${{AWS::Partition}}:s3:::{prefix}-pipeline-${{AWS::AccountId}}-{region}/*"
        )));
        if *region != cx.region {
            keys.push(Value::Ref(lid(
                format!("ArtifactKey{}", region_id(region)),
                path,
            )?));
        }
    }
    let kms = [
        "kms:Decrypt",
        "kms:DescribeKey",
        "kms:Encrypt",
        "kms:GenerateDataKey",
        "kms:ReEncryptFrom",
        "kms:ReEncryptTo",
    ];
    let build_project_arn = Value::Sub(format!(
        "arn:${{AWS::Partition}}:codebuild:${{AWS::Region}}:${{AWS::AccountId}}:project/{prefix}-pipeline-build"
    ));
    let mut action_roles: Vec<Value> = accounts.iter().map(|a| cx.role(*a, &r.action)).collect();
    action_roles.push(cx.role(cx.home, &r.action));
    let pipeline_role = Resource::new(IAM_ROLE)
        .prop("RoleName", r.pipeline.as_str())
        .prop(
            "Description",
            "CodePipeline's service role for the mlz pipelines.",
        )
        .prop(
            "AssumeRolePolicyDocument",
            service_trust("codepipeline.amazonaws.com"),
        )
        .prop(
            "Policies",
            inline_policy(
                "pipeline",
                vec![
                    statement(
                        "Source",
                        &[
                            "s3:GetObject",
                            "s3:GetObjectVersion",
                            "s3:GetBucketVersioning",
                        ],
                        Value::List(vec![
                            Value::GetAtt(lid("SourceBucket", path)?, "Arn".into()),
                            Value::Sub("${SourceBucket.Arn}/*".into()),
                        ]),
                    ),
                    statement(
                        "Artifacts",
                        &["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"],
                        Value::List(store_objects.clone()),
                    ),
                    statement("ArtifactKeys", &kms, Value::List(keys.clone())),
                    statement(
                        "Builds",
                        &["codebuild:StartBuild", "codebuild:BatchGetBuilds"],
                        build_project_arn,
                    ),
                    assume("ActionRoles", action_roles),
                ],
            ),
        );
    t.add_resource(lid("PipelineRole", path)?, pipeline_role)
        .map_err(|e| bug(path, e))?;
    let mut read_roles: Vec<Value> = accounts.iter().map(|a| cx.role(*a, &r.read)).collect();
    read_roles.push(cx.role(cx.home, &r.read));
    let mut build_statements = vec![
        statement("Logs", &["logs:CreateLogStream", "logs:PutLogEvents"], Value::Sub("${BuildLogs.Arn}:*".into())),
        statement("Artifacts", &["s3:GetObject", "s3:GetObjectVersion", "s3:PutObject"], Value::List(store_objects)),
        statement("ArtifactKeys", &kms, Value::List(keys)),
        statement("Exports", &["cloudformation:ListExports"], Value::str("*")),
        statement("Organization", &["organizations:DescribeOrganization"], Value::str("*")),
        statement(
            "ExternalValues",
            &["ssm:GetParameter"],
            Value::Sub(format!("arn:${{AWS::Partition}}:ssm:${{AWS::Region}}:${{AWS::AccountId}}:parameter/{prefix}/pipeline/external/*")),
        ),
        assume("ReadRoles", read_roles),
    ];
    let steps: Vec<Value> = step_accounts
        .iter()
        .map(|a| cx.role(*a, &r.steps))
        .collect();
    if !steps.is_empty() {
        build_statements.push(assume("StepRoles", steps));
    }
    t.add_resource(
        lid("BuildLogs", path)?,
        crate::common::log_group().prop("LogGroupName", format!("/{prefix}/pipeline/build")),
    )
    .map_err(|e| bug(path, e))?;
    t.add_resource(
        lid("BuildRole", path)?,
        Resource::new(IAM_ROLE)
            .prop("RoleName", r.build.as_str())
            .prop(
                "Description",
                "CodeBuild's role for the mlz pipeline's resolve and step actions.",
            )
            .prop(
                "AssumeRolePolicyDocument",
                service_trust("codebuild.amazonaws.com"),
            )
            .prop(
                "Policies",
                inline_policy("pipeline-build", build_statements),
            ),
    )
    .map_err(|e| bug(path, e))?;
    t.add_resource(
        lid("BuildProject", path)?,
        Resource::new(crate::types::CODEBUILD_PROJECT)
            .prop("Name", format!("{prefix}-pipeline-build"))
            .prop("Description", "Runs pipeline/resolve.py: the mlz pipeline's resolve and step actions.")
            .prop("ServiceRole", Value::GetAtt(lid("BuildRole", path)?, "Arn".into()))
            .prop("Artifacts", j(json!({ "Type": "CODEPIPELINE" })))
            .prop("Source", j(json!({ "Type": "CODEPIPELINE", "BuildSpec": BUILDSPEC })))
            .prop("Environment", j(json!({ "Type": "LINUX_CONTAINER", "ComputeType": "BUILD_GENERAL1_SMALL", "Image": BUILD_IMAGE })))
            .prop("EncryptionKey", key)
            .prop("TimeoutInMinutes", Value::Int(60))
            .prop(
                "LogsConfig",
                Value::map([(
                    "CloudWatchLogs",
                    Value::map([
                        ("Status", Value::str("ENABLED")),
                        ("GroupName", Value::Ref(lid("BuildLogs", path)?)),
                    ]),
                )]),
            ),
    )
    .map_err(|e| bug(path, e))?;
    t.add_resource(
        lid("EventsRole", path)?,
        Resource::new(IAM_ROLE)
            .prop("RoleName", r.events.as_str())
            .prop("Description", "Lets EventBridge start the next mlz pipeline when one succeeds.")
            .prop("AssumeRolePolicyDocument", service_trust("events.amazonaws.com"))
            .prop(
                "Policies",
                inline_policy(
                    "start-pipelines",
                    vec![statement(
                        "StartPipelines",
                        &["codepipeline:StartPipelineExecution"],
                        Value::Sub(format!("arn:${{AWS::Partition}}:codepipeline:${{AWS::Region}}:${{AWS::AccountId}}:{prefix}-*")),
                    )],
                ),
            ),
    )
    .map_err(|e| bug(path, e))?;
    for (what, value) in [
        (
            "ArtifactKeyArn",
            Value::GetAtt(lid("ArtifactKey", path)?, "Arn".into()),
        ),
        ("SourceBucket", Value::Ref(lid("SourceBucket", path)?)),
        (
            "RoleArn",
            Value::GetAtt(lid("PipelineRole", path)?, "Arn".into()),
        ),
        ("BuildProject", Value::Ref(lid("BuildProject", path)?)),
        (
            "EventsRoleArn",
            Value::GetAtt(lid("EventsRole", path)?, "Arn".into()),
        ),
    ] {
        t.add_output(
            lid(what, path)?,
            Output {
                description: Some(format!("The pipeline's {what}")),
                value,
                export: exports::export(p, &ExportKey::Pipeline(what))?,
                condition: None,
            },
        )
        .map_err(|e| bug(path, e))?;
    }
    Ok(())
}

/// Where the second phase's pipelines come from: the last stage of the first phase looks
/// the vended accounts' ids up and deploys `pipeline/pipeline-vended`.
struct Handover {
    stack: StackId,
    params: serde_json::Map<String, serde_json::Value>,
    /// The vended accounts: their roles must exist before CodePipeline accepts actions there.
    wait_for: Vec<String>,
}

/// `pipeline/pipeline.yaml` (first phase, with the shared resources) or
/// `pipeline/pipeline-vended.yaml` (second phase).
#[allow(clippy::too_many_arguments)]
fn pipeline_template(
    cx: &Cx<'_>,
    plans: &[PipelinePlan],
    vended: bool,
    regions: &BTreeSet<String>,
    previous: Option<String>,
    handover: Option<&Handover>,
    all: &(BTreeSet<AccountRef>, BTreeSet<AccountRef>),
    bootstrap: &[&Stack],
    wiring: &mut Wiring,
    entries: &mut Vec<ActionEntry>,
) -> Result<Stack, EmitError> {
    let p = cx.p;
    let prefix = &p.organization.stack_prefix;
    let id = StackId::new(
        crate::plan::Area::Pipeline,
        if vended {
            "pipeline-vended"
        } else {
            "pipeline"
        },
    );
    let path = id.path();
    let mut t = Template::new(format!(
        "{}: {} Deploy in the pipeline account ({}), {}{}.",
        p.organization.name,
        if vended {
            "the pipelines that deploy to the accounts the first pipelines vended."
        } else {
            "the deployment pipelines (CodePipeline V2, one stage per wave of the plan), their artifact store, source bucket and build project."
        },
        crate::common::account_name(p, cx.home),
        cx.region,
        if vended {
            "; the last stage of the first pipelines deploys it"
        } else {
            "; once, by hand, after the roles and artifact stores"
        }
    ));
    if !vended {
        org_param(&mut t, &path)?;
    }
    let (before, steps_in) = all;
    let (params, granted) = template_accounts(cx, plans, vended, before);
    for a in &params {
        string_param(
            &mut t,
            &account_param(p, *a),
            &format!(
                "The 12-digit id of account {}",
                crate::common::account_name(p, *a)
            ),
            ACCOUNT_ID_PATTERN,
            &path,
        )?;
    }
    let own_regions = used_regions(cx, plans);
    // The shared roles use every region's store; a pipeline only its own regions'.
    let keyed = if vended { &own_regions } else { regions };
    for region in keyed {
        if *region != cx.region {
            string_param(
                &mut t,
                &format!("ArtifactKey{}", region_id(region)),
                &format!("The ARN of the pipeline's artifact key in {region}: output ArtifactKeyArn of pipeline/artifacts-{region}"),
                "^arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[a-f0-9-]+$",
                &path,
            )?;
        }
    }
    let step_accounts: BTreeSet<AccountRef> = steps_in
        .iter()
        .copied()
        .filter(|a| granted.contains(a) || (!vended && *a == cx.home))
        .collect();
    let (role, project, source_bucket, home_key, events) = if vended {
        let r = &cx.r;
        let mut statements = vec![assume(
            "VendedActionRoles",
            granted.iter().map(|a| cx.role(*a, &r.action)).collect(),
        )];
        let _ = &mut statements;
        if !granted.is_empty() {
            t.add_resource(
                lid("VendedActionRoles", &path)?,
                Resource::new(crate::types::IAM_ROLE_POLICY)
                    .prop("RoleName", r.pipeline.as_str())
                    .prop("PolicyName", "vended-accounts")
                    .prop("PolicyDocument", document(statements)),
            )
            .map_err(|e| bug(&path, e))?;
            let mut b = vec![assume(
                "VendedReadRoles",
                granted.iter().map(|a| cx.role(*a, &r.read)).collect(),
            )];
            if !step_accounts.is_empty() {
                b.push(assume(
                    "VendedStepRoles",
                    step_accounts
                        .iter()
                        .map(|a| cx.role(*a, &r.steps))
                        .collect(),
                ));
            }
            t.add_resource(
                lid("VendedBuildRoles", &path)?,
                Resource::new(crate::types::IAM_ROLE_POLICY)
                    .prop("RoleName", r.build.as_str())
                    .prop("PolicyName", "vended-accounts")
                    .prop("PolicyDocument", document(b)),
            )
            .map_err(|e| bug(&path, e))?;
        }
        (
            import(p, "RoleArn")?,
            import(p, "BuildProject")?,
            import(p, "SourceBucket")?,
            import(p, "ArtifactKeyArn")?,
            import(p, "EventsRoleArn")?,
        )
    } else {
        shared_resources(&mut t, cx, regions, &granted, &step_accounts, &path)?;
        (
            Value::GetAtt(lid("PipelineRole", &path)?, "Arn".into()),
            Value::Ref(lid("BuildProject", &path)?),
            Value::Ref(lid("SourceBucket", &path)?),
            Value::GetAtt(lid("ArtifactKey", &path)?, "Arn".into()),
            Value::GetAtt(lid("EventsRole", &path)?, "Arn".into()),
        )
    };
    let stores = |regions: &BTreeSet<String>| -> Result<Value, EmitError> {
        let store = |region: &str| -> Result<Value, EmitError> {
            let key = if region == cx.region {
                home_key.clone()
            } else {
                Value::Ref(lid(format!("ArtifactKey{}", region_id(region)), &path)?)
            };
            Ok(Value::map([
                ("Type", Value::str("S3")),
                ("Location", artifact_bucket_name(p, region)),
                (
                    "EncryptionKey",
                    Value::map([("Id", key), ("Type", Value::str("KMS"))]),
                ),
            ]))
        };
        Ok(Value::List(
            regions
                .iter()
                .map(|r| {
                    Ok(Value::map([
                        ("Region", Value::str(r.clone())),
                        ("ArtifactStore", store(r)?),
                    ]))
                })
                .collect::<Result<Vec<_>, EmitError>>()?,
        ))
    };
    let mut previous = previous;
    for (n, pl) in plans.iter().enumerate() {
        let mut stage_values = vec![Value::map([
            ("Name", Value::str("Source")),
            (
                "Actions",
                Value::List(vec![Value::map([
                    ("Name", Value::str("Output")),
                    ("ActionTypeId", action_type("Source", "S3")),
                    (
                        "Configuration",
                        Value::map([
                            ("S3Bucket", source_bucket.clone()),
                            ("S3ObjectKey", Value::str(SOURCE_KEY)),
                            ("PollForSourceChanges", Value::str("false")),
                        ]),
                    ),
                    ("OutputArtifacts", artifacts(&["Source"])),
                    ("RunOrder", Value::Int(1)),
                ])]),
            ),
        ])];
        if n == 0 && !vended {
            // What the self-update fills: the ids this template and the bootstrap stacks
            // take, looked up as the handover does.
            let mut own = serde_json::Map::new();
            own.insert(
                "OrganizationId".into(),
                json!({ "lookup": "organizationId" }),
            );
            for a in &params {
                own.insert(
                    account_param(p, *a),
                    json!({ "lookup": "accountId", "account": account_key(p, *a) }),
                );
            }
            for r in keyed {
                if *r != cx.region {
                    own.insert(
                        format!("ArtifactKey{}", region_id(r)),
                        json!({ "export": {
                            "name": export_name(p, "ArtifactKeyArn")?,
                            "account": account_key(p, cx.home),
                            "region": r,
                        } }),
                    );
                }
            }
            stage_values.push(self_update(
                cx, &pl.name, &project, bootstrap, &id, own, wiring,
            ));
        }
        stage_values.extend(stages(cx, pl, &project, wiring, entries));
        let used_regions = used_regions(cx, std::slice::from_ref(pl));
        if let (Some(h), true) = (handover, n + 1 == plans.len()) {
            let key = Cx::stage_key(&pl.name, "Pipelines");
            wiring.stages.insert(
                key.clone(),
                json!({
                    "waitFor": h.wait_for,
                    "stacks": [{
                        "template": h.stack.file(cx.ext),
                        "configuration": configuration_path(&h.stack.file(cx.ext)),
                        "parameters": h.params,
                    }],
                }),
            );
            let file = h.stack.file(cx.ext);
            stage_values.push(Value::map([
                ("Name", Value::str("Pipelines")),
                (
                    "Actions",
                    Value::List(vec![
                        build_action(
                            "Resolve",
                            &project,
                            "stage",
                            &key,
                            Some("ResolvedPipelines"),
                            1,
                        ),
                        Value::map([
                            ("Name", Value::str(action_name(&file))),
                            ("ActionTypeId", action_type("Deploy", "CloudFormation")),
                            ("Region", Value::str(cx.region.clone())),
                            ("RoleArn", cx.role(cx.home, &cx.r.action)),
                            (
                                "Configuration",
                                Value::map([
                                    ("ActionMode", Value::str("CREATE_UPDATE")),
                                    ("StackName", Value::str(h.stack.stack_name(prefix))),
                                    ("TemplatePath", Value::str(format!("Source::{file}"))),
                                    (
                                        "TemplateConfiguration",
                                        Value::str(format!(
                                            "ResolvedPipelines::{}",
                                            configuration_path(&file)
                                        )),
                                    ),
                                    ("Capabilities", Value::str("CAPABILITY_NAMED_IAM")),
                                    ("RoleArn", cx.role(cx.home, &cx.r.deploy)),
                                ]),
                            ),
                            (
                                "InputArtifacts",
                                artifacts(&["Source", "ResolvedPipelines"]),
                            ),
                            ("RunOrder", Value::Int(2)),
                        ]),
                    ]),
                ),
            ]));
        }
        let stores_value = stores(&used_regions)?;
        let mut r = Resource::new(crate::types::CODEPIPELINE_PIPELINE)
            .prop("Name", pl.name.as_str())
            .prop("PipelineType", "V2")
            .prop("ExecutionMode", "QUEUED")
            .prop("RoleArn", role.clone())
            // The first pipeline updates itself in its first stage: CloudFormation then
            // starts it again on the new definition. The others are started in turn.
            .prop("RestartExecutionOnUpdate", Value::Bool(n == 0 && !vended))
            .prop("Stages", Value::List(stage_values));
        r = if used_regions.len() > 1 {
            r.prop("ArtifactStores", stores_value)
        } else {
            let Value::List(mut v) = stores_value else {
                return Err(bug(&path, "artifact stores are a list"));
            };
            let only = v.pop().ok_or_else(|| bug(&path, "no artifact store"))?;
            let Value::Map(m) = only else {
                return Err(bug(&path, "an artifact store is a map"));
            };
            r.prop(
                "ArtifactStore",
                m.get("ArtifactStore")
                    .cloned()
                    .ok_or_else(|| bug(&path, "no store"))?,
            )
        };
        // CodePipeline checks, when it creates a pipeline, that its role may assume every
        // action role (InvalidStructureException otherwise): the grants come first.
        if vended && !granted.is_empty() {
            r.depends_on.insert(lid("VendedActionRoles", &path)?);
            r.depends_on.insert(lid("VendedBuildRoles", &path)?);
        }
        let pid = LogicalId::derive("Pipeline", &pl.name).map_err(|e| bug(&path, e))?;
        t.add_resource(pid, r).map_err(|e| bug(&path, e))?;
        if let Some(prev) = previous.take() {
            let rid = LogicalId::derive("Start", &pl.name).map_err(|e| bug(&path, e))?;
            t.add_resource(
                rid,
                Resource::new(crate::types::EVENTS_RULE)
                    .prop("Description", format!("Starts {} when {prev} succeeds.", pl.name))
                    .prop(
                        "EventPattern",
                        j(json!({
                            "source": ["aws.codepipeline"],
                            "detail-type": ["CodePipeline Pipeline Execution State Change"],
                            "detail": { "pipeline": [prev], "state": ["SUCCEEDED"] }
                        })),
                    )
                    .prop(
                        "Targets",
                        Value::List(vec![Value::map([
                            ("Id", Value::str("next-pipeline")),
                            (
                                "Arn",
                                Value::Sub(format!(
                                    "arn:${{AWS::Partition}}:codepipeline:${{AWS::Region}}:${{AWS::AccountId}}:{}",
                                    pl.name
                                )),
                            ),
                            ("RoleArn", events.clone()),
                        ])]),
                    ),
            )
            .map_err(|e| bug(&path, e))?;
        }
        previous = Some(pl.name.clone());
    }
    let mut s = new_stack(p, id, t);
    s.account = cx.home;
    s.region = cx.region.clone();
    Ok(s)
}

/// The IAM actions of the automated steps, by the account they run in.
fn step_actions(
    cx: &Cx<'_>,
    acts: &[(usize, Act)],
) -> BTreeMap<AccountRef, BTreeSet<&'static str>> {
    let mut out: BTreeMap<AccountRef, BTreeSet<&'static str>> = BTreeMap::new();
    for (_, a) in acts {
        if let Act::Step { j, automated: true } = *a {
            let st = &cx.steps[j];
            let set = out.entry(st.account).or_default();
            for c in &st.commands {
                set.extend(command_actions(c).unwrap_or_default().iter().copied());
            }
        }
    }
    out
}

/// `pipeline/roles-member.yaml`: the roles of every member account, deployed by a
/// service-managed StackSet with automatic deployment to the whole organisation, so an
/// account the pipeline vends gets them when it joins (StackSets user guide, "Enable or
/// disable automatic deployments").
fn roles_member(cx: &Cx<'_>, actions: &BTreeSet<&'static str>) -> Result<Stack, EmitError> {
    let p = cx.p;
    let id = StackId::new(crate::plan::Area::Pipeline, "roles-member");
    let path = id.path();
    let mut t = Template::new(format!(
        "{}: the roles the mlz pipeline deploys with in a member account. pipeline/roles-management deploys it to every member account as a StackSet.",
        p.organization.name
    ));
    account_roles(&mut t, p, actions, false, &path)?;
    let mut s = new_stack(p, id, t);
    s.deploy = DeployKind::StackSet;
    Ok(s)
}

/// `pipeline/roles-management.yaml`: the management account's roles, and the StackSet of
/// `roles-member` to the organisation root (a service-managed StackSet never deploys to the
/// management account: StackSets user guide, concepts).
fn roles_management(
    cx: &Cx<'_>,
    actions: &BTreeSet<&'static str>,
    member: &Template,
) -> Result<Stack, EmitError> {
    let p = cx.p;
    let id = StackId::new(crate::plan::Area::Pipeline, "roles-management");
    let path = id.path();
    let mut t = Template::new(format!(
        "{}: the roles the mlz pipeline deploys with in the management account, and the StackSet that puts them in every member account. Deploy once, by hand, in the management account, {}.",
        p.organization.name, p.organization.home_region
    ));
    account_roles(&mut t, p, actions, true, &path)?;
    string_param(
        &mut t,
        "RootId",
        "The organization root id (r-...): aws organizations list-roots",
        "^r-[0-9a-z]{4,32}$",
        &path,
    )?;
    let body = mlz_cfn::render(member, mlz_cfn::Format::Json)
        .map_err(|e| bug(&path, e))?
        .text;
    let set = Resource::new(crate::types::CFN_STACK_SET)
        .prop("StackSetName", format!("{}-pipeline-roles", p.organization.stack_prefix))
        .prop("Description", "The roles the mlz pipeline deploys with, in every member account.")
        .prop("PermissionModel", "SERVICE_MANAGED")
        .prop("CallAs", "SELF")
        .prop(
            "AutoDeployment",
            j(json!({ "Enabled": true, "RetainStacksOnAccountRemoval": false })),
        )
        .prop("Capabilities", Value::list_of_str(["CAPABILITY_NAMED_IAM"]))
        .prop("ManagedExecution", j(json!({ "Active": true })))
        .prop(
            "OperationPreferences",
            j(json!({ "FailureTolerancePercentage": 0, "MaxConcurrentPercentage": 100, "RegionConcurrencyType": "PARALLEL" })),
        )
        .prop(
            "Parameters",
            Value::List(vec![Value::map([
                ("ParameterKey", Value::str("PipelineAccountId")),
                ("ParameterValue", Value::Ref(lid("PipelineAccountId", &path)?)),
            ])]),
        )
        .prop(
            "StackInstancesGroup",
            Value::List(vec![Value::map([
                (
                    "DeploymentTargets",
                    Value::map([(
                        "OrganizationalUnitIds",
                        Value::List(vec![Value::Ref(lid("RootId", &path)?)]),
                    )]),
                ),
                ("Regions", Value::list_of_str([p.organization.home_region.as_str()])),
            ])]),
        )
        .prop("TemplateBody", Value::str(body));
    t.add_resource(lid("MemberRoles", &path)?, set)
        .map_err(|e| bug(&path, e))?;
    Ok(new_stack(p, id, t))
}

/// How a person deploys a bootstrap template, with each parameter's value found by a
/// command where one exists (run as the template's account).
fn bootstrap_command(cx: &Cx<'_>, s: &Stack, home: &str) -> String {
    let p = cx.p;
    let prefix = &p.organization.stack_prefix;
    let mut c = format!(
        "aws cloudformation deploy --region {} --stack-name {} --template-file {}",
        s.region,
        s.id.stack_name(prefix),
        s.id.file(cx.ext)
    );
    let caps = crate::plan::capabilities(&s.template);
    if !caps.is_empty() {
        let _ = write!(c, " --capabilities {}", caps.join(" "));
    }
    let size = mlz_cfn::render(&s.template, mlz_cfn::Format::Json).map_or(0, |r| r.text.len());
    if size > mlz_cfn::limits::MAX_INLINE_BODY_BYTES {
        let _ = write!(c, " --s3-bucket <a bucket of {home}, {}>", s.region);
    }
    if !s.template.parameters.is_empty() {
        c.push_str(" --parameter-overrides");
    }
    for k in s.template.parameters.keys() {
        let k = k.as_str();
        let v = match k {
            "PipelineAccountId" => format!("<{home} account id>"),
            "RootId" => "$(aws organizations list-roots --query 'Roots[0].Id' --output text)".to_owned(),
            "OrganizationId" => "$(aws organizations describe-organization --query Organization.Id --output text)".to_owned(),
            "ManagementAccountId" => "$(aws organizations describe-organization --query Organization.MasterAccountId --output text)".to_owned(),
            _ => match k.strip_prefix("ArtifactKey") {
                Some(rid) => {
                    let region = cx
                        .m
                        .templates
                        .iter()
                        .map(|t| t.region.as_str())
                        .chain(std::iter::once(cx.region.as_str()))
                        .find(|r| region_id(r) == rid)
                        .unwrap_or_default();
                    format!("$(aws cloudformation describe-stacks --region {region} --stack-name {prefix}-pipeline-artifacts-{region} --query \"Stacks[0].Outputs[?OutputKey=='ArtifactKeyArn'].OutputValue\" --output text)")
                }
                None => {
                    let name = p
                        .accounts
                        .iter()
                        .find(|a| format!("{}Id", a.logical_id) == k)
                        .map_or(k, |a| a.name.as_str());
                    format!("<{name} account id>")
                }
            },
        };
        let _ = write!(c, " {k}=\"{v}\"");
    }
    c
}

/// The manifest's `pipeline` section, the pipeline's templates and its wiring.
pub fn build(
    p: &Platform,
    stacks: &[Stack],
    steps: &[ManualStep],
    plan: &Plan,
    m: &Manifest,
    ext: &str,
) -> Result<Option<Built>, EmitError> {
    let Some(pc) = &p.pipeline else {
        return Ok(None);
    };
    let cx = Cx {
        p,
        stacks,
        steps,
        m,
        r: role_names(&p.organization.stack_prefix),
        home: pc.account,
        region: pc.region.clone(),
        ext,
    };
    let late = vended_phase(p, plan, stacks, steps);
    let mut first: Vec<(usize, Act)> = Vec::new();
    let mut second: Vec<(usize, Act)> = Vec::new();
    for (w, wave) in plan.waves.iter().enumerate() {
        for &node in wave {
            let act = match node {
                NodeRef::Stack(s) if stacks[s].deploy == DeployKind::Stack => Act::Deploy(s),
                NodeRef::Stack(_) => continue,
                NodeRef::Step(j) => Act::Step {
                    j,
                    automated: automatable(p, stacks, ext, &steps[j]),
                },
            };
            if late[plan.index(node)] {
                second.push((w + 1, act));
            } else {
                first.push((w + 1, act));
            }
        }
    }
    let mut regions: BTreeSet<String> = BTreeSet::from([cx.region.clone()]);
    let mut all_accounts: BTreeSet<AccountRef> = BTreeSet::from([AccountRef::Management]);
    for (_, act) in first.iter().chain(&second) {
        match *act {
            Act::Deploy(s) => {
                regions.insert(stacks[s].region.clone());
                all_accounts.insert(stacks[s].account);
            }
            Act::Step { j, .. } => {
                all_accounts.insert(steps[j].account);
            }
        }
    }
    // The first pipeline's first stage updates the pipeline itself (and its roles and
    // artifact stores): a resolve action, the roles, one store per other region, the pipeline.
    let update = (1, 2 + regions.len());
    let a = pack(
        p,
        stacks,
        &first,
        false,
        0,
        update,
        if second.is_empty() { (0, 0) } else { (1, 2) },
    );
    let b = pack(p, stacks, &second, true, a.len(), (0, 0), (0, 0));
    let before: BTreeSet<AccountRef> = all_accounts
        .iter()
        .copied()
        .filter(|a| exists_before(p, *a) && *a != cx.home)
        .collect();
    let mut by_account = step_actions(&cx, &first);
    for (acc, set) in step_actions(&cx, &second) {
        by_account.entry(acc).or_default().extend(set);
    }
    let step_accounts: BTreeSet<AccountRef> = by_account.keys().copied().collect();
    let mgmt_actions = by_account
        .remove(&AccountRef::Management)
        .unwrap_or_default();
    let member_actions: BTreeSet<&'static str> = by_account.into_values().flatten().collect();
    let member = roles_member(&cx, &member_actions)?;
    let management = roles_management(&cx, &mgmt_actions, &member.template)?;
    let mut wiring = Wiring::default();
    let mut entries = Vec::new();
    let mut out = vec![management, member];
    for r in &regions {
        if *r != cx.region {
            out.push(artifact_store(&cx, r)?);
        }
    }
    let all = (before, step_accounts);
    let handover = if b.is_empty() {
        None
    } else {
        let mut params = serde_json::Map::new();
        for acc in template_accounts(&cx, &b, true, &all.0).0 {
            params.insert(
                account_param(p, acc),
                json!({ "lookup": "accountId", "account": account_key(p, acc) }),
            );
        }
        for r in &used_regions(&cx, &b) {
            if *r != cx.region {
                params.insert(
                    format!("ArtifactKey{}", region_id(r)),
                    json!({ "export": {
                        "name": export_name(p, "ArtifactKeyArn")?,
                        "account": account_key(p, cx.home),
                        "region": r,
                    } }),
                );
            }
        }
        let wait_for = template_accounts(&cx, &b, true, &all.0)
            .1
            .into_iter()
            .map(|a| account_key(p, a))
            .collect();
        Some(Handover {
            stack: StackId::new(crate::plan::Area::Pipeline, "pipeline-vended"),
            params,
            wait_for,
        })
    };
    let last_a = a.last().map(|x| x.name.clone());
    let bootstrap: Vec<&Stack> = out
        .iter()
        .filter(|s| s.deploy == DeployKind::Stack)
        .collect();
    let first_template = pipeline_template(
        &cx,
        &a,
        false,
        &regions,
        None,
        handover.as_ref(),
        &all,
        &bootstrap,
        &mut wiring,
        &mut entries,
    )?;
    out.push(first_template);
    if !b.is_empty() {
        out.push(pipeline_template(
            &cx,
            &b,
            true,
            &regions,
            last_a.clone(),
            None,
            &all,
            &[],
            &mut wiring,
            &mut entries,
        )?);
    }
    let summaries: Vec<PipelineSummary> = a
        .iter()
        .chain(&b)
        .enumerate()
        .map(|(n, pl)| {
            let handed = usize::from(
                !pl.vended && handover.is_some() && Some(&pl.name) == a.last().map(|x| &x.name),
            );
            PipelineSummary {
                name: pl.name.clone(),
                template: if pl.vended {
                    format!("pipeline/pipeline-vended.{ext}")
                } else {
                    format!("pipeline/pipeline.{ext}")
                },
                stages: 1 + pl.stages.len() + handed + usize::from(n == 0) * update.0,
                actions: 1
                    + pl.stages.iter().map(StagePlan::actions).sum::<usize>()
                    + 2 * handed
                    + usize::from(n == 0) * update.1,
                starts_after: (n > 0).then(|| {
                    a.iter()
                        .chain(&b)
                        .nth(n - 1)
                        .map(|x| x.name.clone())
                        .unwrap_or_default()
                }),
            }
        })
        .collect();
    let accounts: serde_json::Map<String, serde_json::Value> =
        std::iter::once(("management".to_owned(), json!({ "management": true })))
            .chain(
                p.accounts
                    .iter()
                    .map(|a| (a.key.clone(), json!({ "email": a.email, "id": a.id }))),
            )
            .collect();
    let wiring_doc = json!({
        "version": 1,
        "prefix": p.organization.stack_prefix,
        "region": cx.region,
        "roles": { "read": cx.r.read, "steps": cx.r.steps, "action": cx.r.action },
        "accounts": accounts,
        "stages": wiring.stages,
        "steps": wiring.steps,
    });
    let mut files = vec![
        (
            "pipeline/wiring.json".to_owned(),
            serde_json::to_string_pretty(&wiring_doc).unwrap_or_default() + "\n",
        ),
        ("pipeline/resolve.py".to_owned(), RESOLVE_PY.to_owned()),
    ];
    // The pipeline's own stacks take every value from its resolve actions.
    for s in out.iter().filter(|s| s.deploy == DeployKind::Stack) {
        files.push((
            configuration_path(&s.id.file(ext)),
            "{\n  \"Parameters\": {},\n  \"Tags\": {}\n}\n".to_owned(),
        ));
    }
    let home_name = crate::common::account_name(p, cx.home);
    let bootstrap = out
        .iter()
        .filter(|s| s.deploy == DeployKind::Stack && s.id.path() != "pipeline/pipeline-vended")
        .map(|s| BootstrapEntry {
            template: s.id.file(ext),
            stack_name: s.id.stack_name(&p.organization.stack_prefix),
            account: crate::common::account_name(p, s.account),
            region: s.region.clone(),
            capabilities: crate::plan::capabilities(&s.template),
            parameters: s
                .template
                .parameters
                .keys()
                .map(|k| k.to_string())
                .collect(),
            command: bootstrap_command(&cx, s, &home_name),
        })
        .collect();
    let source = format!(
        "s3://{}-pipeline-source-<{home_name} account id>-{}/{SOURCE_KEY}",
        p.organization.stack_prefix, cx.region
    );
    let run = vec![
        "zip -qr ../mlz-output.zip .".to_owned(),
        format!("aws s3 cp ../mlz-output.zip {source}"),
        format!(
            "aws codepipeline start-pipeline-execution --region {} --name {}",
            cx.region,
            a.first().map_or("", |x| x.name.as_str())
        ),
    ];
    let templates = out
        .iter()
        .map(|s| PipelineTemplateEntry {
            path: s.id.file(ext),
            region: s.region.clone(),
            deployed_by: match (s.deploy, s.id.path().as_str()) {
                (DeployKind::StackSet, _) => "the StackSet of pipeline/roles-management".into(),
                (_, "pipeline/pipeline-vended") => format!(
                    "the last stage of pipeline {}",
                    last_a.clone().unwrap_or_default()
                ),
                _ => "by hand, once (bootstrap)".into(),
            },
        })
        .collect();
    let entry = PipelineEntry {
        account: crate::common::account_name(p, cx.home),
        region: cx.region.clone(),
        templates,
        files: files.iter().map(|(f, _)| f.clone()).collect(),
        prepare: vec!["aws cloudformation activate-organizations-access".to_owned()],
        bootstrap,
        pipelines: summaries,
        actions: entries,
        external_values: wiring.external,
        run,
    };
    Ok(Some(Built {
        stacks: out,
        files,
        entry,
    }))
}

const RESOLVE_PY: &str = include_str!("../assets/resolve.py");
