//! The `mlz` binary, end to end: exit codes, atomic output, determinism, schema, init.

mod common;
use common::mlz;
use common::{fixtures, stderr, tree};

use std::fs;
use std::path::{Path, PathBuf};

fn scratch(name: &str) -> PathBuf {
    common::scratch("cli", name)
}

#[test]
fn generate_without_config_uses_the_reference_platform_and_is_deterministic() {
    let d = scratch("determinism");
    let a = mlz(&["generate", "-o", "out"], &d);
    assert_eq!(a.status.code(), Some(0), "{}", stderr(&a));
    assert!(stderr(&a).contains("built-in reference platform"));
    let first = tree(&d.join("out"));
    assert!(first.contains_key("manifest.json"));
    assert!(first
        .keys()
        .any(|k| k.starts_with("organizations/") && k.ends_with(".yaml")));
    let b = mlz(&["generate", "-o", "out"], &d);
    assert_eq!(b.status.code(), Some(0));
    assert_eq!(
        first,
        tree(&d.join("out")),
        "two runs must give byte-identical output"
    );
    // No temporary folders are left beside the output.
    let leftovers: Vec<_> = fs::read_dir(&d)
        .expect("ls")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("mlz-"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    let _ = fs::remove_dir_all(&d);
}

#[test]
fn invalid_config_reports_every_mistake_and_leaves_output_untouched() {
    let d = scratch("invalid");
    fs::copy(
        fixtures().join("invalid-five-mistakes/platform.yaml"),
        d.join("platform.yaml"),
    )
    .expect("copy");
    assert_eq!(mlz(&["generate", "-o", "out"], &d).status.code(), Some(0));
    fs::write(d.join("out/marker.txt"), b"left by an earlier run").expect("marker");
    let before = tree(&d.join("out"));

    let v = mlz(&["validate", "-c", "platform.yaml"], &d);
    assert_eq!(v.status.code(), Some(1));
    let text = stderr(&v);
    let located: Vec<&str> = text
        .lines()
        .filter(|l| l.trim_start().starts_with("--> platform.yaml:"))
        .collect();
    assert_eq!(located.len(), 5, "{text}");
    for code in [
        "unknown-region",
        "unknown-ou",
        "duplicate-email",
        "invalid-email",
        "bad-format",
    ] {
        assert!(
            text.contains(&format!("error[{code}]")),
            "missing {code} in:\n{text}"
        );
    }

    let g = mlz(&["generate", "-c", "platform.yaml", "-o", "out"], &d);
    assert_eq!(g.status.code(), Some(1));
    assert!(stderr(&g).contains("nothing was written"));
    assert_eq!(
        before,
        tree(&d.join("out")),
        "a failed run must not touch the output folder"
    );
    let _ = fs::remove_dir_all(&d);
}

#[test]
fn never_replaces_a_folder_that_is_not_mlz_output() {
    let d = scratch("foreign");
    fs::create_dir_all(d.join("docs")).expect("mkdir");
    fs::write(d.join("docs/notes.md"), b"mine").expect("write");
    let g = mlz(&["generate", "-o", "docs"], &d);
    assert_eq!(g.status.code(), Some(3), "{}", stderr(&g));
    assert_eq!(
        fs::read(d.join("docs/notes.md")).expect("still there"),
        b"mine"
    );
    let _ = fs::remove_dir_all(&d);
}

#[test]
fn exit_codes_for_usage_and_missing_files() {
    let d = scratch("codes");
    assert_eq!(
        mlz(&["generate", "--format", "xml"], &d).status.code(),
        Some(2)
    );
    assert_eq!(
        mlz(&["validate", "-c", "nope.yaml"], &d).status.code(),
        Some(3)
    );
    let help = mlz(&["--help"], &d);
    assert_eq!(help.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&help.stdout).contains("Exit codes: 0 success, 1 invalid config")
    );
    let _ = fs::remove_dir_all(&d);
}

#[test]
fn schema_accepts_the_reference_config_and_rejects_a_misspelt_key() {
    let d = scratch("schema");
    let out = mlz(&["schema"], &d);
    assert_eq!(out.status.code(), Some(0));
    let schema: serde_json::Value = serde_json::from_slice(&out.stdout).expect("schema is JSON");
    let validator = jsonschema::validator_for(&schema).expect("schema compiles");
    let reference = mlz_model::yaml::parse(mlz_model::REFERENCE_CONFIG)
        .expect("yaml")
        .to_json();
    let errors: Vec<String> = validator
        .iter_errors(&reference)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
    let misspelt =
        mlz_model::yaml::parse(&mlz_model::REFERENCE_CONFIG.replace("\naccounts:", "\nacounts:"))
            .expect("yaml")
            .to_json();
    assert!(!validator.is_valid(&misspelt));
    let _ = fs::remove_dir_all(&d);
}

