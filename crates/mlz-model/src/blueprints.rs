//! AFC blueprints: the built-in catalogue (`blueprints/`, embedded) and the user's own
//! template files, read into typed templates and checked like everything mlz emits.

use std::sync::OnceLock;

use mlz_cfn::{parse_template, ParamType, Template};
use serde_json::Value;

use crate::diag::Diagnostic;
use crate::path::{ConfigPath, Segment};
use crate::yaml::{self, Node, Span};

/// The built-in blueprints, by name.
const BUILTIN: &[(&str, &str)] = &[
    (
        "corporate-network",
        include_str!("../../../blueprints/corporate-network.yaml"),
    ),
    (
        "internet-only",
        include_str!("../../../blueprints/internet-only.yaml"),
    ),
    ("sandbox", include_str!("../../../blueprints/sandbox.yaml")),
];

/// What every built-in blueprint shares: flow logs, default encryption, standard roles.
const STANDARD: &str = include_str!("../../../blueprints/standard.yaml");

pub const BUILTIN_NAMES: &[&str] = &["corporate-network", "internet-only", "sandbox"];

pub fn builtin(name: &str) -> Option<&'static str> {
    BUILTIN.iter().find(|(n, _)| *n == name).map(|(_, t)| *t)
}

fn standard() -> &'static Value {
    static S: OnceLock<Value> = OnceLock::new();
    S.get_or_init(|| {
        yaml::parse_cfn(STANDARD)
            .map(|n| n.to_json())
            .unwrap_or(Value::Null)
    })
}

fn path_of(segments: &[String]) -> ConfigPath {
    let mut p = ConfigPath::root();
    for s in segments {
        p = match s.parse::<usize>() {
            Ok(i) => p.index(i),
            Err(_) => p.key(s),
        };
    }
    p
}

fn span_in(root: &Node, path: &ConfigPath) -> Span {
    if path.segments().is_empty() {
        return root.span;
    }
    match path.segments().last() {
        Some(Segment::Key(_)) => root.key_span_of(path),
        _ => root.span_of(path),
    }
}

/// Merges the standard part into a blueprint document. Parameters the blueprint declares
/// win (to change a default); any other clash is reported.
fn merge_standard(doc: &mut Value, file: &str) -> Vec<Diagnostic> {
    let mut errs = Vec::new();
    let Some(top) = doc.as_object_mut() else {
        return errs;
    };
    for (section, part) in standard().as_object().into_iter().flatten() {
        let Some(part) = part.as_object() else {
            continue;
        };
        let target = top
            .entry(section.clone())
            .or_insert_with(|| Value::Object(serde_json::Map::new()));
        let Some(target) = target.as_object_mut() else {
            continue;
        };
        for (k, v) in part {
            if target.contains_key(k) {
                if section != "Parameters" {
                    errs.push(Diagnostic::error(
                        "blueprint-standard",
                        file,
                        Some(Span::point(1, 1)),
                        ConfigPath::root().key(section).key(k),
                        format!("{section}.{k} is also declared by the standard part (blueprints/standard.yaml)"),
                    ));
                }
            } else {
                target.insert(k.clone(), v.clone());
            }
        }
    }
    errs
}

