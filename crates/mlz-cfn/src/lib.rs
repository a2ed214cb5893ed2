//! A typed CloudFormation template: build it, check it, serialize it once.
//!
//! This crate knows nothing of organisations, accounts or ML platforms. Emitters build a
//! [`Template`] out of [`Resource`]s whose property values are [`Value`] trees, with
//! intrinsic functions as enum variants rather than strings, then call [`Template::check`]
//! (references resolve, limits hold) and [`render`] (bytes, in YAML or JSON).
//!
//! Every map in the tree is a `BTreeMap`, so the output never depends on the order in
//! which an emitter happened to insert things.

mod check;
mod id;
pub mod limits;
mod map;
mod parse;
mod render;
mod template;
mod value;
mod write;
mod yaml;

pub use check::{CheckError, CheckErrorKind};
pub use id::{LogicalId, LogicalIdError};
pub use map::Map;
pub use parse::{parse_template, parse_value, referenced_ids, ParseError};
pub use render::{render, Format, Rendered, SizeNote};
pub use template::{
    DeletionPolicy, Output, ParamType, Parameter, Resource, Template, TemplateError,
};
pub use value::{Func, IntrinsicInJson, Pseudo, Value};
