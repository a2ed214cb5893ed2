//! Property values, with CloudFormation's intrinsic functions as variants.

use std::collections::BTreeMap;

use crate::id::LogicalId;
use crate::map::Map;

/// The pseudo parameters we use. `Ref` to one of these needs no declaration.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Pseudo {
    AccountId,
    Region,
    Partition,
    StackName,
    StackId,
    UrlSuffix,
    NoValue,
    NotificationArns,
}

impl Pseudo {
    pub fn name(self) -> &'static str {
        match self {
            Pseudo::AccountId => "AWS::AccountId",
            Pseudo::Region => "AWS::Region",
            Pseudo::Partition => "AWS::Partition",
            Pseudo::StackName => "AWS::StackName",
            Pseudo::StackId => "AWS::StackId",
            Pseudo::UrlSuffix => "AWS::URLSuffix",
            Pseudo::NoValue => "AWS::NoValue",
            Pseudo::NotificationArns => "AWS::NotificationARNs",
        }
    }

    pub fn from_name(s: &str) -> Option<Pseudo> {
        [
            Pseudo::AccountId,
            Pseudo::Region,
            Pseudo::Partition,
            Pseudo::StackName,
            Pseudo::StackId,
            Pseudo::UrlSuffix,
            Pseudo::NoValue,
            Pseudo::NotificationArns,
        ]
        .into_iter()
        .find(|p| p.name() == s)
    }
}

/// The intrinsic functions that need no special checking: their arguments are walked like
/// any other value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Func {
    Select,
    GetAZs,
    Cidr,
    Split,
    And,
    Or,
    Base64,
    FindInMap,
    Length,
    ToJsonString,
    /// `Fn::Join` whose list is itself an intrinsic (`!Split`, `!GetAZs`, a list parameter):
    /// the argument is `[separator, that intrinsic]`, kept as written. A literal list is
    /// `Value::Join`.
    Join,
}

impl Func {
    pub const ALL: [Func; 11] = [
        Func::Select,
        Func::GetAZs,
        Func::Cidr,
        Func::Split,
        Func::And,
        Func::Or,
        Func::Base64,
        Func::FindInMap,
        Func::Length,
        Func::ToJsonString,
        Func::Join,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Func::Select => "Fn::Select",
            Func::GetAZs => "Fn::GetAZs",
            Func::Cidr => "Fn::Cidr",
            Func::Split => "Fn::Split",
            Func::And => "Fn::And",
            Func::Or => "Fn::Or",
            Func::Base64 => "Fn::Base64",
            Func::FindInMap => "Fn::FindInMap",
            Func::Length => "Fn::Length",
            Func::ToJsonString => "Fn::ToJsonString",
            Func::Join => "Fn::Join",
        }
    }
}

/// A value in a template. Maps are ordered by key so output never depends on insertion order.
#[derive(Clone, Debug, PartialEq)]
pub enum Value {
    Bool(bool),
    Int(i64),
    Str(String),
    List(Vec<Value>),
    Map(Map),
    /// `Ref` to a parameter or a resource of the same template.
    Ref(LogicalId),
    /// `Ref` to a pseudo parameter.
    Pseudo(Pseudo),
    /// `Fn::GetAtt [resource, attribute]`.
    GetAtt(LogicalId, String),
    /// `Fn::Sub` with only implicit variables. `${Name}` references are checked like `Ref`.
    Sub(String),
    /// `Fn::Join [separator, values]`.
    Join(String, Vec<Value>),
    /// `Fn::ImportValue` of an export name.
    ImportValue(Box<Value>),
    /// `Fn::If [condition, then, else]`.
    If(String, Box<Value>, Box<Value>),
    /// `Fn::Equals [a, b]` (in conditions).
    Equals(Box<Value>, Box<Value>),
    /// `Fn::Not [condition]` (in conditions).
    Not(Box<Value>),
    /// `{"Condition": name}` inside a condition expression.
    Condition(String),
    /// `Fn::Sub [string, {Name: value}]`: `${Name}` may also name one of the variables.
    SubWith(String, BTreeMap<String, Value>),
    /// Any other intrinsic function, with its argument.
    Call(Func, Box<Value>),
}

impl Value {
    pub fn str(s: impl Into<String>) -> Value {
        Value::Str(s.into())
    }

