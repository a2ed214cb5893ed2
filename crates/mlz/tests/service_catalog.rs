//! Service Catalog: product versions follow content, persona policies keep their separation,
//! and OU shares reach every account.

mod common;
use common::{fixtures, tree};

use std::collections::{BTreeMap, BTreeSet};
use std::fs;

use mlz::{compile, Outcome};
use mlz_emit::Options;
use mlz_model::NoFiles;
use serde_json::Value;

/// A generated template, read back as JSON.
fn template(case: &str, path: &str) -> Value {
    let text = fs::read_to_string(fixtures().join(case).join("expected").join(path))
        .expect("golden template");
    mlz_model::yaml::parse_cfn(&text).expect("yaml").to_json()
}

fn actions(stmt: &Value) -> Vec<String> {
    match &stmt["Action"] {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a
            .iter()
            .filter_map(Value::as_str)
            .map(ToOwned::to_owned)
            .collect(),
        _ => Vec::new(),
    }
}

fn matches(pattern: &str, action: &str) -> bool {
    let (p, a) = (pattern.to_ascii_lowercase(), action.to_ascii_lowercase());
    match p.split_once('*') {
        None => p == a,
        Some((head, tail)) => a.starts_with(head) && a.ends_with(tail),
    }
}

#[test]
fn changing_one_product_template_changes_only_its_version() {
    let before = tree(&fixtures().join("product-version-before/expected"));
    let after = tree(&fixtures().join("product-version-after/expected"));
    assert_eq!(
        before.keys().collect::<Vec<_>>(),
        after.keys().collect::<Vec<_>>(),
        "same files"
    );
    let changed: BTreeSet<&str> = before
        .keys()
        .filter(|k| before[*k] != after[*k])
        .map(String::as_str)
        .collect();
    assert_eq!(
        changed,
        BTreeSet::from([
            "README.md",
            "manifest.json",
            "products/storage/team-bucket.yaml",
            "service-catalog/portfolio-storage.yaml"
        ])
    );
    // In the portfolio stack only the version of that product changed.
    let (b, a) = (
        String::from_utf8_lossy(&before["service-catalog/portfolio-storage.yaml"]),
        String::from_utf8_lossy(&after["service-catalog/portfolio-storage.yaml"]),
    );
    let differing: Vec<(&str, &str)> = b.lines().zip(a.lines()).filter(|(x, y)| x != y).collect();
    assert_eq!(b.lines().count(), a.lines().count());
    assert!(!differing.is_empty());
    for (x, y) in &differing {
        assert!(x.contains("team-bucket") || x.contains("v-"), "{x}");
        assert!(
            y.contains("v-") && !y.contains("model-package-group"),
            "{y}"
        );
    }
    // The other product of the portfolio keeps its version.
    assert_eq!(
        before["products/storage/model-package-group.yaml"],
        after["products/storage/model-package-group.yaml"]
    );
}

#[test]
fn the_cloud_admin_provisions_without_any_sagemaker_right() {
    let t = template("reference", "service-catalog/cloud-admin-role.yaml");
    let role = &t["Resources"]["CloudAdminRole"]["Properties"];
    let stmts: Vec<&Value> = role["Policies"]
        .as_array()
        .expect("policies")
        .iter()
        .flat_map(|p| {
            p["PolicyDocument"]["Statement"]
                .as_array()
                .expect("statements")
        })
        .collect();
    let all: Vec<String> = stmts.iter().flat_map(|s| actions(s)).collect();
    assert!(
        all.iter().any(|a| a == "servicecatalog:ProvisionProduct"),
        "the cloud admin provisions products"
    );
    for a in &all {
        assert!(
            !a.to_ascii_lowercase().starts_with("sagemaker:"),
            "cloud admin has {a}"
        );
        assert!(
            a != "*" && !a.ends_with(":*"),
            "cloud admin has a wildcard action {a}"
        );
    }
    assert!(
        role["ManagedPolicyArns"].is_null(),
        "no managed policies that could carry SageMaker rights"
    );
}

