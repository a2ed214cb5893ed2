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

fn count(text: &str, needle: &str) -> usize {
    text.matches(needle).count()
}

#[test]
fn three_hundred_teams_generate_within_limits() {
    let files = generate(&mlz_model::synth::config(300, 3));
    let manifest: serde_json::Value =
        serde_json::from_slice(&files["manifest.json"]).expect("manifest");
    let templates = manifest["templates"].as_array().expect("templates");
    for t in templates {
        let path = t["path"].as_str().unwrap_or_default();
        assert!(t["resources"].as_u64().expect("a number") <= 500, "{path}");
        assert!(
            t["bytes"].as_u64().expect("a number") <= 1_000_000,
            "{path}"
        );
        let text = String::from_utf8_lossy(&files[path]);
        assert!(
            count(&text, "\n    Export:\n") <= 200,
            "{path} has too many outputs"
        );
    }
    let all: String = files
        .iter()
        .filter(|(k, _)| k.ends_with(".yaml"))
        .map(|(_, v)| String::from_utf8_lossy(v).into_owned())
        .collect();
    // 900 team accounts and 3 platform accounts are vended, each exactly once.
    assert_eq!(
        count(
            &all,
            "Type: AWS::ServiceCatalog::CloudFormationProvisionedProduct"
        ),
        903
    );
    // Four groups per team (and the platform-wide Auditors), each team group assigned to each
    // of the team's three accounts, the auditors to every Workloads account; the data
    // scientists and data engineers not to prod (they list no stages, so they get no
    // data-writing access in production).
    assert_eq!(count(&all, "Type: AWS::IdentityStore::Group"), 1200 + 1);
    assert_eq!(
        count(&all, "Type: AWS::SSO::Assignment"),
        300 * (4 * 3 - 2) + 900
    );
    assert_eq!(
        files.keys().filter(|k| k.starts_with("vending/")).count(),
        903
    );
}

#[test]
fn adding_a_team_changes_only_the_stacks_that_hold_it() {
    let base = mlz_model::synth::config(300, 3);
    let with_new = base.replace(
        "  - { name: team-00150,",
        "  - { name: team-new-one }\n  - { name: team-00150,",
    );
    assert_ne!(base, with_new);
    let a = generate(&base);
    let b = generate(&with_new);
    assert!(a.keys().all(|k| b.contains_key(k)), "nothing may disappear");
    // (The pipeline's stages follow the waves, which a new account may shift; the pipeline
    // updates itself in its first stage.)
    let changed: Vec<&String> = b
        .keys()
        .filter(|k| k.ends_with(".yaml") && !k.starts_with("pipeline/") && a.get(*k) != b.get(*k))
        .collect();
    // Every changed template holds the new team's accounts, groups or assignments; no other
    // template changes (nothing is reshuffled).
    for k in &changed {
        let text = String::from_utf8_lossy(&b[*k]);
        assert!(
            text.contains("TeamNewOne") || text.contains("team-new-one"),
            "{k} changed but has nothing of the new team"
        );
    }
    // Its vending stack, its budgets stack, its team-access stack, the platform-access
    // stacks of its three accounts (the auditors' OU-wide access), and the attachments stack
    // of its attached accounts: at most seven.
    assert!((3..=7).contains(&changed.len()), "{changed:?}");
    let templates = b.keys().filter(|k| k.ends_with(".yaml")).count();
    eprintln!(
        "adding one team to 300 changed {} of {templates} templates: {changed:?}",
        changed.len()
    );
}

#[test]
fn control_tower_switch_chooses_plain_organizations_accounts() {
    let with_ct = generate(mlz_model::REFERENCE_CONFIG);
    assert!(with_ct
        .keys()
        .any(|k| k.starts_with("control-tower/vending-")));
    assert!(!with_ct.contains_key("organizations/accounts.yaml"));
    let off =
        mlz_model::REFERENCE_CONFIG.replace("controlTower:\n", "controlTower:\n  enabled: false\n");
    let without = generate(&off);
    assert!(without.keys().all(|k| !k.starts_with("control-tower/")
        && !k.starts_with("vending/")
        && !k.starts_with("blueprints/")));
    let accounts = String::from_utf8_lossy(&without["organizations/accounts.yaml"]).into_owned();
    assert!(accounts.contains("Type: AWS::Organizations::Account"));
    // Identity Center still finds every account id, now exported by the Organizations stacks.
    assert!(without
        .keys()
        .any(|k| k.starts_with("identity-center/team-access-")));
}

#[test]
fn a_thousand_teams_vend_in_five_balanced_lanes() {
    let files = generate(&mlz_model::synth::config(1_000, 3));
    let manifest: serde_json::Value =
        serde_json::from_slice(&files["manifest.json"]).expect("manifest");
    let limit = manifest["limits"]
        .as_array()
        .expect("limits")
        .iter()
        .find(|l| l["resource"] == "accountFactory")
        .expect("account factory limit");
    let accounts = limit["operations"].as_u64().expect("operations");
    assert_eq!(accounts, 3_003);
    let critical = limit["criticalPath"].as_u64().expect("critical path");
    assert!(
        critical <= accounts.div_ceil(5) + 5,
        "critical path {critical} for {accounts} accounts"
    );
    // Never more than five account operations at once: every vending stack runs its accounts
    // one after another (a DependsOn chain) and waits for the stack before it in its lane,
    // and there are at most five lanes (chains of stacks with no predecessor).
    let templates = manifest["templates"].as_array().expect("templates");
    let vending: Vec<&serde_json::Value> = templates
        .iter()
        .filter(|t| t["path"].as_str().is_some_and(|p| p.contains("/vending-")))
        .collect();
    let heads = vending
        .iter()
        .filter(|t| {
            !t["dependsOn"].as_array().expect("deps").iter().any(|d| {
                d["template"]
                    .as_str()
                    .is_some_and(|p| p.contains("/vending-"))
            })
        })
        .count();
    assert!(heads <= 5, "{heads} vending chains start at once");
    for t in &vending {
        let path = t["path"].as_str().expect("path");
        let text = String::from_utf8_lossy(&files[path]).into_owned();
        let products = count(
            &text,
            "Type: AWS::ServiceCatalog::CloudFormationProvisionedProduct",
        );
        // Each product after the first waits for one other (the chain).
        assert!(
            count(&text, "    DependsOn:\n") + 1 >= products,
            "{path} is not one chain"
        );
    }
}

/// The areas emit on two threads; joined, they are the same bytes as on one (the reference,
/// whose shared steps several areas require, and a synthetic organisation).
#[test]
fn emitting_on_two_threads_gives_the_same_output_as_on_one() {
    let reference = mlz_model::REFERENCE_CONFIG;
    for text in [reference.to_string(), mlz_model::synth::config(40, 3)] {
        let loaded = mlz_model::load("platform.yaml", &text, &NoFiles);
        let p = loaded.platform.expect("valid");
        let opts = Options::default();
        let files = |e| match mlz_emit::generate_from(&p, e, opts) {
            Ok(out) => out.files,
            Err(e) => panic!("{e:?}"),
        };
        let threaded = files(mlz_emit::emit(&p, opts).expect("emit"));
        let sequential = files(mlz_emit::emit_sequential(&p, opts).expect("emit"));
        assert!(threaded.keys().any(|k| k.starts_with("vending/")));
        assert_eq!(threaded, sequential);
    }
}
