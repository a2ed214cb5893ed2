//! Security services: the reference output is secure by default and says what CloudFormation
//! cannot do.

mod common;
use common::{expected, template, template_paths};

use std::fs;

use serde_json::Value;

fn manifest(case: &str) -> Value {
    serde_json::from_str(
        &fs::read_to_string(expected(case).join("manifest.json")).expect("manifest"),
    )
    .expect("json")
}

#[test]
fn central_log_bucket_is_encrypted_private_versioned_and_tls_only() {
    let t = template("reference", "security/log-archive.yaml");
    let b = &t["Resources"]["LogBucket"];
    assert_eq!(b["DeletionPolicy"], "Retain");
    let p = &b["Properties"];
    let sse = &p["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        ["ServerSideEncryptionByDefault"];
    assert_eq!(sse["SSEAlgorithm"], "aws:kms");
    assert_eq!(p["VersioningConfiguration"]["Status"], "Enabled");
    for k in [
        "BlockPublicAcls",
        "BlockPublicPolicy",
        "IgnorePublicAcls",
        "RestrictPublicBuckets",
    ] {
        assert_eq!(p["PublicAccessBlockConfiguration"][k], true, "{k}");
    }
    assert_eq!(
        p["LifecycleConfiguration"]["Rules"][0]["ExpirationInDays"],
        730
    );
    assert_eq!(
        t["Resources"]["LogKey"]["Properties"]["EnableKeyRotation"],
        true
    );
    let statements = t["Resources"]["LogBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"]
        .as_array()
        .expect("statements")
        .clone();
    assert!(
        statements
            .iter()
            .any(|s| s["Effect"] == "Deny"
                && s["Condition"]["Bool"]["aws:SecureTransport"] == "false")
    );
    // Every Allow to a service is scoped to the administrator account.
    for s in statements.iter().filter(|s| s["Effect"] == "Allow") {
        assert!(
            s["Condition"]["StringEquals"]["aws:SourceAccount"].is_object(),
            "{s}"
        );
    }
}

#[test]
fn security_hub_is_central_with_several_regions_and_local_with_one() {
    let multi = template("reference", "security/security-hub.yaml");
    let r = &multi["Resources"];
    assert_eq!(
        r["OrganizationConfiguration"]["Properties"]["ConfigurationType"],
        "CENTRAL"
    );
    assert_eq!(
        r["FindingAggregator"]["Properties"]["Regions"],
        serde_json::json!(["eu-central-1"])
    );
    assert_eq!(r["BaselineForRoot"]["Properties"]["TargetType"], "ROOT");
    let single = template("security-single-region", "security/security-hub.yaml");
    let r = &single["Resources"];
    assert_eq!(
        r["OrganizationConfiguration"]["Properties"]["ConfigurationType"],
        "LOCAL"
    );
    assert!(r.get("FindingAggregator").is_none());
}

#[test]
fn guardduty_and_macie_run_in_every_governed_region_and_the_gaps_are_steps() {
    let m = manifest("reference");
    let paths = template_paths(&m);
    for r in ["eu-west-1", "eu-central-1"] {
        let path = format!("security/detectors-{r}.yaml");
        assert!(paths.contains(&path.as_str()), "{path}");
        let t = template("reference", &path);
        assert_eq!(t["Resources"]["Detector"]["Properties"]["Enable"], true);
        assert_eq!(
            t["Resources"]["MacieSession"]["Properties"]["Status"],
            "ENABLED"
        );
    }
    let steps: Vec<&str> = m["manualSteps"]
        .as_array()
        .expect("steps")
        .iter()
        .filter_map(|s| s["id"].as_str())
        .collect();
    assert!(steps.contains(&"security-organization-admin"));
    assert!(steps.contains(&"security-auto-enable"));
    // Designating the administrator first would make the detector stacks fail on an existing
    // detector: the step waits for them.
    let admin = m["manualSteps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["id"] == "security-organization-admin")
        .expect("step");
    let waits: Vec<&str> = admin["dependsOn"]
        .as_array()
        .expect("dependsOn")
        .iter()
        .filter_map(|d| d["template"].as_str())
        .collect();
    assert_eq!(
        waits,
        [
            "security/detectors-eu-central-1.yaml",
            "security/detectors-eu-west-1.yaml"
        ]
    );
}
