//! The mlz config language: YAML text → tree with positions → raw config → resolved model.
//!
//! This crate does no I/O of its own. The caller hands it the config text and a
//! [`FileSource`] for files the config refers to (policy documents), and gets back either
//! a [`Platform`] or every problem found, as [`Diagnostic`]s that point into the files.

pub mod aws;
pub mod blueprints;
mod builtin;
pub mod diag;
pub mod identity_policies;
pub mod lock;
pub mod managed_policies;
pub mod model;
pub mod naming;
pub mod path;
pub mod products;
mod raw;
mod resolve;
pub mod schema;
pub mod synth;
pub mod yaml;

use std::collections::{BTreeMap, BTreeSet};

pub use diag::{Diagnostic, Severity, SourceText};
pub use model::*;
pub use path::ConfigPath;

/// The reference platform (docs/reference-platform.md): what `mlz generate` builds with no config, and
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
        Err(format!(
            "no files are available to this config (asked for {path:?})"
        ))
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

/// A file's bytes as text, or the diagnostic for the first byte that is not UTF-8 (its line
/// and column, counted in characters) with the lossy text to show it in.
pub fn decode(file: &str, bytes: &[u8]) -> Result<String, Box<(Diagnostic, String)>> {
    let e = match std::str::from_utf8(bytes) {
        Ok(t) => return Ok(t.to_owned()),
        Err(e) => e,
    };
    let good = &bytes[..e.valid_up_to()];
    // Everything before the bad byte is valid UTF-8, so it can be counted as text.
    let before = std::str::from_utf8(good).unwrap_or_default();
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let col = before[line_start..].chars().count() + 1;
    let byte = bytes[e.valid_up_to()];
    let hint = if bytes.starts_with(&[0xff, 0xfe]) || bytes.starts_with(&[0xfe, 0xff]) {
        "the file is UTF-16 (it starts with a UTF-16 byte-order mark): save it as UTF-8"
    } else if bytes.contains(&0) {
        "this looks like a binary file, not a YAML config: check the path given to -c"
    } else {
        "save the file as UTF-8 (an editor's \"Save with encoding\"; `iconv -f latin1 -t utf-8` converts a Latin-1 file)"
    };
    let d = Diagnostic::error(
        "not-utf8",
        file,
        Some(yaml::Span::point(line, col)),
        ConfigPath::root(),
        format!("the file is not UTF-8 text: byte 0x{byte:02X} at line {line}, column {col} is not valid UTF-8"),
    )
    .hint(hint)
    .without_path();
    Err(Box::new((d, String::from_utf8_lossy(bytes).into_owned())))
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
    load_locked(file, text, files, None)
}

/// [`load`] with the lock file of earlier runs (its name and text), whose allocations the
/// resolved platform keeps.
pub fn load_locked(
    file: &str,
    text: &str,
    files: &dyn FileSource,
    lock_file: Option<(&str, &str)>,
) -> Loaded {
    let mut sources = Sources::default();
    sources.insert(file, text);
    let mut diags = Vec::new();
    let lock = match lock_file {
        None => None,
        Some((name, lock_text)) => {
            sources.insert(name, lock_text);
            match lock::read(name, lock_text) {
                Ok(l) => Some(l),
                Err(errs) => {
                    diags.extend(errs);
                    None
                }
            }
        }
    };
    let root = match yaml::parse(text) {
        Ok(n) => n,
        Err(e) => {
            let d = Diagnostic::error("yaml", file, Some(e.span), ConfigPath::root(), e.message)
                .maybe_hint(e.hint)
                .without_path();
            diags.push(d);
            return Loaded {
                platform: None,
                diagnostics: diags,
                sources,
            };
        }
    };
    let doc = root.to_json();
    if !doc.is_object() {
        let d = Diagnostic::error(
            "wrong-type",
            file,
            Some(root.span),
            ConfigPath::root(),
            "the config must be a mapping",
        )
        .hint("start from `mlz init`, which writes a complete example");
        diags.push(d);
        return Loaded {
            platform: None,
            diagnostics: diags,
            sources,
        };
    }
    let schema_diags = schema::validate(file, &root, &doc);
    let (sanitized, bad_items, fatal) = sanitize(file, &root, &doc, &schema_diags);
    diags.extend(schema_diags);
    let platform = if fatal {
        None
    } else {
        let mut r = resolve::Resolver::new(file, &root, files, &mut sources);
        r.lock = lock.as_ref();
        let p = r.run(&sanitized, &bad_items);
        diags.extend(r.diags);
        p
    };
    diag::sort(&mut diags);
    let platform = if diags.iter().any(Diagnostic::is_error) {
        None
    } else {
        platform
    };
    Loaded {
        platform,
        diagnostics: diags,
        sources,
    }
}

/// The top-level lists whose items are resolved one by one.
const LISTS: &[&str] = &[
    "organizationalUnits",
    "accounts",
    "stages",
    "teams",
    "policies",
];

/// Makes the document that semantic checks run on after schema errors: offending keys are
/// removed, list items that are still invalid without them are left out (and their names
/// remembered), and anything else makes the semantic pass impossible (`fatal`). This is
/// what lets one run report a typo in one account and a duplicate e-mail in another.
fn sanitize(
    file: &str,
    root: &yaml::Node,
    doc: &serde_json::Value,
    schema_diags: &[Diagnostic],
) -> (serde_json::Value, BTreeSet<(String, usize)>, bool) {
    use path::Segment;
    let mut sanitized = doc.clone();
    let mut bad_items = BTreeSet::new();
    let mut fatal = false;
    for d in schema_diags {
        let segs = d.path.segments();
        let keys_only = |rest: &[Segment]| rest.iter().all(|s| matches!(s, Segment::Key(_)));
        match segs {
            [Segment::Key(list), Segment::Index(i), rest @ ..]
                if LISTS.contains(&list.as_str()) =>
            {
                if !rest.is_empty() && keys_only(rest) {
                    if let Some(item) = sanitized.get_mut(list.as_str()).and_then(|l| l.get_mut(*i))
                    {
                        remove_key(item, rest);
                    }
                } else {
                    bad_items.insert((list.clone(), *i));
                }
            }
            [_, ..] if keys_only(segs) => remove_key(&mut sanitized, segs),
            _ => fatal = true,
        }
    }
    if !schema_diags.is_empty() {
        // Whatever is still wrong once the offending keys are gone (a required key that
        // was removed, say) is a consequence of an error already reported.
        for d in schema::validate(file, root, &sanitized) {
            match d.path.segments() {
                [Segment::Key(list), Segment::Index(i), ..] if LISTS.contains(&list.as_str()) => {
                    bad_items.insert((list.clone(), *i));
                }
                _ => fatal = true,
            }
        }
    }
    (sanitized, bad_items, fatal)
}

/// Removes the value at a path of keys, if it is there.
fn remove_key(v: &mut serde_json::Value, keys: &[path::Segment]) {
    let Some((path::Segment::Key(last), parents)) = keys.split_last() else {
        return;
    };
    let mut cur = v;
    for k in parents {
        let path::Segment::Key(k) = k else { return };
        match cur.get_mut(k.as_str()) {
            Some(next) => cur = next,
            None => return,
        }
    }
    if let Some(obj) = cur.as_object_mut() {
        obj.remove(last.as_str());
    }
}
