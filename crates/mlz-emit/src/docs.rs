//! Human documents in the output folder, rendered with handlebars from `templates/docs/`.

use handlebars::Handlebars;
use serde_json::Value;

const DEPLOY_GUIDE: &str = include_str!("../../../templates/docs/deploy-guide.md.hbs");

/// `README.md` of an output folder: prerequisites, deploy order and parameters, from the manifest.
pub fn deploy_guide(manifest: &Value) -> String {
    let mut hb = Handlebars::new();
    hb.register_escape_fn(handlebars::no_escape);
    hb.set_strict_mode(false);
    // Steps that wait for stacks go with the deployment, not before it.
    let mut context = manifest.clone();
    let steps = manifest["manualSteps"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let (during, first): (Vec<Value>, Vec<Value>) = steps
        .into_iter()
        .partition(|s| s["after"].as_array().is_some_and(|a| !a.is_empty()));
    context["stepsFirst"] = Value::Array(first);
    context["stepsDuring"] = Value::Array(during);
    match hb.render_template(DEPLOY_GUIDE, &context) {
        Ok(s) => s,
        Err(e) => format!(
            "# Deployment guide\n\nThe guide could not be rendered ({e}); see manifest.json.\n"
        ),
    }
}
