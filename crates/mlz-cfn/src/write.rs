//! Writing a template as YAML or JSON text, straight from the typed tree.
//!
//! The template is first seen as a borrowed document (`Doc`): keys and strings point into
//! the template, so writing allocates little more than the output text. (Going through
//! `serde_json::Value` cost a string per key and value and a hash map per mapping: at 20,000
//! resources that was most of the run time.) The YAML rules are those of ADR 2.

use std::fmt::Write as _;

use crate::template::Template;
use crate::value::Value;

/// A document node that borrows from the template.
pub(crate) enum Doc<'a> {
    Str(&'a str),
    Int(i64),
    Bool(bool),
    Json(&'a serde_json::Value),
    List(Vec<Doc<'a>>),
    Map(Vec<(&'a str, Doc<'a>)>),
}

impl<'a> Doc<'a> {
    fn is_block(&self) -> bool {
        match self {
            Doc::List(l) => !l.is_empty(),
            Doc::Map(m) => !m.is_empty(),
            Doc::Json(serde_json::Value::Array(a)) => !a.is_empty(),
            Doc::Json(serde_json::Value::Object(o)) => !o.is_empty(),
            _ => false,
        }
    }
}

fn one<'a>(k: &'a str, v: Doc<'a>) -> Doc<'a> {
    Doc::Map(vec![(k, v)])
}

pub(crate) fn value(v: &Value) -> Doc<'_> {
    match v {
        Value::Bool(b) => Doc::Bool(*b),
        Value::Int(i) => Doc::Int(*i),
        Value::Str(s) => Doc::Str(s),
        Value::List(items) => Doc::List(items.iter().map(value).collect()),
        Value::Map(m) => Doc::Map(m.iter().map(|(k, v)| (k, value(v))).collect()),
        Value::Ref(id) => one("Ref", Doc::Str(id.as_str())),
        Value::Pseudo(p) => one("Ref", Doc::Str(p.name())),
        Value::GetAtt(id, attr) => one(
            "Fn::GetAtt",
            Doc::List(vec![Doc::Str(id.as_str()), Doc::Str(attr)]),
        ),
        Value::Sub(s) => one("Fn::Sub", Doc::Str(s)),
        Value::SubWith(s, vars) => one(
            "Fn::Sub",
            Doc::List(vec![
                Doc::Str(s),
                Doc::Map(vars.iter().map(|(k, v)| (k.as_str(), value(v))).collect()),
            ]),
        ),
        Value::Join(sep, items) => one(
            "Fn::Join",
            Doc::List(vec![
                Doc::Str(sep),
                Doc::List(items.iter().map(value).collect()),
            ]),
        ),
        Value::ImportValue(v) => one("Fn::ImportValue", value(v)),
        Value::If(c, a, b) => one("Fn::If", Doc::List(vec![Doc::Str(c), value(a), value(b)])),
        Value::Equals(a, b) => one("Fn::Equals", Doc::List(vec![value(a), value(b)])),
        Value::Not(c) => one("Fn::Not", Doc::List(vec![value(c)])),
        Value::Condition(c) => one("Condition", Doc::Str(c)),
        Value::Call(f, arg) => one(f.name(), value(arg)),
    }
}

/// The whole template as a document, keys in CloudFormation's customary order.
pub(crate) fn template(t: &Template) -> Doc<'_> {
    let mut top: Vec<(&str, Doc<'_>)> = vec![
        ("AWSTemplateFormatVersion", Doc::Str("2010-09-09")),
        ("Description", Doc::Str(&t.description)),
    ];
    for key in ["Metadata", "Mappings", "Rules"] {
        if let Some((k, v)) = t.extra_sections.get_key_value(key) {
            top.push((k.as_str(), Doc::Json(v)));
        }
    }
    if !t.parameters.is_empty() {
        let ps = t
            .parameters
            .iter()
            .map(|(id, p)| {
                let mut m = vec![
                    ("Type", Doc::Str(p.param_type.name())),
                    ("Description", Doc::Str(&p.description)),
                ];
                if let Some(d) = &p.default {
                    m.push(("Default", Doc::Str(d)));
                }
                if let Some(pat) = &p.allowed_pattern {
                    m.push(("AllowedPattern", Doc::Str(pat)));
                }
                if !p.allowed_values.is_empty() {
                    m.push((
                        "AllowedValues",
                        Doc::List(p.allowed_values.iter().map(|v| Doc::Str(v)).collect()),
                    ));
                }
                if let Some(c) = &p.constraint_description {
                    m.push(("ConstraintDescription", Doc::Str(c)));
                }
                m.extend(p.extra.iter().map(|(k, v)| (k.as_str(), Doc::Json(v))));
                (id.as_str(), Doc::Map(m))
            })
            .collect();
        top.push(("Parameters", Doc::Map(ps)));
    }
    if !t.conditions.is_empty() {
        top.push((
            "Conditions",
            Doc::Map(
                t.conditions
                    .iter()
                    .map(|(k, v)| (k.as_str(), value(v)))
                    .collect(),
            ),
        ));
    }
    let rs = t
        .resources
        .iter()
        .map(|(id, r)| {
            let mut m = vec![("Type", Doc::Str(&r.resource_type))];
            if let Some(c) = &r.condition {
                m.push(("Condition", Doc::Str(c)));
            }
            if !r.depends_on.is_empty() {
                m.push((
                    "DependsOn",
                    Doc::List(r.depends_on.iter().map(|d| Doc::Str(d.as_str())).collect()),
                ));
            }
            if let Some(p) = r.deletion_policy {
                m.push(("DeletionPolicy", Doc::Str(p.name())));
            }
            if let Some(p) = r.update_replace_policy {
                m.push(("UpdateReplacePolicy", Doc::Str(p.name())));
            }
            m.extend(r.extra.iter().map(|(k, v)| (k.as_str(), Doc::Json(v))));
            if !r.properties.is_empty() {
                m.push((
                    "Properties",
                    Doc::Map(r.properties.iter().map(|(k, v)| (k, value(v))).collect()),
                ));
            }
            (id.as_str(), Doc::Map(m))
        })
        .collect();
    top.push(("Resources", Doc::Map(rs)));
    if !t.outputs.is_empty() {
        let os = t
            .outputs
            .iter()
            .map(|(id, o)| {
                let mut m = Vec::new();
                if let Some(c) = &o.condition {
                    m.push(("Condition", Doc::Str(c.as_str())));
                }
                if let Some(d) = &o.description {
                    m.push(("Description", Doc::Str(d)));
                }
                m.push(("Value", value(&o.value)));
                if let Some(e) = &o.export {
                    m.push(("Export", one("Name", value(e))));
                }
                (id.as_str(), Doc::Map(m))
            })
            .collect();
        top.push(("Outputs", Doc::Map(os)));
    }
    Doc::Map(top)
}

