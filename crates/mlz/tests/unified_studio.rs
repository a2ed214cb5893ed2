//! Unified Studio: the manifest deploys the central and associated-account stacks in the
//! order the service needs, and the reference output holds what docs/unified-studio.md says.

mod common;
use common::reference;

use std::collections::HashMap;
use std::fs;

use serde_json::Value;

fn manifest() -> Value {
    let text = fs::read_to_string(reference().join("manifest.json")).expect("manifest");
    serde_json::from_str(&text).expect("json")
}

fn template(path: &str) -> Value {
    let text = fs::read_to_string(reference().join(path)).expect("golden template");
    mlz_model::yaml::parse_cfn(&text).expect("yaml").to_json()
}

/// Wave of each template in the manifest's deploy order.
fn waves(m: &Value) -> HashMap<String, u64> {
    let mut out = HashMap::new();
    for w in m["deployOrder"].as_array().expect("deployOrder") {
        for t in w["templates"].as_array().expect("templates") {
            out.insert(
                t.as_str().expect("path").to_owned(),
                w["wave"].as_u64().expect("wave"),
            );
        }
    }
    out
}

fn entry<'a>(m: &'a Value, path: &str) -> &'a Value {
    m["templates"]
        .as_array()
        .expect("templates")
        .iter()
        .find(|t| t["path"] == path)
        .unwrap_or_else(|| panic!("{path} not in the manifest"))
}

fn count(t: &Value, ty: &str) -> usize {
    t["Resources"]
        .as_object()
        .expect("resources")
        .values()
        .filter(|r| r["Type"] == ty)
        .count()
}

