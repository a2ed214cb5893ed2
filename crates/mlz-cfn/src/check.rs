//! Checks a template before it is written: every reference resolves and every limit holds.

use std::fmt;

use crate::id::LogicalId;
use crate::limits;
use crate::template::Template;
use crate::value::{sub_references, Value};

/// One problem found in a template. `at` names the resource, output or condition it is in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CheckError {
    pub at: String,
    pub kind: CheckErrorKind,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CheckErrorKind {
    /// `Ref` (or a `${Name}` in `Fn::Sub`) to something the template does not declare.
    UnresolvedRef(String),
    /// `Fn::GetAtt` on a resource the template does not declare.
    UnresolvedGetAtt(String),
    /// `DependsOn` a resource the template does not declare.
    UnresolvedDependsOn(LogicalId),
    /// `Fn::If`, `Condition` or a resource's `Condition` names an undeclared condition.
    UnknownCondition(String),
    NoResources,
    TooMany {
        what: &'static str,
        count: usize,
        limit: usize,
    },
    DescriptionTooLong(usize),
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            CheckErrorKind::UnresolvedRef(t) => write!(f, "{}: Ref to undeclared {t:?}", self.at),
            CheckErrorKind::UnresolvedGetAtt(t) => {
                write!(f, "{}: Fn::GetAtt on undeclared resource {t:?}", self.at)
            }
            CheckErrorKind::UnresolvedDependsOn(t) => {
                write!(f, "{}: DependsOn undeclared resource {t}", self.at)
            }
            CheckErrorKind::UnknownCondition(c) => {
                write!(f, "{}: undeclared condition {c:?}", self.at)
            }
            CheckErrorKind::NoResources => write!(f, "the template declares no resources"),
            CheckErrorKind::TooMany { what, count, limit } => {
                write!(
                    f,
                    "{count} {what}, more than CloudFormation's limit of {limit} per template"
                )
            }
            CheckErrorKind::DescriptionTooLong(n) => {
                write!(
                    f,
                    "description is {n} bytes, more than {}",
                    limits::MAX_DESCRIPTION_BYTES
                )
            }
        }
    }
}

