//! `mlz diff`: replacements from the create-only table, the dangerous kinds, the security
//! section, exit codes, the JSON schema, and `generate`'s summary.

mod common;
use common::mlz;

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

fn scratch(name: &str) -> PathBuf {
    common::scratch("diff", name)
}

const REFERENCE: &str = mlz_model::REFERENCE_CONFIG;

/// The reference with the DataEngineering permission set renamed (and its uses).
fn with_renamed_permission_set() -> String {
    let renamed = REFERENCE
        .replacen(
            "    - name: DataEngineering\n",
            "    - name: DataEngineers\n",
            1,
        )
        .replace(
            "permissionSets: [DataEngineering]",
            "permissionSets: [DataEngineers]",
        );
    assert_ne!(renamed, REFERENCE);
    renamed
}

fn generate(dir: &Path, name: &str, config: &str) {
    fs::write(dir.join(format!("{name}.yaml")), config).expect("config");
    let o = mlz(
        &["generate", "-c", &format!("{name}.yaml"), "-o", name],
        dir,
    );
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
}

fn schema_check(report: &Value) {
    let schema: Value = serde_json::from_str(
        &fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("schema/diff.schema.json"))
            .expect("schema"),
    )
    .expect("schema json");
    let v = jsonschema::draft202012::new(&schema).expect("schema compiles");
    let errors: Vec<String> = v
        .iter_errors(report)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:?}");
}

fn diff_json(dir: &Path, a: &str, b: &str) -> (i32, Value) {
    let o = mlz(&["diff", a, b, "--format", "json"], dir);
    let v: Value = serde_json::from_slice(&o.stdout).expect("json report");
    schema_check(&v);
    (o.status.code().unwrap_or(-1), v)
}

