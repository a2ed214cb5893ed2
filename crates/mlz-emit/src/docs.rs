//! Human documents in the output folder, rendered with handlebars from `templates/docs/`.

use std::collections::HashMap;

use handlebars::Handlebars;
use serde_json::{json, Value};

use crate::manifest::Manifest;

const DEPLOY_GUIDE: &str = include_str!("../../../templates/docs/deploy-guide.md.hbs");

/// `README.md` of an output folder: what must already be true, the waves with their steps,
/// and every template, from the manifest. The context holds only what the guide shows (not
/// the dependency lists, which are most of the manifest at scale).
pub fn deploy_guide(m: &Manifest) -> String {
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
    let waves: Vec<Value> = m
        .deploy_order
        .iter()
        .map(|w| {
            let (ready, stacks): (Vec<&String>, Vec<&String>) = w
                .templates
                .iter()
                .partition(|p| used_by.contains_key(p.as_str()));
            let steps: Vec<Value> = m
                .manual_steps
                .iter()
                .filter(|s| s.wave == w.wave)
                .map(|s| {
                    json!({ "id": s.id, "account": { "name": s.account.name }, "reason": s.reason, "commands": s.commands })
                })
                .collect();
            json!({
                "wave": w.wave,
                "stacks": stacks,
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
    let context = json!({
        "platform": m.platform,
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
