//! Human documents in the output folder, rendered with handlebars from `templates/docs/`.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;

use handlebars::Handlebars;
use mlz_model::Platform;
use serde_json::{json, Value};

use crate::manifest::{Manifest, TemplateEntry};

/// CloudFormation's limit for a template passed in the request (`--template-body`): larger
/// ones deploy from S3 (`aws cloudformation deploy --s3-bucket`).
const INLINE_LIMIT: usize = mlz_cfn::limits::MAX_INLINE_BODY_BYTES;

/// A Mermaid label: no quotes or brackets that would end it.
fn label(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '"' => '\'',
            '[' | ']' | '{' | '}' | '<' | '>' => ' ',
            c => c,
        })
        .collect()
}

/// The organisation as a Mermaid flowchart: OUs under the root, the accounts declared in
/// the config (team accounts counted per OU and blueprint, so that 3,000 accounts stay one
/// readable picture), each with its blueprint, and the Transit Gateway segments with the OUs
/// that attach to them.
pub fn organisation_diagram(p: &Platform) -> String {
    let mut d = String::from("flowchart LR\n  root[\"Root\"]\n");
    for (i, ou) in p.ous.iter().enumerate() {
        let _ = writeln!(d, "  ou{i}[\"OU {}\"]", label(&ou.name));
        match ou.parent {
            Some(parent) => {
                let _ = writeln!(d, "  ou{} --> ou{i}", parent.0);
            }
            None => {
                let _ = writeln!(d, "  root --> ou{i}");
            }
        }
    }
    let blueprint = |b: Option<usize>| -> Option<String> {
        let ct = p.control_tower.as_ref()?;
        b.and_then(|b| ct.blueprints.get(b)).map(|b| b.name.clone())
    };
    let _ = writeln!(
        d,
        "  mgmt([\"{} (management)\"])\n  root --- mgmt",
        label(&p.organization.management.name)
    );
    let mut teams: BTreeMap<(usize, Option<String>), usize> = BTreeMap::new();
    // Each account's node: its own, or its team-account group's.
    let mut node: Vec<String> = Vec::with_capacity(p.accounts.len());
    for (i, a) in p.accounts.iter().enumerate() {
        if a.team.is_some() {
            let key = (a.ou.0, blueprint(a.blueprint));
            *teams.entry(key.clone()).or_default() += 1;
            node.push(format!("team:{}:{}", key.0, key.1.unwrap_or_default()));
            continue;
        }
        node.push(format!("a{i}"));
        let bp = blueprint(a.blueprint)
            .map_or(String::new(), |b| format!("<br/>blueprint {}", label(&b)));
        let _ = writeln!(
            d,
            "  a{i}([\"{}{bp}\"])\n  ou{} --- a{i}",
            label(&a.name),
            a.ou.0
        );
    }
    let mut team_node: HashMap<String, String> = HashMap::new();
    for (n, ((ou, bp), count)) in teams.iter().enumerate() {
        team_node.insert(
            format!("team:{ou}:{}", bp.clone().unwrap_or_default()),
            format!("t{n}"),
        );
        let bp = bp
            .as_ref()
            .map_or(String::new(), |b| format!("<br/>blueprint {}", label(b)));
        let _ = writeln!(
            d,
            "  t{n}([\"{count} team accounts{bp}\"])\n  ou{ou} --- t{n}"
        );
    }
    if let Some(net) = &p.network {
        for (si, seg) in net.segments.iter().enumerate() {
            let nets: Vec<String> = seg
                .supernets
                .iter()
                .map(|(r, c)| format!("{r} {c}"))
                .collect();
            let _ = writeln!(
                d,
                "  seg{si}{{{{\"segment {}<br/>{}\"}}}}",
                label(&seg.name),
                nets.join("<br/>")
            );
        }
        // The accounts whose VPC attaches, to their segment (once per node).
        let mut edges: BTreeSet<(String, usize)> = BTreeSet::new();
        for r in &net.ranges {
            let n = &node[r.account.0];
            let n = team_node.get(n).unwrap_or(n).clone();
            edges.insert((n, r.segment));
        }
        for (n, si) in edges {
            let _ = writeln!(d, "  {n} -.->|Transit Gateway| seg{si}");
        }
    }
    d
}

/// The `aws cloudformation deploy` command of a stack, as its deployer runs it: with the
/// configuration file (CLI v2 reads CodePipeline's format), the capabilities, CloudFormation's
/// service role when the plan has one, and the stack policy after.
fn deploy_command(t: &TemplateEntry, deploy_role: Option<&str>) -> Vec<String> {
    let Some(name) = &t.stack_name else {
        return Vec::new();
    };
    let mut c = format!(
        "aws cloudformation deploy --region {} --stack-name {name} --template-file {}",
        t.region, t.path
    );
    if let Some(config) = &t.configuration {
        let _ = write!(c, " --parameter-overrides file://{config}");
    }
    if !t.capabilities.is_empty() {
        let _ = write!(c, " --capabilities {}", t.capabilities.join(" "));
    }
    // With a pipeline, CloudFormation runs as its deploy role in every account, the
    // management account's included (the Account Factory's portfolio is granted to it).
    if let Some(role) =
        deploy_role.filter(|r| t.deploy_as.principal == *r || t.deploy_as.principal == "management")
    {
        let _ = write!(
            c,
            " --role-arn arn:aws:iam::<{} account id>:role/{role}",
            t.account.name
        );
    }
    if t.bytes > INLINE_LIMIT {
        let _ = write!(
            c,
            " --s3-bucket <a bucket of {}, {}>",
            t.account.name, t.region
        );
    }
    let mut out = vec![c];
    if t.stack_policy {
        if let Some(config) = &t.configuration {
            out.push(format!(
                "aws cloudformation set-stack-policy --region {} --stack-name {name} --stack-policy-body \"$(jq -c .StackPolicy {config})\"",
                t.region
            ));
        }
    }
    out
}

