//! Checks, renders and orders the stacks, and writes `manifest.json` and `README.md`.
//!
//! Dependencies between stacks are not declared by emitters: they are derived from the
//! templates themselves (an `Fn::ImportValue` of a name another stack exports), so they
//! cannot drift from what CloudFormation will actually need.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use mlz_cfn::{limits, render, CheckErrorKind, LogicalId, Template, Value};
use mlz_model::{Platform, PolicyType};
use serde_json::{json, Value as J};

use crate::common::{account_logical_id, export_name};
use crate::stack::{AccountRef, Emitted, ManualStep, Stack};
use crate::{docs, EmitError, Options, Output};

/// Version of the manifest's shape; bump on incompatible changes.
pub const MANIFEST_VERSION: u32 = 1;

pub(crate) struct Rendered {
    pub file: String,
    pub text: String,
    pub depends_on: BTreeSet<usize>,
    /// For stacks that adopt existing resources: the template to import them with.
    pub import: Option<(String, String)>,
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

pub fn build(p: &Platform, emitted: Emitted, opts: Options) -> Result<Output, Vec<EmitError>> {
    let Emitted {
        stacks,
        documents,
        steps: emitter_steps,
    } = emitted;
    let ext = opts.format.extension();
    // Checking and rendering is most of the work and each stack is independent: spread it
    // over the cores, then collect in stack order so the output never depends on timing.
    let prepared = parallel_map(&stacks, |s| prepare(s, opts));
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
    link(p, &stacks, &mut rendered, ext, &mut errs);
    let order = waves(&stacks, &rendered, &mut errs);
    if !errs.is_empty() {
        return Err(errs);
    }
    let mut steps = manual_steps(p, &stacks, &rendered);
    steps.extend(emitter_steps);
    let manifest = manifest_json(p, &stacks, &rendered, &order, &steps, &documents, opts);
    let mut files = BTreeMap::new();
    let mut mtext = serde_json::to_string_pretty(&manifest).unwrap_or_default();
    mtext.push('\n');
    files.insert(
        "README.md".to_owned(),
        docs::deploy_guide(&manifest).into_bytes(),
    );
    files.insert("manifest.json".to_owned(), mtext.into_bytes());
    let mut seen_docs = BTreeSet::new();
    for (path, doc) in &documents {
        if !seen_docs.insert(path.as_str()) || files.contains_key(path) {
            return Err(vec![EmitError {
                template: path.clone(),
                message: "two documents would be written to this path".into(),
                hint: Some("give the accounts keys that differ in more than punctuation".into()),
            }]);
        }
        let mut text = serde_json::to_string_pretty(doc).unwrap_or_default();
        text.push('\n');
        files.insert(path.clone(), text.into_bytes());
    }
    for r in rendered {
        files.insert(r.file, r.text.into_bytes());
        if let Some((f, t)) = r.import {
            files.insert(f, t.into_bytes());
        }
    }
    let templates = stacks.len() + stacks.iter().filter(|s| !s.imports.is_empty()).count();
    Ok(Output {
        files,
        templates,
        notes,
    })
}

/// Fills `depends_on` from exports and imports, from parameters whose value is another
/// account's export, and from the account a stack deploys in (the stack that creates the
/// account comes first); reports imports nobody exports.
fn link(
    p: &Platform,
    stacks: &[Stack],
    rendered: &mut [Rendered],
    ext: &str,
    errs: &mut Vec<EmitError>,
) {
    // Exports are per account and region: the same name may be exported in two accounts,
    // and an import only ever sees its own account's and region's exports.
    let mut exporter: HashMap<(AccountRef, &str, &str), usize> = HashMap::new();
    let mut anywhere: HashMap<&str, usize> = HashMap::new();
    for (i, s) in stacks.iter().enumerate() {
        for o in s.template.outputs.values() {
            if let Some(Value::Str(name)) = &o.export {
                anywhere.insert(name, i);
                if let Some(prev) = exporter.insert((s.account, s.region.as_str(), name), i) {
                    errs.push(EmitError {
                        template: rendered[i].file.clone(),
                        message: format!(
                            "export {name} is also exported by {} in the same account and region",
                            rendered[prev].file
                        ),
                        hint: None,
                    });
                }
            }
        }
    }
    let by_path: HashMap<&str, usize> = stacks
        .iter()
        .enumerate()
        .map(|(i, s)| (s.path.as_str(), i))
        .collect();
    for (i, s) in stacks.iter().enumerate() {
        let mut deps = BTreeSet::new();
        let mut visit = |v: &Value| {
            if let Value::ImportValue(inner) = v {
                if let Value::Str(name) = inner.as_ref() {
                    match exporter.get(&(s.account, s.region.as_str(), name.as_str())) {
                        Some(&j) if j != i => {
                            deps.insert(j);
                        }
                        Some(_) => {}
                        None => errs.push(EmitError {
                            template: rendered[i].file.clone(),
                            message: match anywhere.get(name.as_str()) {
                                Some(&j) => format!("imports {name}, which {} exports in another account or region: CloudFormation imports only within one account and region", rendered[j].file),
                                None => format!("imports {name}, which no generated template exports"),
                            },
                            hint: Some("this is a bug in mlz: please report it with your config".into()),
                        }),
                    }
                }
            }
        };
        for r in s.template.resources.values() {
            for v in r.properties.values() {
                v.walk(&mut visit);
            }
        }
        for prm in &s.parameters {
            if let Some(name) = &prm.from_export {
                match anywhere.get(name.as_str()) {
                    Some(&j) if j != i => {
                        deps.insert(j);
                    }
                    Some(_) => {}
                    None => errs.push(EmitError {
                        template: rendered[i].file.clone(),
                        message: format!(
                            "parameter {} takes export {name}, which no generated template exports",
                            prm.name
                        ),
                        hint: Some(
                            "this is a bug in mlz: please report it with your config".into(),
                        ),
                    }),
                }
            }
        }
        // A stack can only deploy once its account exists: after the stack that creates it,
        // when mlz creates it (an account with a known id is not exported by anyone).
        if let AccountRef::Account(a) = s.account {
            if let Ok(lid) = account_logical_id(p.account(a)) {
                let name = export_name(&p.organization.stack_prefix, &lid, "Id");
                if let Some(&j) = anywhere.get(name.as_str()) {
                    if j != i {
                        deps.insert(j);
                    }
                }
            }
        }
        for (after, _) in &s.after {
            match by_path.get(after.as_str()) {
                Some(&j) => {
                    deps.insert(j);
                }
                None => errs.push(EmitError {
                    template: rendered[i].file.clone(),
                    message: format!("must deploy after {after}.{ext}, which was not generated"),
                    hint: Some("this is a bug in mlz: please report it with your config".into()),
                }),
            }
        }
        rendered[i].depends_on = deps;
    }
}

/// Deployment waves: every stack in a wave depends only on stacks of earlier waves.
fn waves(stacks: &[Stack], rendered: &[Rendered], errs: &mut Vec<EmitError>) -> Vec<Vec<usize>> {
    let n = stacks.len();
    let mut indeg = vec![0usize; n];
    let mut users: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, r) in rendered.iter().enumerate() {
        indeg[i] = r.depends_on.len();
        for &d in &r.depends_on {
            users[d].push(i);
        }
    }
    let mut wave: Vec<usize> = (0..n).filter(|&i| indeg[i] == 0).collect();
    let mut out = Vec::new();
    let mut placed = 0;
    while !wave.is_empty() {
        wave.sort_by(|a, b| rendered[*a].file.cmp(&rendered[*b].file));
        let mut next = Vec::new();
        for &i in &wave {
            for &u in &users[i] {
                indeg[u] -= 1;
                if indeg[u] == 0 {
                    next.push(u);
                }
            }
        }
        placed += wave.len();
        out.push(std::mem::replace(&mut wave, next));
    }
    if placed < n {
        let stuck: Vec<&str> = (0..n)
            .filter(|&i| indeg[i] > 0)
            .map(|i| rendered[i].file.as_str())
            .collect();
        errs.push(EmitError {
            template: stuck.join(", "),
            message: "these templates import from each other in a cycle".into(),
            hint: None,
        });
    }
    out
}

