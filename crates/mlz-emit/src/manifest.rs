//! Checks and renders every template, links the deployment plan, and writes `manifest.json`
//! (typed, below) and `README.md`. docs/manifest.md documents the format and
//! `schema/manifest.schema.json` is its JSON Schema, which every golden manifest is tested
//! against.

use std::collections::{BTreeMap, BTreeSet};

use mlz_cfn::{limits, render, CheckErrorKind, LogicalId, Template, Value};
use mlz_model::{AccountRef, Platform};
use serde::Serialize;
use serde_json::json;

use crate::plan::{self, ExportKey, Fact, Need, NodeRef, Plan};
use crate::stack::{DeployKind, Emitted, ManualStep, Stack};
use crate::{docs, EmitError, Options, Output};

/// Version of the manifest's shape; bump on incompatible changes.
pub const MANIFEST_VERSION: u32 = 2;

pub(crate) struct Rendered {
    pub file: String,
    pub text: String,
    /// For stacks that adopt existing resources: the template to import them with.
    pub import: Option<(String, String)>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Manifest {
    pub manifest_version: u32,
    pub generator: String,
    pub platform: String,
    pub format: String,
    pub home_region: String,
    pub templates: Vec<TemplateEntry>,
    pub manual_steps: Vec<StepEntry>,
    pub deploy_order: Vec<WaveEntry>,
    pub preconditions: Vec<PreconditionEntry>,
    pub limits: Vec<LimitEntry>,
    pub documents: Vec<String>,
    /// The generated pipeline, when the config has a `pipeline` section.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pipeline: Option<crate::pipeline::PipelineEntry>,
    /// The Customizations for AWS Control Tower manifest and its files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cfct: Option<CfctEntry>,
    /// How the blueprints reach their accounts, when there are any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blueprints: Option<BlueprintsEntry>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BlueprintsEntry {
    /// `afc` or `stackSets` (`controlTower.blueprintDelivery`).
    pub delivery: &'static str,
    pub how: String,
    /// The step a person runs per account (AFC only: no API attaches a blueprint).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub console_step: Option<String>,
    /// By blueprint: the templates that deliver it (products or StackSets).
    pub templates: std::collections::BTreeMap<String, Vec<String>>,
}

fn blueprints_entry(p: &Platform, stacks: &[Stack], ext: &str) -> Option<BlueprintsEntry> {
    let ct = p.control_tower.as_ref().filter(|c| c.enabled)?;
    if ct.blueprints.iter().all(|b| b.accounts.is_empty()) {
        return None;
    }
    let mut templates: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    for s in stacks
        .iter()
        .filter(|s| s.id.area() == crate::plan::Area::Blueprints)
    {
        let path = s.id.path();
        let name = path.trim_start_matches("blueprints/").to_owned();
        let blueprint = ct
            .blueprints
            .iter()
            .map(|b| b.name.as_str())
            .filter(|b| name == *b || name.starts_with(&format!("{b}-")))
            .max_by_key(|b| b.len())
            .unwrap_or(name.as_str())
            .to_owned();
        templates.entry(blueprint).or_default().push(s.id.file(ext));
    }
    Some(match ct.blueprint_delivery {
        mlz_model::BlueprintDelivery::Afc => BlueprintsEntry {
            delivery: "afc",
            how: "Account Factory Customization: each blueprint is a Service Catalog product in the hub account (control-tower/blueprint-hub), which a person attaches to each vended account in the Control Tower console (Update account, Account factory customization); no API does it. Updates count against Control Tower's five concurrent account operations.".into(),
            console_step: Some("apply-blueprints".into()),
            templates,
        },
        mlz_model::BlueprintDelivery::StackSets => BlueprintsEntry {
            delivery: "stackSets",
            how: "Each blueprint is a service-managed StackSet (control-tower/blueprint-stack-sets) with automatic deployment to the OUs whose accounts use it: accounts that exist when it is created get it then, accounts that join those OUs later get it automatically, with the StackSet's own parameters. No console step; an account added to the config this way is still associated with its segment by the regenerated attachments stacks (network/attachments-*), which wait for its VPC attachment. Attached VPCs take their ranges from the segments' IPAM pools (network/ipam).".into(),
            console_step: None,
            templates,
        },
    })
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CfctEntry {
    pub manifest: String,
    /// The manifest, its policy files and its templates (copies of the StackSet templates).
    pub files: Vec<String>,
    /// What CfCT cannot deploy from this output, and why.
    pub left_out: Vec<String>,
    /// The templates that make the same policies and roles: deploy one or the other.
    pub replaces: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AccountEntry {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key: Option<String>,
    pub id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeployAsEntry {
    pub principal: String,
    pub how: &'static str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportEntry {
    pub export: String,
    pub account: String,
    pub region: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ParamEntry {
    pub name: String,
    pub description: String,
    pub value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_from_export: Option<ExportEntry>,
    /// A value that exists in AWS outside the plan: how the pipeline looks it up
    /// (`{"lookup": "external"}`: only a person knows it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value_from_lookup: Option<serde_json::Value>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DependencyEntry {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub template: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// The facts this node needs from that one.
    pub facts: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UploadEntry {
    pub bucket_export: String,
    pub key: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StackSetEntry {
    /// The template whose `AWS::CloudFormation::StackSet` resource deploys this one.
    pub deployed_by: String,
    pub organizational_units: Vec<String>,
    /// When not empty: only these accounts of the OUs (AccountFilterType INTERSECTION).
    pub accounts: Vec<String>,
    pub regions: Vec<String>,
    pub auto_deployment: bool,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TemplateEntry {
    pub path: String,
    pub kind: &'static str,
    /// The CloudFormation stack (or StackSet) name; none for blueprints and product versions.
    pub stack_name: Option<String>,
    pub account: AccountEntry,
    pub region: String,
    pub wave: usize,
    pub deploy_as: DeployAsEntry,
    pub capabilities: Vec<&'static str>,
    pub parameters: Vec<ParamEntry>,
    pub parameters_to_fill: Vec<String>,
    pub depends_on: Vec<DependencyEntry>,
    pub resources: usize,
    pub bytes: usize,
    pub deploy_from_s3: bool,
    pub import_template: Option<String>,
    /// The stack's configuration file (CodePipeline's template-configuration format).
    pub configuration: Option<String>,
    pub upload: Option<UploadEntry>,
    pub stack_set: Option<StackSetEntry>,
    /// The configuration has a stack policy (set it after the first deployment).
    pub stack_policy: bool,
    /// A stack that holds one bucket of many: its teams or accounts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub contents: Option<ContentsEntry>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentsEntry {
    pub kind: &'static str,
    pub names: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct StepEntry {
    pub id: String,
    pub account: AccountEntry,
    pub wave: usize,
    pub reason: String,
    pub commands: Vec<String>,
    pub provides: Vec<String>,
    pub depends_on: Vec<DependencyEntry>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct WaveEntry {
    pub wave: usize,
    pub templates: Vec<String>,
    pub steps: Vec<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PreconditionEntry {
    pub fact: String,
    pub why: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LimitEntry {
    pub resource: &'static str,
    pub limit: u32,
    pub operations: u32,
    /// The most operations that run one after another along the plan's dependencies.
    pub critical_path: u32,
    pub chain: Vec<String>,
}

/// The template an IMPORT change set needs: CloudFormation cannot create and import in one
/// operation, so the first deployment of a stack that adopts existing resources holds only
/// those resources (and the parameters they use); the full template follows as an update.
fn import_template(s: &Stack) -> Template {
    let mut t = Template::new(format!(
        "{} (import step: only the resources that already exist)",
        s.template.description
    ));
    let keep: BTreeSet<&str> = s.imports.iter().map(|i| i.logical_id.as_str()).collect();
    let mut used: BTreeSet<LogicalId> = BTreeSet::new();
    for (id, r) in &s.template.resources {
        if keep.contains(id.as_str()) {
            for v in r.properties.values() {
                v.walk(&mut |v| {
                    if let Value::Ref(x) = v {
                        used.insert(x.clone());
                    }
                });
            }
            let mut r = r.clone();
            r.depends_on.retain(|d| keep.contains(d.as_str()));
            t.resources.insert(id.clone(), r);
        }
    }
    for (id, p) in &s.template.parameters {
        if used.contains(id) {
            t.parameters.insert(id.clone(), p.clone());
        }
    }
    t
}

/// Documents name exports like parameters do: each must exist where it says (a missing one
/// is a bug in mlz, reported per document).
fn check_document_exports(
    p: &Platform,
    stacks: &[Stack],
    documents: &[crate::Document],
    ext: &str,
    errs: &mut Vec<EmitError>,
) -> Result<(), Vec<EmitError>> {
    let exported: std::collections::HashSet<(AccountRef, &str, &str)> = stacks
        .iter()
        .flat_map(|s| {
            s.template
                .outputs
                .values()
                .filter_map(move |o| match &o.export {
                    Some(Value::Str(n)) => Some((s.account, s.region.as_str(), n.as_str())),
                    _ => None,
                })
        })
        .collect();
    for d in documents {
        for r in &d.refs {
            let fact = match plan::export_fact(p, r) {
                Ok(f) => f,
                Err(e) => return Err(vec![e]),
            };
            let found = matches!(&fact, Fact::Export { name, .. } if exported.contains(&(r.account, r.region.as_str(), name.as_str())));
            if !found {
                errs.push(EmitError {
                    template: d.path.clone(),
                    message: format!(
                        "names an export that no generated template provides: {}",
                        fact.describe(p, ext)
                    ),
                    hint: Some("this is a bug in mlz: please report it with your config".into()),
                });
            }
        }
    }
    Ok(())
}

/// `cfct/`: the CfCT manifest and its files (policy files, copies of the StackSet templates
/// it can deploy), named in the manifest.
fn add_cfct(
    p: &Platform,
    stacks: &[Stack],
    rendered: &[Rendered],
    ext: &str,
    manifest: &mut Manifest,
    files: &mut BTreeMap<String, Vec<u8>>,
) {
    // CfCT copies the StackSet templates it can deploy.
    let texts: BTreeMap<String, Vec<u8>> = stacks
        .iter()
        .zip(rendered)
        .filter(|(s, _)| s.deploy == DeployKind::StackSet)
        .map(|(_, r)| (r.file.clone(), r.text.clone().into_bytes()))
        .collect();
    let c = crate::cfct::build(p, stacks, &texts, ext);
    manifest.cfct = Some(CfctEntry {
        manifest: "cfct/manifest.yaml".into(),
        files: c.files.iter().map(|(f, _)| f.clone()).collect(),
        left_out: c.left_out,
        replaces: c.replaces,
    });
    for (f, text) in c.files {
        files.insert(f, text);
    }
}

pub fn build(p: &Platform, emitted: Emitted, opts: Options) -> Result<Output, Vec<EmitError>> {
    let Emitted {
        stacks,
        documents,
        steps: emitter_steps,
    } = emitted;
    let ext = opts.format.extension();
    // Checking and rendering is most of the work and each stack is independent: spread it
    // over the cores, then collect in stack order so the output never depends on timing.
    let prepared = crate::common::parallel_map(&stacks, |s| prepare(s, opts));
    let mut errs = Vec::new();
    let mut rendered: Vec<Rendered> = Vec::with_capacity(stacks.len());
    let mut notes = Vec::new();
    for (r, mut e, n) in prepared {
        errs.append(&mut e);
        notes.extend(n);
        if let Some(r) = r {
            rendered.push(r);
        }
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    let mut steps = import_steps(p, &stacks, &rendered);
    steps.extend(emitter_steps);
    let files: Vec<String> = rendered.iter().map(|r| r.file.clone()).collect();
    check_document_exports(p, &stacks, &documents, ext, &mut errs)?;
    if !errs.is_empty() {
        return Err(errs);
    }
    let plan = plan::link(p, &stacks, &steps, &files, ext)?;
    let mut manifest = manifest(p, &stacks, &rendered, &steps, &plan, &documents, opts)?;
    let mut files = BTreeMap::new();
    let mut pipeline_notes = Vec::new();
    let mut pipeline_templates = 0;
    if let Some(built) =
        crate::pipeline::build(p, &stacks, &steps, &plan, &manifest, ext).map_err(|e| vec![e])?
    {
        pipeline_templates = built.stacks.len();
        for s in &built.stacks {
            let (r, e, n) = prepare(s, opts);
            if !e.is_empty() {
                return Err(e);
            }
            pipeline_notes.extend(n);
            if let Some(r) = r {
                files.insert(r.file, r.text.into_bytes());
            }
        }
        for (path, text) in built.files {
            files.insert(path, text.into_bytes());
        }
        manifest.pipeline = Some(built.entry);
    }
    add_cfct(p, &stacks, &rendered, ext, &mut manifest, &mut files);
    let mut mtext =
        serde_json::to_string_pretty(&manifest).expect("string-keyed JSON always serializes");
    mtext.push('\n');
    files.insert(
        "README.md".to_owned(),
        docs::deploy_guide(&manifest, &docs::organisation_diagram(p)).into_bytes(),
    );
    files.insert("manifest.json".to_owned(), mtext.into_bytes());
    let mut seen_docs = BTreeSet::new();
    for d in &documents {
        if !seen_docs.insert(d.path.as_str()) || files.contains_key(&d.path) {
            return Err(vec![EmitError {
                template: d.path.clone(),
                message: "two documents would be written to this path".into(),
                hint: Some("give the accounts keys that differ in more than punctuation".into()),
            }]);
        }
        let mut text =
            serde_json::to_string_pretty(&d.value).expect("string-keyed JSON always serializes");
        text.push('\n');
        files.insert(d.path.clone(), text.into_bytes());
    }
    let templates =
        stacks.len() + stacks.iter().filter(|s| !s.imports.is_empty()).count() + pipeline_templates;
    for (s, r) in stacks.iter().zip(&rendered) {
        if matches!(s.deploy, DeployKind::Stack | DeployKind::StackSet) {
            let mut text = serde_json::to_string_pretty(&configuration(s))
                .expect("string-keyed JSON always serializes");
            text.push('\n');
            files.insert(configuration_path(&r.file), text.into_bytes());
        }
    }
    for r in rendered {
        // Two stacks of one path would overwrite each other: never silently.
        if files.contains_key(&r.file) {
            return Err(vec![crate::common::bug(
                &r.file,
                "two templates of the same path",
            )]);
        }
        files.insert(r.file, r.text.into_bytes());
        if let Some((f, t)) = r.import {
            files.insert(f, t.into_bytes());
        }
    }
    notes.extend(pipeline_notes);
    // One note for every template over the inline limit, said once (README.md lists them).
    let notes = match notes.len() {
        0 | 1 => notes,
        n => {
            let names: Vec<&str> = notes.iter().filter_map(|x| x.split(' ').next()).collect();
            let shown = names.iter().take(3).copied().collect::<Vec<_>>().join(", ");
            vec![format!(
                "{n} templates are over the {}-byte inline limit: deploy them from S3 (TemplateURL, or `aws cloudformation deploy --s3-bucket`); README.md lists them: {shown}{}",
                limits::MAX_INLINE_BODY_BYTES,
                if n > 3 { format!(" and {} more", n - 3) } else { String::new() }
            )]
        }
    };
    Ok(Output {
        files,
        templates,
        notes,
        lock: {
            let mut a = crate::network::allocations(p);
            a.vending = crate::control_tower::vending_stacks(p);
            a.to_text()
        },
    })
}

/// Where a stack's configuration file goes: `config/<template path>.json`.
pub fn configuration_path(template: &str) -> String {
    let stem = template
        .strip_suffix(".yaml")
        .or_else(|| template.strip_suffix(".json"))
        .unwrap_or(template);
    format!("config/{stem}.json")
}

/// Resource types a stack policy keeps from being replaced or deleted by an update: the
/// identities everything else hangs off.
pub const PROTECTED_TYPES: &[&str] = &[
    crate::types::ORG_ACCOUNT,
    crate::types::SC_PROVISIONED_PRODUCT,
    crate::types::SSO_PERMISSION_SET,
    crate::types::DZ_DOMAIN,
    crate::types::TGW,
    crate::types::SAGEMAKER_DOMAIN,
];

/// The identity resource types a stack holds: its stack policy protects them.
fn protected_types(s: &Stack) -> Vec<&str> {
    let mut held: Vec<&str> = s
        .template
        .resources
        .values()
        .map(|r| r.resource_type.as_str())
        .filter(|t| PROTECTED_TYPES.contains(t))
        .collect();
    held.sort_unstable();
    held.dedup();
    held
}

/// A stack's configuration in CodePipeline's template-configuration format (which rain reads
/// too): every parameter value mlz knows, and a stack policy that denies replacing or deleting
/// the identity resources the stack holds (CloudFormation user guide, "Prevent updates to
/// stack resources": `Update:Replace` and `Update:Delete`, conditioned on `ResourceType`).
fn configuration(s: &Stack) -> serde_json::Value {
    let params: serde_json::Map<String, serde_json::Value> = s
        .parameters
        .iter()
        .filter_map(|pp| pp.value.as_ref().map(|v| (pp.name.clone(), json!(v))))
        .collect();
    let held = protected_types(s);
    let mut c = json!({ "Parameters": params, "Tags": {} });
    if !held.is_empty() {
        c["StackPolicy"] = json!({
            "Statement": [
                { "Effect": "Allow", "Action": "Update:*", "Principal": "*", "Resource": "*" },
                {
                    "Effect": "Deny",
                    "Action": ["Update:Replace", "Update:Delete"],
                    "Principal": "*",
                    "Resource": "*",
                    "Condition": { "StringEquals": { "ResourceType": held } }
                }
            ]
        });
    }
    c
}

/// A stack that adopts existing resources is first created by an IMPORT change set.
fn import_steps(p: &Platform, stacks: &[Stack], rendered: &[Rendered]) -> Vec<ManualStep> {
    let mut steps = Vec::new();
    for (s, r) in stacks.iter().zip(rendered) {
        if s.imports.is_empty() {
            continue;
        }
        let resources: Vec<serde_json::Value> = s
            .imports
            .iter()
            .map(|i| json!({ "ResourceType": i.resource_type, "LogicalResourceId": i.logical_id, "ResourceIdentifier": { i.identifier.0: i.identifier.1 } }))
            .collect();
        let names: Vec<&str> = s.imports.iter().map(|i| i.logical_id.as_str()).collect();
        let stack_name = s.id.stack_name(&p.organization.stack_prefix);
        steps.push(ManualStep {
            id: format!("import-into-{}", s.id.path().replace('/', "-")),
            account: s.account,
            reason: format!(
                "{} already exist (the config gives their ids). Create the stack by importing them with the import template, execute the change set, then deploy the full template as an update.",
                names.join(", "),
            ),
            commands: vec![format!(
                "aws cloudformation create-change-set --region {} --stack-name {stack_name} --change-set-name mlz-import --change-set-type IMPORT --template-body file://{} --resources-to-import '{}'",
                s.region,
                r.import.as_ref().map_or(r.file.as_str(), |(f, _)| f.as_str()),
                serde_json::to_string(&resources)
            .expect("string-keyed JSON always serializes")
            )],
            provides: vec![Fact::Imported(s.id.clone())],
            requires: s
                .requires
                .iter()
                .filter(|n| !matches!(n.fact, Fact::Imported(_)))
                .cloned()
                .collect::<Vec<Need>>(),
        });
    }
    steps
}

fn account_entry(p: &Platform, a: AccountRef) -> AccountEntry {
    match a {
        AccountRef::Management => AccountEntry {
            name: p.organization.management.name.clone(),
            key: None,
            id: p.organization.management.id.clone(),
            role: Some("management"),
        },
        AccountRef::Account(i) => {
            let acc = p.account(i);
            AccountEntry {
                name: acc.name.clone(),
                key: Some(acc.key.clone()),
                id: acc.id.clone(),
                role: None,
            }
        }
    }
}

fn dependencies(
    p: &Platform,
    plan: &Plan,
    i: usize,
    files: &[String],
    steps: &[ManualStep],
    ext: &str,
) -> Vec<DependencyEntry> {
    let mut out: Vec<DependencyEntry> = plan.depends_on[i]
        .iter()
        .map(|(n, needs)| {
            let (template, step) = match n {
                NodeRef::Stack(j) => (Some(files[*j].clone()), None),
                NodeRef::Step(j) => (None, Some(steps[*j].id.clone())),
            };
            DependencyEntry {
                template,
                step,
                facts: needs
                    .iter()
                    .map(|&k| plan.needs[i][k as usize].fact.describe(p, ext))
                    .collect(),
            }
        })
        .collect();
    // Templates by path, then steps by id.
    out.sort_by(|a, b| (&a.step, &a.template).cmp(&(&b.step, &b.template)));
    out
}

/// A stack's parameters as the manifest lists them: the value mlz knows, or the export or
/// lookup the pipeline fills it from.
fn param_entries(p: &Platform, s: &Stack) -> Result<Vec<ParamEntry>, Vec<EmitError>> {
    let mut params = Vec::with_capacity(s.parameters.len());
    for pp in &s.parameters {
        let value_from_export = match &pp.from_export {
            Some(e) => Some(ExportEntry {
                export: e.key.name(p).map_err(|e| vec![e])?,
                account: account_entry(p, e.account).name,
                region: e.region.clone(),
            }),
            None => None,
        };
        params.push(ParamEntry {
            name: pp.name.clone(),
            description: pp.description.clone(),
            value: pp.value.clone(),
            value_from_export,
            value_from_lookup: pp
                .value
                .is_none()
                .then(|| pp.lookup.as_ref().map(|l| l.wire()))
                .flatten(),
        });
    }
    Ok(params)
}

fn manifest(
    p: &Platform,
    stacks: &[Stack],
    rendered: &[Rendered],
    steps: &[ManualStep],
    plan: &Plan,
    documents: &[crate::stack::Document],
    opts: Options,
) -> Result<Manifest, Vec<EmitError>> {
    let ext = opts.format.extension();
    let prefix = &p.organization.stack_prefix;
    let files: Vec<String> = rendered.iter().map(|r| r.file.clone()).collect();
    let bucket_export = ExportKey::ArtifactBucket.name(p).map_err(|e| vec![e])?;
    let mut templates = Vec::with_capacity(stacks.len());
    for (i, (s, r)) in stacks.iter().zip(rendered).enumerate() {
        let params = param_entries(p, s)?;
        let deploy_as = &plan.deploy_as[i];
        templates.push(TemplateEntry {
            path: r.file.clone(),
            kind: s.deploy.name(),
            stack_name: matches!(s.deploy, DeployKind::Stack | DeployKind::StackSet)
                .then(|| s.id.stack_name(prefix)),
            account: account_entry(p, s.account),
            region: s.region.clone(),
            wave: plan.wave_of[i],
            deploy_as: DeployAsEntry {
                principal: deploy_as.principal(),
                how: deploy_as.how(),
            },
            capabilities: plan::capabilities(&s.template),
            parameters: params,
            parameters_to_fill: s
                .parameters
                .iter()
                .filter(|pp| pp.value.is_none())
                .map(|pp| pp.name.clone())
                .collect(),
            depends_on: dependencies(p, plan, i, &files, steps, ext),
            resources: s.template.resources.len(),
            bytes: r.text.len(),
            deploy_from_s3: r.text.len() > limits::MAX_INLINE_BODY_BYTES,
            import_template: r.import.as_ref().map(|(f, _)| f.clone()),
            configuration: matches!(s.deploy, DeployKind::Stack | DeployKind::StackSet)
                .then(|| configuration_path(&r.file)),
            upload: s.upload.as_ref().map(|u| UploadEntry {
                bucket_export: bucket_export.clone(),
                key: u.key.clone(),
            }),
            stack_set: s.stack_set.as_ref().map(|t| StackSetEntry {
                deployed_by: t.holder.file(ext),
                organizational_units: t.ous.iter().map(|o| p.ou(*o).path.clone()).collect(),
                accounts: t
                    .accounts
                    .iter()
                    .map(|a| account_entry(p, *a).name)
                    .collect(),
                regions: t.regions.clone(),
                auto_deployment: t.auto_deployment,
            }),
            stack_policy: matches!(s.deploy, DeployKind::Stack | DeployKind::StackSet)
                && !protected_types(s).is_empty(),
            contents: s.contents.as_ref().map(|(kind, names)| ContentsEntry {
                kind,
                names: names.clone(),
            }),
        });
    }
    let manual_steps = steps
        .iter()
        .enumerate()
        .map(|(j, st)| {
            let i = plan.index(NodeRef::Step(j));
            StepEntry {
                id: st.id.clone(),
                account: account_entry(p, st.account),
                wave: plan.wave_of[i],
                reason: st.reason.clone(),
                commands: st.commands.clone(),
                provides: st.provides.iter().map(|f| f.describe(p, ext)).collect(),
                depends_on: dependencies(p, plan, i, &files, steps, ext),
            }
        })
        .collect();
    let deploy_order = plan
        .waves
        .iter()
        .enumerate()
        .map(|(n, w)| WaveEntry {
            wave: n + 1,
            templates: w
                .iter()
                .filter_map(|x| match x {
                    NodeRef::Stack(i) => Some(files[*i].clone()),
                    NodeRef::Step(_) => None,
                })
                .collect(),
            steps: w
                .iter()
                .filter_map(|x| match x {
                    NodeRef::Step(j) => Some(steps[*j].id.clone()),
                    NodeRef::Stack(_) => None,
                })
                .collect(),
        })
        .collect();
    let node_name = |n: &NodeRef| match n {
        NodeRef::Stack(i) => files[*i].clone(),
        NodeRef::Step(j) => format!("step {}", steps[*j].id),
    };
    Ok(Manifest {
        manifest_version: MANIFEST_VERSION,
        generator: format!("mlz {}", env!("CARGO_PKG_VERSION")),
        platform: p.organization.name.clone(),
        format: ext.to_owned(),
        home_region: p.organization.home_region.clone(),
        templates,
        manual_steps,
        deploy_order,
        preconditions: plan
            .preconditions
            .iter()
            .map(|c| PreconditionEntry {
                fact: c.fact.describe(p, ext),
                why: c.why.clone(),
            })
            .collect(),
        limits: plan
            .limits
            .iter()
            .map(|l| LimitEntry {
                resource: l.resource.name(),
                limit: l.limit,
                operations: l.operations,
                critical_path: l.critical_path,
                chain: l.chain.iter().map(node_name).collect(),
            })
            .collect(),
        documents: documents.iter().map(|d| d.path.clone()).collect(),
        pipeline: None,
        cfct: None,
        blueprints: blueprints_entry(p, stacks, ext),
    })
}

/// Checks and renders one stack (and its import template): the rendering, the problems, a note.
fn prepare(s: &Stack, opts: Options) -> (Option<Rendered>, Vec<EmitError>, Option<String>) {
    let ext = opts.format.extension();
    let mut errs = Vec::new();
    let mut note = None;
    let file = s.id.file(ext);
    for e in s.template.check() {
        let hint = match e.kind {
            CheckErrorKind::TooMany {
                what: "resources" | "outputs" | "parameters",
                ..
            } => Some(s.limit_hint.to_owned()),
            _ => Some("this is a bug in mlz: please report it with your config".to_owned()),
        };
        errs.push(EmitError {
            template: file.clone(),
            message: e.to_string(),
            hint,
        });
    }
    match render(&s.template, opts.format) {
        Ok(r) => {
            let import = if s.imports.is_empty() {
                None
            } else {
                let ifile = format!("{}.import.{ext}", s.id.path());
                let it = import_template(s);
                for e in it.check() {
                    errs.push(EmitError {
                        template: ifile.clone(),
                        message: e.to_string(),
                        hint: None,
                    });
                }
                match render(&it, opts.format) {
                    Ok(ir) => Some((ifile, ir.text)),
                    Err(e) => {
                        errs.push(EmitError {
                            template: ifile,
                            message: e.to_string(),
                            hint: None,
                        });
                        None
                    }
                }
            };
            if let Some(n) = r.size_note {
                note = Some(format!(
                    "{file} is {} bytes, over the {}-byte inline limit: deploy it from S3 (TemplateURL)",
                    n.bytes,
                    limits::MAX_INLINE_BODY_BYTES
                ));
            }
            (
                Some(Rendered {
                    file,
                    text: r.text,
                    import,
                }),
                errs,
                note,
            )
        }
        Err(e) => {
            errs.push(EmitError {
                template: file,
                message: e.to_string(),
                hint: None,
            });
            (None, errs, note)
        }
    }
}