#[test]
fn the_data_scientist_opens_only_their_own_profile() {
    let t = template("reference", "identity-center/permission-sets.yaml");
    let ds = &t["Resources"]["PermissionSetDataScientist"]["Properties"];
    let stmts = ds["InlinePolicy"]["Statement"]
        .as_array()
        .expect("inline policy");
    let presign: Vec<&Value> = stmts
        .iter()
        .filter(|s| {
            actions(s)
                .iter()
                .any(|a| matches(a, "sagemaker:CreatePresignedDomainUrl"))
        })
        .collect();
    assert_eq!(presign.len(), 1, "one statement allows the presigned URL");
    assert_eq!(
        presign[0]["Condition"]["StringEquals"]["sagemaker:ResourceTag/studio-user"],
        Value::String("${aws:PrincipalTag/studio-user}".into()),
        "only for the profile tagged with the caller's own user name"
    );
    for forbidden in [
        "sagemaker:CreateDomain",
        "sagemaker:DeleteDomain",
        "sagemaker:CreateUserProfile",
        "sagemaker:DeleteUserProfile",
    ] {
        for s in stmts.iter().filter(|s| s["Effect"] == "Allow") {
            for a in actions(s) {
                assert!(
                    !matches(&a, forbidden),
                    "the data scientist may {forbidden} through {a}"
                );
            }
        }
    }
    // The tag the condition reads is set: Identity Center passes the user name as studio-user,
    // and the profile product tags each profile with its user's name.
    let abac =
        &t["Resources"]["AccessControlAttributes"]["Properties"]["AccessControlAttributes"][0];
    assert_eq!(abac["Key"], "studio-user");
    assert_eq!(abac["Value"]["Source"][0], "${path:userName}");
    let profile = template("reference", "products/analytics/studio-user-profile.yaml");
    let tags = profile["Resources"]["UserProfile"]["Properties"]["Tags"]
        .as_array()
        .expect("tags");
    assert!(tags
        .iter()
        .any(|t| t["Key"] == "studio-user" && t["Value"]["Ref"] == "UserName"));
}

fn forty(mode: &str, drop_one_id: bool) -> String {
    let mut s = String::from(
        "version: 1\norganization:\n  name: Forty\n  managementAccount: { name: Management, email: root@forty.example.org }\n  \
homeRegion: eu-west-1\n  governedRegions: [eu-west-1]\norganizationalUnits:\n  - name: Platform\n  - name: Teams\n  - name: Squads\n    parent: Teams\naccounts:\n  \
- { name: ML Shared Services, email: ml@forty.example.org, ou: Platform, id: \"100000000000\" }\n",
    );
    for i in 0..40 {
        // Half of them in a nested OU: an OU share reaches nested OUs too.
        let ou = if i % 2 == 0 { "Teams" } else { "Squads" };
        let id = if drop_one_id && i == 17 {
            String::new()
        } else {
            format!(", id: \"{:012}\"", 200_000_000_000u64 + i)
        };
        s.push_str(&format!(
            "  - {{ name: team-{i:02}, email: team-{i:02}@forty.example.org, ou: {ou}{id} }}\n"
        ));
    }
    s.push_str(&format!(
        "serviceCatalog:\n  portfolios:\n    - name: analytics\n      account: ML Shared Services\n      shareWith: {{ ous: [Teams], ouShareMode: {mode} }}\n      products:\n        - name: studio-domain\n"
    ));
    s
}

fn generate(text: &str) -> Result<BTreeMap<String, Vec<u8>>, String> {
    match compile("forty.yaml", text, &NoFiles, Options::default()) {
        Outcome::Generated { output, .. } => Ok(output.files),
        Outcome::Invalid { report } | Outcome::Failed { report } => Err(report),
    }
}

#[test]
fn an_ou_of_forty_accounts_is_shared_with_all_forty() {
    let files = generate(&forty("accounts", false)).expect("valid");
    let text =
        String::from_utf8_lossy(&files["service-catalog/portfolio-analytics.yaml"]).into_owned();
    let t = mlz_model::yaml::parse_cfn(&text).expect("yaml").to_json();
    let ids: BTreeSet<String> = t["Resources"]
        .as_object()
        .expect("resources")
        .values()
        .filter(|r| r["Type"] == "AWS::ServiceCatalog::PortfolioShare")
        .map(|r| {
            r["Properties"]["AccountId"]
                .as_str()
                .expect("literal account id")
                .to_owned()
        })
        .collect();
    let expected: BTreeSet<String> = (0..40)
        .map(|i| format!("{:012}", 200_000_000_000u64 + i))
        .collect();
    assert_eq!(
        ids, expected,
        "one share per account of the OU, nested OU included"
    );

    // The default mode shares the OU itself: one organization-node share reaches all forty.
    let files = generate(&forty("organization", true)).expect("valid without every id");
    let text =
        String::from_utf8_lossy(&files["service-catalog/portfolio-analytics.yaml"]).into_owned();
    assert_eq!(
        text.matches("Type: Custom::OrganizationPortfolioShare")
            .count(),
        1
    );
    assert_eq!(
        text.matches("Type: AWS::ServiceCatalog::PortfolioShare")
            .count(),
        0
    );

    // Per-account shares cannot be complete without every id: the error names the account.
    let report = generate(&forty("accounts", true)).expect_err("an account without id");
    assert!(
        report.contains("error[share-needs-account-ids]") && report.contains("team-17"),
        "{report}"
    );
}
