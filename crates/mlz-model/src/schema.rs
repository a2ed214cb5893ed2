//! The config language's JSON Schema, and schema errors turned into diagnostics.
//!
//! The schema (schema/platform.schema.json) is the one written definition of the config's
//! shape: `mlz schema` prints it for editors, and validation runs it first. It avoids
//! `oneOf`/`anyOf` on purpose: their failures explain nothing a person can act on.

use std::sync::OnceLock;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::Validator;
use serde_json::Value;

use crate::diag::{did_you_mean, Diagnostic};
use crate::path::{ConfigPath, Segment};
use crate::yaml::Node;

/// The schema text, exactly as committed.
pub const SCHEMA_TEXT: &str = include_str!("../schema/platform.schema.json");

fn schema() -> &'static Value {
    static S: OnceLock<Value> = OnceLock::new();
    S.get_or_init(|| serde_json::from_str(SCHEMA_TEXT).unwrap_or(Value::Null))
}

fn validator() -> Option<&'static Validator> {
    static V: OnceLock<Option<Validator>> = OnceLock::new();
    V.get_or_init(|| jsonschema::draft202012::new(schema()).ok())
        .as_ref()
}

/// Validates the document and returns one diagnostic per problem.
pub fn validate(file: &str, root: &Node, doc: &Value) -> Vec<Diagnostic> {
    let Some(v) = validator() else {
        return vec![Diagnostic::error(
            "internal",
            file,
            None,
            ConfigPath::root(),
            "the built-in schema does not compile",
        )];
    };
    let mut out = Vec::new();
    for e in v.iter_errors(doc) {
        let path = ConfigPath::from_pointer(e.instance_path().as_str());
        let sub = schema_at(&path);
        let expected = sub.and_then(describe);
        match e.kind() {
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                let allowed: Vec<&str> = sub
                    .map(deref)
                    .and_then(|s| s.get("properties"))
                    .and_then(Value::as_object)
                    .map(|m| m.keys().map(String::as_str).collect())
                    .unwrap_or_default();
                for key in unexpected {
                    let p = path.key(key);
                    let d = Diagnostic::error(
                        "unknown-key",
                        file,
                        Some(root.key_span_of(&p)),
                        p,
                        format!("unknown key `{key}`"),
                    )
                    .expected(format!("one of: {}", allowed.join(", ")))
                    .maybe_hint(did_you_mean(key, allowed.iter().copied()));
                    out.push(d);
                }
            }
            ValidationErrorKind::Required { property } => {
                let prop = property.as_str().unwrap_or_default();
                let what = sub
                    .map(deref)
                    .and_then(|s| s.get("properties"))
                    .and_then(|p| p.get(prop))
                    .and_then(describe);
                let d = Diagnostic::error(
                    "missing-key",
                    file,
                    Some(root.span_of(&path)),
                    path.clone(),
                    format!("missing required key `{prop}`"),
                )
                .maybe_hint(what.map(|w| format!("`{prop}`: {w}")));
                out.push(d);
            }
            ValidationErrorKind::Type { kind } => {
                let want = match kind {
                    TypeKind::Single(t) => article(&t.to_string()),
                    TypeKind::Multiple(ts) => format!("{ts:?}"),
                };
                let found = json_kind(e.instance());
                let mut d = Diagnostic::error(
                    "wrong-type",
                    file,
                    Some(root.span_of(&path)),
                    path.clone(),
                    format!("expected {want}, found {found}"),
                )
                .maybe_hint(expected.clone().map(|x| format!("this is {x}")));
                if want == "a string" && e.instance().is_number() {
                    d = d.hint("quote the value (\"...\") so YAML reads it as text; unquoted digits lose leading zeros");
                }
                out.push(d);
            }
            ValidationErrorKind::Enum { options } => {
                let opts: Vec<&str> = options
                    .as_array()
                    .map(|a| a.iter().filter_map(Value::as_str).collect())
                    .unwrap_or_default();
                let got = e
                    .instance()
                    .as_str()
                    .map_or_else(|| e.instance().to_string(), ToOwned::to_owned);
                let d = Diagnostic::error(
                    "unknown-value",
                    file,
                    Some(root.span_of(&path)),
                    path.clone(),
                    format!("`{got}` is not allowed here"),
                )
                .expected(format!("one of: {}", opts.join(", ")))
                .maybe_hint(did_you_mean(&got, opts.iter().copied()));
                out.push(d);
            }
            ValidationErrorKind::Pattern { .. } => {
                let got = e.instance().as_str().unwrap_or_default();
                let want = sub
                    .and_then(|s| {
                        s.get("patternErrorMessage")
                            .or_else(|| resolve_ref(s).and_then(|r| r.get("patternErrorMessage")))
                    })
                    .and_then(Value::as_str)
                    .map(ToOwned::to_owned)
                    .or(expected.clone());
                let mut d = Diagnostic::error(
                    "bad-format",
                    file,
                    Some(root.span_of(&path)),
                    path.clone(),
                    format!("`{got}` has the wrong format"),
                );
                if let Some(w) = want {
                    d = d.expected(w);
                }
                out.push(d);
            }
            ValidationErrorKind::Constant { expected_value } => {
                out.push(
                    Diagnostic::error(
                        "unknown-value",
                        file,
                        Some(root.span_of(&path)),
                        path.clone(),
                        format!("expected {expected_value}, found {}", e.instance()),
                    )
                    .maybe_hint(expected.clone()),
                );
            }
            _ => {
                let mut d = Diagnostic::error(
                    "invalid",
                    file,
                    Some(root.span_of(&path)),
                    path.clone(),
                    e.to_string(),
                );
                if let Some(x) = expected {
                    d = d.expected(x);
                }
                out.push(d);
            }
        }
    }
    out
}

fn article(t: &str) -> String {
    match t {
        "object" => "a mapping".into(),
        "array" => "a list".into(),
        "integer" => "an integer".into(),
        other => format!("a {other}"),
    }
}

fn json_kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing (null)",
        Value::Bool(_) => "true/false",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "a mapping",
    }
}

/// Follows a local `$ref` (`#/$defs/x`).
fn resolve_ref(s: &Value) -> Option<&'static Value> {
    let r = s.get("$ref")?.as_str()?.strip_prefix('#')?;
    schema().pointer(r)
}

fn deref(s: &'static Value) -> &'static Value {
    let mut cur = s;
    for _ in 0..8 {
        match resolve_ref(cur) {
            Some(next) => cur = next,
            None => break,
        }
    }
    cur
}

/// The sub-schema that describes the value at `path`.
fn schema_at(path: &ConfigPath) -> Option<&'static Value> {
    // `cur` stays the raw sub-schema, so a description written beside a `$ref` is kept;
    // navigation goes through the `$ref`.
    let mut cur = schema();
    for seg in path.segments() {
        let base = deref(cur);
        cur = match seg {
            Segment::Key(k) => base
                .get("properties")
                .and_then(|p| p.get(k.as_str()))
                .or_else(|| base.get("additionalProperties").filter(|a| a.is_object()))?,
            Segment::Index(_) => base.get("items")?,
        };
    }
    Some(cur)
}

/// A one-line description of a sub-schema, for "expected" lines.
fn describe(s: &Value) -> Option<String> {
    s.get("description")
        .or_else(|| resolve_ref(s).and_then(|r| r.get("description")))
        .and_then(Value::as_str)
        .map(|d| {
            d.split(". ")
                .next()
                .unwrap_or(d)
                .trim_end_matches('.')
                .to_owned()
        })
}
