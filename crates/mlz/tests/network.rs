//! The address plan: stable under insertion once the previous plan is given back, pinned
//! ranges respected, and no two attached VPCs overlap.

use std::collections::BTreeMap;

use mlz::{compile, Outcome};
use mlz_emit::Options;
use mlz_model::{FileSource, REFERENCE_CONFIG};
use serde_json::Value;

struct OneFile(String);

impl FileSource for OneFile {
    fn read(&self, path: &str) -> Result<String, String> {
        if path == "address-plan.json" {
            Ok(self.0.clone())
        } else {
            Err(format!("no file {path}"))
        }
    }
}

fn plan(text: &str, files: &dyn FileSource) -> (String, BTreeMap<(String, String), String>) {
    let files = match compile("platform.yaml", text, files, Options::default()) {
        Outcome::Generated { output, .. } => output.files,
        Outcome::Invalid { report } | Outcome::Failed { report } => panic!("{report}"),
    };
    let raw = String::from_utf8(files["network/address-plan.json"].clone()).expect("utf-8");
    let v: Value = serde_json::from_str(&raw).expect("json");
    let ranges = v["ranges"]
        .as_array()
        .expect("ranges")
        .iter()
        .map(|r| {
            (
                (
                    r["key"].as_str().expect("key").to_owned(),
                    r["region"].as_str().expect("region").to_owned(),
                ),
                r["cidr"].as_str().expect("cidr").to_owned(),
            )
        })
        .collect();
    (raw, ranges)
}

/// The reference with one more team, inserted before the others, whose prod account attaches.
fn with_new_team(base: &str) -> String {
    let out = base.replacen(
        "  - name: fraud-detection\n",
        "  - name: anomaly-scoring\n  - name: fraud-detection\n",
        1,
    );
    assert_ne!(out, base, "the reference must list fraud-detection");
    out
}

fn overlapping(ranges: &BTreeMap<(String, String), String>) -> Option<(String, String)> {
    let parse = |c: &str| mlz_model::Cidr::parse(c).expect("cidr");
    let all: Vec<(&(String, String), mlz_model::Cidr)> =
        ranges.iter().map(|(k, c)| (k, parse(c))).collect();
    for (i, (ka, a)) in all.iter().enumerate() {
        for (kb, b) in &all[i + 1..] {
            if ka.1 == kb.1 && a.overlaps(*b) {
                return Some((format!("{ka:?} {a}"), format!("{kb:?} {b}")));
            }
        }
    }
    None
}

#[test]
fn adding_a_team_in_the_middle_keeps_every_existing_range() {
    let (raw, before) = plan(REFERENCE_CONFIG, &mlz_model::NoFiles);
    assert!(!before.is_empty());
    let config = with_new_team(REFERENCE_CONFIG).replacen(
        "  ranges:\n    Data Lake:",
        "  addressPlan: address-plan.json\n  ranges:\n    Data Lake:",
        1,
    );
    let (_, after) = plan(&config, &OneFile(raw));
    for (k, cidr) in &before {
        assert_eq!(after.get(k), Some(cidr), "{k:?} moved");
    }
    let new: Vec<_> = after.keys().filter(|k| !before.contains_key(*k)).collect();
    assert!(!new.is_empty(), "the new team's prod account attaches");
    assert!(
        new.iter()
            .all(|(key, _)| key.starts_with("anomaly-scoring")),
        "{new:?}"
    );
    assert_eq!(overlapping(&after), None);
}

#[test]
fn without_the_previous_plan_insertion_order_decides() {
    // What addressPlan protects against: allocated in config order, a team inserted first
    // moves later accounts. (Documented: commit the plan and point addressPlan at it.)
    let (_, before) = plan(REFERENCE_CONFIG, &mlz_model::NoFiles);
    let (_, after) = plan(&with_new_team(REFERENCE_CONFIG), &mlz_model::NoFiles);
    assert!(before.iter().any(|(k, c)| after.get(k) != Some(c)));
    assert_eq!(overlapping(&after), None);
}

#[test]
fn pinned_ranges_are_kept_and_others_avoid_them() {
    let (_, ranges) = plan(REFERENCE_CONFIG, &mlz_model::NoFiles);
    assert_eq!(
        ranges[&("Data Lake".to_owned(), "eu-west-1".to_owned())],
        "10.0.64.0/20"
    );
    assert_eq!(overlapping(&ranges), None);
}

