//! User naming patterns (`{{team}}-{{stage}}`), rendered with handlebars.
//!
//! Patterns are checked once, up front, by rendering them in strict mode with every known
//! variable set: a variable we do not know is then an error that names it.

use std::collections::BTreeMap;

use handlebars::{Handlebars, RenderErrorReason};

/// The variables a naming pattern may use.
pub const VARIABLES: &[&str] = &["team", "stage", "ou", "prefix"];

/// Default patterns, from `templates/naming.yaml` (embedded): `key: pattern` lines.
const DEFAULTS: &str = include_str!("../../../templates/naming.yaml");

pub fn default_pattern(key: &str) -> Option<&'static str> {
    DEFAULTS.lines().find_map(|l| {
        let (k, v) = l.split_once(':')?;
        (k.trim() == key).then(|| v.trim().trim_matches('"'))
    })
}

/// Compiled patterns, by name.
pub struct Patterns {
    hb: Handlebars<'static>,
}

/// Why a pattern is unusable.
pub enum PatternError {
    Syntax(String),
    UnknownVariable(String),
}

impl Patterns {
    pub fn new() -> Patterns {
        let mut hb = Handlebars::new();
        hb.set_strict_mode(true);
        hb.register_escape_fn(handlebars::no_escape);
        Patterns { hb }
    }

    /// Compiles `pattern` under `name` and checks that it only uses known variables.
    pub fn add(&mut self, name: &str, pattern: &str) -> Result<(), PatternError> {
        self.hb
            .register_template_string(name, pattern)
            .map_err(|e| PatternError::Syntax(e.reason().to_string()))?;
        let probe: BTreeMap<&str, &str> = VARIABLES.iter().map(|v| (*v, "x")).collect();
        match self.hb.render(name, &probe) {
            Ok(_) => Ok(()),
            Err(e) => {
                self.hb.unregister_template(name);
                match e.reason() {
                    RenderErrorReason::MissingVariable(Some(v)) => {
                        Err(PatternError::UnknownVariable(v.clone()))
                    }
                    other => Err(PatternError::Syntax(other.to_string())),
                }
            }
        }
    }

    /// Whether a checked pattern's output changes with `var` (two renderings that differ only
    /// in it): a pattern without `{{team}}` gives every team the same name.
    pub fn depends_on(&self, name: &str, var: &str) -> bool {
        let probe = |value: &'static str| -> BTreeMap<&str, &str> {
            VARIABLES
                .iter()
                .map(|v| (*v, if *v == var { value } else { "x" }))
                .collect()
        };
        self.render(name, &probe("a1")) != self.render(name, &probe("b2"))
    }

    pub fn has(&self, name: &str) -> bool {
        self.hb.has_template(name)
    }

    /// Renders a checked pattern. `vars` must hold every variable in [`VARIABLES`].
    pub fn render(&self, name: &str, vars: &BTreeMap<&str, &str>) -> String {
        // handlebars renders into an 8 KiB buffer; without shrinking, every account name
        // and address would keep one (80 MB at 1,000 teams).
        let mut s = self.hb.render(name, vars).unwrap_or_default();
        s.shrink_to_fit();
        s
    }
}

impl Default for Patterns {
    fn default() -> Self {
        Patterns::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_and_rejects_unknown_variables() {
        let mut p = Patterns::new();
        assert!(p.add("n", "{{team}}-{{stage}}").is_ok());
        let vars: BTreeMap<&str, &str> = [
            ("team", "fraud"),
            ("stage", "dev"),
            ("ou", "W"),
            ("prefix", "mlz"),
        ]
        .into();
        assert_eq!(p.render("n", &vars), "fraud-dev");
        assert!(
            matches!(p.add("bad", "{{team}}-{{env}}"), Err(PatternError::UnknownVariable(v)) if v == "env")
        );
        assert!(matches!(
            p.add("broken", "{{team"),
            Err(PatternError::Syntax(_))
        ));
        assert!(!p.has("bad"));
    }

    #[test]
    fn defaults_are_embedded() {
        assert_eq!(default_pattern("accountName"), Some("{{team}}-{{stage}}"));
    }
}
