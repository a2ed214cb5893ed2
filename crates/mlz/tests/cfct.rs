//! cfct/: the policies and StackSets Customizations for AWS Control Tower can deploy, as its
//! manifest (version 2021-03-15) names them. scripts/cfct_check.py validates the manifests with
//! pykwalify as CfCT's build stage does; these tests check what they say.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

fn reference() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/reference/expected")
}

fn manifest() -> (String, Value) {
    let text = fs::read_to_string(reference().join("cfct/manifest.yaml")).expect("manifest");
    let doc = mlz_model::yaml::parse(&text).expect("yaml").to_json();
    (text, doc)
}

#[test]
fn the_manifest_is_version_2021_03_15_with_plain_file_paths() {
    let (text, doc) = manifest();
    // An unquoted date (CfCT's schema rejects a string), one document.
    assert!(text.starts_with("---\nregion: eu-west-1\nversion: 2021-03-15\n"));
    assert_eq!(text.matches("\n---").count(), 0);
    // CfCT finds files with grep and cut: plain, never quoted, never first in a list item.
    for line in text.lines().filter(|l| l.contains("_file:")) {
        assert!(line.starts_with("    resource_file: "), "{line}");
        let path = line.trim_start().trim_start_matches("resource_file: ");
        assert!(!path.starts_with('"') && !path.contains(' '), "{line}");
        assert!(reference().join("cfct").join(path).is_file(), "{path}");
    }
    assert!(doc["resources"].as_array().is_some_and(|r| !r.is_empty()));
}

#[test]
fn every_scp_and_rcp_is_a_policy_file_on_its_ous() {
    let (_, doc) = manifest();
    let l = mlz_model::load(
        "platform.yaml",
        mlz_model::REFERENCE_CONFIG,
        &mlz_model::NoFiles,
    );
    let p = l.platform.expect("reference");
    let resources = doc["resources"].as_array().expect("resources");
    for pol in &p.policies {
        let method = match pol.policy_type {
            mlz_model::PolicyType::ServiceControl => "scp",
            mlz_model::PolicyType::ResourceControl => "rcp",
            mlz_model::PolicyType::Tag => {
                assert!(resources.iter().all(|r| r["name"] != pol.name.as_str()));
                continue;
            }
        };
        let r = resources
            .iter()
            .find(|r| r["name"] == pol.name.as_str())
            .unwrap_or_else(|| panic!("{} is not in the manifest", pol.name));
        assert_eq!(r["deploy_method"], method);
        let file = reference()
            .join("cfct")
            .join(r["resource_file"].as_str().expect("file"));
        let body: Value =
            serde_json::from_str(&fs::read_to_string(file).expect("policy")).expect("json");
        assert_eq!(body, pol.document, "{}", pol.name);
        let ous: Vec<&str> = r["deployment_targets"]["organizational_units"]
            .as_array()
            .expect("ous")
            .iter()
            .map(|o| o.as_str().expect("ou"))
            .collect();
        if pol.targets.root {
            assert!(ous.contains(&"Root"));
        }
        for o in &pol.targets.ous {
            // Nested OUs are named from below the root, joined with ':'.
            assert!(
                ous.contains(&p.ou(*o).path.replace('/', ":").as_str()),
                "{}",
                pol.name
            );
        }
    }
}

#[test]
fn stack_sets_reach_the_same_accounts_as_mlzs() {
    let (_, doc) = manifest();
    let m: Value =
        serde_json::from_str(&fs::read_to_string(reference().join("manifest.json")).expect("m"))
            .expect("json");
    let resources = doc["resources"].as_array().expect("resources");
    let mut seen = 0;
    for t in m["templates"].as_array().expect("templates") {
        if t["kind"] != "stackSet" {
            continue;
        }
        let path = t["path"].as_str().expect("path");
        let stem = path.strip_suffix(".yaml").expect("yaml");
        let Some(r) = resources
            .iter()
            .find(|r| r["resource_file"] == format!("templates/{stem}.template"))
        else {
            // Left out, and said so.
            let left = m["cfct"]["leftOut"].as_array().expect("left out");
            assert!(
                left.iter()
                    .any(|x| x.as_str().is_some_and(|x| x.contains(path))),
                "{path}"
            );
            continue;
        };
        seen += 1;
        assert_eq!(r["deploy_method"], "stack_set");
        assert_eq!(r["regions"], t["stackSet"]["regions"], "{path}");
        let ss = &t["stackSet"];
        let targets = &r["deployment_targets"];
        if ss["accounts"].as_array().is_some_and(|a| !a.is_empty()) {
            assert_eq!(targets["accounts"], ss["accounts"], "{path}");
            assert!(
                targets.get("organizational_units").is_none(),
                "{path}: CfCT adds OUs' accounts"
            );
        } else {
            // Each OU and every OU below it (CfCT reaches only an OU's direct accounts).
            let ous: Vec<&str> = targets["organizational_units"]
                .as_array()
                .expect("ous")
                .iter()
                .map(|o| o.as_str().expect("ou"))
                .collect();
            for o in ss["organizationalUnits"].as_array().expect("ous") {
                let top = o.as_str().expect("ou").replace('/', ":");
                assert!(ous.contains(&top.as_str()), "{path}");
            }
            assert!(
                ous.iter().any(|o| o.contains(':')),
                "{path}: nested OUs listed"
            );
        }
        // The template is the StackSet's own.
        let copy = fs::read(
            reference()
                .join("cfct/templates")
                .join(format!("{stem}.template")),
        )
        .expect("copy");
        assert_eq!(
            copy,
            fs::read(reference().join(path)).expect("template"),
            "{path}"
        );
    }
    assert!(seen >= 5, "{seen} stack sets");
}
