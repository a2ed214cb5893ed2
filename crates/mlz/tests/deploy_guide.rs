//! The output README as a deploy guide: the organisation as a Mermaid picture, every stack
//! with its exact `aws cloudformation deploy` command in its wave, every bucketed stack's
//! contents, the bootstrap of the pipeline, and notes said once.

mod common;
use common::reference;

use std::fs;
use std::path::Path;

use serde_json::Value;

fn guide_and_manifest(dir: &Path) -> (String, Value) {
    let guide = fs::read_to_string(dir.join("README.md")).expect("README.md");
    let m = serde_json::from_str(&fs::read_to_string(dir.join("manifest.json")).expect("m"))
        .expect("json");
    (guide, m)
}

#[test]
fn the_guide_draws_the_organisation() {
    let (guide, _) = guide_and_manifest(&reference());
    let start = guide
        .find("```mermaid\nflowchart LR\n")
        .expect("a Mermaid flowchart");
    let end = guide[start + 10..].find("```").expect("closed") + start + 10;
    let picture = &guide[start..end];
    let l = mlz_model::load(
        "platform.yaml",
        mlz_model::REFERENCE_CONFIG,
        &mlz_model::NoFiles,
    );
    let p = l.platform.expect("reference");
    for ou in &p.ous {
        assert!(
            picture.contains(&format!("[\"OU {}\"]", ou.name)),
            "OU {}",
            ou.name
        );
    }
    for a in p.accounts.iter().filter(|a| a.team.is_none()) {
        assert!(
            picture.contains(&format!("([\"{}", a.name)),
            "account {}",
            a.name
        );
    }
    let team_accounts: usize = p.accounts.iter().filter(|a| a.team.is_some()).count();
    let counted: usize = picture
        .lines()
        .filter_map(|l| l.split("([\"").nth(1))
        .filter_map(|l| l.strip_suffix("\"])").or(Some(l)))
        .filter_map(|l| l.split(" team accounts").next()?.parse::<usize>().ok())
        .sum();
    assert_eq!(counted, team_accounts, "every team account is counted once");
    for seg in &p.network.as_ref().expect("network").segments {
        assert!(
            picture.contains(&format!("segment {}", seg.name)),
            "segment {}",
            seg.name
        );
    }
    assert!(picture.contains("blueprint corporate-network"));
}

#[test]
fn every_stack_has_its_command_in_its_wave() {
    let (guide, m) = guide_and_manifest(&reference());
    for t in m["templates"].as_array().expect("templates") {
        if t["kind"] != "stack" {
            continue;
        }
        let path = t["path"].as_str().expect("path");
        let wave = t["wave"].as_u64().expect("wave");
        let command = format!(
            "aws cloudformation deploy --region {} --stack-name {} --template-file {path} --parameter-overrides file://{}",
            t["region"].as_str().expect("region"),
            t["stackName"].as_str().expect("stack name"),
            t["configuration"].as_str().expect("configuration"),
        );
        let at = guide
            .find(&command)
            .unwrap_or_else(|| panic!("no command for {path}"));
        let section = guide[..at].rfind("\n### Wave ").expect("in a wave");
        let n: u64 = guide[section + 10..]
            .split_whitespace()
            .next()
            .and_then(|w| w.parse().ok())
            .expect("wave number");
        assert_eq!(n, wave, "{path}");
        let line = guide[at..].lines().next().expect("line");
        for cap in t["capabilities"].as_array().expect("caps") {
            assert!(line.contains(cap.as_str().expect("cap")), "{path}");
        }
        if t["deployAs"]["principal"] == "mlz-pipeline-deploy" {
            assert!(line.contains(":role/mlz-pipeline-deploy"), "{path}");
        }
        if t["bytes"].as_u64().expect("bytes") > 51_200 {
            assert!(line.contains("--s3-bucket"), "{path}");
        }
    }
}

