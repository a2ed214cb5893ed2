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

/// The emitter modules, and the output folders (first path segment) each may name.
const EMITTERS: &[(&str, &[&str])] = &[
    ("organizations.rs", &["organizations"]),
    (
        "control_tower.rs",
        &["control-tower", "blueprints", "vending"],
    ),
    ("identity_center.rs", &["identity-center"]),
    ("service_catalog.rs", &["service-catalog", "products"]),
    ("unified_studio.rs", &["unified-studio"]),
    ("network.rs", &["network"]),
    ("security.rs", &["security"]),
    ("budgets.rs", &["budgets"]),
    ("artifacts.rs", &["artifacts"]),
];

fn emitter_sources() -> Vec<(String, String)> {
    sources("mlz-emit")
        .into_iter()
        .filter_map(|(p, text)| {
            let name = p.file_name()?.to_str()?.to_owned();
            EMITTERS
                .iter()
                .any(|(f, _)| *f == name)
                .then(|| (name, shipped(&text).to_owned()))
        })
        .collect()
}

#[test]
fn emitters_do_not_import_each_other() {
    let emitters = emitter_sources();
    assert_eq!(
        emitters.len(),
        EMITTERS.len(),
        "an emitter module was renamed"
    );
    for (file, text) in &emitters {
        for (other, _) in EMITTERS {
            let module = other.trim_end_matches(".rs");
            if other == file {
                continue;
            }
            assert!(
                !text.contains(&format!("crate::{module}")),
                "{file} uses crate::{module}: emitters speak through the plan (crate::plan) and common.rs"
            );
        }
    }
}

#[test]
fn no_emitter_builds_another_areas_export_path_or_role_name() {
    // Export names are made from typed keys in plan/exports.rs only.
    for (p, text) in sources("mlz-emit") {
        let in_exports = p.ends_with("plan/exports.rs");
        for line in shipped(&text).lines() {
            if line.trim_start().starts_with("//") || in_exports {
                continue;
            }
            assert!(
                !line.contains("ImportValue(Box::new") && !line.contains("export: Some("),
                "{}: an import or export made outside plan/exports.rs: {line}",
                p.display()
            );
        }
    }
    // Output paths: an emitter names only its own folders; stack names come from StackId.
    let all: Vec<&str> = EMITTERS
        .iter()
        .flat_map(|(_, f)| f.iter().copied())
        .collect();
    for (file, text) in emitter_sources() {
        let own = EMITTERS
            .iter()
            .find(|(f, _)| *f == file)
            .map(|(_, o)| *o)
            .unwrap_or_default();
        for folder in all.iter().filter(|f| !own.contains(f)) {
            assert!(
                !text.contains(&format!("\"{folder}/")),
                "{file} names another area's folder {folder}/: take the StackId from the plan"
            );
        }
        assert!(
            !text.contains("stack_prefix, ") || !text.contains("\"{}-{}\""),
            "{file} formats a stack name: use StackId::stack_name"
        );
    }
    // Role names belong to the module that creates the role, or to the plan (deployers).
    let roles: &[(&str, &[&str])] = &[
        (
            "AWSControlTowerBlueprintAccess",
            &["control_tower.rs", "rules.rs"],
        ),
        ("mlz-cloud-admin", &["common.rs"]),
        (
            "AWSControlTowerExecution",
            &["mod.rs", "rules.rs", "scp.rs"],
        ),
        ("OrganizationAccountAccessRole", &["mod.rs"]),
        ("stacksets-exec-", &["mod.rs", "rules.rs", "scp.rs"]),
    ];
    for (p, text) in sources("mlz-emit") {
        let name = p
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
            .to_owned();
        let code: String = shipped(&text)
            .lines()
            .filter(|l| !l.trim_start().starts_with("//"))
            .collect::<Vec<_>>()
            .join("\n");
        for (role, owners) in roles {
            assert!(
                owners.contains(&name.as_str()) || !code.contains(&format!("\"{role}")),
                "{} names role {role}, which another module owns",
                p.display()
            );
        }
    }
}

#[test]
fn every_rule_is_needed_somewhere() {
    // A rule nobody cites is a precondition nobody enforces.
    let rules =
        fs::read_to_string(root().join("crates/mlz-emit/src/plan/rules.rs")).expect("rules");
    let code: String = sources("mlz-emit")
        .into_iter()
        .filter(|(p, _)| !p.ends_with("plan/rules.rs"))
        .map(|(_, t)| t)
        .collect();
    for line in rules.lines() {
        let Some(rest) = line.strip_prefix("pub const ") else {
            continue;
        };
        let name = rest.split(':').next().unwrap_or_default();
        assert!(
            code.contains(&format!("rules::{name}")),
            "rule {name} is defined but no emitter or check uses it"
        );
    }
}