#[test]
fn stacks_deploy_domain_then_blueprints_then_projects() {
    let m = manifest();
    let w = waves(&m);
    let domain = w["unified-studio/domain.yaml"];
    // The domain account is vended by Control Tower: its vending stack comes first.
    let dom = entry(&m, "unified-studio/domain.yaml");
    let vended_by = dom["dependsOn"]
        .as_array()
        .expect("dependsOn")
        .iter()
        .find(|d| {
            d["facts"]
                .as_array()
                .is_some_and(|f| f.iter().any(|x| x == "account Data Governance exists"))
        })
        .and_then(|d| d["template"].as_str())
        .expect("the domain waits for the stack that vends its account");
    assert!(vended_by.starts_with("control-tower/vending-accounts-"));
    assert!(w[vended_by] < domain);
    assert!(entry(&m, vended_by)["account"]["name"] == "Management");
    let projects = w["unified-studio/projects.yaml"];
    for acc in ["finance-ml", "marketing-ml"] {
        let path = format!("unified-studio/blueprints-{acc}.yaml");
        assert!(domain < w[&path], "{path} must deploy after the domain");
        assert!(w[&path] < projects, "projects must deploy after {path}");
        // The domain id is taken from the domain stack's export, by name.
        let e = entry(&m, &path);
        let param = e["parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .find(|p| p["name"] == "DomainId")
            .expect("DomainId parameter");
        assert_eq!(param["valueFromExport"]["export"], "mlz-Studio-DomainId");
        assert_eq!(param["valueFromExport"]["account"], "Data Governance");
    }
    // RAM organisation sharing is a step the domain stack waits for.
    let domain = entry(&m, "unified-studio/domain.yaml");
    assert!(domain["dependsOn"]
        .as_array()
        .expect("dependsOn")
        .iter()
        .any(|d| d["step"] == "ram-sharing-with-organization"));
    // Dynamic profiles are announced, not silently expanded.
    assert!(m["manualSteps"]
        .as_array()
        .expect("steps")
        .iter()
        .any(|s| s["id"] == "unified-studio-account-pools"));
}

#[test]
fn reference_holds_domain_shares_profiles_and_projects() {
    let d = template("unified-studio/domain.yaml");
    assert_eq!(count(&d, "AWS::DataZone::Domain"), 1);
    let dom = d["Resources"]["Domain"]["Properties"].clone();
    assert_eq!(dom["DomainVersion"], "V2");
    assert_eq!(dom["SingleSignOn"]["Type"], "IAM_IDC");
    assert!(
        dom["KmsKeyIdentifier"].is_object(),
        "a customer-managed key"
    );
    assert_eq!(count(&d, "AWS::DataZone::DomainUnit"), 2);
    // One share per associated account, never to outside principals.
    assert_eq!(count(&d, "AWS::RAM::ResourceShare"), 2);
    for r in d["Resources"].as_object().expect("resources").values() {
        if r["Type"] == "AWS::RAM::ResourceShare" {
            assert_eq!(r["Properties"]["AllowExternalPrincipals"], false);
        }
    }
    let p = template("unified-studio/projects.yaml");
    // finance-static once, marketing-dynamic once per allowed account.
    assert_eq!(count(&p, "AWS::DataZone::ProjectProfile"), 3);
    assert_eq!(count(&p, "AWS::DataZone::Project"), 5);
    assert!(count(&p, "AWS::DataZone::PolicyGrant") >= 3);
    for r in p["Resources"].as_object().expect("resources").values() {
        if r["Type"] == "AWS::DataZone::Project" {
            // Members are create-only: a replacement must not delete the project.
            assert_eq!(r["DeletionPolicy"], "Retain");
            assert_eq!(r["UpdateReplacePolicy"], "Retain");
        }
    }
}

#[test]
fn too_many_associated_accounts_is_a_limit_with_advice_not_a_bug() {
    let base = mlz_model::REFERENCE_CONFIG;
    let cut = base
        .find("\nnetwork:\n")
        .expect("reference has a network section");
    let mut config = base[..cut].to_owned();
    config.push('\n');
    let accounts: String = (0..250)
        .map(|i| format!("  - name: BU {i:03}\n    email: bu{i:03}@example.com\n    ou: Prod\n"))
        .collect();
    let associated: String = (0..250)
        .map(|i| format!("    - account: BU {i:03}\n      blueprints: [Tooling]\n"))
        .collect();
    let config = config
        .replacen("accounts:\n", &format!("accounts:\n{accounts}"), 1)
        .replacen(
            "  associatedAccounts:\n",
            &format!("  associatedAccounts:\n{associated}"),
            1,
        );
    match mlz::compile(
        "platform.yaml",
        &config,
        &mlz_model::NoFiles,
        mlz_emit::Options::default(),
    ) {
        mlz::Outcome::Failed { report } => {
            assert!(report.contains("unified-studio/domain.yaml"), "{report}");
            assert!(report.contains("about 190 associated accounts"), "{report}");
            assert!(!report.contains("unified-studio/domain.yaml: 255 parameters, more than CloudFormation's limit of 200 per template\n  = hint: this is a bug"), "{report}");
        }
        _ => panic!("250 associated accounts cannot fit one domain stack"),
    }
}

#[test]
fn metadata_forms_are_form_types_owned_by_their_project_and_enforced_by_a_step() {
    let p = template("unified-studio/projects.yaml");
    let form = &p["Resources"]["FormDataOwnership"];
    assert_eq!(form["Type"], "AWS::DataZone::FormType");
    let props = &form["Properties"];
    assert_eq!(props["Name"], "DataOwnership");
    // Owned by the config's project, made in the same stack (DataZone CreateFormType: the
    // owning project must exist).
    assert_eq!(
        props["OwningProjectIdentifier"]["Fn::GetAtt"][0],
        "ProjectDataStewardship"
    );
    assert_eq!(
        p["Resources"]["ProjectDataStewardship"]["Type"],
        "AWS::DataZone::Project"
    );
    let smithy = props["Model"]["Smithy"].as_str().expect("smithy");
    assert!(smithy.contains("structure DataOwnership {"), "{smithy}");
    assert!(
        smithy.contains("@required\n    @amazon.datazone#searchable\n    owner: String"),
        "{smithy}"
    );
    assert!(smithy.contains("retentionDays: Integer"), "{smithy}");
    assert!(!smithy.contains("@required\n    retentionDays"), "{smithy}");
    // What CloudFormation cannot do is a step, after the stack, with the exact call.
    let m = manifest();
    let step = m["manualSteps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["id"] == "unified-studio-metadata-form-rules")
        .expect("the enforcement step");
    let commands = step["commands"].to_string();
    assert!(commands.contains("aws datazone create-rule"), "{commands}");
    // Run again after a form changes, it updates the rule instead of making a second one.
    assert!(commands.contains("aws datazone list-rules"), "{commands}");
    assert!(commands.contains("aws datazone update-rule"), "{commands}");
    assert!(commands.contains("CREATE_LISTING_CHANGE_SET"), "{commands}");
    assert!(
        !commands.contains("CREATE_SUBSCRIPTION_REQUEST"),
        "{commands}"
    );
    assert!(commands.contains("FormDataOwnershipRevision"), "{commands}");
    assert!(step["dependsOn"]
        .as_array()
        .expect("depends")
        .iter()
        .any(|d| d["template"] == "unified-studio/projects.yaml"));
    assert!(p["Outputs"].get("FormDataOwnershipRevision").is_some());
    assert!(
        commands.contains("mlz-Studio-RootDomainUnitId"),
        "{commands}"
    );
}
