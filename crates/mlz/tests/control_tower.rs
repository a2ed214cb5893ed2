//! Control Tower: blueprints, their delivery and the vending requests.
//!
//! `controlTower.blueprintDelivery`: with `stackSets` each blueprint is a service-managed
//! StackSet with automatic deployment to whole OUs (no console step), attached VPCs draw their
//! ranges from IPAM pools shared through RAM, and the address plan still shows segments and
//! pools; with `afc` (the reference) the console step stays, stated as such.

mod common;
use common::{expected, fixtures, golden_templates, template, template_paths, tree};

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use serde_json::Value;

fn json(case: &str, file: &str) -> Value {
    serde_json::from_str(&fs::read_to_string(expected(case).join(file)).expect(file)).expect(file)
}

fn config() -> String {
    fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/stacksets/platform.yaml"),
    )
    .expect("config")
}

fn platform() -> mlz_model::Platform {
    let l = mlz_model::load("platform.yaml", &config(), &mlz_model::NoFiles);
    l.platform.expect("the stacksets fixture is valid")
}

/// The diagnostic codes of a config (errors and warnings).
fn codes(text: &str) -> Vec<&'static str> {
    mlz_model::load("platform.yaml", text, &mlz_model::NoFiles)
        .diagnostics
        .iter()
        .map(|d| d.code)
        .collect()
}

fn edit(from: &str, to: &str) -> String {
    let c = config();
    assert!(c.contains(from), "the fixture must contain {from:?}");
    c.replacen(from, to, 1)
}

fn wave_of(m: &Value, node: &str) -> u64 {
    m["templates"]
        .as_array()
        .expect("templates")
        .iter()
        .find(|t| t["path"] == node)
        .or_else(|| {
            m["manualSteps"]
                .as_array()
                .expect("steps")
                .iter()
                .find(|s| s["id"] == node)
        })
        .and_then(|x| x["wave"].as_u64())
        .unwrap_or_else(|| panic!("{node} has no wave"))
}

#[test]
fn afc_keeps_its_console_step_and_says_so() {
    let m = json("reference", "manifest.json");
    assert_eq!(m["blueprints"]["delivery"], "afc");
    assert_eq!(m["blueprints"]["consoleStep"], "apply-blueprints");
    assert!(m["manualSteps"]
        .as_array()
        .expect("steps")
        .iter()
        .any(|s| s["id"] == "apply-blueprints"));
}

#[test]
fn stack_sets_need_no_console_step_and_no_hub() {
    let m = json("stacksets", "manifest.json");
    assert_eq!(m["blueprints"]["delivery"], "stackSets");
    assert!(m["blueprints"].get("consoleStep").is_none());
    let steps = m["manualSteps"].as_array().expect("steps");
    assert!(steps.iter().all(|s| s["id"] != "apply-blueprints"));
    // Every remaining step is one the pipeline runs or an approval it carries; none is about
    // blueprints.
    assert!(steps
        .iter()
        .all(|s| !s["reason"].as_str().unwrap_or("").contains("console")));
    let paths = template_paths(&m);
    assert!(!paths
        .iter()
        .any(|p| p.contains("blueprint-hub") || p.contains("blueprint-access")));
    // The vending requests name the blueprint without anything to apply.
    let v = json("stacksets", "vending/fraud-detection-prod.json");
    assert_eq!(v["blueprint"]["delivery"], "stackSets");
    assert!(v["blueprint"].get("parametersToFill").is_none());
}

/// Each StackSet of the holder: its OU targets (as the template names them) and its regions.
fn stack_sets() -> Vec<(String, Value)> {
    let t = template("stacksets", "control-tower/blueprint-stack-sets.yaml");
    t["Resources"]
        .as_object()
        .expect("resources")
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::CloudFormation::StackSet")
        .map(|(k, r)| (k.clone(), r["Properties"].clone()))
        .collect()
}