// ----------------------------------------------------------------------------- YAML

pub(crate) fn yaml(d: &Doc<'_>) -> String {
    let mut out = String::with_capacity(4096);
    match d {
        Doc::Map(m) if !m.is_empty() => yaml_map(m.iter().map(|(k, v)| (*k, v)), 0, &mut out),
        Doc::List(l) if !l.is_empty() => yaml_list(l.iter(), 0, &mut out),
        Doc::Json(j) if d.is_block() => out.push_str(&crate::yaml::to_yaml(j)),
        other => {
            yaml_scalar(other, &mut out);
            out.push('\n');
        }
    }
    out
}

pub(crate) fn pad(out: &mut String, n: usize) {
    const SPACES: &str = "                                                                ";
    let mut n = n;
    while n > SPACES.len() {
        out.push_str(SPACES);
        n -= SPACES.len();
    }
    out.push_str(&SPACES[..n]);
}

fn yaml_map<'d, 'a: 'd>(
    entries: impl Iterator<Item = (&'d str, &'d Doc<'a>)>,
    indent: usize,
    out: &mut String,
) {
    for (i, (k, v)) in entries.enumerate() {
        if i > 0 {
            pad(out, indent);
        }
        crate::yaml::string(k, out);
        out.push(':');
        yaml_value_after_key(v, indent, out);
    }
}

fn yaml_value_after_key(v: &Doc<'_>, indent: usize, out: &mut String) {
    match v {
        Doc::Map(m) if !m.is_empty() => {
            out.push('\n');
            pad(out, indent + 2);
            yaml_map(m.iter().map(|(k, v)| (*k, v)), indent + 2, out);
        }
        Doc::List(l) if !l.is_empty() => {
            out.push('\n');
            yaml_list(l.iter(), indent + 2, out);
        }
        Doc::Json(j) if v.is_block() => {
            // Passed-through sections: re-indent the JSON value's own YAML.
            out.push('\n');
            let text = crate::yaml::to_yaml(j);
            for line in text.lines() {
                pad(out, indent + 2);
                out.push_str(line);
                out.push('\n');
            }
        }
        Doc::Str(text) if literal_block_ok(text) => {
            out.push(' ');
            literal_block(text, indent + 2, out);
        }
        other => {
            out.push(' ');
            yaml_scalar(other, out);
            out.push('\n');
        }
    }
}

