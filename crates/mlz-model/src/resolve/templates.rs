//! Template loading: blueprints and Service Catalog products, built-in or from a file beside
//! the config, read and checked as CloudFormation; and what a blueprint's own policy must
//! leave to the AFC role (the stack actions, by IAM wildcard).

use serde_json::Value;

use super::Resolver;
use crate::blueprints;
use crate::diag::did_you_mean;
use crate::path::ConfigPath;

/// The CloudFormation stack actions a custom AFC provisioning policy must still allow:
/// Service Catalog deploys the blueprint as a stack with that role.
pub const BLUEPRINT_STACK_ACTIONS: &[&str] = &[
    "cloudformation:CreateStack",
    "cloudformation:UpdateStack",
    "cloudformation:DeleteStack",
    "cloudformation:DescribeStacks",
    "cloudformation:DescribeStackEvents",
];

/// Whether an IAM action pattern (`cloudformation:*`, `*`, `cloudformation:*Stack*`,
/// `cloudformation:?reateStack`) covers `action`.
fn action_matches(pattern: &str, action: &str) -> bool {
    crate::aws::glob(pattern, action)
}

fn actions_of(stmt: &Value) -> Vec<String> {
    match stmt.get("Action") {
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(ToOwned::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// The required stack actions a policy does not allow (or denies).
pub fn missing_stack_actions(policy: &Value) -> Vec<&'static str> {
    let stmts: Vec<&Value> = match policy.get("Statement") {
        Some(Value::Array(a)) => a.iter().collect(),
        Some(o @ Value::Object(_)) => vec![o],
        _ => Vec::new(),
    };
    BLUEPRINT_STACK_ACTIONS
        .iter()
        .copied()
        .filter(|action| {
            let allowed = stmts.iter().any(|s| {
                s.get("Effect").and_then(Value::as_str) == Some("Allow")
                    && actions_of(s).iter().any(|p| action_matches(p, action))
            });
            let denied = stmts.iter().any(|s| {
                s.get("Effect").and_then(Value::as_str) == Some("Deny")
                    && actions_of(s).iter().any(|p| action_matches(p, action))
            });
            !allowed || denied
        })
        .collect()
}

/// What kind of template a config item names: a built-in one by name, or a file.
pub(super) struct TemplateKind {
    what: &'static str,
    unknown_code: &'static str,
    file_code: &'static str,
    builtin_dir: &'static str,
    names: &'static [&'static str],
    lookup: fn(&str) -> Option<&'static str>,
    /// Built-ins get the standard part merged in (blueprints do).
    with_standard: bool,
}

pub(super) const BLUEPRINT: TemplateKind = TemplateKind {
    what: "blueprint",
    unknown_code: "unknown-blueprint",
    file_code: "blueprint-file",
    builtin_dir: "blueprints",
    names: blueprints::BUILTIN_NAMES,
    lookup: blueprints::builtin,
    with_standard: true,
};

pub(super) const PRODUCT: TemplateKind = TemplateKind {
    what: "product",
    unknown_code: "unknown-product",
    file_code: "product-file",
    builtin_dir: "products",
    names: crate::products::BUILTIN_NAMES,
    lookup: crate::products::builtin,
    with_standard: false,
};

/// A loaded template and its warnings, or every error in it.
type Loaded =
    Result<(mlz_cfn::Template, Vec<crate::diag::Diagnostic>), Vec<crate::diag::Diagnostic>>;

impl Resolver<'_> {
    /// Reads the template an item names (`path` is the item): the built-in of that name, or
    /// the file beside the config. None when there is nothing to read (already reported).
    pub(super) fn load_template(
        &mut self,
        kind: &TemplateKind,
        name: &str,
        file: Option<&str>,
        path: &ConfigPath,
    ) -> Option<Loaded> {
        let what = kind.what;
        match file {
            None => match (kind.lookup)(name) {
                Some(text) => Some(blueprints::load(
                    &format!("{}/{name}.yaml", kind.builtin_dir),
                    text,
                    kind.with_standard,
                )),
                None => {
                    let d = self
                        .at(
                            kind.unknown_code,
                            &path.key("name"),
                            format!("there is no built-in {what} named {name:?}"),
                        )
                        .expected(format!(
                            "one of {}, or `file:` for your own",
                            kind.names.join(", ")
                        ))
                        .maybe_hint(did_you_mean(name, kind.names.iter().copied()));
                    self.push(d);
                    None
                }
            },
            Some(f) => {
                let shown = match self.file.rsplit_once('/') {
                    Some((dir, _)) => format!("{dir}/{f}"),
                    None => f.to_owned(),
                };
                match self.files.read(f) {
                    Ok(text) => {
                        self.sources.insert(&shown, &text);
                        Some(blueprints::load(&shown, &text, false))
                    }
                    Err(e) => {
                        let d = self
                            .at(
                                kind.file_code,
                                &path.key("file"),
                                format!("cannot read {what} file {f:?}: {e}"),
                            )
                            .hint("the path is relative to the folder of the config file");
                        self.push(d);
                        None
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn stack_actions_must_survive_a_custom_policy() {
        assert!(missing_stack_actions(
            &json!({"Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})
        )
        .is_empty());
        assert!(missing_stack_actions(&json!({"Statement": [{"Effect": "Allow", "Action": ["cloudformation:*", "s3:*"], "Resource": "*"}]})).is_empty());
        let m = missing_stack_actions(
            &json!({"Statement": [{"Effect": "Allow", "Action": ["cloudformation:Describe*", "s3:*"], "Resource": "*"}]}),
        );
        assert_eq!(
            m,
            vec![
                "cloudformation:CreateStack",
                "cloudformation:UpdateStack",
                "cloudformation:DeleteStack"
            ]
        );
        let denied = missing_stack_actions(&json!({"Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Effect": "Deny", "Action": "cloudformation:DeleteStack", "Resource": "*"}]}));
        assert_eq!(denied, vec!["cloudformation:DeleteStack"]);
        // Several wildcards in one pattern, and `?`.
        assert!(missing_stack_actions(&json!({"Statement": [{"Effect": "Allow", "Action": "cloudformation:*Stack*", "Resource": "*"}]})).is_empty());
        assert!(missing_stack_actions(&json!({"Statement": [{"Effect": "Allow", "Action": ["cloudformation:??????Stack", "cloudformation:Describe*"], "Resource": "*"}]})).is_empty());
        let denied = missing_stack_actions(&json!({"Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Effect": "Deny", "Action": "cloudformation:*Stack*", "Resource": "*"}]}));
        assert_eq!(denied, BLUEPRINT_STACK_ACTIONS.to_vec());
    }
}
