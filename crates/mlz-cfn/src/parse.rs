//! Reading a template written by someone else (a blueprint file) into the typed tree, so
//! that it is checked and rendered exactly like the templates mlz builds itself.
//!
//! The input is the JSON form of the template (YAML is converted by the caller, with the
//! short-form tags such as `!Ref` already expanded to their long form). Every problem is
//! collected, each with the path of keys that leads to it.

use std::collections::BTreeSet;

use serde_json::Value as J;

use crate::id::LogicalId;
use crate::map::Map;
use crate::template::{DeletionPolicy, Output, ParamType, Parameter, Resource, Template};
use crate::value::{Func, Pseudo, Value};

/// A problem in a template file: where (keys from the top of the document) and what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseError {
    pub path: Vec<String>,
    pub message: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.join("."), self.message)
    }
}

struct Ctx {
    errors: Vec<ParseError>,
    path: Vec<String>,
}

impl Ctx {
    fn err(&mut self, message: impl Into<String>) {
        self.errors.push(ParseError {
            path: self.path.clone(),
            message: message.into(),
        });
    }

    fn at<T>(&mut self, key: &str, f: impl FnOnce(&mut Ctx) -> T) -> T {
        self.path.push(key.to_owned());
        let r = f(self);
        self.path.pop();
        r
    }

    fn id(&mut self, s: &str) -> Option<LogicalId> {
        match LogicalId::new(s) {
            Ok(id) => Some(id),
            Err(e) => {
                self.err(e.to_string());
                None
            }
        }
    }
}

const SECTIONS: &[&str] = &[
    "AWSTemplateFormatVersion",
    "Description",
    "Metadata",
    "Parameters",
    "Mappings",
    "Conditions",
    "Rules",
    "Resources",
    "Outputs",
];

/// Reads a template. Returns it with every problem found (an empty list means it is usable).
pub fn parse_template(doc: &J) -> (Template, Vec<ParseError>) {
    let mut cx = Ctx {
        errors: Vec::new(),
        path: Vec::new(),
    };
    let mut t = Template::default();
    let Some(top) = doc.as_object() else {
        cx.err("a template must be a mapping with a Resources section");
        return (t, cx.errors);
    };
    for key in top.keys() {
        if !SECTIONS.contains(&key.as_str()) {
            let msg = if key == "Transform" {
                "transforms (SAM, macros) are not supported: the template must be plain CloudFormation".to_owned()
            } else {
                format!("unknown template section {key:?}")
            };
            cx.at(key, |cx| cx.err(msg));
        }
    }
    if let Some(v) = top.get("AWSTemplateFormatVersion") {
        if v.as_str() != Some("2010-09-09") {
            cx.at("AWSTemplateFormatVersion", |cx| {
                cx.err("the only template format version is \"2010-09-09\"")
            });
        }
    }
    match top.get("Description") {
        Some(J::String(d)) => t.description = d.clone(),
        Some(_) => cx.at("Description", |cx| cx.err("Description must be a string")),
        None => {}
    }
    for key in ["Metadata", "Mappings", "Rules"] {
        if let Some(v) = top.get(key) {
            t.extra_sections.insert(key.to_owned(), v.clone());
        }
    }
    if let Some(ps) = top.get("Parameters") {
        cx.at("Parameters", |cx| parameters(cx, ps, &mut t));
    }
    if let Some(cs) = top.get("Conditions") {
        cx.at("Conditions", |cx| match cs.as_object() {
            Some(m) => {
                for (name, c) in m {
                    let v = cx.at(name, |cx| value(cx, c));
                    t.conditions.insert(name.clone(), v);
                }
            }
            None => cx.err("Conditions must be a mapping"),
        });
    }
    match top.get("Resources") {
        Some(rs) => cx.at("Resources", |cx| resources(cx, rs, &mut t)),
        None => cx.err("the template has no Resources section"),
    }
    if let Some(os) = top.get("Outputs") {
        cx.at("Outputs", |cx| outputs(cx, os, &mut t));
    }
    (t, cx.errors)
}