#[test]
fn each_region_has_a_hub_with_separate_segment_route_tables() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fixtures/reference/expected/network");
    // The attaching blueprint deploys in the home region only: no hub elsewhere.
    assert!(!dir.join("transit-gateway-eu-central-1.yaml").exists());
    for region in ["eu-west-1"] {
        let text = std::fs::read_to_string(dir.join(format!("transit-gateway-{region}.yaml")))
            .expect("hub template");
        let t = mlz_model::yaml::parse_cfn(&text).expect("yaml").to_json();
        let tgw = &t["Resources"]["TransitGateway"]["Properties"];
        // Segments stay apart: nothing lands in a default route table.
        assert_eq!(tgw["DefaultRouteTableAssociation"], "disable");
        assert_eq!(tgw["DefaultRouteTablePropagation"], "disable");
        assert_eq!(tgw["AutoAcceptSharedAttachments"], "enable");
        for seg in ["RouteTableProd", "RouteTableNonprod"] {
            assert_eq!(
                t["Resources"][seg]["Type"], "AWS::EC2::TransitGatewayRouteTable",
                "{region} {seg}"
            );
        }
        let share = &t["Resources"]["HubShare"]["Properties"];
        assert_eq!(share["AllowExternalPrincipals"], false);
        // The OUs of the attaching accounts: Infrastructure, Workloads, Prod, NonProd (test
        // accounts), Deployments.
        assert_eq!(
            share["Principals"].as_array().map(Vec::len),
            Some(5),
            "the attaching accounts' OUs"
        );
    }
}

#[test]
fn exactly_the_corporate_accounts_attach() {
    let l = mlz_model::load("platform.yaml", REFERENCE_CONFIG, &mlz_model::NoFiles);
    let p = l.platform.expect("reference");
    let ct = p.control_tower.as_ref().expect("control tower");
    let corporate: std::collections::BTreeSet<String> = p
        .accounts
        .iter()
        .filter(|a| {
            a.blueprint
                .is_some_and(|b| ct.blueprints[b].name == "corporate-network")
        })
        .map(|a| a.key.clone())
        .collect();
    let (_, ranges) = plan(REFERENCE_CONFIG, &mlz_model::NoFiles);
    let attached: std::collections::BTreeSet<String> = ranges
        .keys()
        .filter(|(_, region)| region == "eu-west-1")
        .map(|(key, _)| key.clone())
        .collect();
    assert!(!corporate.is_empty());
    assert_eq!(attached, corporate);
    // Dev accounts (internet-only) keep direct internet access; test (pre-production)
    // accounts attach, in the nonprod segment.
    assert!(attached.iter().all(|k| !k.ends_with("-dev")));
    assert!(attached.iter().any(|k| k.ends_with("-test")));
    // Their vending requests carry their planned range.
    let files = match compile(
        "platform.yaml",
        REFERENCE_CONFIG,
        &mlz_model::NoFiles,
        Options::default(),
    ) {
        Outcome::Generated { output, .. } => output.files,
        Outcome::Invalid { report } | Outcome::Failed { report } => panic!("{report}"),
    };
    for a in &p.accounts {
        let Some(doc) = files.get(&format!(
            "vending/{}.json",
            a.key.to_ascii_lowercase().replace(' ', "-")
        )) else {
            continue;
        };
        let v: Value = serde_json::from_slice(doc).expect("json");
        let cidr = v["blueprint"]["parameters"]["VpcCidr"].as_str();
        let planned = ranges
            .get(&(a.key.clone(), "eu-west-1".to_owned()))
            .map(String::as_str);
        if corporate.contains(&a.key) {
            assert_eq!(cidr, planned, "{} gets its planned range", a.name);
        } else {
            // Others get no planned range (a sandbox keeps its blueprint's default).
            assert!(planned.is_none(), "{}", a.name);
        }
    }
}

#[test]
fn an_attaching_blueprint_in_two_regions_with_supernets_is_an_error() {
    // AFC gives a blueprint one set of parameters for all its regions: one VpcCidr for two
    // regions would build the same range in both.
    let text = REFERENCE_CONFIG
        .replace(
            "    - name: corporate-network\n      ous: [Infrastructure, Workloads, Deployments]\n",
            "    - name: corporate-network\n      ous: [Infrastructure, Workloads, Deployments]\n      regions: [eu-west-1, eu-central-1]\n",
        )
        .replace(
            "supernets: { eu-west-1: 10.0.0.0/14 }",
            "supernets: { eu-west-1: 10.0.0.0/14, eu-central-1: 10.8.0.0/14 }",
        );
    assert_ne!(text, REFERENCE_CONFIG);
    let l = mlz_model::load("platform.yaml", &text, &mlz_model::NoFiles);
    let codes: Vec<&str> = l.diagnostics.iter().map(|d| d.code).collect();
    assert!(codes.contains(&"attach-blueprint-regions"), "{codes:?}");
    assert!(l.platform.is_none());
}
