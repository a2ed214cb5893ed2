//! The deployment plan as the spec of its facts: for each kind of fact, take its provider
//! away and generation fails (exit 4 from the CLI) naming the requirement, the node that
//! needs it and the AWS rule. Configs that lose a provider by themselves go through the
//! binary; providers no valid config can lose are removed from the emitted plan, which then
//! goes through the same linker the CLI runs (`mlz_emit::generate_from`).

mod common;
use common::fixtures;

use std::fs;
use std::process::Command;

use mlz::DirFiles;
use mlz_emit::plan::{Fact, Limited, Service};
use mlz_emit::{Emitted, Options};
use mlz_model::{AccountRef, Platform};

fn load(case: &str) -> Platform {
    let dir = fixtures().join(case);
    let text = fs::read_to_string(dir.join("platform.yaml")).expect("config");
    let loaded = mlz_model::load("platform.yaml", &text, &DirFiles { base: dir });
    loaded.platform.expect("valid config")
}

fn emitted(p: &Platform) -> Emitted {
    mlz_emit::emit(p, Options::default()).expect("emits")
}

/// Generates from `e` and returns the rendered errors, which must name `rule` and `node`.
fn fails(p: &Platform, e: Emitted, node: &str, rule: &str) -> String {
    let errs = match mlz_emit::generate_from(p, e, Options::default()) {
        Ok(_) => panic!("generation succeeded without the provider"),
        Err(errs) => errs,
    };
    let text: Vec<String> = errs.iter().map(|e| e.to_string()).collect();
    let text = text.join("\n");
    assert!(
        errs.iter()
            .any(|e| e.template.contains(node) && e.message.contains(&format!("[{rule}]"))),
        "expected {node} to fail on [{rule}], got:\n{text}"
    );
    text
}

fn drop_fact(e: &mut Emitted, keep: impl Fn(&Fact) -> bool) {
    for s in &mut e.stacks {
        s.provides.retain(&keep);
    }
    for s in &mut e.steps {
        s.provides.retain(&keep);
    }
}

fn drop_step(e: &mut Emitted, id: &str) {
    let before = e.steps.len();
    e.steps.retain(|s| s.id != id);
    assert!(e.steps.len() < before, "no step {id}");
}

fn account(p: &Platform, name: &str) -> AccountRef {
    AccountRef::Account(mlz_model::AccountIdx(
        p.accounts
            .iter()
            .position(|a| a.name == name)
            .expect("account"),
    ))
}

#[test]
fn the_reference_plan_links() {
    let p = load("reference");
    assert!(mlz_emit::generate_from(&p, emitted(&p), Options::default()).is_ok());
}

#[test]
fn account_exists() {
    let p = load("reference");
    let mut e = emitted(&p);
    let ml = account(&p, "ML Shared Services");
    drop_fact(&mut e, |f| *f != Fact::AccountExists(ml));
    let text = fails(
        &p,
        e,
        "service-catalog/portfolio-analytics",
        "account-exists",
    );
    assert!(text.contains("account ML Shared Services exists"), "{text}");
}

#[test]
fn ou_exists() {
    let p = load("reference");
    let mut e = emitted(&p);
    drop_fact(
        &mut e,
        |f| !matches!(f, Fact::OuExists(o) if p.ou(*o).name == "NonProd"),
    );
    fails(&p, e, "control-tower/vending-team-accounts", "ou-exists");
}

#[test]
fn ou_registered() {
    let p = load("reference");
    let mut e = emitted(&p);
    drop_fact(
        &mut e,
        |f| !matches!(f, Fact::OuRegistered(o) if p.ou(*o).name == "Prod"),
    );
    fails(&p, e, "control-tower/vending-accounts", "ou-registered");
}

#[test]
fn landing_zone() {
    // With controlTower.landingZone, the landing zone is a stack every Control Tower stack
    // waits for; without it, a precondition.
    let p = load("custom-blueprint");
    let mut e = emitted(&p);
    assert!(e
        .stacks
        .iter()
        .any(|s| s.provides.contains(&Fact::LandingZone)));
    drop_fact(&mut e, |f| *f != Fact::LandingZone);
    fails(&p, e, "control-tower/governance", "landing-zone");
    // The landing zone stack also says which regions Control Tower governs.
    let mut e = emitted(&p);
    drop_fact(&mut e, |f| *f != Fact::ControlTowerRegions);
    fails(
        &p,
        e,
        "control-tower/account-factory",
        "control-tower-regions",
    );
    let p = load("reference");
    let out = mlz_emit::generate_from(&p, emitted(&p), Options::default()).expect("links");
    let m: serde_json::Value =
        serde_json::from_slice(&out.files["manifest.json"]).expect("manifest");
    assert!(m["preconditions"]
        .as_array()
        .expect("preconditions")
        .iter()
        .any(|c| c["fact"] == "the Control Tower landing zone is set up"));
}