#[test]
fn every_blueprint_is_an_auto_deployed_stack_set_on_the_ous_of_its_accounts() {
    let p = platform();
    let ct = p.control_tower.as_ref().expect("control tower");
    let m = json("stacksets", "manifest.json");
    let sets = stack_sets();
    assert!(!sets.is_empty());
    for (id, props) in &sets {
        assert_eq!(props["PermissionModel"], "SERVICE_MANAGED", "{id}");
        assert_eq!(props["AutoDeployment"]["Enabled"], true, "{id}");
        assert_eq!(
            props["AutoDeployment"]["RetainStacksOnAccountRemoval"], false,
            "{id}"
        );
        assert!(props["Capabilities"]
            .as_array()
            .is_some_and(|c| c.iter().any(|x| x == "CAPABILITY_NAMED_IAM")));
        // Automatic deployment ignores account filters: OUs only.
        let targets = &props["StackInstancesGroup"][0]["DeploymentTargets"];
        assert!(targets.get("Accounts").is_none(), "{id}");
        assert!(targets.get("AccountFilterType").is_none(), "{id}");
        assert!(props["StackSetName"]
            .as_str()
            .is_some_and(|n| n.len() <= 128));
    }
    // From the manifest: every account with a blueprint sits in (or below) a target OU of a
    // StackSet of that blueprint, and no target OU holds an account of another blueprint.
    let ou_path = |i: mlz_model::OuIdx| p.ou(i).path.clone();
    let mut targets: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (b, files) in m["blueprints"]["templates"].as_object().expect("templates") {
        for f in files.as_array().expect("files") {
            let t = m["templates"]
                .as_array()
                .expect("templates")
                .iter()
                .find(|t| t["path"] == *f)
                .expect("template entry");
            assert_eq!(t["kind"], "stackSet");
            assert_eq!(t["stackSet"]["autoDeployment"], true);
            for ou in t["stackSet"]["organizationalUnits"]
                .as_array()
                .expect("ous")
            {
                targets
                    .entry(ou.as_str().expect("ou").to_owned())
                    .or_default()
                    .push(b.clone());
            }
        }
    }
    for a in &p.accounts {
        let mut chain = Vec::new();
        let mut at = Some(a.ou);
        while let Some(o) = at {
            chain.push(ou_path(o));
            at = p.ou(o).parent;
        }
        let reached: BTreeSet<&String> = chain
            .iter()
            .filter_map(|o| targets.get(o))
            .flatten()
            .collect();
        match a.blueprint {
            Some(b) => {
                let name = &ct.blueprints[b].name;
                assert_eq!(
                    reached.into_iter().collect::<Vec<_>>(),
                    vec![name],
                    "{} gets exactly its own blueprint",
                    a.name
                );
            }
            None => assert!(reached.is_empty(), "{} has no blueprint", a.name),
        }
    }
}

#[test]
fn attached_vpcs_draw_their_ranges_from_the_segment_pool() {
    let m = json("stacksets", "manifest.json");
    let files = m["blueprints"]["templates"]["corporate-network"]
        .as_array()
        .expect("corporate-network StackSets")
        .clone();
    // One per segment and region: prod and nonprod, eu-west-1 and eu-central-1.
    assert_eq!(files.len(), 4);
    for f in files {
        let f = f.as_str().expect("path");
        let t = template("stacksets", f);
        assert!(t["Parameters"].get("VpcCidr").is_none(), "{f}");
        assert!(t["Parameters"].get("IpamPoolId").is_some(), "{f}");
        let vpc = &t["Resources"]["Vpc"]["Properties"];
        assert!(vpc.get("CidrBlock").is_none(), "{f}");
        assert_eq!(vpc["Ipv4IpamPoolId"]["Ref"], "IpamPoolId", "{f}");
        assert_eq!(vpc["Ipv4NetmaskLength"], 20, "{f}");
        let text = serde_json::to_string(&t).expect("json");
        assert!(!text.contains("VpcCidr"), "{f} still names VpcCidr");
        // The subnets are cut from the allocated range.
        assert!(
            text.contains(r#"{"Fn::GetAtt":["Vpc","CidrBlock"]}"#),
            "{f}"
        );
    }
    // The holder passes each set its own segment's pool and its region's gateway.
    for (id, props) in stack_sets()
        .iter()
        .filter(|(id, _)| id.starts_with("StackSetCorporateNetwork"))
    {
        let params: BTreeMap<&str, &Value> = props["Parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .map(|x| {
                (
                    x["ParameterKey"].as_str().expect("key"),
                    &x["ParameterValue"],
                )
            })
            .collect();
        let region = props["StackInstancesGroup"][0]["Regions"][0]
            .as_str()
            .expect("one region");
        let rid: String = region
            .split('-')
            .map(|w| {
                let mut c = w.chars();
                c.next()
                    .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                    .unwrap_or_default()
            })
            .collect();
        let pool = params["IpamPoolId"]["Ref"]
            .as_str()
            .expect("pool parameter");
        assert!(
            pool.starts_with("IpamPool") && pool.ends_with(&rid),
            "{id}: {pool}"
        );
        assert!(
            id.contains(&pool["IpamPool".len()..pool.len() - rid.len()]),
            "{id}: {pool}"
        );
        assert_eq!(
            params["TransitGatewayId"]["Ref"],
            format!("TransitGateway{rid}"),
            "{id}"
        );
    }
}