    pub fn list_of_str<I, S>(items: I) -> Value
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Value::List(items.into_iter().map(|s| Value::Str(s.into())).collect())
    }

    /// Builds a map from `(key, value)` pairs.
    pub fn map<K: Into<crate::map::Key>>(entries: impl IntoIterator<Item = (K, Value)>) -> Value {
        Value::Map(entries.into_iter().collect())
    }

    /// A `[{Key, Value}]` tag list, in key order.
    pub fn tags<'a>(tags: impl IntoIterator<Item = (&'a String, &'a String)>) -> Value {
        Value::List(
            tags.into_iter()
                .map(|(k, v)| {
                    Value::map([
                        ("Key", Value::str(k.clone())),
                        ("Value", Value::str(v.clone())),
                    ])
                })
                .collect(),
        )
    }

    /// Converts plain JSON (a policy document, say) into a value with no intrinsics. A map
    /// whose one key is `Ref`, `Condition` or `Fn::…` is refused: CloudFormation would run it
    /// as an intrinsic function, past every check of the typed tree (references, partitions).
    /// Write those with the typed variants instead.
    pub fn from_json(v: &serde_json::Value) -> Result<Value, IntrinsicInJson> {
        Ok(match v {
            serde_json::Value::Null => Value::Map(Map::new()),
            serde_json::Value::Bool(b) => Value::Bool(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => Value::Str(n.to_string()),
            },
            serde_json::Value::String(s) => Value::Str(s.clone()),
            serde_json::Value::Array(a) => {
                Value::List(a.iter().map(Value::from_json).collect::<Result<_, _>>()?)
            }
            serde_json::Value::Object(o) => {
                if let (1, Some(k)) = (o.len(), o.keys().next()) {
                    if k == "Ref" || k == "Condition" || k.starts_with("Fn::") {
                        return Err(IntrinsicInJson(k.clone()));
                    }
                }
                Value::Map(
                    o.iter()
                        .map(|(k, v)| Ok((k.clone(), Value::from_json(v)?)))
                        .collect::<Result<Map, IntrinsicInJson>>()?,
                )
            }
        })
    }

    /// Calls `f` on this value and every value inside it.
    pub fn walk<'a>(&'a self, f: &mut impl FnMut(&'a Value)) {
        f(self);
        match self {
            Value::List(items) | Value::Join(_, items) => items.iter().for_each(|v| v.walk(f)),
            Value::Map(m) => m.values().for_each(|v| v.walk(f)),
            Value::ImportValue(v) | Value::Not(v) | Value::Call(_, v) => v.walk(f),
            Value::SubWith(_, vars) => vars.values().for_each(|v| v.walk(f)),
            Value::If(_, a, b) | Value::Equals(a, b) => {
                a.walk(f);
                b.walk(f);
            }
            Value::Bool(_)
            | Value::Int(_)
            | Value::Str(_)
            | Value::Ref(_)
            | Value::Pseudo(_)
            | Value::GetAtt(..)
            | Value::Sub(_)
            | Value::Condition(_) => {}
        }
    }

    /// Calls `f` on this value and every value inside it, children after their parent (so
    /// `f` may replace a value, and then visits what it put there).
    pub fn walk_mut(&mut self, f: &mut impl FnMut(&mut Value)) {
        f(self);
        match self {
            Value::List(items) | Value::Join(_, items) => {
                items.iter_mut().for_each(|v| v.walk_mut(f))
            }
            Value::Map(m) => m.values_mut().for_each(|v| v.walk_mut(f)),
            Value::ImportValue(v) | Value::Not(v) | Value::Call(_, v) => v.walk_mut(f),
            Value::SubWith(_, vars) => vars.values_mut().for_each(|v| v.walk_mut(f)),
            Value::If(_, a, b) | Value::Equals(a, b) => {
                a.walk_mut(f);
                b.walk_mut(f);
            }
            Value::Bool(_)
            | Value::Int(_)
            | Value::Str(_)
            | Value::Ref(_)
            | Value::Pseudo(_)
            | Value::GetAtt(..)
            | Value::Sub(_)
            | Value::Condition(_) => {}
        }
    }

    /// Compact JSON text of the value: the bytes of `to_json().to_string()` (tested), without
    /// building the `serde_json::Value` first. For content hashes.
    pub fn compact_json(&self) -> String {
        crate::write::compact(&crate::write::value(self))
    }

    /// The JSON form CloudFormation reads (long-form intrinsics, `{"Ref": …}`).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::{json, Value as J};
        match self {
            Value::Bool(b) => J::Bool(*b),
            Value::Int(i) => J::from(*i),
            Value::Str(s) => J::String(s.clone()),
            Value::List(items) => J::Array(items.iter().map(Value::to_json).collect()),
            Value::Map(m) => {
                J::Object(m.iter().map(|(k, v)| (k.to_owned(), v.to_json())).collect())
            }
            Value::Ref(id) => json!({ "Ref": id.as_str() }),
            Value::Pseudo(p) => json!({ "Ref": p.name() }),
            Value::GetAtt(id, attr) => json!({ "Fn::GetAtt": [id.as_str(), attr] }),
            Value::Sub(s) => json!({ "Fn::Sub": s }),
            Value::Join(sep, items) => {
                json!({ "Fn::Join": [sep, items.iter().map(Value::to_json).collect::<Vec<_>>()] })
            }
            Value::ImportValue(v) => json!({ "Fn::ImportValue": v.to_json() }),
            Value::If(c, a, b) => json!({ "Fn::If": [c, a.to_json(), b.to_json()] }),
            Value::Equals(a, b) => json!({ "Fn::Equals": [a.to_json(), b.to_json()] }),
            Value::Not(c) => json!({ "Fn::Not": [c.to_json()] }),
            Value::Condition(c) => json!({ "Condition": c }),
            Value::SubWith(s, vars) => {
                let vars: serde_json::Map<String, J> =
                    vars.iter().map(|(k, v)| (k.clone(), v.to_json())).collect();
                json!({ "Fn::Sub": [s, vars] })
            }
            Value::Call(func, arg) => json!({ func.name(): arg.to_json() }),
        }
    }
}