#[test]
fn role_in_account() {
    let p = load("reference");
    let mut e = emitted(&p);
    let ml = account(&p, "ML Shared Services");
    drop_fact(
        &mut e,
        |f| !matches!(f, Fact::Role { account, name } if *account == ml && name == "mlz-sc-launch-analytics"),
    );
    let text = fails(
        &p,
        e,
        "service-catalog/portfolio-analytics",
        "launch-role-exists",
    );
    assert!(text.contains("LocalRoleName"), "{text}");
}

#[test]
fn role_in_ou() {
    let p = load("reference");
    let mut e = emitted(&p);
    drop_fact(
        &mut e,
        |f| !matches!(f, Fact::RoleInOu { name, .. } if name == "mlz-sc-launch-model-building"),
    );
    fails(
        &p,
        e,
        "service-catalog/portfolio-model-building",
        "launch-role-exists",
    );
}

#[test]
fn export_in_account_and_region() {
    let p = load("reference");
    let mut e = emitted(&p);
    let s = e
        .stacks
        .iter_mut()
        .find(|s| s.id.path() == "artifacts/bucket-management")
        .expect("bucket stack");
    s.template.outputs.clear();
    let text = fails(&p, e, "upload-templates-management", "template-uploaded");
    assert!(text.contains("mlz-ArtifactBucket-Name"), "{text}");
}

#[test]
fn trusted_access() {
    let p = load("reference");
    let mut e = emitted(&p);
    drop_step(&mut e, "stack-sets-trusted-access");
    fails(
        &p,
        e,
        "service-catalog/consumer-stack-sets",
        "stacksets-trusted-access",
    );
    let mut e = emitted(&p);
    drop_step(&mut e, "ram-sharing-with-organization");
    fails(&p, e, "unified-studio/domain", "ram-organizations");
}

#[test]
fn delegated_administrator() {
    let p = load("reference");
    let mut e = emitted(&p);
    drop_fact(&mut e, |f| {
        !matches!(
            f,
            Fact::DelegatedAdmin {
                service: Service::ServiceCatalog,
                ..
            }
        )
    });
    fails(
        &p,
        e,
        "service-catalog/portfolio-analytics",
        "service-catalog-organizations",
    );
    let mut e = emitted(&p);
    drop_fact(&mut e, |f| {
        !matches!(
            f,
            Fact::DelegatedAdmin {
                service: Service::SecurityHub,
                ..
            }
        )
    });
    fails(&p, e, "security/security-hub", "security-hub-admin");
    let mut e = emitted(&p);
    drop_step(&mut e, "security-organization-admin");
    fails(&p, e, "security-auto-enable", "security-auto-enable");
    let mut e = emitted(&p);
    drop_step(&mut e, "security-hub-trusted-access");
    fails(
        &p,
        e,
        "security/delegated-admin",
        "security-hub-trusted-access",
    );
}

#[test]
fn policy_type_enabled() {
    let p = load("reference");
    let mut e = emitted(&p);
    drop_step(&mut e, "enable-policy-types");
    let text = fails(&p, e, "organizations/policies", "policy-type-enabled");
    assert!(text.contains("RESOURCE_CONTROL_POLICY"), "{text}");
    // Control Tower enables SCPs itself: they are a precondition, not a step.
    assert!(
        !text.contains("SERVICE_CONTROL_POLICY is enabled on the root, but"),
        "{text}"
    );
}

#[test]
fn portfolio_shared_with_account() {
    let p = load("product-version-before");
    let mut e = emitted(&p);
    drop_fact(&mut e, |f| !matches!(f, Fact::PortfolioShared { .. }));
    fails(&p, e, "accept-portfolio-storage", "stack-outputs");
}

#[test]
fn domain_shared_with_account() {
    let p = load("reference");
    let mut e = emitted(&p);
    let finance = account(&p, "Finance ML");
    drop_fact(&mut e, |f| *f != Fact::DomainShared(finance));
    fails(
        &p,
        e,
        "unified-studio/blueprints-finance-ml",
        "domain-shared",
    );
}