#[test]
fn renaming_a_permission_set_is_a_dangerous_replacement() {
    let dir = scratch("rename");
    generate(&dir, "a", REFERENCE);
    let renamed = with_renamed_permission_set();
    assert_ne!(renamed, REFERENCE);
    generate(&dir, "b", &renamed);
    let (code, r) = diff_json(&dir, "a", "b");
    assert_eq!(code, 2);
    let d = r["dangerous"].as_array().expect("dangerous");
    assert!(
        d.iter().any(|x| x["kind"] == "access-replaced"
            && x["type"] == "AWS::SSO::PermissionSet"
            && x["message"].as_str().unwrap_or("").contains("rename")),
        "{d:?}"
    );
    // The security section lists the old permission set's statements as removed.
    assert!(r["security"]
        .as_array()
        .expect("security")
        .iter()
        .any(|s| s["kind"] == "permission-set" && s["change"] == "removed"));
    // Text: dangerous first.
    let o = mlz(&["diff", "a", "b"], &dir);
    let text = String::from_utf8_lossy(&o.stdout);
    assert!(text.starts_with("DANGEROUS ("), "{text}");
    assert_eq!(o.status.code(), Some(2));
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn a_new_team_is_a_change_without_replacement() {
    let dir = scratch("team");
    generate(&dir, "a", REFERENCE);
    fs::copy(dir.join("a.lock.json"), dir.join("b.lock.json")).expect("lock");
    let more = REFERENCE.replacen(
        "  - name: fraud-detection\n",
        "  - name: anomaly-scoring\n  - name: fraud-detection\n",
        1,
    );
    assert_ne!(more, REFERENCE);
    generate(&dir, "b", &more);
    let (code, r) = diff_json(&dir, "a", "b");
    assert_eq!(code, 1, "{}", r["dangerous"]);
    assert_eq!(r["summary"]["replacements"].as_u64().expect("a number"), 0);
    assert!(r["summary"]["resourcesAdded"].as_u64().expect("a number") > 10);
    assert!(r["dangerous"].as_array().expect("dangerous").is_empty());
    // Unchanged: exit 0, and "no change".
    let o = mlz(&["diff", "a", "a"], &dir);
    assert_eq!(o.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&o.stdout).contains("no change"));
    // The config against a folder: the same report as the two folders.
    let o = mlz(
        &["diff", "-c", "b.yaml", "--against", "a", "--format", "json"],
        &dir,
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: Value = serde_json::from_slice(&o.stdout).expect("json");
    assert_eq!(v["summary"], r["summary"]);
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn generate_says_what_it_changed_against_the_folder_it_replaces() {
    let dir = scratch("summary");
    generate(&dir, "a", REFERENCE);
    let renamed = with_renamed_permission_set();
    fs::write(dir.join("a.yaml"), renamed).expect("config");
    let o = mlz(&["generate", "-c", "a.yaml", "-o", "a"], &dir);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(o.status.success(), "{err}");
    assert!(err.contains("against the previous a:"), "{err}");
    assert!(err.contains("[access-replaced]"), "{err}");
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn bad_arguments_and_folders_are_errors() {
    let dir = scratch("args");
    assert_eq!(mlz(&["diff", "only-one"], &dir).status.code(), Some(2));
    fs::create_dir_all(dir.join("x")).expect("dir");
    let o = mlz(&["diff", "x", "x"], &dir);
    assert_eq!(o.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&o.stderr).contains("manifest.json"));
    let _ = fs::remove_dir_all(&dir);
}

/// A folder of one template (`t.yaml` in account A, eu-west-1) and optional extra files.
fn folder(template: &Value, extra: &[(&str, Value)]) -> BTreeMap<String, Vec<u8>> {
    let mut f = BTreeMap::new();
    f.insert(
        "manifest.json".to_owned(),
        serde_json::to_vec(&json!({
            "templates": [{ "path": "t.yaml", "account": { "name": "A" }, "region": "eu-west-1", "parameters": [] },
                          { "path": "u.yaml", "account": { "name": "A" }, "region": "eu-west-1", "parameters": [] }],
            "manualSteps": [],
        }))
        .expect("json"),
    );
    f.insert(
        "t.yaml".to_owned(),
        serde_json::to_vec(template).expect("json"),
    );
    f.insert("u.yaml".to_owned(), b"{ \"Resources\": {} }".to_vec());
    for (k, v) in extra {
        f.insert((*k).to_owned(), serde_json::to_vec(v).expect("json"));
    }
    f
}

fn kinds(
    old: &Value,
    new: &Value,
    extra_old: &[(&str, Value)],
    extra_new: &[(&str, Value)],
) -> Vec<String> {
    let r = mlz::diff::diff(&folder(old, extra_old), &folder(new, extra_new)).expect("diff");
    schema_check(&r);
    r["dangerous"]
        .as_array()
        .expect("dangerous")
        .iter()
        .map(|d| d["kind"].as_str().unwrap_or("").to_owned())
        .collect()
}

fn res(ty: &str, props: Value) -> Value {
    json!({ "Resources": { "R": { "Type": ty, "Properties": props } } })
}

#[test]
fn each_dangerous_kind_is_reported() {
    let empty = json!({ "Resources": {} });
    // An account replaced (its provisioned product's name is create-only) or removed.
    let acct = |n: &str| {
        res(
            "AWS::ServiceCatalog::CloudFormationProvisionedProduct",
            json!({ "ProvisionedProductName": n, "ProductId": "p" }),
        )
    };
    assert_eq!(
        kinds(&acct("a"), &acct("b"), &[], &[]),
        ["account-revended"]
    );
    // A permission set replaced.
    let ps = |n: &str| {
        res(
            "AWS::SSO::PermissionSet",
            json!({ "Name": n, "InstanceArn": "arn" }),
        )
    };
    assert_eq!(kinds(&ps("a"), &ps("b"), &[], &[]), ["access-replaced"]);
    // A domain removed.
    let dom = res(
        "AWS::SageMaker::Domain",
        json!({ "DomainName": "d", "AuthMode": "IAM" }),
    );
    assert_eq!(kinds(&dom, &empty, &[], &[]), ["domain-replaced"]);
    // A Transit Gateway replaced (AmazonSideAsn is create-only).
    let tgw = |asn: i64| res("AWS::EC2::TransitGateway", json!({ "AmazonSideAsn": asn }));
    assert_eq!(
        kinds(&tgw(64512), &tgw(64513), &[], &[]),
        ["transit-gateway-replaced"]
    );
    // A VPC's range changed, in a template or in a vending request.
    let vpc = |c: &str| res("AWS::EC2::VPC", json!({ "CidrBlock": c }));
    assert_eq!(
        kinds(&vpc("10.0.0.0/20"), &vpc("10.0.16.0/20"), &[], &[]),
        ["range-changed"]
    );
    let req = |c: &str| json!({ "account": { "name": "A" }, "blueprint": { "parameters": { "VpcCidr": c } } });
    assert_eq!(
        kinds(
            &empty,
            &empty,
            &[("vending/a.json", req("10.0.0.0/20"))],
            &[("vending/a.json", req("10.0.16.0/20"))]
        ),
        ["range-changed"]
    );
    // A bucket removed without Retain (with Retain: no danger).
    let bucket = res("AWS::S3::Bucket", json!({}));
    assert_eq!(kinds(&bucket, &empty, &[], &[]), ["removed-without-retain"]);
    let mut kept = bucket.clone();
    kept["Resources"]["R"]["DeletionPolicy"] = json!("Retain");
    assert!(kinds(&kept, &empty, &[], &[]).is_empty());
    // An export another stack imports, changed.
    let exporter = |v: &str| {
        json!({ "Resources": { "Q": { "Type": "AWS::SNS::Topic", "Properties": { "TopicName": v } } },
                "Outputs": { "O": { "Value": v, "Export": { "Name": "x-Topic" } } } })
    };
    let importer = json!({ "Resources": { "I": { "Type": "AWS::SNS::Subscription", "Properties": { "TopicArn": { "Fn::ImportValue": "x-Topic" } } } } });
    assert_eq!(
        kinds(
            &exporter("a"),
            &exporter("b"),
            &[("u.yaml", importer.clone())],
            &[("u.yaml", importer)]
        ),
        ["export-in-use"]
    );
}

#[test]
fn security_changes_are_listed_per_statement() {
    let role = |actions: Value| {
        res(
            "AWS::IAM::Role",
            json!({ "AssumeRolePolicyDocument": { "Statement": [] },
                    "Policies": [{ "PolicyName": "p", "PolicyDocument": { "Statement": [{ "Effect": "Allow", "Action": actions, "Resource": "*" }] } }] }),
        )
    };
    let r = mlz::diff::diff(
        &folder(&role(json!("s3:GetObject")), &[]),
        &folder(&role(json!("s3:*")), &[]),
    )
    .expect("diff");
    let s = r["security"].as_array().expect("security");
    assert_eq!(s.len(), 2, "{s:?}");
    assert!(s
        .iter()
        .any(|x| x["change"] == "added" && x["detail"].as_str().unwrap_or("").contains("s3:*")));
    assert_eq!(r["exitCode"], 1);
    // A long property changes as a unified diff.
    let node = &r["nodes"][0]["resources"][0];
    assert_eq!(node["replacement"], "False");
    assert!(node["properties"][0]["diff"].is_array(), "{node}");
}

/// Renaming an account (with its lock), a permission set's description or a team's tags
/// changes resources in place: no replacement, nothing dangerous.
#[test]
fn renames_descriptions_and_tags_change_in_place() {
    let dir = scratch("inplace");
    generate(&dir, "a", REFERENCE);
    fs::copy(dir.join("a.lock.json"), dir.join("b.lock.json")).expect("lock");
    let changed = REFERENCE
        .replacen(
            "      description: Glue, Athena and Lake Formation in this account.\n",
            "      description: Glue, Athena and Lake Formation, in this account only.\n",
            1,
        )
        .replacen(
            "  - name: fraud-detection\n    tags: { cost-centre: cc-1001 }\n",
            "  - name: fraud-detection\n    tags: { cost-centre: cc-2001 }\n",
            1,
        )
        .replacen(
            "  - name: DevOps\n    email: aws-devops@example.com\n",
            "  - name: Platform DevOps\n    email: aws-devops@example.com\n",
            1,
        )
        .replacen("  account: DevOps\n", "  account: Platform DevOps\n", 1);
    assert_ne!(changed, REFERENCE);
    generate(&dir, "b", &changed);
    let (code, r) = diff_json(&dir, "a", "b");
    assert_eq!(code, 1, "{}", r["dangerous"]);
    assert_eq!(
        r["summary"]["replacements"].as_u64().expect("a number"),
        0,
        "{}",
        r["nodes"]
    );
    assert_eq!(
        r["summary"]["resourcesAdded"].as_u64().expect("a number"),
        0
    );
    assert_eq!(
        r["summary"]["resourcesRemoved"].as_u64().expect("a number"),
        0
    );
    assert!(
        r["summary"]["resourcesModified"]
            .as_u64()
            .expect("a number")
            >= 3
    );
    let _ = fs::remove_dir_all(&dir);
}

#[test]
fn refused_updates_blocked_replacements_and_parameters_are_reported() {
    // A type change under one logical id, and a custom resource's new service token.
    let typed = |t: &str| json!({ "Resources": { "R": { "Type": t, "Properties": {} } } });
    assert_eq!(
        kinds(
            &typed("AWS::SNS::Topic"),
            &typed("AWS::SQS::Queue"),
            &[],
            &[]
        ),
        ["update-refused"]
    );
    let custom = |token: &str| res("Custom::Thing", json!({ "ServiceToken": token }));
    assert_eq!(
        kinds(&custom("a"), &custom("b"), &[], &[]),
        ["update-refused"]
    );
    // A budget whose notifications change is replaced, but keeps its name: the update fails.
    let budget = |to: &str| {
        res(
            "AWS::Budgets::Budget",
            json!({ "Budget": { "BudgetName": "b", "BudgetType": "COST", "TimeUnit": "MONTHLY" },
                    "NotificationsWithSubscribers": [{ "Subscribers": [{ "Address": to, "SubscriptionType": "EMAIL" }] }] }),
        )
    };
    assert_eq!(
        kinds(&budget("a@x"), &budget("b@x"), &[], &[]),
        ["replacement-blocked"]
    );
    // A parameter that feeds a create-only property: the template is the same, the VPC is not.
    let vpc = res("AWS::EC2::VPC", json!({ "CidrBlock": { "Ref": "Cidr" } }));
    let with_param = |v: &str| {
        let mut f = folder(&vpc, &[]);
        f.insert(
            "manifest.json".to_owned(),
            serde_json::to_vec(&json!({
                "templates": [{ "path": "t.yaml", "stackName": "s", "account": { "name": "A" }, "region": "eu-west-1",
                                "parameters": [{ "name": "Cidr", "value": v }] }],
                "manualSteps": [],
            }))
            .expect("json"),
        );
        f
    };
    let r =
        mlz::diff::diff(&with_param("10.255.0.0/24"), &with_param("10.254.0.0/24")).expect("diff");
    schema_check(&r);
    assert_eq!(r["nodes"][0]["resources"][0]["replacement"], "True", "{r}");
    assert!(
        r["dangerous"]
            .as_array()
            .expect("d")
            .iter()
            .any(|d| d["kind"] == "range-changed"),
        "{r}"
    );
    // A template the manifest lists that does not parse is an error, never "removed".
    let mut broken = folder(&vpc, &[]);
    broken.insert("t.yaml".to_owned(), b"<<<<<<< HEAD\n: [".to_vec());
    assert!(mlz::diff::diff(&folder(&vpc, &[]), &broken).is_err());
}

/// A new budget alert address replaces the budgets (their notifications are create-only), and
/// each replacement has a name of its own, so the update goes through: nothing blocked.
#[test]
fn a_new_alert_address_replaces_budgets_without_blocking() {
    let dir = scratch("budgets");
    generate(&dir, "a", REFERENCE);
    fs::copy(dir.join("a.lock.json"), dir.join("b.lock.json")).expect("lock");
    let changed = REFERENCE.replacen("finops@example.com", "cost-alerts@example.com", 1);
    assert_ne!(changed, REFERENCE);
    generate(&dir, "b", &changed);
    let (code, r) = diff_json(&dir, "a", "b");
    assert!(
        r["summary"]["replacements"].as_u64().expect("a number") > 0,
        "{}",
        r["summary"]
    );
    assert!(
        r["dangerous"]
            .as_array()
            .expect("d")
            .iter()
            .all(|d| d["kind"] != "replacement-blocked"),
        "{}",
        r["dangerous"]
    );
    assert_eq!(code, 1, "{}", r["dangerous"]);
    let _ = fs::remove_dir_all(&dir);
}

/// A create-only property that was a parameter of known value and becomes that same literal is
/// no replacement; with an unknown value it may be one, and says so.
#[test]
fn a_parameter_that_becomes_its_literal_is_no_replacement() {
    let ps = |arn: Value| {
        res(
            "AWS::SSO::PermissionSet",
            json!({ "Name": "A", "InstanceArn": arn }),
        )
    };
    let with = |t: &Value, value: Value| {
        let mut f = folder(t, &[]);
        f.insert(
            "manifest.json".to_owned(),
            serde_json::to_vec(&json!({
                "templates": [{ "path": "t.yaml", "stackName": "s", "account": { "name": "A" }, "region": "eu-west-1",
                                "parameters": [{ "name": "InstanceArn", "value": value }] }],
                "manualSteps": [],
            }))
            .expect("json"),
        );
        f
    };
    let literal = ps(json!("arn:aws:sso:::instance/ssoins-1"));
    let param = ps(json!({ "Ref": "InstanceArn" }));
    let known = mlz::diff::diff(
        &with(&param, json!("arn:aws:sso:::instance/ssoins-1")),
        &with(&literal, Value::Null),
    )
    .expect("diff");
    assert_eq!(
        known["nodes"][0]["resources"][0]["replacement"], "False",
        "{known}"
    );
    assert!(known["dangerous"].as_array().expect("d").is_empty());
    let unknown =
        mlz::diff::diff(&with(&param, Value::Null), &with(&literal, Value::Null)).expect("diff");
    assert_eq!(
        unknown["nodes"][0]["resources"][0]["replacement"],
        "Conditional"
    );
    assert!(
        unknown["dangerous"][0]["message"]
            .as_str()
            .unwrap_or("")
            .contains("replaced if"),
        "{unknown}"
    );
}

/// The pipeline's own templates are deployed stacks too: moving the pipeline shows in the diff.
#[test]
fn the_pipelines_own_templates_are_compared() {
    let dir = scratch("pipeline");
    generate(&dir, "a", REFERENCE);
    fs::copy(dir.join("a.lock.json"), dir.join("b.lock.json")).expect("lock");
    let moved = REFERENCE.replacen(
        "pipeline:\n  account: DevOps\n",
        "pipeline:\n  account: DevOps\n  region: eu-central-1\n",
        1,
    );
    assert_ne!(moved, REFERENCE);
    generate(&dir, "b", &moved);
    let (_, r) = diff_json(&dir, "a", "b");
    let touched: Vec<(&str, &str)> = r["nodes"]
        .as_array()
        .expect("nodes")
        .iter()
        .map(|n| {
            (
                n["template"].as_str().unwrap_or(""),
                n["change"].as_str().unwrap_or(""),
            )
        })
        .collect();
    // The pipeline stack leaves eu-west-1 and comes back in eu-central-1.
    assert!(
        touched
            .iter()
            .any(|(t, c)| *t == "pipeline/pipeline.yaml" && *c == "removed"),
        "{touched:?}"
    );
    assert!(
        touched
            .iter()
            .any(|(t, c)| *t == "pipeline/pipeline.yaml" && *c == "added"),
        "{touched:?}"
    );
    let _ = fs::remove_dir_all(&dir);
}