#[test]
fn a_blueprint_in_two_regions_makes_its_named_role_in_one() {
    for f in [
        "blueprints/corporate-network-prod-eu-west-1.yaml",
        "blueprints/corporate-network-prod-eu-central-1.yaml",
    ] {
        let t = template("stacksets", f);
        assert_eq!(
            t["Resources"]["SecurityAuditRole"]["Condition"], "AccountWide",
            "{f}"
        );
    }
    for (id, props) in stack_sets()
        .iter()
        .filter(|(id, _)| id.starts_with("StackSetCorporateNetwork"))
    {
        let primary = props["Parameters"]
            .as_array()
            .expect("parameters")
            .iter()
            .find(|x| x["ParameterKey"] == "PrimaryRegion")
            .map(|x| x["ParameterValue"].clone());
        assert_eq!(
            primary,
            Some(Value::from("eu-west-1")),
            "{id}: the home region"
        );
    }
}

#[test]
fn the_ipam_stack_shares_a_pool_per_segment_and_region() {
    let t = template("stacksets", "network/ipam.yaml");
    let plan = json("stacksets", "network/address-plan.json");
    let r = t["Resources"].as_object().expect("resources");
    let ipam = r
        .values()
        .find(|x| x["Type"] == "AWS::EC2::IPAM")
        .expect("an IPAM");
    assert_eq!(ipam["Properties"]["Tier"], "advanced");
    let operating: BTreeSet<&str> = ipam["Properties"]["OperatingRegions"]
        .as_array()
        .expect("regions")
        .iter()
        .filter_map(|x| x["RegionName"].as_str())
        .collect();
    let pools: Vec<&Value> = r
        .values()
        .filter(|x| x["Type"] == "AWS::EC2::IPAMPool")
        .collect();
    let planned = plan["pools"].as_array().expect("pools");
    assert_eq!(pools.len(), planned.len());
    for pool in &pools {
        let pp = &pool["Properties"];
        assert!(operating.contains(pp["Locale"].as_str().expect("locale")));
        assert_eq!(pp["AllocationMinNetmaskLength"], plan["vpcPrefixLength"]);
        assert!(pp.get("AllocationMaxNetmaskLength").is_none());
        assert_eq!(
            pp["AllocationDefaultNetmaskLength"],
            plan["vpcPrefixLength"]
        );
        let cidr = &pp["ProvisionedCidrs"][0]["Cidr"];
        assert!(planned
            .iter()
            .any(|x| x["cidr"] == *cidr && x["region"] == pp["Locale"]));
        assert_eq!(pool["DeletionPolicy"], "Retain");
    }
    let shares: Vec<&Value> = r
        .values()
        .filter(|x| x["Type"] == "AWS::RAM::ResourceShare")
        .collect();
    assert_eq!(shares.len(), 2, "one share per segment");
    for s in shares {
        assert_eq!(s["Properties"]["AllowExternalPrincipals"], false);
        let perms = serde_json::to_string(&s["Properties"]["PermissionArns"]).expect("json");
        assert!(
            perms.contains("permission/AWSRAMDefaultPermissionsIpamPool"),
            "{perms}"
        );
    }
    // The address plan: pools and which accounts draw from them, with no range of their own.
    assert!(plan["ranges"].as_array().is_some_and(Vec::is_empty));
    let from = plan["fromPools"].as_array().expect("fromPools");
    assert!(!from.is_empty());
    assert!(from
        .iter()
        .all(|x| x.get("cidr").is_none() && x["pool"].is_string()));
}

