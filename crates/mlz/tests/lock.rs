//! The lock file: allocations survive config changes, `--locked` guards CI, a lock that
//! contradicts the config (or is not a lock) is an error with both places named.

mod common;
use common::mlz;
use common::{stderr, template_paths};

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::Value;

fn scratch(name: &str) -> PathBuf {
    common::scratch("lock", name)
}

/// Writes the config and generates; the exit code and stderr.
fn generate(dir: &Path, config: &str, extra: &[&str]) -> (i32, String) {
    fs::write(dir.join("platform.yaml"), config).expect("config");
    let mut args = vec!["generate", "-c", "platform.yaml", "-o", "out"];
    args.extend_from_slice(extra);
    let o = mlz(&args, dir);
    (o.status.code().unwrap_or(-1), stderr(&o))
}

/// The lock's ranges: (key, region) → range; and its ASNs.
fn lock(dir: &Path) -> (BTreeMap<(String, String), String>, BTreeMap<String, u64>) {
    let v = json_file(&dir.join("platform.lock.json"));
    let asns = v["network"]["transitGatewayAsns"]
        .as_object()
        .expect("asns")
        .iter()
        .map(|(k, a)| (k.clone(), a.as_u64().unwrap_or_default()))
        .collect();
    (ranges_of(&v["network"]["ranges"]), asns)
}

/// The address plan's ranges, as the lock's.
fn plan(dir: &Path) -> BTreeMap<(String, String), String> {
    ranges_of(&json_file(&dir.join("out/network/address-plan.json"))["ranges"])
}

fn json_file(path: &Path) -> Value {
    serde_json::from_str(&fs::read_to_string(path).expect("read")).expect("json")
}

/// A list of `{key, region, cidr}` (the lock's and the address plan's): (key, region) → range.
fn ranges_of(list: &Value) -> BTreeMap<(String, String), String> {
    list.as_array()
        .expect("ranges")
        .iter()
        .map(|r| {
            let s = |k: &str| r[k].as_str().unwrap_or_default().to_owned();
            ((s("key"), s("region")), s("cidr"))
        })
        .collect()
}

const REFERENCE: &str = mlz_model::REFERENCE_CONFIG;

/// The reference with a new attached account at the top of its accounts and a new team at
/// the top of its teams.
fn with_new_account_and_team() -> String {
    let out = REFERENCE
        .replacen(
            "accounts:\n",
            "accounts:\n  - name: Feature Store\n    email: aws-feature-store@example.com\n    ou: Prod\n    tags: { owner: ml-platform-team, cost-centre: cc-platform }\n",
            1,
        )
        .replacen(
            "  - name: fraud-detection\n",
            "  - name: anomaly-scoring\n  - name: fraud-detection\n",
            1,
        );
    assert_ne!(out, REFERENCE);
    out
}

#[test]
fn adding_an_account_and_a_team_at_the_top_moves_no_allocation() {
    let dir = scratch("insert");
    let (code, err) = generate(&dir, REFERENCE, &[]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("wrote platform.lock.json"), "{err}");
    let (before, asns_before) = lock(&dir);
    assert!(before.len() > 10);
    // Without the lock, inserting at the top renumbers (the bug the lock fixes).
    let unlocked = scratch("insert-unlocked");
    assert_eq!(generate(&unlocked, &with_new_account_and_team(), &[]).0, 0);
    let moved = before
        .iter()
        .filter(|(k, c)| plan(&unlocked).get(*k) != Some(*c))
        .count();
    assert!(moved > 0, "without a lock some range should move");
    // With it, nothing that was allocated moves, in the lock or in the address plan.
    let (code, err) = generate(&dir, &with_new_account_and_team(), &[]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("updated platform.lock.json"), "{err}");
    let (after, asns_after) = lock(&dir);
    let plan_after = plan(&dir);
    for (k, c) in &before {
        assert_eq!(after.get(k), Some(c), "{k:?} moved in the lock");
        assert_eq!(
            plan_after.get(k),
            Some(c),
            "{k:?} moved in the address plan"
        );
    }
    assert!(after.len() > before.len(), "the new accounts got ranges");
    assert_eq!(asns_before, asns_after);
    let _ = fs::remove_dir_all(&dir);
    let _ = fs::remove_dir_all(&unlocked);
}