impl Template {
    /// Every problem in the template, in a stable order. Empty means it may be written.
    pub fn check(&self) -> Vec<CheckError> {
        let mut errs = Vec::new();
        let mut limit = |what: &'static str, count: usize, limit: usize| {
            if count > limit {
                errs.push(CheckError {
                    at: "template".into(),
                    kind: CheckErrorKind::TooMany { what, count, limit },
                });
            }
        };
        limit("resources", self.resources.len(), limits::MAX_RESOURCES);
        limit("parameters", self.parameters.len(), limits::MAX_PARAMETERS);
        limit("outputs", self.outputs.len(), limits::MAX_OUTPUTS);
        if self.resources.is_empty() {
            errs.push(CheckError {
                at: "template".into(),
                kind: CheckErrorKind::NoResources,
            });
        }
        if self.description.len() > limits::MAX_DESCRIPTION_BYTES {
            errs.push(CheckError {
                at: "template".into(),
                kind: CheckErrorKind::DescriptionTooLong(self.description.len()),
            });
        }
        for (name, c) in &self.conditions {
            self.check_value(&format!("Conditions.{name}"), c, &mut errs);
        }
        for (id, r) in &self.resources {
            let at = format!("Resources.{id}");
            for d in &r.depends_on {
                if !self.resources.contains_key(d) {
                    errs.push(CheckError {
                        at: at.clone(),
                        kind: CheckErrorKind::UnresolvedDependsOn(d.clone()),
                    });
                }
            }
            if let Some(c) = &r.condition {
                if !self.conditions.contains_key(c) {
                    errs.push(CheckError {
                        at: at.clone(),
                        kind: CheckErrorKind::UnknownCondition(c.clone()),
                    });
                }
            }
            for v in r.properties.values() {
                self.check_value(&at, v, &mut errs);
            }
        }
        for (id, o) in &self.outputs {
            let at = format!("Outputs.{id}");
            self.check_value(&at, &o.value, &mut errs);
            if let Some(e) = &o.export {
                self.check_value(&at, e, &mut errs);
            }
        }
        errs
    }

    fn check_value(&self, at: &str, v: &Value, errs: &mut Vec<CheckError>) {
        v.walk(&mut |v| match v {
            Value::Ref(id)
                if !self.parameters.contains_key(id) && !self.resources.contains_key(id) =>
            {
                errs.push(CheckError {
                    at: at.to_owned(),
                    kind: CheckErrorKind::UnresolvedRef(id.to_string()),
                });
            }
            Value::GetAtt(id, _) if !self.resources.contains_key(id) => {
                errs.push(CheckError {
                    at: at.to_owned(),
                    kind: CheckErrorKind::UnresolvedGetAtt(id.to_string()),
                });
            }
            Value::Sub(s) | Value::SubWith(s, _) => {
                let vars = match v {
                    Value::SubWith(_, vars) => Some(vars),
                    _ => None,
                };
                for name in sub_references(s) {
                    if vars.is_some_and(|m| m.contains_key(name)) {
                        continue;
                    }
                    if name.starts_with("AWS::") {
                        continue;
                    }
                    let (target, is_attr) = match name.split_once('.') {
                        Some((t, _)) => (t, true),
                        None => (name, false),
                    };
                    let known = LogicalId::new(target).is_ok_and(|id| {
                        self.resources.contains_key(&id)
                            || (!is_attr && self.parameters.contains_key(&id))
                    });
                    if !known {
                        errs.push(CheckError {
                            at: at.to_owned(),
                            kind: CheckErrorKind::UnresolvedRef(name.to_owned()),
                        });
                    }
                }
            }
            Value::If(c, ..) | Value::Condition(c) if !self.conditions.contains_key(c) => {
                errs.push(CheckError {
                    at: at.to_owned(),
                    kind: CheckErrorKind::UnknownCondition(c.clone()),
                });
            }
            _ => {}
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::{Output, Parameter, Resource};

    fn id(s: &str) -> LogicalId {
        LogicalId::new(s).unwrap()
    }

    #[test]
    fn finds_unresolved_references() {
        let mut t = Template::new("t");
        t.add_parameter(id("P"), Parameter::string("p")).unwrap();
        let mut r = Resource::new("AWS::X::Y")
            .prop("A", Value::Ref(id("P")))
            .prop("B", Value::Ref(id("Missing")))
            .prop("C", Value::GetAtt(id("Gone"), "Arn".into()))
            .prop(
                "D",
                Value::Sub("${P}-${AWS::Region}-${Nope}-${R.Arn}-${!Esc}".into()),
            );
        r.depends_on.insert(id("Other"));
        t.add_resource(id("R"), r).unwrap();
        t.add_output(
            id("O"),
            Output {
                description: None,
                value: Value::If("C1".into(), Box::new("a".into()), Box::new("b".into())),
                export: None,
                condition: None,
            },
        )
        .unwrap();
        let got: Vec<String> = t.check().iter().map(ToString::to_string).collect();
        assert_eq!(
            got,
            [
                "Resources.R: DependsOn undeclared resource Other",
                "Resources.R: Ref to undeclared \"Missing\"",
                "Resources.R: Fn::GetAtt on undeclared resource \"Gone\"",
                "Resources.R: Ref to undeclared \"Nope\"",
                "Outputs.O: undeclared condition \"C1\"",
            ]
        );
    }

    #[test]
    fn enforces_limits_including_parameters() {
        let mut t = Template::new("t");
        for i in 0..201 {
            t.add_parameter(id(&format!("P{i}")), Parameter::string("p"))
                .unwrap();
        }
        for i in 0..501 {
            t.add_resource(id(&format!("R{i}")), Resource::new("AWS::X::Y"))
                .unwrap();
        }
        let kinds: Vec<_> = t.check().into_iter().map(|e| e.kind).collect();
        assert!(kinds.contains(&CheckErrorKind::TooMany {
            what: "resources",
            count: 501,
            limit: 500
        }));
        assert!(kinds.contains(&CheckErrorKind::TooMany {
            what: "parameters",
            count: 201,
            limit: 200
        }));
        let mut ok = Template::new("t");
        ok.add_resource(id("R"), Resource::new("AWS::X::Y"))
            .unwrap();
        assert!(ok.check().is_empty());
    }

    #[test]
    fn refuses_duplicate_ids() {
        let mut t = Template::new("t");
        t.add_parameter(id("A"), Parameter::string("p")).unwrap();
        assert!(t.add_resource(id("A"), Resource::new("AWS::X::Y")).is_err());
    }
}