#[test]
fn every_bucketed_stack_says_what_it_holds() {
    let (guide, m) = guide_and_manifest(&reference());
    let mut buckets = 0;
    for t in m["templates"].as_array().expect("templates") {
        let Some(c) = t.get("contents") else {
            continue;
        };
        buckets += 1;
        let path = t["path"].as_str().expect("path");
        let table = &guide[guide
            .find("## What each bucketed stack holds")
            .expect("section")..];
        let row = table
            .lines()
            .find(|l| l.starts_with(&format!("| `{path}` |")))
            .unwrap_or_else(|| panic!("{path} is not in the bucket table"));
        for name in c["names"].as_array().expect("names") {
            assert!(row.contains(name.as_str().expect("name")), "{path}: {name}");
        }
    }
    // Vending, team and platform access, budgets and attachments.
    assert!(buckets >= 10, "{buckets} bucketed stacks");
    // Every team is in exactly one team-access stack.
    let l = mlz_model::load(
        "platform.yaml",
        mlz_model::REFERENCE_CONFIG,
        &mlz_model::NoFiles,
    );
    let p = l.platform.expect("reference");
    for team in &p.teams {
        let holders = m["templates"]
            .as_array()
            .expect("templates")
            .iter()
            .filter(|t| {
                t["path"]
                    .as_str()
                    .is_some_and(|x| x.contains("/team-access-"))
                    && t["contents"]["names"]
                        .as_array()
                        .is_some_and(|n| n.iter().any(|x| x == team.name.as_str()))
            })
            .count();
        assert_eq!(holders, 1, "{}", team.name);
    }
}

#[test]
fn the_guide_bootstraps_the_pipeline_and_lists_large_templates_once() {
    let (guide, m) = guide_and_manifest(&reference());
    let pl = &m["pipeline"];
    for b in pl["bootstrap"].as_array().expect("bootstrap") {
        assert!(guide.contains(b["command"].as_str().expect("command")));
    }
    for e in pl["externalValues"].as_array().expect("external") {
        assert!(guide.contains(&format!(
            "--name {}",
            e["parameterStore"].as_str().expect("ssm")
        )));
    }
    for r in pl["run"].as_array().expect("run") {
        assert!(guide.contains(r.as_str().expect("command")));
    }
}

#[test]
fn templates_over_the_inline_limit_are_listed_once() {
    let text = mlz_model::synth::config(300, 3);
    let l = mlz_model::load("synth.yaml", &text, &mlz_model::NoFiles);
    let p = l.platform.expect("synthetic config");
    let out = mlz_emit::generate(&p, mlz_emit::Options::default()).expect("generates");
    let guide = String::from_utf8_lossy(&out.files["README.md"]).into_owned();
    let m: Value = serde_json::from_slice(&out.files["manifest.json"]).expect("manifest");
    let large: Vec<&str> = m["templates"]
        .as_array()
        .expect("templates")
        .iter()
        .filter(|t| t["bytes"].as_u64().expect("bytes") > 51_200)
        .map(|t| t["path"].as_str().expect("path"))
        .collect();
    assert!(!large.is_empty(), "300 teams make large templates");
    assert_eq!(guide.matches("## Templates over 51,200 bytes").count(), 1);
    let section = &guide[guide
        .find("## Templates over 51,200 bytes")
        .expect("section")..];
    for path in &large {
        assert!(section.contains(&format!("`{path}`")), "{path}");
    }
    // And the command line says it once too (the pipeline's own templates included: their
    // bootstrap commands pass --s3-bucket).
    let own = out
        .files
        .iter()
        .filter(|(k, v)| k.starts_with("pipeline/") && k.ends_with(".yaml") && v.len() > 51_200)
        .count();
    assert_eq!(out.notes.len(), 1, "{:?}", out.notes);
    assert!(
        out.notes[0].starts_with(&format!("{} templates are over", large.len() + own)),
        "{}",
        out.notes[0]
    );
}