/// Reads and checks a blueprint template. Built-ins get the standard part merged in.
/// Returns the template and its warnings, or every error.
pub fn load(
    file: &str,
    text: &str,
    with_standard: bool,
) -> Result<(Template, Vec<Diagnostic>), Vec<Diagnostic>> {
    let root = match yaml::parse_cfn(text) {
        Ok(n) => n,
        Err(e) => {
            return Err(vec![Diagnostic::error(
                "blueprint-yaml",
                file,
                Some(e.span),
                ConfigPath::root(),
                e.message,
            )
            .without_path()]);
        }
    };
    let mut doc = root.to_json();
    let mut errors = if with_standard {
        merge_standard(&mut doc, file)
    } else {
        Vec::new()
    };
    let mut warnings = Vec::new();
    let (t, parse_errors) = parse_template(&doc);
    for e in parse_errors {
        let p = path_of(&e.path);
        errors.push(Diagnostic::error(
            "blueprint-template",
            file,
            Some(span_in(&root, &p)),
            p,
            e.message,
        ));
    }
    for e in t.check() {
        let p = path_of(&e.at.split('.').map(ToOwned::to_owned).collect::<Vec<_>>());
        let at = if e.at == "template" {
            ConfigPath::root()
        } else {
            p
        };
        let msg = e.to_string();
        let msg = msg
            .split_once(": ")
            .map_or(msg.as_str(), |(_, m)| m)
            .to_owned();
        errors.push(Diagnostic::error(
            "blueprint-template",
            file,
            Some(span_in(&root, &at)),
            at,
            msg,
        ));
    }
    // Parameters are filled by a person at vending time: each must say what it wants.
    for (id, p) in &t.parameters {
        let path = ConfigPath::root().key("Parameters").key(id.as_str());
        let span = Some(span_in(&root, &path));
        if p.description.trim().is_empty() {
            errors.push(
                Diagnostic::error("blueprint-parameter", file, span, path.clone(), format!("parameter {id} has no Description"))
                    .hint("whoever vends an account fills this in: say what it is and what shape it takes"),
            );
        }
        let constrained = p.allowed_pattern.is_some()
            || !p.allowed_values.is_empty()
            || p.param_type != ParamType::String;
        if !constrained {
            warnings.push(
                Diagnostic::error("blueprint-parameter", file, span, path, format!("parameter {id} accepts any string"))
                    .warning()
                    .hint("add AllowedPattern or AllowedValues so a typo fails at vending time, not half-way through"),
            );
        }
    }
    if errors.is_empty() {
        Ok((t, warnings))
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_built_in_that_redeclares_the_standard_part_is_a_bug_reported_as_such() {
        let mut doc =
            serde_json::json!({"Resources": {"SecurityAuditRole": {"Type": "AWS::SNS::Topic"}}});
        let errs = merge_standard(&mut doc, "blueprints/x.yaml");
        assert_eq!(errs.len(), 1);
        assert_eq!(errs[0].code, "blueprint-standard");
        assert!(errs[0].message.contains("Resources.SecurityAuditRole"));
    }
    use super::*;

    #[test]
    fn builtins_load_without_errors_or_warnings() {
        for name in BUILTIN_NAMES {
            let text = builtin(name).unwrap();
            let (t, warnings) = load(&format!("blueprints/{name}.yaml"), text, true)
                .unwrap_or_else(|e| panic!("{name}: {e:?}"));
            assert!(warnings.is_empty(), "{name}: {warnings:?}");
            for id in ["FlowLog", "SecurityAuditRole", "AccountDefaults", "Vpc"] {
                assert!(
                    t.resources.keys().any(|k| k.as_str() == id),
                    "{name} lacks {id}"
                );
            }
            for (id, p) in &t.parameters {
                assert!(!p.description.is_empty(), "{name}.{id}");
            }
        }
    }

    #[test]
    fn corporate_has_no_internet_gateway_and_internet_only_has_no_attachment() {
        let (corp, _) = load("c", builtin("corporate-network").unwrap(), true).unwrap();
        assert!(corp
            .resources
            .values()
            .all(|r| r.resource_type != "AWS::EC2::InternetGateway"));
        assert!(corp
            .resources
            .values()
            .any(|r| r.resource_type == "AWS::EC2::TransitGatewayAttachment"));
        let (inet, _) = load("i", builtin("internet-only").unwrap(), true).unwrap();
        assert!(inet
            .resources
            .values()
            .all(|r| !r.resource_type.starts_with("AWS::EC2::TransitGateway")));
        let (sandbox, _) = load("s", builtin("sandbox").unwrap(), true).unwrap();
        assert_eq!(
            sandbox
                .parameters
                .iter()
                .find(|(k, _)| k.as_str() == "FlowLogRetentionDays")
                .unwrap()
                .1
                .default
                .as_deref(),
            Some("30")
        );
    }

    #[test]
    fn user_blueprints_are_checked_with_positions() {
        let text = "Resources:\n  Bucket:\n    Type: AWS::S3::Bucket\n    Properties:\n      BucketName: !Ref Missing\nParameters:\n  Free:\n    Type: String\n";
        let errs = load("mine.yaml", text, false).unwrap_err();
        let shown: Vec<String> = errs
            .iter()
            .map(|d| format!("{}:{} {}", d.span.unwrap().line, d.code, d.message))
            .collect();
        assert!(
            shown
                .iter()
                .any(|s| s.starts_with("3:blueprint-template")
                    || s.starts_with("2:blueprint-template")),
            "{shown:?}"
        );
        assert!(
            shown
                .iter()
                .any(|s| s.contains("parameter Free has no Description")),
            "{shown:?}"
        );
    }
}
