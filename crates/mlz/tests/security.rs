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

fn step<'a>(m: &'a Value, id: &str) -> &'a Value {
    m["manualSteps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["id"] == id)
        .unwrap_or_else(|| panic!("no step {id}"))
}

/// Every governed region of the administrator account: GuardDuty exports the region's
/// findings (export settings are per region) to the central bucket, and Security Hub is on
/// before security-hub.yaml makes the aggregator and the central configuration.
#[test]
fn every_governed_region_exports_findings_and_has_security_hub_before_the_aggregator() {
    let m = manifest("reference");
    let hub = m["templates"]
        .as_array()
        .expect("templates")
        .iter()
        .find(|t| t["path"] == "security/security-hub.yaml")
        .expect("security-hub");
    let waits: Vec<&str> = hub["dependsOn"]
        .as_array()
        .expect("dependsOn")
        .iter()
        .filter_map(|d| d["template"].as_str())
        .collect();
    for r in ["eu-west-1", "eu-central-1"] {
        let path = format!("security/detectors-{r}.yaml");
        let t = template("reference", &path);
        let dest = &t["Resources"]["FindingsToLogArchive"]["Properties"];
        assert_eq!(dest["DestinationType"], "S3", "{path}");
        assert_eq!(dest["DetectorId"]["Ref"], "Detector", "{path}");
        assert_eq!(
            dest["DestinationProperties"]["DestinationArn"]["Ref"],
            "LogBucketArn"
        );
        assert_eq!(
            dest["DestinationProperties"]["KmsKeyArn"]["Ref"],
            "LogKeyArn"
        );
        assert_eq!(
            t["Resources"]["SecurityHub"]["Type"], "AWS::SecurityHub::Hub",
            "{path}"
        );
        assert!(
            waits.contains(&path.as_str()),
            "security-hub.yaml does not wait for {path}"
        );
        // Designating the administrator turns its hub on: the detectors' Hub comes first.
        let admin = m["templates"]
            .as_array()
            .expect("templates")
            .iter()
            .find(|t| t["path"] == "security/delegated-admin.yaml")
            .expect("delegated-admin");
        assert!(
            admin["dependsOn"]
                .as_array()
                .expect("dependsOn")
                .iter()
                .any(|d| d["template"] == path.as_str()),
            "delegated-admin.yaml does not wait for {path}"
        );
    }
}

/// Members get the administrator's GuardDuty protection plans, and Macie reaches the accounts
/// that exist today (its auto-enable covers only accounts added later).
#[test]
fn members_get_the_administrators_protection_and_existing_accounts_join_macie() {
    let m = manifest("reference");
    let detector = template("reference", "security/detectors-eu-west-1.yaml");
    let features: Vec<&str> = detector["Resources"]["Detector"]["Properties"]["Features"]
        .as_array()
        .expect("features")
        .iter()
        .filter_map(|f| f["Name"].as_str())
        .collect();
    assert!(features.len() >= 4);
    let auto = step(&m, "security-auto-enable");
    let guardduty: Vec<&str> = auto["commands"]
        .as_array()
        .expect("commands")
        .iter()
        .filter_map(Value::as_str)
        .filter(|c| c.starts_with("aws guardduty update-organization-configuration"))
        .collect();
    assert_eq!(guardduty.len(), 2);
    for c in guardduty {
        let json = c.split('\'').nth(1).expect("--features '…'");
        let given: Vec<Value> = serde_json::from_str(json).expect("features JSON");
        let names: Vec<&str> = given.iter().filter_map(|f| f["Name"].as_str()).collect();
        assert_eq!(names, features, "{c}");
        assert!(given.iter().all(|f| f["AutoEnable"] == "ALL"), "{c}");
        assert!(c.contains("--auto-enable-organization-members ALL"));
    }
    let macie = step(&m, "macie-existing-members");
    let commands: Vec<&str> = macie["commands"]
        .as_array()
        .expect("commands")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for r in ["eu-west-1", "eu-central-1"] {
        assert!(
            commands
                .iter()
                .any(|c| c.contains("aws macie2 create-member")
                    && c.ends_with("done")
                    && c.contains(&format!("--region {r} "))),
            "no Macie members in {r}"
        );
    }
    let waits: Vec<&str> = macie["dependsOn"]
        .as_array()
        .expect("dependsOn")
        .iter()
        .filter_map(|d| d["step"].as_str())
        .collect();
    assert!(waits.contains(&"security-organization-admin"), "{waits:?}");
}

/// GuardDuty may write to the central bucket and use its key only for the administrator's
/// detectors (aws:SourceAccount and aws:SourceArn).
#[test]
fn only_the_administrators_detectors_write_findings() {
    let t = template("reference", "security/log-archive.yaml");
    let mut statements: Vec<&Value> = t["Resources"]["LogBucketPolicy"]["Properties"]
        ["PolicyDocument"]["Statement"]
        .as_array()
        .expect("bucket policy")
        .iter()
        .collect();
    statements.extend(
        t["Resources"]["LogKey"]["Properties"]["KeyPolicy"]["Statement"]
            .as_array()
            .expect("key policy"),
    );
    let guardduty: Vec<&&Value> = statements
        .iter()
        .filter(|s| s["Principal"]["Service"] == "guardduty.amazonaws.com")
        .collect();
    assert_eq!(guardduty.len(), 3);
    for s in guardduty {
        let arn = &s["Condition"]["ArnLike"]["aws:SourceArn"]["Fn::Sub"];
        assert_eq!(
            arn[0], "arn:${AWS::Partition}:guardduty:*:${Admin}:detector/*",
            "{}",
            s["Sid"]
        );
        assert!(!arn[1]["Admin"].is_null());
        assert!(!s["Condition"]["StringEquals"]["aws:SourceAccount"].is_null());
    }
}