#[test]
fn locked_fails_when_the_lock_would_change_and_writes_nothing() {
    let dir = scratch("locked");
    // No lock yet: --locked fails.
    let (code, err) = generate(&dir, REFERENCE, &["--locked"]);
    assert_eq!(code, 5, "{err}");
    assert!(err.contains("does not exist"), "{err}");
    assert!(!dir.join("out").exists() && !dir.join("platform.lock.json").exists());
    assert_eq!(generate(&dir, REFERENCE, &[]).0, 0);
    let lock_before = fs::read(dir.join("platform.lock.json")).expect("lock");
    // Unchanged: --locked passes.
    let (code, err) = generate(&dir, REFERENCE, &["--locked"]);
    assert_eq!(code, 0, "{err}");
    // A new attached account: the lock would change, so nothing is written.
    fs::write(dir.join("out/marker"), "kept").expect("marker");
    let (code, err) = generate(&dir, &with_new_account_and_team(), &["--locked"]);
    assert_eq!(code, 5, "{err}");
    assert!(err.contains("would change"), "{err}");
    assert!(
        dir.join("out/marker").exists(),
        "the output folder was replaced"
    );
    assert_eq!(
        fs::read(dir.join("platform.lock.json")).expect("lock"),
        lock_before
    );
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn a_removed_accounts_range_stays_reserved() {
    let dir = scratch("reserved");
    let with = |name: &str, email: &str| {
        REFERENCE.replacen(
            "  - name: ML Shared Services\n",
            &format!("  - name: {name}\n    email: {email}\n    ou: Deployments\n  - name: ML Shared Services\n"),
            1,
        )
    };
    let base = with("Feature Store", "aws-feature-store@example.com");
    assert_ne!(base, REFERENCE);
    assert_eq!(generate(&dir, &base, &[]).0, 0);
    let (before, _) = lock(&dir);
    let old = before
        .get(&("Feature Store".to_owned(), "eu-west-1".to_owned()))
        .expect("Feature Store has a range")
        .clone();
    // Feature Store leaves; a new account joins in the same segment.
    let (code, err) = generate(
        &dir,
        &with("Model Registry", "aws-model-registry@example.com"),
        &[],
    );
    assert_eq!(code, 0, "{err}");
    let (after, _) = lock(&dir);
    assert_eq!(
        after.get(&("Feature Store".to_owned(), "eu-west-1".to_owned())),
        Some(&old),
        "the removed account's range is kept in the lock"
    );
    let new = after
        .get(&("Model Registry".to_owned(), "eu-west-1".to_owned()))
        .expect("the new account has a range");
    assert_ne!(
        new, &old,
        "a reserved range is not given to another account"
    );
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn a_lock_that_contradicts_the_config_names_both_places() {
    let dir = scratch("conflict");
    assert_eq!(generate(&dir, REFERENCE, &[]).0, 0);
    let text = fs::read_to_string(dir.join("platform.lock.json")).expect("lock");
    // The prod supernet shrinks below a locked range.
    let smaller = REFERENCE.replacen(
        "supernets: { eu-west-1: 10.0.0.0/14 }",
        "supernets: { eu-west-1: 10.0.0.0/18 }",
        1,
    );
    assert_ne!(smaller, REFERENCE);
    let (code, err) = generate(&dir, &smaller, &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("lock-conflict"), "{err}");
    assert!(
        err.contains("platform.lock.json:"),
        "the lock's place: {err}"
    );
    assert!(err.contains("platform.yaml:"), "the config's place: {err}");
    // Two regions' gateways with one ASN.
    let clash = text.replacen(
        "\"eu-west-1\": 64512",
        "\"eu-west-1\": 64512,\n      \"eu-central-1\": 64512",
        1,
    );
    assert_ne!(clash, text);
    fs::write(dir.join("platform.lock.json"), clash).expect("lock");
    let (code, err) = generate(&dir, REFERENCE, &[]);
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("ASN 64512"), "{err}");
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn a_broken_lock_is_an_error_with_its_position_never_a_panic() {
    let dir = scratch("broken");
    for (text, needle) in [
        ("{ \"lockVersion\": 1, \"network\": { \"ranges\": [ { \"key\": \"A\" } ] } }\n", "platform.lock.json:1:"),
        ("{ \"lockVersion\": 2 }\n", "lock version"),
        ("{ not json\n", "platform.lock.json:"),
        ("\u{fffd}\u{0}\u{1}binary", "platform.lock.json"),
        ("{ \"lockVersion\": 1, \"network\": { \"transitGatewayAsns\": { \"eu-west-1\": \"x\" } } }\n", "private ASN"),
    ] {
        fs::write(dir.join("platform.lock.json"), text).expect("lock");
        let (code, err) = generate(&dir, REFERENCE, &[]);
        assert_eq!(code, 1, "{text}: {err}");
        assert!(err.contains(needle), "{text}: {err}");
        assert!(!err.contains("panicked"), "{err}");
        assert!(!dir.join("out").exists(), "nothing written");
    }
    let _ = fs::remove_dir_all(&dir);
}

/// A second hub region sorts before the first: without the lock it would take the first's
/// ASN (the position in the sorted list), and CloudFormation would replace the live gateway.
#[test]
fn a_new_hub_region_moves_no_existing_asn() {
    let dir = scratch("asn");
    assert_eq!(generate(&dir, REFERENCE, &[]).0, 0);
    let (_, asns) = lock(&dir);
    assert_eq!(asns.get("eu-west-1"), Some(&64512));
    // Deployments' accounts attach in Frankfurt through a blueprint of their own.
    fs::write(
        dir.join("frankfurt.yaml"),
        fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../blueprints/corporate-network.yaml"),
        )
        .expect("blueprint"),
    )
    .expect("write");
    let two = REFERENCE
        .replacen(
            "    - name: corporate-network\n      ous: [Infrastructure, Workloads, Deployments]\n",
            "    - name: corporate-network\n      ous: [Infrastructure, Workloads]\n    - name: corporate-frankfurt\n      file: frankfurt.yaml\n      ous: [Deployments]\n      regions: [eu-west-1, eu-central-1]\n",
            1,
        )
        .replacen(
            "  vpcPrefixLength: 20         # the corporate-network blueprint's VPC size\n",
            "  vpcPrefixLength: 20         # the corporate-network blueprint's VPC size\n  attachBlueprints: [corporate-network, corporate-frankfurt]\n",
            1,
        )
        .replacen(
            "      ous: [Infrastructure, Workloads, Deployments]\n      supernets: { eu-west-1: 10.0.0.0/14 }\n",
            "      ous: [Infrastructure, Workloads]\n      supernets: { eu-west-1: 10.0.0.0/14 }\n    - name: frankfurt\n      ous: [Deployments]\n      supernets: { eu-central-1: 10.8.0.0/14 }\n",
            1,
        )
        .replacen(
            "egress: { eu-west-1: 10.255.0.0/24 }",
            "egress: { eu-west-1: 10.255.0.0/24, eu-central-1: 10.254.0.0/24 }",
            1,
        );
    let (code, err) = generate(&dir, &two, &[]);
    assert_eq!(code, 0, "{err}");
    let (_, asns) = lock(&dir);
    assert_eq!(asns.get("eu-west-1"), Some(&64512), "{asns:?}");
    assert_eq!(asns.get("eu-central-1"), Some(&64513), "{asns:?}");
    for (region, asn) in [("eu-west-1", 64512), ("eu-central-1", 64513)] {
        let t = fs::read_to_string(dir.join(format!("out/network/transit-gateway-{region}.yaml")))
            .expect("hub");
        assert!(t.contains(&format!("AmazonSideAsn: {asn}")), "{region}");
    }
    let _ = fs::remove_dir_all(&dir);
}

/// Renaming an account (its display name, no `key` in the config) keeps its key through the
/// lock, so its logical ids, exports and range stay: no re-vended account.
#[test]
fn renaming_an_account_keeps_its_identity() {
    let dir = scratch("rename");
    assert_eq!(generate(&dir, REFERENCE, &[]).0, 0);
    let (ranges_before, _) = lock(&dir);
    let renamed = REFERENCE.replacen(
        "  - name: ML Shared Services\n    email: aws-ml-shared-services@example.com\n",
        "  - name: ML Platform Services\n    email: aws-ml-shared-services@example.com\n",
        1,
    );
    assert_ne!(renamed, REFERENCE);
    let renamed = renamed
        .replace(
            "account: ML Shared Services",
            "account: ML Platform Services",
        )
        .replace(
            "accounts: [ML Shared Services]",
            "accounts: [ML Platform Services]",
        )
        .replace(
            "    ML Shared Services: 3000",
            "    ML Platform Services: 3000",
        );
    let (code, err) = generate(&dir, &renamed, &[]);
    assert_eq!(code, 0, "{err}");
    let (ranges_after, _) = lock(&dir);
    assert_eq!(
        ranges_before, ranges_after,
        "no range moved or was re-keyed"
    );
    let any = fs::read_dir(dir.join("out/control-tower"))
        .expect("out")
        .flatten()
        .any(|e| {
            fs::read_to_string(e.path())
                .unwrap_or_default()
                .contains("AccountMLSharedServices:")
        });
    assert!(any, "the account keeps its logical id");
    let all: String = fs::read_dir(dir.join("out/control-tower"))
        .expect("out")
        .flatten()
        .map(|e| fs::read_to_string(e.path()).unwrap_or_default())
        .collect();
    assert!(
        !all.contains("AccountMLPlatformServices"),
        "no new account is vended"
    );
    assert!(all.contains("ML Platform Services"), "the new name is used");
    let _ = fs::remove_dir_all(&dir);
}

/// Changing organization.teamAccountStacks moves no vended account to another stack (which
/// would vend it again): the lock keeps each one's vending stack.
#[test]
fn a_new_stack_count_moves_no_vended_account() {
    let dir = scratch("stacks");
    assert_eq!(generate(&dir, REFERENCE, &[]).0, 0);
    let stacks = |dir: &Path| -> BTreeMap<String, String> {
        let v: Value = serde_json::from_str(
            &fs::read_to_string(dir.join("platform.lock.json")).expect("lock"),
        )
        .expect("json");
        v["vendingStacks"]
            .as_object()
            .expect("vendingStacks")
            .iter()
            .map(|(k, s)| (k.clone(), s.as_str().unwrap_or_default().to_owned()))
            .collect()
    };
    let before = stacks(&dir);
    assert!(before.len() > 10, "{before:?}");
    let more = REFERENCE.replacen(
        "organization:\n",
        "organization:\n  teamAccountStacks: 7\n",
        1,
    );
    assert_ne!(more, REFERENCE);
    let (code, err) = generate(&dir, &more, &[]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(stacks(&dir), before);
    for s in before.values().collect::<std::collections::BTreeSet<_>>() {
        assert!(
            dir.join(format!("out/control-tower/{s}.yaml")).exists(),
            "{s}"
        );
    }
    // Without the lock the team accounts would move.
    let fresh = scratch("stacks-fresh");
    assert_eq!(generate(&fresh, &more, &[]).0, 0);
    assert_ne!(stacks(&fresh), before);
    let _ = fs::remove_dir_all(&dir);
    let _ = fs::remove_dir_all(&fresh);
}

/// With a lock, a new account hashed to a stack the lock already names joins that stack:
/// every vended account is in exactly one template, and a second run changes nothing.
#[test]
fn new_accounts_join_locked_stacks_and_a_second_run_changes_nothing() {
    let dir = scratch("join");
    assert_eq!(generate(&dir, REFERENCE, &[]).0, 0);
    let mut more = REFERENCE.to_owned();
    for n in ["Analytics Hub", "Feature Store", "Model Hub"] {
        more = more.replacen(
            "accounts:\n",
            &format!(
                "accounts:\n  - name: {n}\n    email: aws-{}@example.com\n    ou: Prod\n",
                n.to_lowercase().replace(' ', "-")
            ),
            1,
        );
    }
    let (code, err) = generate(&dir, &more, &[]);
    assert_eq!(code, 0, "{err}");
    let all: String = fs::read_dir(dir.join("out/control-tower"))
        .expect("out")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("vending-"))
        .map(|e| fs::read_to_string(e.path()).unwrap_or_default())
        .collect();
    for id in [
        "AccountAnalyticsHub:",
        "AccountFeatureStore:",
        "AccountModelHub:",
        "AccountDataLake:",
    ] {
        assert_eq!(
            all.matches(id).count(),
            1,
            "{id} in exactly one vending template"
        );
    }
    let manifest = fs::read_to_string(dir.join("out/manifest.json")).expect("manifest");
    let v: Value = serde_json::from_str(&manifest).expect("json");
    let paths = template_paths(&v);
    let unique: std::collections::BTreeSet<&&str> = paths.iter().collect();
    assert_eq!(
        unique.len(),
        paths.len(),
        "a template path twice in the manifest"
    );
    // The next run only marks the new ranges as locked (address plan); from then on the same
    // config changes neither the lock nor any file.
    let lock_before = fs::read(dir.join("platform.lock.json")).expect("lock");
    let (code, err) = generate(&dir, &more, &["--locked"]);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("0 templates changed, 0 added, 0 removed"),
        "{err}"
    );
    let (code, err) = generate(&dir, &more, &["--locked"]);
    assert_eq!(code, 0, "{err}");
    assert!(err.contains("no change"), "{err}");
    assert_eq!(
        fs::read(dir.join("platform.lock.json")).expect("lock"),
        lock_before
    );
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn a_lock_with_crlf_line_endings_is_the_same_lock() {
    let dir = scratch("crlf");
    assert_eq!(generate(&dir, REFERENCE, &[]).0, 0);
    let text = fs::read_to_string(dir.join("platform.lock.json")).expect("lock");
    fs::write(dir.join("platform.lock.json"), text.replace('\n', "\r\n")).expect("lock");
    let (code, err) = generate(&dir, REFERENCE, &["--locked"]);
    assert_eq!(code, 0, "{err}");
    let _ = fs::remove_dir_all(&dir);
}