#[test]
fn blueprint_configured_in_account() {
    let p = load("reference");
    let mut e = emitted(&p);
    drop_fact(&mut e, |f| !matches!(f, Fact::BlueprintConfigured(_)));
    fails(&p, e, "unified-studio/projects", "blueprint-configured");
}

#[test]
fn uploaded_and_imported() {
    let p = load("reference");
    let mut e = emitted(&p);
    drop_step(&mut e, "upload-templates-shared-services");
    fails(&p, e, "control-tower/blueprint-hub", "template-uploaded");
    // A stack that adopts existing resources waits for its IMPORT change set. The linker
    // makes that step from the stack's imports, so no emitter can leave it out; the test
    // checks the need is there and met by the step.
    let p = load("product-version-before");
    let e = emitted(&p);
    assert!(
        e.stacks.iter().any(|s| !s.imports.is_empty()),
        "the case adopts accounts"
    );
    let out = mlz_emit::generate_from(&p, e, Options::default()).expect("links");
    let m: serde_json::Value =
        serde_json::from_slice(&out.files["manifest.json"]).expect("manifest");
    let accounts = m["templates"]
        .as_array()
        .expect("templates")
        .iter()
        .find(|t| t["path"] == "organizations/accounts.yaml")
        .expect("accounts stack");
    assert!(accounts["dependsOn"]
        .as_array()
        .expect("deps")
        .iter()
        .any(|d| d["step"] == "import-into-organizations-accounts"
            && d["facts"][0]
                .as_str()
                .is_some_and(|f| f.contains("imported into its stack"))));
}

#[test]
fn account_factory_access_and_artifact() {
    let p = load("reference");
    let mut e = emitted(&p);
    drop_fact(&mut e, |f| *f != Fact::AccountFactoryAccess);
    fails(
        &p,
        e,
        "control-tower/vending-accounts",
        "account-factory-access",
    );
    let mut e = emitted(&p);
    for s in e
        .stacks
        .iter_mut()
        .filter(|s| s.id.path() == "control-tower/account-factory")
    {
        s.template.outputs.clear();
    }
    fails(
        &p,
        e,
        "control-tower/vending-accounts",
        "account-factory-artifact",
    );
    // The vending stacks name the artifact by the lookup's id, never by name.
    let e = emitted(&p);
    for s in e
        .stacks
        .iter()
        .filter(|s| s.id.path().contains("/vending-"))
    {
        for r in s.template.resources.values() {
            assert!(r.properties.get("ProvisioningArtifactName").is_none());
            if r.resource_type == mlz_emit::types::SC_PROVISIONED_PRODUCT {
                assert!(r.properties.get("ProvisioningArtifactId").is_some());
            }
        }
    }
}

#[test]
fn blueprints_applied_and_stack_deployed() {
    let p = load("reference");
    let mut e = emitted(&p);
    drop_step(&mut e, "apply-blueprints");
    fails(&p, e, "network/attachments-eu-west-1", "blueprints-applied");
    let mut e = emitted(&p);
    drop_fact(&mut e, |f| !matches!(f, Fact::Deployed(_)));
    fails(&p, e, "security-organization-admin", "stack-outputs");
}

/// A stack that looks a team group up by name waits for the stack that creates the group.
#[test]
fn group_exists() {
    let p = load("reference");
    let mut e = emitted(&p);
    drop_fact(&mut e, |f| !matches!(f, Fact::GroupExists(_)));
    fails(&p, e, "unified-studio/domain", "group-exists");
}

#[test]
fn account_factory_slots() {
    let p = load("reference");
    let mut e = emitted(&p);
    // Put two vending stacks in one lane, and take the first one's slot away.
    let vending: Vec<usize> = (0..e.stacks.len())
        .filter(|&i| e.stacks[i].id.path().contains("/vending-"))
        .collect();
    assert!(vending.len() >= 2);
    let second = &mut e.stacks[vending[1]];
    second.requires.push(mlz_emit::plan::Need::new(
        Fact::Slot {
            resource: Limited::AccountFactory,
            lane: 9,
            seq: 0,
        },
        &mlz_emit::plan::rules::ACCOUNT_OPERATIONS,
    ));
    fails(&p, e, "control-tower/vending-", "account-operations");
}

