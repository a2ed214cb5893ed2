//! The template and its parts.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use crate::id::LogicalId;
use crate::map::Map;
use crate::value::Value;

/// Parameter types.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ParamType {
    String,
    Number,
    CommaDelimitedList,
    /// `AWS::EC2::VPC::Id`, `List<Number>` and the other typed parameters.
    Other(String),
}

impl ParamType {
    pub fn name(&self) -> &str {
        match self {
            ParamType::String => "String",
            ParamType::Number => "Number",
            ParamType::CommaDelimitedList => "CommaDelimitedList",
            ParamType::Other(s) => s,
        }
    }

    pub fn from_name(s: &str) -> ParamType {
        match s {
            "String" => ParamType::String,
            "Number" => ParamType::Number,
            "CommaDelimitedList" => ParamType::CommaDelimitedList,
            other => ParamType::Other(other.to_owned()),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Parameter {
    pub param_type: ParamType,
    pub description: String,
    pub default: Option<String>,
    pub allowed_pattern: Option<String>,
    pub allowed_values: Vec<String>,
    pub constraint_description: Option<String>,
    /// Other parameter keys (`MinValue`, `NoEcho`, …), passed through as written.
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl Parameter {
    pub fn string(description: impl Into<String>) -> Parameter {
        Parameter {
            param_type: ParamType::String,
            description: description.into(),
            default: None,
            allowed_pattern: None,
            allowed_values: Vec::new(),
            constraint_description: None,
            extra: BTreeMap::new(),
        }
    }

    pub fn with_pattern(mut self, pattern: &str, constraint: &str) -> Parameter {
        self.allowed_pattern = Some(pattern.to_owned());
        self.constraint_description = Some(constraint.to_owned());
        self
    }

    pub fn with_default(mut self, default: impl Into<String>) -> Parameter {
        self.default = Some(default.into());
        self
    }
}

/// `DeletionPolicy` and `UpdateReplacePolicy` values.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeletionPolicy {
    Delete,
    Retain,
    Snapshot,
    RetainExceptOnCreate,
}

impl DeletionPolicy {
    pub fn name(self) -> &'static str {
        match self {
            DeletionPolicy::Delete => "Delete",
            DeletionPolicy::Retain => "Retain",
            DeletionPolicy::Snapshot => "Snapshot",
            DeletionPolicy::RetainExceptOnCreate => "RetainExceptOnCreate",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Resource {
    /// The resource type name; emitters pass their crate-wide constant.
    pub resource_type: String,
    pub properties: Map,
    pub depends_on: BTreeSet<LogicalId>,
    pub condition: Option<String>,
    pub deletion_policy: Option<DeletionPolicy>,
    pub update_replace_policy: Option<DeletionPolicy>,
    /// Other resource attributes (`Metadata`, `CreationPolicy`, `UpdatePolicy`), as written.
    pub extra: BTreeMap<String, serde_json::Value>,
}

impl Resource {
    pub fn new(resource_type: &str) -> Resource {
        Resource {
            resource_type: resource_type.to_owned(),
            properties: Map::new(),
            depends_on: BTreeSet::new(),
            condition: None,
            deletion_policy: None,
            update_replace_policy: None,
            extra: BTreeMap::new(),
        }
    }

    /// Sets a property (builder style).
    pub fn prop(mut self, name: impl Into<crate::map::Key>, value: impl Into<Value>) -> Resource {
        self.properties.insert(name, value.into());
        self
    }

    /// Retain on delete and on replacement: for resources whose deletion is destructive.
    pub fn retained(mut self) -> Resource {
        self.deletion_policy = Some(DeletionPolicy::Retain);
        self.update_replace_policy = Some(DeletionPolicy::Retain);
        self
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Output {
    pub description: Option<String>,
    pub value: Value,
    /// The export name, if other stacks import this value.
    pub export: Option<Value>,
    pub condition: Option<String>,
}

/// A CloudFormation template. Build it with the `add_*` methods, which refuse duplicate ids.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Template {
    pub description: String,
    pub parameters: BTreeMap<LogicalId, Parameter>,
    pub conditions: BTreeMap<String, Value>,
    pub resources: BTreeMap<LogicalId, Resource>,
    pub outputs: BTreeMap<LogicalId, Output>,
    /// `Metadata`, `Mappings` and `Rules` of templates read from files, passed through.
    pub extra_sections: BTreeMap<String, serde_json::Value>,
}

/// A mistake an emitter made while building a template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum TemplateError {
    /// Two parameters or resources with one logical id (cfn-lint E3007).
    DuplicateId(LogicalId),
    DuplicateOutput(LogicalId),
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TemplateError::DuplicateId(id) => {
                write!(f, "logical id {id} is used twice in one template")
            }
            TemplateError::DuplicateOutput(id) => {
                write!(f, "output {id} is declared twice in one template")
            }
        }
    }
}

impl std::error::Error for TemplateError {}

impl Template {
    pub fn new(description: impl Into<String>) -> Template {
        Template {
            description: description.into(),
            ..Template::default()
        }
    }

    pub fn add_parameter(&mut self, id: LogicalId, p: Parameter) -> Result<(), TemplateError> {
        if self.parameters.contains_key(&id) || self.resources.contains_key(&id) {
            return Err(TemplateError::DuplicateId(id));
        }
        self.parameters.insert(id, p);
        Ok(())
    }

    pub fn add_resource(&mut self, id: LogicalId, r: Resource) -> Result<(), TemplateError> {
        if self.parameters.contains_key(&id) || self.resources.contains_key(&id) {
            return Err(TemplateError::DuplicateId(id));
        }
        self.resources.insert(id, r);
        Ok(())
    }

    pub fn add_output(&mut self, id: LogicalId, o: Output) -> Result<(), TemplateError> {
        if self.outputs.contains_key(&id) {
            return Err(TemplateError::DuplicateOutput(id));
        }
        self.outputs.insert(id, o);
        Ok(())
    }

    /// Compact JSON of the whole template, for content hashes: the same whatever the output
    /// format.
    pub fn fingerprint(&self) -> String {
        crate::write::compact(&crate::write::template(self))
    }

    /// The JSON form of the whole template, keys in CloudFormation's customary order.
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::{Map, Value as J};
        let mut top = Map::new();
        top.insert("AWSTemplateFormatVersion".into(), J::from("2010-09-09"));
        top.insert("Description".into(), J::from(self.description.clone()));
        for key in ["Metadata", "Mappings", "Rules"] {
            if let Some(v) = self.extra_sections.get(key) {
                top.insert(key.into(), v.clone());
            }
        }
        if !self.parameters.is_empty() {
            let mut ps = Map::new();
            for (id, p) in &self.parameters {
                let mut m = Map::new();
                m.insert("Type".into(), J::from(p.param_type.name()));
                m.insert("Description".into(), J::from(p.description.clone()));
                if let Some(d) = &p.default {
                    m.insert("Default".into(), J::from(d.clone()));
                }
                if let Some(pat) = &p.allowed_pattern {
                    m.insert("AllowedPattern".into(), J::from(pat.clone()));
                }
                if !p.allowed_values.is_empty() {
                    m.insert("AllowedValues".into(), J::from(p.allowed_values.clone()));
                }
                if let Some(c) = &p.constraint_description {
                    m.insert("ConstraintDescription".into(), J::from(c.clone()));
                }
                for (k, v) in &p.extra {
                    m.insert(k.clone(), v.clone());
                }
                ps.insert(id.to_string(), J::Object(m));
            }
            top.insert("Parameters".into(), J::Object(ps));
        }
        if !self.conditions.is_empty() {
            let cs = self
                .conditions
                .iter()
                .map(|(k, v)| (k.clone(), v.to_json()))
                .collect();
            top.insert("Conditions".into(), J::Object(cs));
        }
        let mut rs = Map::new();
        for (id, r) in &self.resources {
            let mut m = Map::new();
            m.insert("Type".into(), J::from(r.resource_type.clone()));
            if let Some(c) = &r.condition {
                m.insert("Condition".into(), J::from(c.clone()));
            }
            if !r.depends_on.is_empty() {
                let deps: Vec<J> = r.depends_on.iter().map(|d| J::from(d.as_str())).collect();
                m.insert("DependsOn".into(), J::Array(deps));
            }
            if let Some(p) = r.deletion_policy {
                m.insert("DeletionPolicy".into(), J::from(p.name()));
            }
            if let Some(p) = r.update_replace_policy {
                m.insert("UpdateReplacePolicy".into(), J::from(p.name()));
            }
            for (k, v) in &r.extra {
                m.insert(k.clone(), v.clone());
            }
            if !r.properties.is_empty() {
                let props = r
                    .properties
                    .iter()
                    .map(|(k, v)| (k.to_owned(), v.to_json()))
                    .collect();
                m.insert("Properties".into(), J::Object(props));
            }
            rs.insert(id.to_string(), J::Object(m));
        }
        top.insert("Resources".into(), J::Object(rs));
        if !self.outputs.is_empty() {
            let mut os = Map::new();
            for (id, o) in &self.outputs {
                let mut m = Map::new();
                if let Some(c) = &o.condition {
                    m.insert("Condition".into(), J::from(c.clone()));
                }
                if let Some(d) = &o.description {
                    m.insert("Description".into(), J::from(d.clone()));
                }
                m.insert("Value".into(), o.value.to_json());
                if let Some(e) = &o.export {
                    m.insert("Export".into(), serde_json::json!({ "Name": e.to_json() }));
                }
                os.insert(id.to_string(), J::Object(m));
            }
            top.insert("Outputs".into(), J::Object(os));
        }
        J::Object(top)
    }
}