#[test]
fn the_order_is_delegation_then_pools_then_accounts_then_stack_sets_then_attachments() {
    let m = json("stacksets", "manifest.json");
    let step = wave_of(&m, "ipam-organization-admin");
    let ipam = wave_of(&m, "network/ipam.yaml");
    let holder = wave_of(&m, "control-tower/blueprint-stack-sets.yaml");
    assert!(step < ipam && ipam < holder, "{step} {ipam} {holder}");
    for t in m["templates"].as_array().expect("templates") {
        let path = t["path"].as_str().expect("path");
        if path.starts_with("control-tower/vending-")
            || path.starts_with("network/transit-gateway-")
        {
            assert!(wave_of(&m, path) < holder, "{path}");
        }
        if path.starts_with("network/attachments-") {
            assert!(wave_of(&m, path) > holder, "{path}");
        }
    }
    // The pipeline runs the delegation itself (a CodeBuild step with a least-privilege role).
    let actions = m["pipeline"]["actions"].as_array().expect("actions");
    let a = actions
        .iter()
        .find(|a| a["node"] == "step ipam-organization-admin")
        .expect("an action for the step");
    assert_eq!(a["kind"], "codeBuild");
    assert!(actions
        .iter()
        .any(|a| a["node"] == "control-tower/blueprint-stack-sets.yaml"));
}

#[test]
fn a_blueprint_shared_with_another_in_one_ou_is_one_error() {
    // Dev accounts back in NonProd, with test accounts of another blueprint.
    let text = edit(
        "  - name: dev\n    ou: Development",
        "  - name: dev\n    ou: NonProd",
    )
    .replacen("      ous: [Development]", "      stages: [dev]", 1);
    let c = codes(&text);
    assert_eq!(
        c.iter().filter(|x| **x == "stacksets-whole-ou").count(),
        1,
        "{c:?}"
    );
}

#[test]
fn segments_that_nest_in_target_ous_are_one_error() {
    // Data Lake directly in Workloads makes Workloads a prod target, and NonProd is inside.
    let text = edit(
        "  - name: Data Lake\n    email: aws-data-lake@example.com\n    ou: Infrastructure",
        "  - name: Data Lake\n    email: aws-data-lake@example.com\n    ou: Workloads",
    );
    let c = codes(&text);
    assert!(c.contains(&"stacksets-segment-ou"), "{c:?}");
    // Workloads also holds Development (internet-only): that is the other blueprint's OU.
    assert_eq!(
        c.iter().filter(|x| **x == "stacksets-segment-ou").count(),
        1,
        "{c:?}"
    );
}

#[test]
fn a_per_account_parameter_needs_one_value() {
    let text = edit(
        "      parameters:\n        BudgetAlertEmail: ml-platform-team@example.com\n",
        "",
    );
    let l = mlz_model::load("platform.yaml", &text, &mlz_model::NoFiles);
    let d: Vec<_> = l
        .diagnostics
        .iter()
        .filter(|d| d.code == "stacksets-blueprint-parameter")
        .collect();
    assert_eq!(d.len(), 1);
    assert!(
        d[0].message.contains("BudgetAlertEmail"),
        "{}",
        d[0].message
    );
}