const DEPLOY_GUIDE: &str = include_str!("../../../templates/docs/deploy-guide.md.hbs");

/// `README.md` of an output folder: what must already be true, the waves with their steps,
/// and every template, from the manifest. The context holds only what the guide shows (not
/// the dependency lists, which are most of the manifest at scale).
pub fn deploy_guide(m: &Manifest, diagram: &str) -> String {
    let mut hb = Handlebars::new();
    hb.register_escape_fn(handlebars::no_escape);
    hb.set_strict_mode(false);
    // Only stacks are deployed by hand; StackSet templates, product versions and blueprints
    // are uploaded and then used by the stack (or service) the manifest names.
    let mut used_by: HashMap<&str, String> = HashMap::new();
    for t in &m.templates {
        let by = match t.kind {
            "stack" => continue,
            "stackSet" => format!(
                "StackSet of `{}`",
                t.stack_set.as_ref().map_or("", |s| s.deployed_by.as_str())
            ),
            "serviceCatalogProduct" => "a Service Catalog product version".to_owned(),
            _ => "an AFC blueprint, applied by Control Tower".to_owned(),
        };
        used_by.insert(t.path.as_str(), by);
    }
    let by_path: HashMap<&str, &TemplateEntry> =
        m.templates.iter().map(|t| (t.path.as_str(), t)).collect();
    let waves: Vec<Value> = m
        .deploy_order
        .iter()
        .map(|w| {
            let (ready, stacks): (Vec<&String>, Vec<&String>) = w
                .templates
                .iter()
                .partition(|p| used_by.contains_key(p.as_str()));
            let commands: Vec<Value> = stacks
                .iter()
                .filter_map(|p| by_path.get(p.as_str()))
                .map(|t| {
                    json!({
                        "path": t.path,
                        "account": t.account.name,
                        "region": t.region,
                        "deployAs": t.deploy_as.principal,
                        "commands": deploy_command(t, m.pipeline.as_ref().map(|pl| pl.deploy_role.as_str())),
                        "fill": t.parameters_to_fill,
                    })
                })
                .collect();
            let steps: Vec<Value> = m
                .manual_steps
                .iter()
                .filter(|s| s.wave == w.wave)
                .map(|s| {
                    {
                        // Prose ("See docs/…") is said, not put in a shell block.
                        let (commands, notes): (Vec<&String>, Vec<&String>) =
                            s.commands.iter().partition(|c| c.starts_with("aws ") || c.contains("=$(aws "));
                        json!({ "id": s.id, "account": { "name": s.account.name }, "reason": s.reason, "commands": commands, "notes": notes })
                    }
                })
                .collect();
            json!({
                "wave": w.wave,
                "stacks": stacks,
                "commands": commands,
                "ready": ready.iter().map(|p| json!({ "path": p, "by": used_by[p.as_str()] })).collect::<Vec<_>>(),
                "stepDetails": steps,
            })
        })
        .collect();
    let templates: Vec<Value> = m
        .templates
        .iter()
        .map(|t| {
            json!({
                "path": t.path,
                "kind": t.kind,
                "stackName": t.stack_name,
                "account": { "name": t.account.name },
                "region": t.region,
                "wave": t.wave,
                "deployAs": { "principal": t.deploy_as.principal },
                "capabilities": t.capabilities,
                "parametersToFill": t.parameters_to_fill,
            })
        })
        .collect();
    let limits: Vec<Value> = m
        .limits
        .iter()
        .map(|l| json!({ "resource": l.resource, "limit": l.limit, "operations": l.operations, "criticalPath": l.critical_path, "chain": l.chain }))
        .collect();
    let preconditions: Vec<Value> = m
        .preconditions
        .iter()
        .map(|c| json!({ "fact": c.fact, "why": c.why }))
        .collect();
    let large: Vec<&str> = m
        .templates
        .iter()
        .filter(|t| t.bytes > INLINE_LIMIT)
        .map(|t| t.path.as_str())
        .collect();
    let buckets: Vec<Value> = m
        .templates
        .iter()
        .filter_map(|t| {
            t.contents
                .as_ref()
                .map(|c| json!({ "path": t.path, "kind": c.kind, "names": c.names.join(", ") }))
        })
        .collect();
    let context = json!({
        "platform": m.platform,
        "diagram": diagram,
        "large": large,
        "buckets": buckets,
        "pipeline": m.pipeline,
        "cfct": m.cfct,
        "generator": m.generator,
        "preconditions": preconditions,
        "limits": limits,
        "deployOrder": waves,
        "templates": templates,
    });
    match hb.render_template(DEPLOY_GUIDE, &context) {
        Ok(s) => s,
        Err(e) => format!(
            "# Deployment guide\n\nThe guide could not be rendered ({e}); see manifest.json.\n"
        ),
    }
}