#[test]
fn a_plain_stack_cannot_create_a_role_control_tower_protects() {
    let p = load("reference");
    let mut e = emitted(&p);
    let hub = account(&p, "Shared Services");
    let role = e
        .stacks
        .iter_mut()
        .find(|s| s.id.path() == "control-tower/blueprint-access-role")
        .expect("role template");
    // A plain stack in the hub, deployed by a principal the SCP does not exempt (as
    // AWSControlTowerExecution it would be allowed: the AFC guide's own way).
    role.deploy = mlz_emit::DeployKind::Stack;
    role.deploy_as = Some(mlz_emit::plan::DeployAs::OrganizationAccountAccess);
    role.account = hub;
    role.stack_set = None;
    role.upload = None;
    role.parameters.clear();
    let text = fails(
        &p,
        e,
        "control-tower/blueprint-access-role",
        "control-tower-role-scp",
    );
    assert!(text.contains("AWSControlTowerBlueprintAccess"), "{text}");
}

fn mlz_generate(config: &str, name: &str) -> (Option<i32>, String) {
    let d = std::env::temp_dir().join(format!("mlz-plan-{name}-{}", std::process::id()));
    let _ = fs::remove_dir_all(&d);
    fs::create_dir_all(&d).expect("scratch");
    fs::write(d.join("platform.yaml"), config).expect("write");
    let o = Command::new(env!("CARGO_BIN_EXE_mlz"))
        .args(["generate", "-c", "platform.yaml", "-o", "out"])
        .current_dir(&d)
        .output()
        .expect("run mlz");
    assert!(!d.join("out").exists(), "a failed run leaves no output");
    (
        o.status.code(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn reference_text() -> String {
    fs::read_to_string(fixtures().join("reference/platform.yaml")).expect("reference")
}

#[test]
fn vending_into_an_unregistered_ou_fails_generate() {
    // An OU created outside mlz and Control Tower is not registered: vending into it fails.
    let text = reference_text().replace(
        "  - name: Deployments\n",
        "  - name: Deployments\n    createdBy: external\n",
    );
    let (code, err) = mlz_generate(&text, "unregistered");
    assert_eq!(code, Some(4), "{err}");
    assert!(err.contains("control-tower/vending-accounts"), "{err}");
    assert!(err.contains("[ou-registered]"), "{err}");
    assert!(err.contains("AWSControlTowerBaseline"), "{err}");
}

#[test]
fn a_portfolio_in_the_management_account_fails_generate() {
    // Service-managed StackSets never deploy to the management account, so nothing gives the
    // launch role there.
    let text = reference_text().replacen(
        "      account: ML Shared Services\n",
        "      account: Management\n",
        1,
    );
    let (code, err) = mlz_generate(&text, "management-portfolio");
    assert_eq!(code, Some(4), "{err}");
    assert!(err.contains("service-catalog/portfolio-analytics"), "{err}");
    assert!(err.contains("[launch-role-exists]"), "{err}");
}

#[test]
fn account_factory_concurrency_sets_the_lanes() {
    let limit = |text: &str| -> (u64, u64) {
        let d = std::env::temp_dir().join(format!("mlz-plan-lanes-{}", std::process::id()));
        let _ = fs::remove_dir_all(&d);
        fs::create_dir_all(&d).expect("scratch");
        fs::write(d.join("platform.yaml"), text).expect("write");
        let o = Command::new(env!("CARGO_BIN_EXE_mlz"))
            .args(["generate", "-c", "platform.yaml", "-o", "out"])
            .current_dir(&d)
            .output()
            .expect("run mlz");
        assert_eq!(
            o.status.code(),
            Some(0),
            "{}",
            String::from_utf8_lossy(&o.stderr)
        );
        let m: serde_json::Value =
            serde_json::from_slice(&fs::read(d.join("out/manifest.json")).expect("manifest"))
                .expect("json");
        let l = &m["limits"][0];
        assert_eq!(l["resource"], "accountFactory");
        (
            l["operations"].as_u64().expect("operations"),
            l["criticalPath"].as_u64().expect("critical path"),
        )
    };
    let (ops, five) = limit(&reference_text());
    let (_, one) = limit(&reference_text().replace(
        "controlTower:\n",
        "controlTower:\n  accountFactoryConcurrency: 1\n",
    ));
    // One lane runs every account operation one after another; five lanes cut the path.
    assert_eq!(one, ops);
    assert!(five < ops && five >= ops.div_ceil(5), "{five} of {ops}");
}

#[test]
fn every_fact_a_step_provides_is_needed_by_someone() {
    // A step whose fact nothing waits for runs in any wave: the need was forgotten.
    // (Without a network, nothing waits for the AFC blueprints: custom-blueprint is left out.)
    for case in ["reference", "product-version-before", "nested"] {
        let p = load(case);
        let e = emitted(&p);
        let out = mlz_emit::generate_from(&p, e, Options::default()).expect("links");
        let m: serde_json::Value =
            serde_json::from_slice(&out.files["manifest.json"]).expect("manifest");
        let mut needed = std::collections::HashSet::new();
        for node in m["templates"]
            .as_array()
            .expect("templates")
            .iter()
            .chain(m["manualSteps"].as_array().expect("steps"))
        {
            for d in node["dependsOn"].as_array().expect("dependsOn") {
                for f in d["facts"].as_array().expect("facts") {
                    needed.insert(f.as_str().unwrap_or_default().to_owned());
                }
            }
        }
        for s in m["manualSteps"].as_array().expect("steps") {
            for f in s["provides"].as_array().expect("provides") {
                let f = f.as_str().unwrap_or_default();
                assert!(
                    needed.contains(f),
                    "{case}: step {} provides {f:?}, which nothing waits for",
                    s["id"]
                );
            }
        }
    }
}

fn reference_manifest() -> serde_json::Value {
    let text = fs::read_to_string(fixtures().join("reference/expected/manifest.json"))
        .expect("golden manifest");
    serde_json::from_str(&text).expect("json")
}

#[test]
fn every_template_with_iam_resources_lists_its_capability() {
    let m = reference_manifest();
    let mut checked = 0;
    for t in m["templates"].as_array().expect("templates") {
        let path = t["path"].as_str().expect("path");
        let text =
            fs::read_to_string(fixtures().join("reference/expected").join(path)).expect("template");
        let caps: Vec<&str> = t["capabilities"]
            .as_array()
            .expect("capabilities")
            .iter()
            .filter_map(|c| c.as_str())
            .collect();
        if text.contains("Type: AWS::IAM::") {
            checked += 1;
            let named = text.lines().any(|l| {
                let l = l.trim_start();
                ["RoleName:", "ManagedPolicyName:", "InstanceProfileName:"]
                    .iter()
                    .any(|n| l.starts_with(n))
            });
            let want = if named {
                "CAPABILITY_NAMED_IAM"
            } else {
                "CAPABILITY_IAM"
            };
            assert!(caps.contains(&want), "{path} needs {want}, lists {caps:?}");
        } else {
            assert!(
                caps.is_empty(),
                "{path} lists {caps:?} without IAM resources"
            );
        }
    }
    assert!(checked >= 10, "only {checked} templates with IAM resources");
}

#[test]
fn no_function_reserves_concurrency() {
    // None in the reference output (blueprints, products, custom resources)...
    let m = reference_manifest();
    for t in m["templates"].as_array().expect("templates") {
        let path = t["path"].as_str().expect("path");
        let text =
            fs::read_to_string(fixtures().join("reference/expected").join(path)).expect("template");
        assert!(!text.contains("ReservedConcurrentExecutions"), "{path}");
    }
    // ...and a template that sets it fails generation.
    let p = load("reference");
    let mut e = emitted(&p);
    let bp = e
        .stacks
        .iter_mut()
        .find(|s| s.id.path() == "blueprints/corporate-network")
        .expect("blueprint");
    let f = bp
        .template
        .resources
        .values_mut()
        .find(|r| r.resource_type == mlz_emit::types::LAMBDA_FUNCTION)
        .expect("a function");
    f.properties
        .insert("ReservedConcurrentExecutions", mlz_cfn::Value::Int(1));
    fails(
        &p,
        e,
        "blueprints/corporate-network",
        "lambda-reserved-concurrency",
    );
}

#[test]
fn an_scp_that_denies_the_deployer_fails_generate() {
    let text = reference_text().replace(
        "policies:\n",
        "policies:\n  - name: NoGuardDutyChanges\n    type: serviceControl\n    targets: { ous: [Security] }\n    document:\n      Version: \"2012-10-17\"\n      Statement:\n        - { Sid: NoGuardDuty, Effect: Deny, Action: \"guardduty:*\", Resource: \"*\" }\n",
    );
    let (code, err) = mlz_generate(&text, "scp");
    assert_eq!(code, Some(4), "{err}");
    assert!(err.contains("security/detectors-"), "{err}");
    assert!(err.contains("[scp-exempts-deployer]"), "{err}");
    assert!(err.contains("NoGuardDutyChanges"), "{err}");
}