fn account_json(p: &Platform, a: AccountRef) -> J {
    match a {
        AccountRef::Management => json!({
            "name": p.organization.management.name,
            "id": p.organization.management.id,
            "role": "management",
        }),
        AccountRef::Account(i) => {
            let acc = p.account(i);
            json!({ "name": acc.name, "key": acc.key, "id": acc.id })
        }
    }
}

fn manual_steps(p: &Platform, stacks: &[Stack], rendered: &[Rendered]) -> Vec<ManualStep> {
    let mut steps = Vec::new();
    let policy_file: Vec<String> = stacks
        .iter()
        .zip(rendered)
        .filter(|(s, _)| {
            s.template
                .resources
                .values()
                .any(|r| r.resource_type == crate::types::ORG_POLICY)
        })
        .map(|(_, r)| r.file.clone())
        .collect();
    let mut types: Vec<&'static str> = Vec::new();
    for t in [
        PolicyType::ServiceControl,
        PolicyType::ResourceControl,
        PolicyType::Tag,
    ] {
        if p.policies.iter().any(|x| x.policy_type == t) {
            types.push(t.cfn_name());
        }
    }
    if !types.is_empty() {
        let root = p
            .organization
            .root_id
            .clone()
            .unwrap_or_else(|| "<root id>".into());
        steps.push(ManualStep {
            id: "enable-policy-types".into(),
            account: p.organization.management.name.clone(),
            reason: "Policy types must be enabled on the root before policies of that type attach; CloudFormation has no resource type for EnablePolicyType.".into(),
            after: Vec::new(),
            commands: types.iter().map(|t| format!("aws organizations enable-policy-type --root-id {root} --policy-type {t}")).collect(),
            before: policy_file,
        });
    }
    for (s, r) in stacks.iter().zip(rendered) {
        if s.imports.is_empty() {
            continue;
        }
        let resources: Vec<J> = s
            .imports
            .iter()
            .map(|i| json!({ "ResourceType": i.resource_type, "LogicalResourceId": i.logical_id, "ResourceIdentifier": { i.identifier.0: i.identifier.1 } }))
            .collect();
        let names: Vec<&str> = s.imports.iter().map(|i| i.logical_id.as_str()).collect();
        steps.push(ManualStep {
            id: format!("import-into-{}", s.name),
            account: p.organization.management.name.clone(),
            reason: format!(
                "{} already exist (the config gives their ids). Create stack {} by importing them with the import template, execute the change set, then deploy the full template as an update.",
                names.join(", "),
                s.name
            ),
            commands: vec![format!(
                "aws cloudformation create-change-set --region {} --stack-name {} --change-set-name mlz-import --change-set-type IMPORT --template-body file://{} --resources-to-import '{}'",
                s.region,
                s.name,
                r.import.as_ref().map_or(r.file.as_str(), |(f, _)| f.as_str()),
                serde_json::to_string(&resources).unwrap_or_default()
            )],
            before: vec![r.file.clone()],
            after: Vec::new(),
        });
    }
    steps
}

