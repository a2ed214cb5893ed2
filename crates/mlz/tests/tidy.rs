//! Hygiene checks that keep the architecture's invariants (docs/ARCHITECTURE.md) true.

use std::fs;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in fs::read_dir(dir).expect("read dir").flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

fn sources(krate: &str) -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    rust_files(&root().join("crates").join(krate).join("src"), &mut files);
    files.sort();
    files
        .into_iter()
        .map(|p| {
            let text = fs::read_to_string(&p).expect("read source");
            (p, text)
        })
        .collect()
}

/// The text before the first `#[cfg(test)]`: the code that ships.
fn shipped(text: &str) -> &str {
    text.split("#[cfg(test)]").next().unwrap_or(text)
}

#[test]
fn every_module_says_what_it_owns() {
    for krate in ["mlz-cfn", "mlz-model", "mlz-emit", "mlz", "xtask"] {
        for (p, text) in sources(krate) {
            assert!(
                text.starts_with("//!"),
                "{} must start with a //! line saying what it owns",
                p.display()
            );
        }
    }
}

#[test]
fn only_the_cli_does_io_prints_or_exits() {
    let forbidden = [
        "std::fs",
        "fs::",
        "println!",
        "eprintln!",
        "print!(",
        "eprint!(",
        "std::process",
        "std::env::var",
    ];
    for krate in ["mlz-cfn", "mlz-model", "mlz-emit"] {
        for (p, text) in sources(krate) {
            for f in forbidden {
                assert!(
                    !shipped(&text).contains(f),
                    "{} uses {f}: only the mlz crate does I/O",
                    p.display()
                );
            }
        }
    }
}

#[test]
fn the_cloudformation_crate_knows_nothing_of_organisations() {
    let toml = fs::read_to_string(root().join("crates/mlz-cfn/Cargo.toml")).expect("Cargo.toml");
    assert!(
        !toml.contains("mlz-model") && !toml.contains("mlz-emit"),
        "mlz-cfn must not depend on the model or emitters"
    );
    for (p, text) in sources("mlz-cfn") {
        for line in shipped(&text)
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
        {
            assert!(
                !line.contains("Organizations") && !line.contains("Platform"),
                "{} mentions the platform: {line}",
                p.display()
            );
            // Resource type names (`AWS::Service::Type`) belong to the emitters; pseudo
            // parameters (`AWS::Region`) are CloudFormation's own.
            let names_a_type = line
                .split("\"AWS::")
                .skip(1)
                .any(|rest| rest.split('"').next().is_some_and(|n| n.contains("::")));
            assert!(
                !names_a_type,
                "{} names a resource type: {line}",
                p.display()
            );
        }
    }
}

#[test]
fn resource_types_are_named_in_one_place() {
    for (p, text) in sources("mlz-emit") {
        if p.ends_with("types.rs") {
            continue;
        }
        for line in shipped(&text).lines() {
            if line.trim_start().starts_with("//") {
                continue;
            }
            assert!(
                !line.contains("\"AWS::"),
                "{}: resource type string outside types.rs: {line}",
                p.display()
            );
        }
    }
}
