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

use crate::common::{account_key, bug, new_stack, private_bucket, region_id, tls_only_statement};
use crate::manifest::{configuration_path, Manifest};
use crate::plan::{exports, ExportKey, NodeRef, Plan, StackId};
use crate::stack::{DeployKind, Lookup, ManualStep, Stack};
use crate::types::{IAM_ROLE, KMS_KEY, S3_BUCKET_POLICY};
use crate::EmitError;

mod roles;
mod stages;
mod templates;

use roles::*;
use stages::*;
use templates::*;

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
        action: mlz_model::pipeline_action_role(prefix),
        deploy: mlz_model::pipeline_deploy_role(prefix),
        read: format!("{prefix}-pipeline-read"),
        steps: format!("{prefix}-pipeline-steps"),
        pipeline: format!("{prefix}-pipeline"),
        build: format!("{prefix}-pipeline-build"),
        events: format!("{prefix}-pipeline-events"),
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

use crate::common::plain as j;

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
        ("Version", Value::str(mlz_model::aws::IAM_POLICY_VERSION)),
        ("Statement", Value::List(statements)),
    ])
}

/// An IAM role of the pipeline: its name, what it is for, who may assume it.
fn named_role(name: &str, description: &str, trust: Value) -> Resource {
    Resource::new(IAM_ROLE)
        .prop("RoleName", name)
        .prop("Description", description)
        .prop("AssumeRolePolicyDocument", trust)
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
    /// CloudFormation's role in every account (the management account's included).
    pub deploy_role: String,
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
    /// The stack's name; none for the StackSet template of the member roles.
    pub stack_name: Option<String>,
    pub account: String,
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
    let (first, second) = phases(&cx, plan);
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
    let handover = handover(&cx, &b, &all.0)?;
    let last_a = a.last().map(|x| x.name.clone());
    let own: Vec<&Stack> = out
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
        &own,
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
    let summaries = summaries(&a, &b, handover.is_some(), update, ext);
    let files = wiring_files(&cx, &wiring, &out);
    let (bootstrap, run) = bootstrap_entries(&cx, &out, a.first().map_or("", |x| x.name.as_str()));
    let templates = out
        .iter()
        .map(|s| PipelineTemplateEntry {
            path: s.id.file(ext),
            stack_name: (s.deploy == DeployKind::Stack)
                .then(|| s.id.stack_name(&p.organization.stack_prefix)),
            account: crate::common::account_name(p, s.account),
            region: s.region.clone(),
            deployed_by: match (s.deploy, s.id.path().as_str()) {
                (DeployKind::StackSet, _) => "the StackSet of pipeline/roles-management".into(),
                (_, "pipeline/pipeline-vended") => format!(
                    "the last stage of pipeline {}",
                    last_a.clone().unwrap_or_default()
                ),
                _ => "by hand once (bootstrap), then the first pipeline's Pipeline stage".into(),
            },
        })
        .collect();
    let entry = PipelineEntry {
        account: crate::common::account_name(p, cx.home),
        region: cx.region.clone(),
        deploy_role: cx.r.deploy.clone(),
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

/// An action and its wave.
type Waved = (usize, Act);

/// The plan's nodes as actions, by wave, split into the phase of accounts that exist before
/// the pipeline and the phase of the accounts it vends.
fn phases(cx: &Cx<'_>, plan: &Plan) -> (Vec<Waved>, Vec<Waved>) {
    let (p, stacks, steps, ext) = (cx.p, cx.stacks, cx.steps, cx.ext);
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
    (first, second)
}

/// What the last stage of the first phase needs to deploy the second: the ids of the accounts
/// its pipelines name, the other regions' artifact keys, the accounts to wait for.
fn handover(
    cx: &Cx<'_>,
    b: &[PipelinePlan],
    before: &BTreeSet<AccountRef>,
) -> Result<Option<Handover>, EmitError> {
    let p = cx.p;
    Ok(if b.is_empty() {
        None
    } else {
        let params = id_sources(
            cx,
            &template_accounts(cx, b, true, before).0,
            &used_regions(cx, b),
        )?;
        let wait_for = template_accounts(cx, b, true, before)
            .1
            .into_iter()
            .map(|a| account_key(p, a))
            .collect();
        Some(Handover {
            stack: StackId::new(crate::plan::Area::Pipeline, "pipeline-vended"),
            params,
            wait_for,
        })
    })
}

/// Each pipeline's size (the source stage, the self-update and the handover included) and
/// the one it starts after.
fn summaries(
    a: &[PipelinePlan],
    b: &[PipelinePlan],
    handed_over: bool,
    update: (usize, usize),
    ext: &str,
) -> Vec<PipelineSummary> {
    a.iter()
        .chain(b)
        .enumerate()
        .map(|(n, pl)| {
            let handed = usize::from(
                !pl.vended && handed_over && Some(&pl.name) == a.last().map(|x| &x.name),
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
                        .chain(b)
                        .nth(n - 1)
                        .map(|x| x.name.clone())
                        .unwrap_or_default()
                }),
            }
        })
        .collect()
}

/// `pipeline/wiring.json`, `pipeline/resolve.py` and the pipeline's own configuration files.
fn wiring_files(cx: &Cx<'_>, wiring: &Wiring, out: &[Stack]) -> Vec<(String, String)> {
    let (p, ext) = (cx.p, cx.ext);
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
        "stages": &wiring.stages,
        "steps": &wiring.steps,
    });
    let mut files = vec![
        (
            "pipeline/wiring.json".to_owned(),
            serde_json::to_string_pretty(&wiring_doc).expect("string-keyed JSON always serializes")
                + "\n",
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
    files
}

/// The bootstrap: each template deployed by hand once, with its command, and the commands
/// that upload the output and start the first pipeline.
fn bootstrap_entries(
    cx: &Cx<'_>,
    out: &[Stack],
    first: &str,
) -> (Vec<BootstrapEntry>, Vec<String>) {
    let p = cx.p;
    let ext = cx.ext;
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
            command: bootstrap_command(cx, s, &home_name),
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
            cx.region, first
        ),
    ];
    (bootstrap, run)
}

const RESOLVE_PY: &str = include_str!("../../assets/resolve.py");