fn manifest_json(
    p: &Platform,
    stacks: &[Stack],
    rendered: &[Rendered],
    order: &[Vec<usize>],
    steps: &[ManualStep],
    documents: &[(String, J)],
    opts: Options,
) -> J {
    let templates: Vec<J> = stacks
        .iter()
        .zip(rendered)
        .map(|(s, r)| {
            let params: Vec<J> = s
                .parameters
                .iter()
                .map(|pp| match &pp.from_export {
                    // The export named here holds the value (read it with `aws cloudformation
                    // list-exports` in the account and region of the stack that exports it).
                    Some(e) => json!({ "name": pp.name, "description": pp.description, "value": pp.value, "valueFromExport": e }),
                    None => json!({ "name": pp.name, "description": pp.description, "value": pp.value }),
                })
                .collect();
            let deps: Vec<&str> = r.depends_on.iter().map(|&d| rendered[d].file.as_str()).collect();
            let after: Vec<J> = s
                .after
                .iter()
                .map(|(path, why)| json!({ "path": format!("{path}.{}", opts.format.extension()), "reason": why }))
                .collect();
            json!({
                "path": r.file,
                "stackName": s.name,
                "deploy": s.deploy.name(),
                "account": account_json(p, s.account),
                "region": s.region,
                "parameters": params,
                "parametersToFill": s.parameters.iter().filter(|pp| pp.value.is_none()).map(|pp| pp.name.as_str()).collect::<Vec<_>>(),
                "dependsOn": deps,
                "orderedAfter": after,
                "resources": s.template.resources.len(),
                "bytes": r.text.len(),
                "deployFromS3": r.text.len() > limits::MAX_INLINE_BODY_BYTES,
                "importTemplate": r.import.as_ref().map(|(f, _)| f.as_str()),
                "upload": s.upload.as_ref().map(|u| json!({ "bucketExport": u.bucket_export, "key": u.key })),
            })
        })
        .collect();
    let order: Vec<J> = order
        .iter()
        .enumerate()
        .map(|(n, w)| json!({ "wave": n + 1, "templates": w.iter().map(|&i| rendered[i].file.as_str()).collect::<Vec<_>>() }))
        .collect();
    let steps: Vec<J> = steps
        .iter()
        .map(|s| json!({ "id": s.id, "account": s.account, "reason": s.reason, "commands": s.commands, "before": s.before, "after": s.after }))
        .collect();
    json!({
        "manifestVersion": MANIFEST_VERSION,
        "generator": format!("mlz {}", env!("CARGO_PKG_VERSION")),
        "platform": p.organization.name,
        "format": opts.format.extension(),
        "homeRegion": p.organization.home_region,
        "templates": templates,
        "deployOrder": order,
        "manualSteps": steps,
        "documents": documents.iter().map(|(path, _)| path.as_str()).collect::<Vec<_>>(),
    })
}

/// Maps `f` over `items` on up to `available_parallelism` threads, keeping the order.
fn parallel_map<T: Sync, R: Send>(items: &[T], f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(items.len().max(1));
    if threads <= 1 {
        return items.iter().map(f).collect();
    }
    let chunk = items.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(chunk)
            .map(|part| scope.spawn(|| part.iter().map(&f).collect::<Vec<R>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}

/// Checks and renders one stack (and its import template): the rendering, the problems, a note.
fn prepare(s: &Stack, opts: Options) -> (Option<Rendered>, Vec<EmitError>, Option<String>) {
    let ext = opts.format.extension();
    let mut errs = Vec::new();
    let mut note = None;
    {
        let file = format!("{}.{ext}", s.path);
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
                    let ifile = format!("{}.import.{ext}", s.path);
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
                return (
                    Some(Rendered {
                        file,
                        text: r.text,
                        depends_on: BTreeSet::new(),
                        import,
                    }),
                    errs,
                    note,
                );
            }
            Err(e) => errs.push(EmitError {
                template: file,
                message: e.to_string(),
                hint: None,
            }),
        }
    }
    (None, errs, note)
}