#[test]
fn pinned_ranges_afc_settings_and_ungoverned_regions_are_reported() {
    let pinned = edit(
        "  egress: { eu-west-1: 10.255.0.0/24, eu-central-1: 10.255.1.0/24 }\n",
        "  egress: { eu-west-1: 10.255.0.0/24, eu-central-1: 10.255.1.0/24 }\n  ranges:\n    Data Lake: { eu-west-1: 10.0.64.0/20 }\n",
    );
    assert!(codes(&pinned).contains(&"range-with-ipam"));
    let hub = edit(
        "  blueprintDelivery: stackSets\n",
        "  blueprintDelivery: stackSets\n  blueprintHub:\n    account: Shared Services\n",
    );
    let l = mlz_model::load("platform.yaml", &hub, &mlz_model::NoFiles);
    assert!(l.platform.is_some(), "a warning only");
    assert!(l.diagnostics.iter().any(|d| d.code == "afc-setting-unused"));
    let region = edit(
        "      regions: [eu-west-1, eu-central-1]",
        "      regions: [eu-west-1, us-east-1]",
    );
    assert!(codes(&region).contains(&"blueprint-region-not-governed"));
}

#[test]
fn an_attached_blueprint_everywhere_its_accounts_are() {
    // A region where the segments have no supernet: no pool, no gateway.
    let text = edit(
        "      supernets: { eu-west-1: 10.4.0.0/14, eu-central-1: 10.20.0.0/14 }",
        "      supernets: { eu-west-1: 10.4.0.0/14 }",
    );
    assert!(codes(&text).contains(&"stacksets-attach-region"));
    // An account of the attached blueprint outside every segment.
    let text = edit(
        "      ous: [Infrastructure, Workloads, Deployments]\n      supernets",
        "      ous: [Infrastructure, Workloads]\n      supernets",
    );
    assert!(codes(&text).contains(&"stacksets-unattached"));
}

#[test]
fn switching_a_deployed_network_from_afc_is_an_error() {
    // The reference (AFC) writes a lock with its accounts' ranges; the same config with
    // stackSets would build a second VPC in each.
    let dir = common::scratch("blueprint-delivery", "switch");
    fs::write(dir.join("platform.yaml"), mlz_model::REFERENCE_CONFIG).expect("config");
    let o = common::mlz(&["generate", "-c", "platform.yaml", "-o", "out"], &dir);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let switched = mlz_model::REFERENCE_CONFIG.replacen(
        "  blueprintHub:\n",
        "  blueprintDelivery: stackSets\n  blueprintHub:\n",
        1,
    );
    fs::write(dir.join("platform.yaml"), &switched).expect("config");
    let o = common::mlz(&["generate", "-c", "platform.yaml", "-o", "out2"], &dir);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert_eq!(err.matches("error[delivery-changed]").count(), 1, "{err}");
    assert!(!dir.join("out2").exists(), "nothing written");
    let _ = fs::remove_dir_all(&dir);
}

/// Values the platform knows are filled in the vending requests, or named by the export that
/// holds them: the sandbox's budget alert address, the Security Tooling account, the
/// Transit Gateway; only what exists nowhere in the config is left to fill.
#[test]
fn vending_requests_fill_what_the_platform_knows() {
    let dir = fixtures().join("reference/expected/vending");
    let mut checked = 0;
    for e in fs::read_dir(&dir).expect("vending") {
        let path = e.expect("entry").path();
        let v: serde_json::Value =
            serde_json::from_str(&fs::read_to_string(&path).expect("read")).expect("json");
        let b = &v["blueprint"];
        if b.is_null() {
            continue;
        }
        checked += 1;
        for p in b["parametersToFill"].as_array().expect("to fill") {
            assert!(
                !p["valueFromExport"]["export"].is_null(),
                "{}: {} is left to fill with nowhere named to find it",
                path.display(),
                p["name"]
            );
        }
        if b["name"] == "sandbox" {
            assert_eq!(b["parameters"]["BudgetAlertEmail"], v["account"]["email"]);
        }
    }
    assert!(checked > 5, "{checked} vending requests with a blueprint");
}

