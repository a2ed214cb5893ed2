//! The golden suite: every `fixtures/<case>/platform.yaml` is compiled and the whole result
//! compared with `fixtures/<case>/expected/`.
//!
//! A valid case's expected folder is the output folder (templates, manifest.json, README.md,
//! plus diagnostics.txt when there were warnings); an invalid case's is `errors.txt`, the
//! rendered diagnostics. A changed, missing or extra file fails.
//!
//! Bless (rewrite every expected folder) with:  MLZ_BLESS=1 cargo test -p mlz --test golden
//! CI never blesses: with CI set, MLZ_BLESS is refused.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

mod common;

use common::{fixtures, tree};
use mlz::{compile, DirFiles, Outcome};
use mlz_emit::Options;

const BLESS_HINT: &str = "MLZ_BLESS=1 cargo test -p mlz --test golden";

/// The files a case produces, as they would appear in its expected folder.
fn actual(case: &Path) -> BTreeMap<String, Vec<u8>> {
    let bytes = fs::read(case.join("platform.yaml")).expect("platform.yaml");
    let files = DirFiles {
        base: case.to_path_buf(),
    };
    let mut out = BTreeMap::new();
    let text = match mlz::config_text("platform.yaml", &bytes) {
        Ok(t) => t,
        Err(report) => {
            out.insert("errors.txt".to_owned(), report.into_bytes());
            return out;
        }
    };
    match compile("platform.yaml", &text, &files, Options::default()) {
        Outcome::Generated { output, report } => {
            out.extend(output.files);
            if !report.is_empty() {
                out.insert("diagnostics.txt".to_owned(), report.into_bytes());
            }
        }
        Outcome::Invalid { report } | Outcome::Failed { report } => {
            out.insert("errors.txt".to_owned(), report.into_bytes());
        }
    }
    out
}

/// The differences between what a case produced and what its expected folder holds.
pub fn compare(
    actual: &BTreeMap<String, Vec<u8>>,
    expected: &BTreeMap<String, Vec<u8>>,
) -> Vec<String> {
    let mut problems = Vec::new();
    for (name, want) in expected {
        match actual.get(name) {
            None => problems.push(format!(
                "{name}: expected but not produced (stray expected file?)"
            )),
            Some(got) if got != want => {
                let got = String::from_utf8_lossy(got);
                let want = String::from_utf8_lossy(want);
                let line = got
                    .lines()
                    .zip(want.lines())
                    .position(|(a, b)| a != b)
                    .unwrap_or_else(|| got.lines().count().min(want.lines().count()));
                problems.push(format!(
                    "{name}: differs from line {}:\n    expected: {:?}\n    actual:   {:?}",
                    line + 1,
                    want.lines().nth(line).unwrap_or("<end of file>"),
                    got.lines().nth(line).unwrap_or("<end of file>")
                ));
            }
            Some(_) => {}
        }
    }
    for name in actual.keys() {
        if !expected.contains_key(name) {
            problems.push(format!("{name}: produced but missing from expected/"));
        }
    }
    problems
}

fn bless(dir: &Path, files: &BTreeMap<String, Vec<u8>>) {
    let _ = fs::remove_dir_all(dir);
    for (name, bytes) in files {
        let p = dir.join(name);
        fs::create_dir_all(p.parent().expect("parent")).expect("create expected folder");
        fs::write(&p, bytes).expect("write expected file");
    }
}

fn cases() -> Vec<PathBuf> {
    let mut cases: Vec<PathBuf> = fs::read_dir(fixtures())
        .expect("fixtures/")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.join("platform.yaml").is_file())
        .collect();
    cases.sort();
    cases
}