impl From<&str> for Value {
    fn from(s: &str) -> Value {
        Value::Str(s.to_owned())
    }
}

impl From<String> for Value {
    fn from(s: String) -> Value {
        Value::Str(s)
    }
}

impl From<bool> for Value {
    fn from(b: bool) -> Value {
        Value::Bool(b)
    }
}

/// The `${Name}` references in a `Fn::Sub` string, without `${!literal}` escapes and
/// without dotted `${Resource.Attribute}` forms split (the caller handles the dot).
pub(crate) fn sub_references(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut rest = s;
    while let Some(start) = rest.find("${") {
        let after = &rest[start + 2..];
        let Some(end) = after.find('}') else { break };
        let name = &after[..end];
        if !name.starts_with('!') {
            out.push(name);
        }
        rest = &after[end + 1..];
    }
    out
}

/// A map in plain JSON that CloudFormation would read as an intrinsic function (its key).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IntrinsicInJson(pub String);

impl std::fmt::Display for IntrinsicInJson {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "a map with the one key {:?}, which CloudFormation would run as an intrinsic function",
            self.0
        )
    }
}

impl std::error::Error for IntrinsicInJson {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_json_cannot_smuggle_intrinsics() {
        let ok = serde_json::json!({"Statement": [{"Effect": "Allow", "Condition": {"Bool": {"aws:SecureTransport": "true"}}, "Action": "s3:*"}]});
        assert!(Value::from_json(&ok).is_ok());
        for bad in [
            serde_json::json!({"a": {"Ref": "X"}}),
            serde_json::json!([{"Fn::Sub": "arn:aws:iam::${AWS::AccountId}:root"}]),
            serde_json::json!({"Condition": "IsProd"}),
        ] {
            assert!(Value::from_json(&bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn sub_references_skip_escapes() {
        assert_eq!(
            sub_references("arn:${AWS::Partition}:x:${Foo.Arn}/${!Literal}"),
            vec!["AWS::Partition", "Foo.Arn"]
        );
        assert!(sub_references("no refs").is_empty());
    }

    #[test]
    fn compact_json_is_serde_jsons_text() {
        let id = LogicalId::new("Bucket").unwrap();
        let v = Value::map([
            ("Plain", Value::str("a\"b\\c\nd\te\u{1}f\u{7f}g é")),
            ("Int", Value::Int(-42)),
            ("Bool", Value::Bool(true)),
            ("Empty", Value::List(vec![])),
            ("EmptyMap", Value::Map(Map::new())),
            ("Ref", Value::Ref(id.clone())),
            ("Pseudo", Value::Pseudo(Pseudo::Region)),
            ("GetAtt", Value::GetAtt(id, "Arn".into())),
            ("Sub", Value::Sub("x-${AWS::Region}".into())),
            (
                "SubWith",
                Value::SubWith(
                    "${B}${A}".into(),
                    [
                        ("B".to_string(), Value::Int(1)),
                        ("A".into(), Value::str("a")),
                    ]
                    .into(),
                ),
            ),
            ("Join", Value::Join(",".into(), vec![Value::str("x")])),
            ("Import", Value::ImportValue(Box::new(Value::str("e")))),
            (
                "If",
                Value::If("C".into(), Box::new(Value::Int(1)), Box::new(Value::Int(2))),
            ),
            (
                "Call",
                Value::Call(Func::Select, Box::new(Value::List(vec![Value::Int(0)]))),
            ),
        ]);
        assert_eq!(v.compact_json(), v.to_json().to_string());
    }
}
