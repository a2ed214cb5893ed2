//! Scale and stability on synthetic configs (sizes, not timings: timings are benchmarks).

use std::collections::BTreeMap;

use mlz::{compile, Outcome};
use mlz_emit::Options;
use mlz_model::NoFiles;

fn generate(text: &str) -> BTreeMap<String, Vec<u8>> {
    match compile("synth.yaml", text, &NoFiles, Options::default()) {
        Outcome::Generated { output, .. } => output.files,
        Outcome::Invalid { report } | Outcome::Failed { report } => panic!("{report}"),
    }
}

#[test]
fn three_hundred_teams_generate_within_limits() {
    let files = generate(&mlz_model::synth::config(300, 3));
    let manifest: serde_json::Value =
        serde_json::from_slice(&files["manifest.json"]).expect("manifest");
    let templates = manifest["templates"].as_array().expect("templates");
    let accounts: u64 = templates
        .iter()
        .map(|t| t["resources"].as_u64().unwrap_or(0))
        .sum();
    // 900 team accounts, 3 platform accounts, 5 OUs and 2 policies.
    assert_eq!(accounts, 900 + 3 + 5 + 2);
    for t in templates {
        assert!(t["resources"].as_u64().unwrap_or(0) <= 500, "{}", t["path"]);
        assert!(
            t["bytes"].as_u64().unwrap_or(0) <= 1_000_000,
            "{}",
            t["path"]
        );
    }
}

#[test]
fn adding_a_team_changes_only_its_own_stack() {
    let base = mlz_model::synth::config(300, 3);
    let with_new = base.replace(
        "  - { name: team-00150,",
        "  - { name: team-new-one }\n  - { name: team-00150,",
    );
    assert_ne!(base, with_new);
    let a = generate(&base);
    let b = generate(&with_new);
    let changed: Vec<&String> = b.keys().filter(|k| a.get(*k) != b.get(*k)).collect();
    let removed: Vec<&String> = a.keys().filter(|k| !b.contains_key(*k)).collect();
    assert!(removed.is_empty(), "{removed:?}");
    let templates: Vec<&&String> = changed.iter().filter(|k| k.ends_with(".yaml")).collect();
    assert_eq!(
        templates.len(),
        1,
        "only the new team's stack may change: {changed:?}"
    );
    assert!(templates[0].starts_with("organizations/team-accounts-"));
}
