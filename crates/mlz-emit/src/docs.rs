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
    if let Some(waves) = context["deployOrder"].as_array_mut() {
        for w in waves.iter_mut() {
            let n = w["wave"].clone();
            let here: Vec<Value> = steps.iter().filter(|s| s["wave"] == n).cloned().collect();
            w["stepDetails"] = Value::Array(here);
        }
    }
    match hb.render_template(DEPLOY_GUIDE, &context) {
        Ok(s) => s,
        Err(e) => format!(
            "# Deployment guide\n\nThe guide could not be rendered ({e}); see manifest.json.\n"
        ),
    }
}
