//! Human documents in the output folder, rendered with handlebars from `templates/docs/`.

use handlebars::Handlebars;
use serde_json::Value;

const DEPLOY_GUIDE: &str = include_str!("../../../templates/docs/deploy-guide.md.hbs");

/// `README.md` of an output folder: prerequisites, deploy order and parameters, from the manifest.
pub fn deploy_guide(manifest: &Value) -> String {
    let mut hb = Handlebars::new();
    hb.register_escape_fn(handlebars::no_escape);
    hb.set_strict_mode(false);
    // Each wave lists its templates and, in full, the steps that run in it.
    let mut context = manifest.clone();
    let steps = manifest["manualSteps"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    // Only stacks are deployed by hand; StackSet templates, product versions and blueprints
    // are uploaded and then used by the stack (or service) the manifest names.
    let mut used_by: std::collections::HashMap<&str, String> = std::collections::HashMap::new();
    for t in manifest["templates"].as_array().into_iter().flatten() {
        let path = t["path"].as_str().unwrap_or_default();
        let by = match t["kind"].as_str() {
            Some("stack") | None => continue,
            Some("stackSet") => format!(
                "StackSet of `{}`",
                t["stackSet"]["deployedBy"].as_str().unwrap_or_default()
            ),
            Some("serviceCatalogProduct") => "a Service Catalog product version".to_owned(),
            Some(_) => "an AFC blueprint, applied by Control Tower".to_owned(),
        };
        used_by.insert(path, by);
    }
    if let Some(waves) = context["deployOrder"].as_array_mut() {
        for w in waves.iter_mut() {
            let n = w["wave"].clone();
            let here: Vec<Value> = steps.iter().filter(|s| s["wave"] == n).cloned().collect();
            w["stepDetails"] = Value::Array(here);
            let all: Vec<Value> = w["templates"].as_array().cloned().unwrap_or_default();
            let (ready, stacks): (Vec<Value>, Vec<Value>) = all
                .into_iter()
                .partition(|t| t.as_str().is_some_and(|p| used_by.contains_key(p)));
            w["stacks"] = Value::Array(stacks);
            w["ready"] = Value::Array(
                ready
                    .iter()
                    .filter_map(|t| t.as_str())
                    .map(|p| serde_json::json!({ "path": p, "by": used_by[p] }))
                    .collect(),
            );
        }
    }
    match hb.render_template(DEPLOY_GUIDE, &context) {
        Ok(s) => s,
        Err(e) => format!(
            "# Deployment guide\n\nThe guide could not be rendered ({e}); see manifest.json.\n"
        ),
    }
}