fn string_of(v: &J) -> Option<String> {
    match v {
        J::String(s) => Some(s.clone()),
        J::Number(n) => Some(n.to_string()),
        J::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn parameters(cx: &mut Ctx, ps: &J, t: &mut Template) {
    let Some(m) = ps.as_object() else {
        cx.err("Parameters must be a mapping");
        return;
    };
    for (name, p) in m {
        cx.at(name, |cx| {
            let Some(id) = cx.id(name) else { return };
            let Some(p) = p.as_object() else {
                cx.err("a parameter must be a mapping");
                return;
            };
            let Some(ty) = p.get("Type").and_then(J::as_str) else {
                cx.err("the parameter has no Type");
                return;
            };
            let mut param = Parameter::string(String::new());
            param.param_type = ParamType::from_name(ty);
            for (k, v) in p {
                match k.as_str() {
                    "Type" => {}
                    "Description" => param.description = string_of(v).unwrap_or_default(),
                    "Default" => param.default = string_of(v),
                    "AllowedPattern" => param.allowed_pattern = string_of(v),
                    "ConstraintDescription" => param.constraint_description = string_of(v),
                    "AllowedValues" => match v.as_array() {
                        Some(a) => param.allowed_values = a.iter().filter_map(string_of).collect(),
                        None => cx.at(k, |cx| cx.err("AllowedValues must be a list")),
                    },
                    "MinLength" | "MaxLength" | "MinValue" | "MaxValue" | "NoEcho" => {
                        param.extra.insert(k.clone(), v.clone());
                    }
                    other => cx.at(other, |cx| {
                        cx.err(format!("unknown parameter key {other:?}"))
                    }),
                }
            }
            // Parameters are read first, from a mapping: no id is taken yet.
            t.add_parameter(id, param)
                .expect("parameters are added first, each key once");
        });
    }
}

fn policy(cx: &mut Ctx, v: &J) -> Option<DeletionPolicy> {
    match v.as_str() {
        Some("Delete") => Some(DeletionPolicy::Delete),
        Some("Retain") => Some(DeletionPolicy::Retain),
        Some("Snapshot") => Some(DeletionPolicy::Snapshot),
        Some("RetainExceptOnCreate") => Some(DeletionPolicy::RetainExceptOnCreate),
        _ => {
            cx.err("expected Delete, Retain, Snapshot or RetainExceptOnCreate");
            None
        }
    }
}

fn resources(cx: &mut Ctx, rs: &J, t: &mut Template) {
    let Some(m) = rs.as_object() else {
        cx.err("Resources must be a mapping");
        return;
    };
    for (name, r) in m {
        cx.at(name, |cx| {
            let Some(id) = cx.id(name) else { return };
            let Some(r) = r.as_object() else {
                cx.err("a resource must be a mapping");
                return;
            };
            let Some(ty) = r.get("Type").and_then(J::as_str) else {
                cx.err("the resource has no Type");
                return;
            };
            let mut res = Resource::new(ty);
            for (k, v) in r {
                match k.as_str() {
                    "Type" => {}
                    "Properties" => cx.at(k, |cx| match v.as_object() {
                        Some(props) => {
                            for (pk, pv) in props {
                                let pv = cx.at(pk, |cx| value(cx, pv));
                                res.properties.insert(pk.clone(), pv);
                            }
                        }
                        None => cx.err("Properties must be a mapping"),
                    }),
                    "DependsOn" => cx.at(k, |cx| {
                        let names: Vec<&str> = match v {
                            J::String(s) => vec![s.as_str()],
                            J::Array(a) => a.iter().filter_map(J::as_str).collect(),
                            _ => {
                                cx.err("DependsOn must be a name or a list of names");
                                Vec::new()
                            }
                        };
                        for n in names {
                            if let Some(d) = cx.id(n) {
                                res.depends_on.insert(d);
                            }
                        }
                    }),
                    "Condition" => res.condition = v.as_str().map(ToOwned::to_owned),
                    "DeletionPolicy" => res.deletion_policy = cx.at(k, |cx| policy(cx, v)),
                    "UpdateReplacePolicy" => {
                        res.update_replace_policy = cx.at(k, |cx| policy(cx, v))
                    }
                    "Metadata" | "CreationPolicy" | "UpdatePolicy" => {
                        res.extra.insert(k.clone(), v.clone());
                    }
                    other => cx.at(other, |cx| {
                        cx.err(format!("unknown resource attribute {other:?}"))
                    }),
                }
            }
            if t.add_resource(id, res).is_err() {
                cx.err("the id is also used by a parameter");
            }
        });
    }
}

fn outputs(cx: &mut Ctx, os: &J, t: &mut Template) {
    let Some(m) = os.as_object() else {
        cx.err("Outputs must be a mapping");
        return;
    };
    for (name, o) in m {
        cx.at(name, |cx| {
            let Some(id) = cx.id(name) else { return };
            let Some(o) = o.as_object() else {
                cx.err("an output must be a mapping");
                return;
            };
            let Some(v) = o.get("Value") else {
                cx.err("the output has no Value");
                return;
            };
            let val = cx.at("Value", |cx| value(cx, v));
            let export = o
                .get("Export")
                .and_then(|e| e.get("Name"))
                .map(|n| cx.at("Export", |cx| value(cx, n)));
            let out = Output {
                description: o.get("Description").and_then(string_of),
                value: val,
                export,
                condition: o
                    .get("Condition")
                    .and_then(J::as_str)
                    .map(ToOwned::to_owned),
            };
            // Outputs have a namespace of their own, and a mapping holds each key once.
            t.add_output(id, out)
                .expect("each output key of a mapping is added once");
        });
    }
}

/// A property value, with intrinsic functions recognised.
/// JSON written with intrinsic functions (`{"Fn::Sub": …}`, `{"Ref": …}`) as a typed value,
/// each intrinsic read and checked as in a template. For JSON that mlz itself writes with
/// `json!`; plain JSON (a policy) goes through `Value::from_json`, which refuses intrinsics.
pub fn parse_value(v: &J) -> Result<Value, Vec<ParseError>> {
    let mut cx = Ctx {
        errors: Vec::new(),
        path: Vec::new(),
    };
    let out = value(&mut cx, v);
    if cx.errors.is_empty() {
        Ok(out)
    } else {
        Err(cx.errors)
    }
}

fn value(cx: &mut Ctx, v: &J) -> Value {
    match v {
        J::Null => Value::Map(Map::new()),
        J::Bool(b) => Value::Bool(*b),
        J::Number(n) => n
            .as_i64()
            .map_or_else(|| Value::Str(n.to_string()), Value::Int),
        J::String(s) => Value::Str(s.clone()),
        J::Array(a) => Value::List(
            a.iter()
                .enumerate()
                .map(|(i, x)| cx.at(&i.to_string(), |cx| value(cx, x)))
                .collect(),
        ),
        J::Object(m) => {
            if m.len() == 1 {
                let (k, arg) = m
                    .iter()
                    .next()
                    .map(|(k, a)| (k.as_str(), a))
                    .unwrap_or(("", &J::Null));
                if k == "Ref" || k == "Condition" || k.starts_with("Fn::") {
                    return cx.at(k, |cx| intrinsic(cx, k, arg));
                }
            }
            Value::Map(
                m.iter()
                    .map(|(k, x)| (k.clone(), cx.at(k, |cx| value(cx, x))))
                    .collect(),
            )
        }
    }
}

fn two<'a>(cx: &mut Ctx, arg: &'a J, what: &str) -> Option<(&'a J, &'a J)> {
    match arg.as_array().map(Vec::as_slice) {
        Some([a, b]) => Some((a, b)),
        _ => {
            cx.err(format!("{what} takes a list of two items"));
            None
        }
    }
}

fn intrinsic(cx: &mut Ctx, name: &str, arg: &J) -> Value {
    let bad = Value::Map(Map::new());
    match name {
        "Ref" => match arg.as_str() {
            Some(s) if s.starts_with("AWS::") => match Pseudo::from_name(s) {
                Some(p) => Value::Pseudo(p),
                None => {
                    cx.err(format!("unknown pseudo parameter {s:?}"));
                    bad
                }
            },
            Some(s) => cx.id(s).map_or(bad, Value::Ref),
            None => {
                cx.err("Ref takes a name");
                bad
            }
        },
        "Condition" => match arg.as_str() {
            Some(s) => Value::Condition(s.to_owned()),
            None => {
                cx.err("Condition takes a name");
                bad
            }
        },
        "Fn::GetAtt" => {
            let parts: Option<(String, String)> = match arg {
                J::String(s) => s.split_once('.').map(|(a, b)| (a.to_owned(), b.to_owned())),
                J::Array(a) if a.len() == 2 => match (a[0].as_str(), a[1].as_str()) {
                    (Some(r), Some(at)) => Some((r.to_owned(), at.to_owned())),
                    _ => None,
                },
                _ => None,
            };
            match parts {
                Some((r, at)) => cx.id(&r).map_or(bad, |id| Value::GetAtt(id, at)),
                None => {
                    cx.err("Fn::GetAtt takes [resource, attribute] or \"resource.attribute\"");
                    bad
                }
            }
        }
        "Fn::Sub" => match arg {
            J::String(s) => Value::Sub(s.clone()),
            J::Array(a) if a.len() == 2 && a[0].is_string() && a[1].is_object() => {
                let s = a[0].as_str().unwrap_or_default().to_owned();
                let vars = a[1]
                    .as_object()
                    .map(|m| {
                        m.iter()
                            .map(|(k, x)| (k.clone(), cx.at(k, |cx| value(cx, x))))
                            .collect()
                    })
                    .unwrap_or_default();
                Value::SubWith(s, vars)
            }
            _ => {
                cx.err("Fn::Sub takes a string or [string, {variables}]");
                bad
            }
        },
        "Fn::Join" => match two(cx, arg, "Fn::Join") {
            Some((J::String(sep), J::Array(items))) => {
                Value::Join(sep.clone(), items.iter().map(|x| value(cx, x)).collect())
            }
            Some((J::String(sep), other)) => {
                // A list-valued intrinsic (Fn::Split, Fn::GetAZs, Ref to a list parameter) as
                // the list: kept as the list, not wrapped in one.
                Value::Call(
                    Func::Join,
                    Box::new(Value::List(vec![
                        Value::str(sep.as_str()),
                        value(cx, other),
                    ])),
                )
            }
            Some(_) => {
                cx.err("Fn::Join takes [separator, [values]]");
                bad
            }
            None => bad,
        },
        "Fn::ImportValue" => Value::ImportValue(Box::new(value(cx, arg))),
        "Fn::If" => match arg.as_array().map(Vec::as_slice) {
            Some([J::String(c), a, b]) => {
                Value::If(c.clone(), Box::new(value(cx, a)), Box::new(value(cx, b)))
            }
            _ => {
                cx.err("Fn::If takes [condition, value if true, value if false]");
                bad
            }
        },
        "Fn::Equals" => match two(cx, arg, "Fn::Equals") {
            Some((a, b)) => Value::Equals(Box::new(value(cx, a)), Box::new(value(cx, b))),
            None => bad,
        },
        "Fn::Not" => match arg.as_array().map(Vec::as_slice) {
            Some([c]) => Value::Not(Box::new(value(cx, c))),
            _ => {
                cx.err("Fn::Not takes [condition]");
                bad
            }
        },
        other => match Func::ALL.iter().find(|f| f.name() == other) {
            Some(f) => Value::Call(*f, Box::new(value(cx, arg))),
            None => {
                cx.err(format!("unknown intrinsic function {other:?}"));
                bad
            }
        },
    }
}

/// The ids a template's `Ref`s and `GetAtt`s point at (for callers that check more).
pub fn referenced_ids(t: &Template) -> BTreeSet<LogicalId> {
    let mut out = BTreeSet::new();
    for r in t.resources.values() {
        for v in r.properties.values() {
            v.walk(&mut |v| match v {
                Value::Ref(id) | Value::GetAtt(id, _) => {
                    out.insert(id.clone());
                }
                _ => {}
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn reads_and_round_trips_a_template() {
        let doc = json!({
            "AWSTemplateFormatVersion": "2010-09-09",
            "Description": "d",
            "Parameters": { "Cidr": { "Type": "String", "Description": "c", "Default": "10.0.0.0/16" } },
            "Conditions": { "Three": { "Fn::Equals": [{ "Ref": "AWS::Region" }, "eu-west-1"] } },
            "Resources": {
                "Vpc": { "Type": "AWS::EC2::VPC", "Properties": { "CidrBlock": { "Ref": "Cidr" } } },
                "Subnet": {
                    "Type": "AWS::EC2::Subnet",
                    "Condition": "Three",
                    "Properties": {
                        "VpcId": { "Ref": "Vpc" },
                        "AvailabilityZone": { "Fn::Select": [0, { "Fn::GetAZs": "" }] },
                        "CidrBlock": { "Fn::Select": [0, { "Fn::Cidr": [{ "Fn::GetAtt": ["Vpc", "CidrBlock"] }, 3, 8] }] },
                        "Tags": [{ "Key": "Name", "Value": { "Fn::Sub": ["${X}-a", { "X": { "Ref": "AWS::StackName" } }] } }]
                    }
                }
            },
            "Outputs": { "VpcId": { "Value": { "Ref": "Vpc" }, "Export": { "Name": { "Fn::Sub": "${AWS::StackName}-vpc" } } } }
        });
        let (t, errs) = parse_template(&doc);
        assert!(errs.is_empty(), "{errs:?}");
        assert!(t.check().is_empty(), "{:?}", t.check());
        assert_eq!(
            t.to_json(),
            doc,
            "the typed tree renders back to the same document"
        );
    }

    #[test]
    fn a_join_of_a_list_valued_intrinsic_keeps_the_list_as_written() {
        // Was wrapped in a list of its own ([[Fn::Split]]), which CloudFormation rejects.
        let doc = json!({
            "Parameters": { "Ids": { "Type": "String", "Description": "ids" } },
            "Resources": {
                "Topic": {
                    "Type": "AWS::SNS::Topic",
                    "Properties": {
                        "DisplayName": { "Fn::Join": ["-", { "Fn::Split": [",", { "Ref": "Ids" }] }] },
                        "TopicName": { "Fn::Join": ["-", [{ "Ref": "Ids" }, "x"]] }
                    }
                }
            }
        });
        let (t, errs) = parse_template(&doc);
        assert!(errs.is_empty(), "{errs:?}");
        let back = t.to_json();
        assert_eq!(
            back["Resources"]["Topic"]["Properties"],
            doc["Resources"]["Topic"]["Properties"]
        );
    }

    #[test]
    fn reports_every_problem_with_its_path() {
        let doc = json!({
            "Transform": "AWS::Serverless-2016-10-31",
            "Resources": {
                "bad-id": { "Type": "AWS::S3::Bucket" },
                "NoType": { "Properties": {} },
                "B": { "Type": "AWS::S3::Bucket", "Properties": { "X": { "Fn::Nope": 1 }, "Y": { "Ref": "AWS::Nope" } } }
            }
        });
        let (_, errs) = parse_template(&doc);
        let shown: Vec<String> = errs.iter().map(ToString::to_string).collect();
        assert_eq!(shown.len(), 5, "{shown:?}");
        assert!(shown.iter().any(|e| e.starts_with("Transform: transforms")));
        assert!(shown.iter().any(|e| e.starts_with("Resources.bad-id:")));
        assert!(shown
            .iter()
            .any(|e| e.starts_with("Resources.NoType: the resource has no Type")));
        assert!(shown
            .iter()
            .any(|e| e.starts_with("Resources.B.Properties.X.Fn::Nope: unknown intrinsic")));
        assert!(shown
            .iter()
            .any(|e| e.starts_with("Resources.B.Properties.Y.Ref: unknown pseudo parameter")));
    }
}
