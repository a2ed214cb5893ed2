//! Human documents in the output folder, rendered with handlebars from `templates/docs/`.

use handlebars::Handlebars;
use serde_json::Value;

const DEPLOY_GUIDE: &str = include_str!("../../../templates/docs/deploy-guide.md.hbs");

/// `README.md` of an output folder: prerequisites, deploy order and parameters, from the manifest.
pub fn deploy_guide(manifest: &Value) -> String {
    let mut hb = Handlebars::new();
    hb.register_escape_fn(handlebars::no_escape);
    hb.set_strict_mode(false);
    match hb.render_template(DEPLOY_GUIDE, manifest) {
        Ok(s) => s,
        Err(e) => format!(
            "# Deployment guide\n\nThe guide could not be rendered ({e}); see manifest.json.\n"
        ),
    }
}