#[test]
fn golden_cases_match() {
    let blessing = std::env::var_os("MLZ_BLESS").is_some_and(|v| v == "1");
    assert!(
        !(blessing && std::env::var_os("CI").is_some()),
        "MLZ_BLESS is refused under CI: bless locally and commit the result"
    );
    let cases = cases();
    let names: Vec<String> = cases
        .iter()
        .map(|c| {
            c.file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    for required in ["reference", "minimal", "nested"] {
        assert!(
            names.iter().any(|n| n == required),
            "golden case {required} is missing"
        );
    }
    assert!(
        names.iter().filter(|n| n.starts_with("invalid-")).count() >= 3,
        "need invalid-config cases"
    );
    let mut failures = Vec::new();
    for case in &cases {
        let got = actual(case);
        let expected_dir = case.join("expected");
        if blessing {
            bless(&expected_dir, &got);
            continue;
        }
        let name = case
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        let invalid = name.starts_with("invalid-");
        if invalid != got.contains_key("errors.txt") {
            failures.push(format!(
                "{name}: a case named invalid-* must fail validation, and only those may"
            ));
        }
        for p in compare(&got, &tree(&expected_dir)) {
            failures.push(format!("{name}/expected/{p}"));
        }
    }
    assert!(failures.is_empty(), "golden files differ:\n{}\n\nIf the change is intended, bless with:\n    {BLESS_HINT}\nand review `git diff fixtures/`.", failures.join("\n"));
}

#[test]
fn compare_catches_changed_missing_and_extra_files() {
    let produced: BTreeMap<String, Vec<u8>> = [
        ("a.yaml".to_owned(), b"x: 1\n".to_vec()),
        ("b/c.yaml".to_owned(), b"y: 2\n".to_vec()),
    ]
    .into();
    assert!(compare(&produced, &produced).is_empty());
    let mut changed = produced.clone();
    changed.insert("a.yaml".into(), b"x: 2\n".to_vec());
    assert_eq!(compare(&produced, &changed).len(), 1);
    let mut removed = produced.clone();
    removed.remove("b/c.yaml");
    assert_eq!(
        compare(&produced, &removed),
        vec!["b/c.yaml: produced but missing from expected/".to_owned()]
    );
    let mut added = produced.clone();
    added.insert("stray.txt".into(), Vec::new());
    assert_eq!(
        compare(&produced, &added),
        vec!["stray.txt: expected but not produced (stray expected file?)".to_owned()]
    );
}

#[test]
fn compare_works_on_a_real_expected_folder() {
    // The same checks, through the file system, on a copy of a real case.
    let case = fixtures().join("minimal");
    let tmp = std::env::temp_dir().join(format!("mlz-golden-selftest-{}", std::process::id()));
    let _ = fs::remove_dir_all(&tmp);
    let got = actual(&case);
    bless(&tmp, &got);
    assert!(compare(&got, &tree(&tmp)).is_empty());
    fs::write(tmp.join("manifest.json"), b"{}\n").expect("edit");
    fs::write(tmp.join("extra.yaml"), b"x: 1\n").expect("add");
    fs::remove_file(tmp.join("README.md")).expect("remove");
    let problems = compare(&got, &tree(&tmp));
    let _ = fs::remove_dir_all(&tmp);
    assert_eq!(problems.len(), 3, "{problems:?}");
}

/// Every golden manifest validates against the committed JSON Schema of the format.
#[test]
fn golden_manifests_match_their_schema() {
    let schema_text = include_str!("../../mlz-emit/schema/manifest.schema.json");
    let schema: serde_json::Value = serde_json::from_str(schema_text).expect("schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let mut checked = 0;
    let mut cases: Vec<PathBuf> = fs::read_dir(fixtures())
        .expect("fixtures")
        .flatten()
        .map(|e| e.path())
        .collect();
    cases.sort();
    for case in cases {
        let path = case.join("expected/manifest.json");
        let Ok(text) = fs::read_to_string(&path) else {
            continue;
        };
        let m: serde_json::Value = serde_json::from_str(&text).expect("manifest is JSON");
        let errors: Vec<String> = validator
            .iter_errors(&m)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
        checked += 1;
    }
    assert!(checked >= 7, "only {checked} golden manifests found");
    // And the schema is not vacuous: a manifest of the old version fails it.
    let old = serde_json::json!({ "manifestVersion": 1 });
    assert!(!validator.is_valid(&old));
}
