//! The mlz config language: YAML text → tree with positions → raw config → resolved model.
//!
//! This crate does no I/O of its own. The caller hands it the config text and a
//! [`FileSource`] for files the config refers to (policy documents), and gets back either
//! a [`Platform`] or every problem found, as [`Diagnostic`]s that point into the files.

pub mod aws;
mod builtin;
pub mod diag;
pub mod model;
pub mod naming;
pub mod path;
mod raw;
mod resolve;
pub mod schema;
pub mod yaml;

use std::collections::{BTreeMap, BTreeSet};

pub use diag::{Diagnostic, Severity, SourceText};
pub use model::*;
pub use path::ConfigPath;

/// The reference platform of REFERENCE.md: what `mlz generate` builds with no config, and
/// what `mlz init` writes out. It is also the golden case `fixtures/reference`.
pub const REFERENCE_CONFIG: &str = include_str!("../../../fixtures/reference/platform.yaml");

/// The name diagnostics use for the built-in reference config.
pub const REFERENCE_NAME: &str = "<built-in reference platform>";

/// Reads files that a config refers to, by the path written in the config (relative to
/// the config file's folder).
pub trait FileSource {
    fn read(&self, path: &str) -> Result<String, String>;
}

/// A `FileSource` with no files: for configs that must be self-contained.
pub struct NoFiles;

impl FileSource for NoFiles {
    fn read(&self, path: &str) -> Result<String, String> {
        Err(format!("no files are available to this config (asked for {path:?})"))
    }
}

/// Every source text read while loading, so diagnostics can show the offending line.
#[derive(Default, Debug, Clone)]
pub struct Sources {
    files: BTreeMap<String, String>,
}

impl Sources {
    pub fn insert(&mut self, name: &str, text: &str) {
        self.files.insert(name.to_owned(), text.to_owned());
    }
}

impl SourceText for Sources {
    fn text(&self, file: &str) -> Option<&str> {
        self.files.get(file).map(String::as_str)
    }
}

/// What loading produced: the platform if there were no errors, and every diagnostic
/// (errors and warnings), sorted.
pub struct Loaded {
    pub platform: Option<Platform>,
    pub diagnostics: Vec<Diagnostic>,
    pub sources: Sources,
}

/// Loads, validates and resolves one config file.
pub fn load(file: &str, text: &str, files: &dyn FileSource) -> Loaded {
    let mut sources = Sources::default();
    sources.insert(file, text);
    let mut diags = Vec::new();
    let root = match yaml::parse(text) {
        Ok(n) => n,
        Err(e) => {
            let d = Diagnostic::error("yaml", file, Some(e.span), ConfigPath::root(), e.message).maybe_hint(e.hint);
            return Loaded { platform: None, diagnostics: vec![d], sources };
        }
    };
    let doc = root.to_json();
    if !doc.is_object() {
        let d = Diagnostic::error("wrong-type", file, Some(root.span), ConfigPath::root(), "the config must be a mapping")
            .hint("start from `mlz init`, which writes a complete example");
        return Loaded { platform: None, diagnostics: vec![d], sources };
    }
    let schema_diags = schema::validate(file, &root, &doc);
    // Items of the top-level lists that failed the schema are left out of resolution, and
    // their names remembered, so one typo does not also cause "unknown OU" noise elsewhere.
    let mut bad_items: BTreeSet<(String, usize)> = BTreeSet::new();
    let mut fatal = false;
    for d in &schema_diags {
        match d.path.segments() {
            [path::Segment::Key(list), path::Segment::Index(i), ..] => {
                bad_items.insert((list.clone(), *i));
            }
            _ => fatal = true,
        }
    }
    diags.extend(schema_diags);
    let platform = if fatal {
        None
    } else {
        let mut r = resolve::Resolver::new(file, &root, files, &mut sources);
        let p = r.run(&doc, &bad_items);
        diags.extend(r.diags);
        p
    };
    diag::sort(&mut diags);
    let platform = if diags.iter().any(Diagnostic::is_error) { None } else { platform };
    Loaded { platform, diagnostics: diags, sources }
}
