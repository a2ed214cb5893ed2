//! What the test suites share, once: running `mlz`, scratch folders, the golden cases and
//! their files. (Each suite uses some of them.)
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;

/// `fixtures/`, the golden cases.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// A golden case's expected output folder.
pub fn expected(case: &str) -> PathBuf {
    fixtures().join(case).join("expected")
}

/// The reference platform's expected output folder.
pub fn reference() -> PathBuf {
    expected("reference")
}

/// A golden YAML template (short-form tags read too), as JSON.
pub fn template(case: &str, path: &str) -> Value {
    let text = fs::read_to_string(expected(case).join(path)).expect(path);
    mlz_model::yaml::parse_cfn(&text).expect("yaml").to_json()
}

/// A JSON file.
pub fn json(path: &Path) -> Value {
    serde_json::from_str(&fs::read_to_string(path).expect("read")).expect("json")
}

/// Every file under `dir`, by `/`-separated relative path (none when `dir` does not exist,
/// as for a golden case not yet blessed).
pub fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Vec<u8>>) {
        let Ok(entries) = fs::read_dir(dir) else {
            return;
        };
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(
                    p.strip_prefix(root)
                        .expect("prefix")
                        .to_string_lossy()
                        .replace('\\', "/"),
                    fs::read(&p).expect("read"),
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(dir, dir, &mut out);
    out
}

/// A template's resources of type `ty`, by logical id.
pub fn resources<'a>(t: &'a Value, ty: &'a str) -> impl Iterator<Item = (&'a String, &'a Value)> {
    t["Resources"]
        .as_object()
        .into_iter()
        .flatten()
        .filter(move |(_, r)| r["Type"] == ty)
}

/// A policy statement's actions (`Action` as one string or a list).
pub fn actions(stmt: &Value) -> Vec<String> {
    match &stmt["Action"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(Value::as_str)
            .map(ToOwned::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

/// The identity-policy statements of a resource: an IAM role's inline policies, or a
/// permission set's inline policy; none for any other type.
pub fn identity_statements(r: &Value) -> Vec<Value> {
    let p = &r["Properties"];
    match r["Type"].as_str() {
        Some("AWS::IAM::Role") => p["Policies"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|x| {
                x["PolicyDocument"]["Statement"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .collect(),
        Some("AWS::SSO::PermissionSet") => p["InlinePolicy"]["Statement"]
            .as_array()
            .cloned()
            .unwrap_or_default(),
        _ => Vec::new(),
    }
}

/// Whether an IAM action pattern (one `*` at most, case-insensitive) matches an action.
pub fn action_matches(pattern: &str, action: &str) -> bool {
    let (p, a) = (pattern.to_ascii_lowercase(), action.to_ascii_lowercase());
    match p.split_once('*') {
        None => p == a,
        Some((head, tail)) => a.starts_with(head) && a.ends_with(tail),
    }
}

/// The output paths of the templates a manifest lists.
pub fn template_paths(manifest: &Value) -> Vec<&str> {
    manifest["templates"]
        .as_array()
        .expect("templates")
        .iter()
        .filter_map(|t| t["path"].as_str())
        .collect()
}

/// A run's standard error, as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs the `mlz` binary in `cwd`.
pub fn mlz(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_mlz"))
        .args(args)
        .current_dir(cwd)
        .output()
        .expect("run mlz")
}

/// A fresh, empty scratch folder for one test: `mlz-<suite>-<name>-<pid>` in the temp dir.
pub fn scratch(suite: &str, name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("mlz-{suite}-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).expect("scratch dir");
    d
}

/// Every generated template of every golden case: (case/path, text).
pub fn golden_templates() -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = tree(&fixtures())
        .into_iter()
        .filter(|(rel, _)| {
            (rel.ends_with(".yaml") || rel.ends_with(".json"))
                && !rel.ends_with("manifest.json")
                && rel.split('/').any(|c| c == "expected")
        })
        .filter_map(|(rel, bytes)| {
            let text = String::from_utf8(bytes).ok()?;
            text.contains("AWSTemplateFormatVersion")
                .then_some((rel, text))
        })
        .collect();
    out.sort();
    assert!(out.len() > 100, "only {} golden templates", out.len());
    out
}