#[test]
fn init_writes_the_reference_config_once() {
    let d = scratch("init");
    assert_eq!(mlz(&["init", "start"], &d).status.code(), Some(0));
    let written = fs::read_to_string(d.join("start/platform.yaml")).expect("written");
    assert_eq!(written, mlz_model::REFERENCE_CONFIG);
    assert!(written.contains("$schema=platform.schema.json"));
    let schema =
        fs::read_to_string(d.join("start/platform.schema.json")).expect("schema written beside it");
    assert_eq!(schema, mlz_model::schema::SCHEMA_TEXT);
    assert_eq!(
        mlz(&["init", "start"], &d).status.code(),
        Some(3),
        "refuses to overwrite"
    );
    assert_eq!(
        mlz(&["validate", "-c", "start/platform.yaml"], &d)
            .status
            .code(),
        Some(0)
    );
    let _ = fs::remove_dir_all(&d);
}

#[test]
fn json_and_yaml_output_say_the_same_thing() {
    let d = scratch("formats");
    assert_eq!(mlz(&["generate", "-o", "y"], &d).status.code(), Some(0));
    assert_eq!(
        mlz(&["generate", "-o", "j", "--format", "json"], &d)
            .status
            .code(),
        Some(0)
    );
    let ys = tree(&d.join("y"));
    let js = tree(&d.join("j"));
    let mut compared = 0;
    for (name, ybytes) in &ys {
        let Some(stem) = name.strip_suffix(".yaml") else {
            continue;
        };
        // CfCT's manifest is YAML whatever the templates' format.
        if name.starts_with("cfct/") {
            assert!(js.contains_key(name), "{name} in both");
            continue;
        }
        let jbytes = js
            .get(&format!("{stem}.json"))
            .unwrap_or_else(|| panic!("no JSON twin for {name}"));
        // Reading our YAML back with a real YAML parser must give exactly the JSON document.
        let from_yaml = mlz_model::yaml::parse(std::str::from_utf8(ybytes).expect("utf8"))
            .expect("valid YAML")
            .to_json();
        let mut from_json: serde_json::Value = serde_json::from_slice(jbytes).expect("valid JSON");
        // The pipelines name the templates they deploy, by file: the same but for extension.
        if name.starts_with("pipeline/pipeline") {
            let text = serde_json::to_string(&from_json).expect("json");
            let mut out = String::new();
            let mut rest = text.as_str();
            while let Some(i) = rest.find("Source::") {
                out.push_str(&rest[..i]);
                let end = rest[i..].find('"').map_or(rest.len(), |e| i + e);
                let path = &rest[i..end];
                match path.strip_suffix(".json") {
                    Some(stem) if !path.starts_with("Source::config/") => {
                        out.push_str(stem);
                        out.push_str(".yaml");
                    }
                    _ => out.push_str(path),
                }
                rest = &rest[end..];
            }
            out.push_str(rest);
            from_json = serde_json::from_str(&out).expect("json");
        }
        assert_eq!(from_yaml, from_json, "{name}");
        compared += 1;
    }
    assert!(compared >= 4);
    let _ = fs::remove_dir_all(&d);
}

/// `--help` is part of the interface: its text is a golden file, blessed like the fixtures
/// (MLZ_BLESS=1 cargo test -p mlz --test cli).
#[test]
fn help_texts_match_their_snapshots() {
    let d = scratch("help");
    let snapshots = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots");
    let blessing =
        std::env::var_os("MLZ_BLESS").is_some_and(|v| v == "1") && std::env::var_os("CI").is_none();
    for (name, args) in [
        ("help.txt", vec!["--help"]),
        ("generate-help.txt", vec!["generate", "--help"]),
    ] {
        let out = mlz(&args, &d);
        assert_eq!(out.status.code(), Some(0));
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let path = snapshots.join(name);
        if blessing {
            fs::write(&path, &text).expect("bless");
            continue;
        }
        let want = fs::read_to_string(&path).unwrap_or_default();
        assert_eq!(
            text, want,
            "{name} changed; bless with MLZ_BLESS=1 cargo test -p mlz --test cli"
        );
    }
    let _ = fs::remove_dir_all(&d);
}

#[test]
fn binary_and_utf16_configs_fail_at_their_first_bad_byte_with_a_hint() {
    let d = scratch("not-utf8");
    fs::write(
        d.join("binary.yaml"),
        b"version: 1\n\x7fELF\x02\x01\x00\x00\xff\xfe\n",
    )
    .expect("write");
    let o = mlz(&["validate", "-c", "binary.yaml"], &d);
    assert_eq!(o.status.code(), Some(1));
    let e = stderr(&o);
    assert!(e.contains("error[not-utf8]"), "{e}");
    assert!(e.contains("--> binary.yaml:2:9"), "{e}");
    assert!(e.contains("binary file"), "{e}");
    assert!(!e.contains("stream did not contain valid UTF-8"), "{e}");
    let utf16: Vec<u8> = [0xff, 0xfe]
        .into_iter()
        .chain("version: 1\n".encode_utf16().flat_map(u16::to_le_bytes))
        .collect();
    fs::write(d.join("utf16.yaml"), utf16).expect("write");
    let e = stderr(&mlz(&["generate", "-c", "utf16.yaml", "-o", "out"], &d));
    assert!(
        e.contains("--> utf16.yaml:1:1") && e.contains("UTF-16"),
        "{e}"
    );
    assert!(!d.join("out").exists());
    let _ = fs::remove_dir_all(&d);
}