#[test]
fn every_configured_account_tag_reaches_the_vended_account() {
    let dir = fixtures().join("reference");
    let text = fs::read_to_string(dir.join("platform.yaml")).expect("config");
    let p = mlz_model::load("platform.yaml", &text, &mlz::DirFiles { base: dir.clone() })
        .platform
        .expect("valid");
    // Every vending template, parsed once.
    let mut resources = serde_json::Map::new();
    for (path, text) in golden_templates() {
        if path.starts_with("reference/")
            && (path.contains("/vending-") || path.contains("control-tower/account-tags"))
        {
            let t = mlz_model::yaml::parse_cfn(&text).expect("yaml").to_json();
            for (k, v) in t["Resources"].as_object().expect("resources") {
                resources.insert(k.clone(), v.clone());
            }
        }
    }
    let mut checked = 0;
    // Vended accounts are tagged by their vending stack, the others (Control Tower's own) by
    // control-tower/account-tags.
    for a in p.accounts.iter().filter(|a| !a.tags.is_empty()) {
        let r = resources
            .get(&format!("{}Tags", a.logical_id))
            .unwrap_or_else(|| panic!("no tags resource for {}", a.name));
        assert_eq!(r["Type"], "Custom::AccountTags");
        if a.created_by == mlz_model::CreatedBy::Mlz && a.id.is_none() {
            assert_eq!(
                r["Properties"]["AccountId"]["Fn::GetAtt"][0],
                a.logical_id.as_str(),
                "{} tags the account its product vends",
                a.name
            );
        }
        let got: std::collections::BTreeMap<String, String> = r["Properties"]["Tags"]
            .as_array()
            .expect("tags")
            .iter()
            .map(|t| {
                (
                    t["Key"].as_str().unwrap_or_default().to_owned(),
                    t["Value"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        assert_eq!(got, a.tags, "{}", a.name);
        checked += 1;
    }
    // Platform accounts (owner, cost-centre), Control Tower's (owner) and team accounts (team,
    // stage and the team's).
    assert!(checked >= 14, "only {checked} tagged accounts");
}

/// EBS encryption by default is a setting of each region (EC2 API EnableEbsEncryptionByDefault:
/// "in the current Region"), so each blueprint's account-defaults function gets every governed
/// region, whether AFC applies the blueprint (the vending requests' parameters) or a StackSet
/// does (its parameters); scripts/custom_resources_test.py checks the function enables each.
#[test]
fn every_blueprint_turns_on_ebs_encryption_in_every_governed_region() {
    for case in ["reference", "stacksets"] {
        let text = fs::read_to_string(fixtures().join(case).join("platform.yaml")).expect("config");
        let governed = mlz_model::load("platform.yaml", &text, &mlz_model::NoFiles)
            .platform
            .expect("valid")
            .organization
            .governed_regions
            .join(",");
        assert!(
            governed.contains(','),
            "{case}: a fixture of one region proves little"
        );
        let mut functions = 0;
        for path in tree(&expected(case).join("blueprints")).into_keys() {
            if !path.ends_with(".yaml") {
                continue;
            }
            let t = template(case, &format!("blueprints/{path}"));
            let defaults = &t["Resources"]["AccountDefaults"]["Properties"];
            assert_eq!(
                defaults["Regions"]["Ref"], "EbsEncryptionRegions",
                "{case} {path}"
            );
            functions += 1;
        }
        assert!(functions > 0, "{case}: no blueprint");
        let mut given = 0;
        let dir = expected(case).join("vending");
        for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
            let v: Value =
                serde_json::from_str(&fs::read_to_string(entry.path()).expect("vending"))
                    .expect("json");
            if v["blueprint"]["parameters"].is_object() {
                assert_eq!(
                    v["blueprint"]["parameters"]["EbsEncryptionRegions"],
                    governed,
                    "{case} {}",
                    entry.path().display()
                );
                given += 1;
            }
        }
        if case == "stacksets" {
            for (id, set) in stack_sets() {
                let p = set["Parameters"]
                    .as_array()
                    .expect("parameters")
                    .iter()
                    .find(|p| p["ParameterKey"] == "EbsEncryptionRegions")
                    .unwrap_or_else(|| panic!("{id} passes no EbsEncryptionRegions"));
                assert_eq!(p["ParameterValue"], governed, "{id}");
                given += 1;
            }
        }
        assert!(given > 0, "{case}: no blueprint is applied anywhere");
    }
}