/// Whether a string can be written as a literal block (`|`): several lines of printable
/// text, so that inline code and documents stay readable in the template.
fn literal_block_ok(s: &str) -> bool {
    s.contains('\n')
        && !s.starts_with(' ')
        && !s.starts_with('\n')
        && s.chars()
            .all(|c| c == '\n' || (!c.is_control() && c != '\u{feff}'))
        && s.lines()
            .all(|l| l.is_empty() || !l.chars().all(|c| c == ' '))
}

/// Writes `|` (with the chomping indicator the trailing newlines need) and the lines.
fn literal_block(s: &str, indent: usize, out: &mut String) {
    let trailing = s.len() - s.trim_end_matches('\n').len();
    out.push_str(match trailing {
        0 => "|-",
        1 => "|",
        _ => "|+",
    });
    out.push('\n');
    for line in s.trim_end_matches('\n').split('\n') {
        if !line.is_empty() {
            pad(out, indent);
            out.push_str(line);
        }
        out.push('\n');
    }
    for _ in 1..trailing {
        out.push('\n');
    }
}

fn yaml_list<'d, 'a: 'd>(
    items: impl Iterator<Item = &'d Doc<'a>>,
    indent: usize,
    out: &mut String,
) {
    for item in items {
        pad(out, indent);
        out.push_str("- ");
        match item {
            Doc::Map(m) if !m.is_empty() => {
                yaml_map(m.iter().map(|(k, v)| (*k, v)), indent + 2, out)
            }
            Doc::List(inner) if !inner.is_empty() => {
                out.pop();
                out.push('\n');
                yaml_list(inner.iter(), indent + 2, out);
            }
            Doc::Json(j) if item.is_block() => {
                let text = crate::yaml::to_yaml(j);
                for (n, line) in text.lines().enumerate() {
                    if n > 0 {
                        pad(out, indent + 2);
                    }
                    out.push_str(line);
                    out.push('\n');
                }
            }
            other => {
                yaml_scalar(other, out);
                out.push('\n');
            }
        }
    }
}

fn yaml_scalar(d: &Doc<'_>, out: &mut String) {
    match d {
        Doc::Str(s) => crate::yaml::string(s, out),
        Doc::Int(i) => {
            let _ = write!(out, "{i}");
        }
        Doc::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Doc::Json(j) => out.push_str(crate::yaml::to_yaml(j).trim_end()),
        Doc::List(_) => out.push_str("[]"),
        Doc::Map(_) => out.push_str("{}"),
    }
}

// ----------------------------------------------------------------------------- JSON

/// The document as serde_json sees it: JSON text is serde_json's (its escaping, its pretty
/// layout), written straight from the borrowed tree without a `serde_json::Value`.
impl serde::Serialize for Doc<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Doc::Str(x) => s.serialize_str(x),
            Doc::Int(i) => s.serialize_i64(*i),
            Doc::Bool(b) => s.serialize_bool(*b),
            Doc::Json(j) => serde::Serialize::serialize(*j, s),
            Doc::List(l) => s.collect_seq(l),
            Doc::Map(m) => s.collect_map(m.iter().map(|(k, v)| (*k, v))),
        }
    }
}

/// Pretty JSON in serde_json's layout (two-space indent), with a final newline.
pub(crate) fn json(d: &Doc<'_>) -> String {
    let mut out = serde_json::to_string_pretty(d)
        .expect("a document of strings, numbers, lists and string-keyed maps always serializes");
    out.push('\n');
    out
}

/// Compact JSON, for content hashes.
pub(crate) fn compact(d: &Doc<'_>) -> String {
    serde_json::to_string(d)
        .expect("a document of strings, numbers, lists and string-keyed maps always serializes")
}

/// A string as a JSON string literal (serde_json's escaping), for YAML double-quoted scalars.
pub(crate) fn json_str(s: &str, out: &mut String) {
    out.push_str(&serde_json::to_string(s).expect("a string always serializes"));
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml_of(s: &str) -> String {
        yaml(&Doc::Map(vec![("Code", Doc::Str(s))]))
    }

    #[test]
    fn multi_line_strings_are_literal_blocks_with_the_right_chomping() {
        assert_eq!(yaml_of("a\n  b\n"), "Code: |\n  a\n    b\n");
        assert_eq!(yaml_of("a\nb"), "Code: |-\n  a\n  b\n");
        assert_eq!(yaml_of("a\n\nb\n\n"), "Code: |+\n  a\n\n  b\n\n");
        // Text a literal block cannot hold exactly stays quoted.
        assert_eq!(yaml_of(" lead\nx"), "Code: \" lead\\nx\"\n");
        assert_eq!(yaml_of("tab\there\nx"), "Code: \"tab\\there\\nx\"\n");
        assert_eq!(yaml_of("x\n   \ny"), "Code: \"x\\n   \\ny\"\n");
    }
}
