//! The generated pipeline: an action for every stack node, in an order that respects every
//! dependency, each with its account's roles and region; every parameter filled or wired;
//! CodePipeline's limits at 1,000 teams; and pipeline/resolve.py run against a stubbed AWS CLI.

mod common;
use common::{json, reference};

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn templates_by_path(m: &Value) -> BTreeMap<&str, &Value> {
    m["templates"]
        .as_array()
        .expect("templates")
        .iter()
        .map(|t| (t["path"].as_str().expect("path"), t))
        .collect()
}

/// The pipelines' names, in the manifest's order.
fn pipeline_names(m: &Value) -> Vec<&str> {
    m["pipeline"]["pipelines"]
        .as_array()
        .expect("pipelines")
        .iter()
        .map(|p| p["name"].as_str().expect("name"))
        .collect()
}

fn template(text: &str) -> Value {
    mlz_model::yaml::parse_cfn(text).expect("yaml").to_json()
}

/// One action of a pipeline template.
struct Action {
    pipeline: usize,
    stage: usize,
    stage_name: String,
    name: String,
    value: Value,
}

/// Every action of the pipeline templates named in the manifest, in pipeline order.
fn actions(manifest: &Value, read: &dyn Fn(&str) -> String) -> Vec<Action> {
    let pl = &manifest["pipeline"];
    let order = pipeline_names(manifest);
    let files: BTreeSet<&str> = pl["pipelines"]
        .as_array()
        .expect("pipelines")
        .iter()
        .map(|p| p["template"].as_str().expect("template"))
        .collect();
    let mut out = Vec::new();
    for f in files {
        let t = template(&read(f));
        for (_, r) in t["Resources"].as_object().expect("resources") {
            if r["Type"] != "AWS::CodePipeline::Pipeline" {
                continue;
            }
            let name = r["Properties"]["Name"].as_str().expect("pipeline name");
            let pi = order
                .iter()
                .position(|n| *n == name)
                .expect("listed pipeline");
            for (si, st) in r["Properties"]["Stages"]
                .as_array()
                .expect("stages")
                .iter()
                .enumerate()
            {
                for a in st["Actions"].as_array().expect("actions") {
                    out.push(Action {
                        pipeline: pi,
                        stage: si,
                        stage_name: st["Name"].as_str().expect("stage").to_owned(),
                        name: a["Name"].as_str().expect("action").to_owned(),
                        value: a.clone(),
                    });
                }
            }
        }
    }
    out
}

fn read_reference(f: &str) -> String {
    fs::read_to_string(reference().join(f)).expect("template")
}

/// Where each node runs: (pipeline, stage) by node name (a template path or `step <id>`).
fn positions(manifest: &Value, acts: &[Action]) -> BTreeMap<String, (usize, usize)> {
    let pl = &manifest["pipeline"];
    let mut out = BTreeMap::new();
    for e in pl["actions"].as_array().expect("actions") {
        let pipeline = e["pipeline"].as_str().expect("pipeline");
        let stage = e["stage"].as_str().expect("stage");
        let action = e["action"].as_str().expect("action");
        let names = pipeline_names(manifest);
        let pi = names.iter().position(|n| *n == pipeline).expect("pipeline");
        let a = acts
            .iter()
            .find(|a| a.pipeline == pi && a.stage_name == stage && a.name == action)
            .unwrap_or_else(|| {
                panic!(
                    "manifest names action {pipeline}/{stage}/{action}, which the template lacks"
                )
            });
        out.insert(
            e["node"].as_str().expect("node").to_owned(),
            (a.pipeline, a.stage),
        );
    }
    out
}

#[test]
fn every_stack_node_deploys_after_everything_it_depends_on() {
    let m = json(&reference().join("manifest.json"));
    let acts = actions(&m, &read_reference);
    let at = positions(&m, &acts);
    let mut checked = 0;
    for t in m["templates"].as_array().expect("templates") {
        let kind = t["kind"].as_str().expect("kind");
        let path = t["path"].as_str().expect("path");
        if kind != "stack" && kind != "stackSet" {
            continue;
        }
        let me = at
            .get(path)
            .unwrap_or_else(|| panic!("{path} has no deploy action"));
        for d in t["dependsOn"].as_array().expect("deps") {
            let dep = match (d["template"].as_str(), d["step"].as_str()) {
                (Some(t), _) => t.to_owned(),
                (_, Some(s)) => format!("step {s}"),
                _ => panic!("dependency without a node"),
            };
            // Blueprints and product versions are uploaded, not deployed: their upload
            // step is a dependency of its own.
            let Some(before) = at.get(&dep) else {
                assert!(
                    dep.starts_with("blueprints/") || dep.starts_with("products/"),
                    "{path} depends on {dep}, which no action deploys"
                );
                continue;
            };
            assert!(
                before < me,
                "{path} runs at {me:?}, not after {dep} at {before:?}"
            );
            checked += 1;
        }
    }
    // Steps wait for what they need too.
    for s in m["manualSteps"].as_array().expect("steps") {
        let me = at[&format!("step {}", s["id"].as_str().expect("id"))];
        for d in s["dependsOn"].as_array().expect("deps") {
            if let Some(t) = d["template"].as_str() {
                if let Some(before) = at.get(t) {
                    assert!(*before < me, "step {} before {t}", s["id"]);
                    checked += 1;
                }
            }
        }
    }
    assert!(checked > 50, "only {checked} dependencies checked");
}

#[test]
fn every_action_runs_in_its_account_and_region_with_the_pipeline_roles() {
    let m = json(&reference().join("manifest.json"));
    let acts = actions(&m, &read_reference);
    let by_path = templates_by_path(&m);
    let mut deploys = 0;
    for a in &acts {
        let provider = a.value["ActionTypeId"]["Provider"]
            .as_str()
            .expect("provider");
        if provider != "CloudFormation" {
            continue;
        }
        let c = &a.value["Configuration"];
        let path = c["TemplatePath"]
            .as_str()
            .and_then(|p| p.strip_prefix("Source::"))
            .expect("template from the source artifact");
        if path.starts_with("pipeline/") {
            continue;
        }
        deploys += 1;
        let t = by_path[path];
        assert_eq!(a.value["Region"], t["region"], "{path}");
        assert_eq!(c["StackName"], t["stackName"], "{path}");
        assert_eq!(c["ActionMode"], "CREATE_UPDATE");
        let caps: Vec<&str> = t["capabilities"]
            .as_array()
            .expect("caps")
            .iter()
            .map(|c| c.as_str().expect("cap"))
            .collect();
        assert_eq!(
            c["Capabilities"].as_str().unwrap_or(""),
            caps.join(","),
            "{path}"
        );
        // The action role and CloudFormation's role are the pipeline's, in the stack's
        // account: its id parameter (or the pipeline account's own id).
        let account = if t["account"]["role"] == "management" {
            "ManagementAccountId".to_owned()
        } else if t["account"]["name"] == m["pipeline"]["account"] {
            "AWS::AccountId".to_owned()
        } else {
            format!(
                "Account{}Id",
                t["account"]["key"].as_str().expect("key").replace(' ', "")
            )
        };
        let sub = |v: &Value| v["Fn::Sub"].as_str().unwrap_or_default().to_owned();
        assert_eq!(
            sub(&a.value["RoleArn"]),
            format!("arn:${{AWS::Partition}}:iam::${{{account}}}:role/mlz-pipeline-action"),
            "{path}"
        );
        assert_eq!(
            sub(&c["RoleArn"]),
            format!("arn:${{AWS::Partition}}:iam::${{{account}}}:role/mlz-pipeline-deploy"),
            "{path}"
        );
    }
    assert!(deploys >= 40, "{deploys} deploy actions");
}

#[test]
fn every_parameter_is_in_its_configuration_or_wired_by_the_stage() {
    let dir = reference();
    let m = json(&dir.join("manifest.json"));
    let wiring = json(&dir.join("pipeline/wiring.json"));
    let acts = actions(&m, &read_reference);
    let names = pipeline_names(&m);
    let by_path = templates_by_path(&m);
    let mut wired = 0;
    let mut external = 0;
    for a in &acts {
        let c = &a.value["Configuration"];
        let Some(path) = c["TemplatePath"]
            .as_str()
            .and_then(|p| p.strip_prefix("Source::"))
        else {
            continue;
        };
        let Some(t) = by_path.get(path) else {
            continue;
        };
        let config_ref = c["TemplateConfiguration"].as_str().expect("configuration");
        let (artifact, config) = config_ref.split_once("::").expect("artifact::file");
        assert_eq!(Some(config), t["configuration"].as_str(), "{path}");
        let known = json(&dir.join(config));
        let stage_key = format!("{}/{}", names[a.pipeline], a.stage_name);
        for p in t["parameters"].as_array().expect("params") {
            let name = p["name"].as_str().expect("name");
            if !p["value"].is_null() {
                assert_eq!(known["Parameters"][name], p["value"], "{path} {name}");
                continue;
            }
            assert!(
                known["Parameters"].get(name).is_none(),
                "{path} {name}: an unknown value in the configuration"
            );
            // The stage's resolve action writes the configuration this action reads.
            assert!(
                artifact.starts_with("Resolved"),
                "{path} {name}: not resolved"
            );
            let inputs: Vec<&str> = a.value["InputArtifacts"]
                .as_array()
                .expect("inputs")
                .iter()
                .map(|i| i["Name"].as_str().expect("name"))
                .collect();
            assert!(
                inputs.contains(&artifact),
                "{path}: {artifact} not an input"
            );
            let resolve = acts
                .iter()
                .find(|r| r.pipeline == a.pipeline && r.stage == a.stage && r.name == "Resolve")
                .unwrap_or_else(|| panic!("{stage_key} has no resolve action"));
            assert_eq!(resolve.value["OutputArtifacts"][0]["Name"], artifact);
            let stage = &wiring["stages"][&stage_key];
            let entry = stage["stacks"]
                .as_array()
                .expect("stacks")
                .iter()
                .find(|s| s["template"] == path)
                .unwrap_or_else(|| panic!("{stage_key} does not resolve {path}"));
            let src = &entry["parameters"][name];
            assert!(!src.is_null(), "{path} {name} is not wired");
            if src["lookup"] == "external" {
                external += 1;
            }
            wired += 1;
        }
    }
    assert!(wired >= 80, "{wired} wired parameters");
    // Only what exists outside AWS is left to a person, and it is listed.
    let listed = m["pipeline"]["externalValues"]
        .as_array()
        .expect("external");
    assert_eq!(listed.len(), external);
    assert!(external <= 3, "{external} external values");
}

#[test]
fn every_automated_step_and_approval_is_a_step_of_the_plan() {
    let m = json(&reference().join("manifest.json"));
    let wiring = json(&reference().join("pipeline/wiring.json"));
    let acts = actions(&m, &read_reference);
    for s in m["manualSteps"].as_array().expect("steps") {
        let id = s["id"].as_str().expect("id");
        let name = format!("step.{id}");
        let a = acts
            .iter()
            .find(|a| a.name == name)
            .unwrap_or_else(|| panic!("step {id} has no action"));
        let provider = a.value["ActionTypeId"]["Provider"]
            .as_str()
            .expect("provider");
        let commands: Vec<&str> = s["commands"]
            .as_array()
            .expect("commands")
            .iter()
            .map(|c| c.as_str().expect("command"))
            .collect();
        let api = commands.iter().all(|c| {
            // One API call (a pipe into a loop is a script, which a person runs).
            (c.starts_with("aws ") || c.starts_with("bucket=$(aws ")) && !c.contains(" | ")
        });
        match provider {
            "CodeBuild" => {
                assert!(api, "{id} is automated but not only API calls");
                let w = &wiring["steps"][id];
                assert_eq!(w["commands"].as_array().map(Vec::len), Some(commands.len()));
                // Every placeholder has a value source.
                for c in &commands {
                    let mut rest = *c;
                    while let Some(i) = rest.find('<') {
                        let end = rest[i..].find('>').expect("closing >") + i;
                        let ph = &rest[i..=end];
                        assert!(!w["values"][ph].is_null(), "{id}: {ph} has no source");
                        rest = &rest[end + 1..];
                    }
                }
            }
            "Manual" => {
                assert!(!api, "{id} is API calls only but left to a person");
                let text = a.value["Configuration"]["CustomData"]
                    .as_str()
                    .expect("text");
                assert!(text.len() <= 1000);
            }
            other => panic!("step {id} as {other}"),
        }
    }
}

fn limits_hold(m: &Value, acts: &[Action]) {
    let pipelines = m["pipeline"]["pipelines"].as_array().expect("pipelines");
    for (pi, p) in pipelines.iter().enumerate() {
        let mine: Vec<&Action> = acts.iter().filter(|a| a.pipeline == pi).collect();
        let stages: BTreeSet<usize> = mine.iter().map(|a| a.stage).collect();
        assert!(stages.len() <= 50, "{}: {} stages", p["name"], stages.len());
        assert!(mine.len() <= 500, "{}: {} actions", p["name"], mine.len());
        assert_eq!(p["actions"].as_u64(), Some(mine.len() as u64));
        assert_eq!(p["stages"].as_u64(), Some(stages.len() as u64));
        for s in stages {
            let n = mine.iter().filter(|a| a.stage == s).count();
            assert!(n <= 50, "{} stage {s}: {n} actions", p["name"]);
        }
        for a in &mine {
            assert!(a.name.len() <= 100);
            if let Some(env) = a.value["Configuration"]["EnvironmentVariables"].as_str() {
                assert!(env.len() <= 1000);
            }
        }
    }
}

#[test]
fn the_reference_pipelines_are_within_codepipeline_limits() {
    let m = json(&reference().join("manifest.json"));
    let acts = actions(&m, &read_reference);
    limits_hold(&m, &acts);
}

#[test]
fn a_thousand_teams_stay_within_codepipeline_limits_with_every_stack_deployed() {
    let text = mlz_model::synth::config(1_000, 3);
    let l = mlz_model::load("synth.yaml", &text, &mlz_model::NoFiles);
    let p = l.platform.expect("synthetic config");
    let out = mlz_emit::generate(&p, mlz_emit::Options::default()).expect("generates");
    let read = |f: &str| String::from_utf8_lossy(&out.files[f]).into_owned();
    let m: Value = serde_json::from_slice(&out.files["manifest.json"]).expect("manifest");
    let acts = actions(&m, &read);
    limits_hold(&m, &acts);
    let at = positions(&m, &acts);
    for t in m["templates"].as_array().expect("templates") {
        if t["kind"] == "stack" || t["kind"] == "stackSet" {
            assert!(
                at.contains_key(t["path"].as_str().expect("path")),
                "{}",
                t["path"]
            );
        }
    }
}

/// A stand-in for the AWS CLI: answers what resolve.py asks with made-up values and logs
/// every call (one JSON array per line) to $FAKE_AWS_LOG.
const FAKE_AWS: &str = r#"#!/usr/bin/env python3
import json, os, sys
args = sys.argv[1:]
with open(os.environ["FAKE_AWS_LOG"], "a") as f:
    f.write(json.dumps(args) + "\n")
def arg(name):
    return args[args.index(name) + 1] if name in args else None
svc, op = (args + ["", ""])[:2]
wiring = json.load(open(os.environ["FAKE_WIRING"]))
out = {}
if os.environ.get("FAKE_FAIL") and svc == "organizations" and op.startswith("enable"):
    sys.stderr.write("An error occurred (AccessDeniedException)\n"); sys.exit(254)
if (svc, op) == ("sts", "assume-role"):
    out = {"Credentials": {"AccessKeyId": "AK", "SecretAccessKey": "SK", "SessionToken": "ST"}}
elif (svc, op) == ("sts", "get-caller-identity"):
    out = {"Arn": "arn:aws:sts::111111111111:assumed-role/mlz-pipeline-build/x"}
elif (svc, op) == ("organizations", "describe-organization"):
    out = {"Organization": {"Id": "o-abcdefghij", "MasterAccountId": "111111111111"}}
elif (svc, op) == ("organizations", "list-accounts"):
    accts = [a for a in wiring["accounts"].values() if "email" in a]
    out = {"Accounts": [{"Email": a["email"], "Id": "%012d" % (100 + i)} for i, a in enumerate(accts)]}
elif (svc, op) == ("organizations", "list-roots"):
    status = "PENDING_ENABLE" if os.environ.get("FAKE_PENDING") else "ENABLED"
    out = {"Roots": [{"Id": "r-ab12", "PolicyTypes": [{"Type": t, "Status": status} for t in
                     ["SERVICE_CONTROL_POLICY", "RESOURCE_CONTROL_POLICY", "TAG_POLICY"]]}]}
elif (svc, op) == ("organizations", "list-organizational-units-for-parent"):
    out = {"OrganizationalUnits": [{"Name": n, "Id": "ou-ab12-%08d" % i, "Arn": "arn:aws:organizations::111111111111:ou/o-abcdefghij/ou-ab12-%08d" % i}
                                   for i, n in enumerate(["Security", "Sandbox", "Workloads", "Infrastructure"])]}
elif (svc, op) == ("sso-admin", "list-instances"):
    out = {"Instances": [{"InstanceArn": "arn:aws:sso:::instance/ssoins-1234567890abcdef", "IdentityStoreId": "d-1234567890"}]}
elif (svc, op) == ("identitystore", "get-group-id"):
    out = {"GroupId": "g-" + json.loads(arg("--alternate-identifier"))["UniqueAttribute"]["AttributeValue"]}
elif (svc, op) == ("controltower", "list-baselines"):
    out = {"baselines": [{"arn": "arn:aws:controltower:eu-west-1::baseline/LN25R72TTG6IGPTQ", "name": "IdentityCenterBaseline"},
                         {"arn": "arn:aws:controltower:eu-west-1::baseline/17BSJV3IGJ2QSGA2", "name": "AWSControlTowerBaseline"}]}
elif (svc, op) == ("controltower", "list-enabled-baselines"):
    out = {"enabledBaselines": [{"arn": "arn:aws:controltower:eu-west-1:111111111111:enabledbaseline/OTHER",
                                 "baselineIdentifier": "arn:aws:controltower:eu-west-1::baseline/17BSJV3IGJ2QSGA2"},
                                {"arn": "arn:aws:controltower:eu-west-1:111111111111:enabledbaseline/XYZ",
                                 "baselineIdentifier": "arn:aws:controltower:eu-west-1::baseline/LN25R72TTG6IGPTQ"}]}
elif (svc, op) == ("organizations", "enable-policy-type") and os.environ.get("FAKE_ALREADY"):
    sys.stderr.write("An error occurred (PolicyTypeAlreadyEnabledException) when calling the EnablePolicyType operation\n")
    sys.exit(254)
elif (svc, op) == ("cloudformation", "list-exports"):
    names = os.environ["FAKE_EXPORTS"].split(",")
    out = {"Exports": [{"Name": n, "Value": "value-of-" + n} for n in names]}
elif (svc, op) == ("cloudformation", "describe-stacks"):
    out = {"Stacks": [{"Outputs": [{"OutputKey": "DetectorId", "OutputValue": "detector-" + arg("--region")}]}]}
elif (svc, op) == ("ssm", "get-parameter"):
    if os.environ.get("FAKE_NO_SSM"):
        sys.stderr.write("ParameterNotFound\n"); sys.exit(254)
    out = {"Parameter": {"Value": "external-" + arg("--name").rsplit("/", 1)[1]}}
print(json.dumps(out))
"#;

struct Harness {
    dir: PathBuf,
    log: PathBuf,
    bin: PathBuf,
}

fn harness(name: &str) -> Harness {
    let dir = common::scratch("pipeline", name);
    let out = dir.join("out");
    let o = common::mlz(&["generate", "-o", out.to_str().expect("path")], &dir);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let bin = dir.join("bin");
    fs::create_dir_all(&bin).expect("bin");
    let aws = bin.join("aws");
    fs::write(&aws, FAKE_AWS).expect("fake aws");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&aws, fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    Harness {
        log: dir.join("aws.log"),
        dir: out,
        bin,
    }
}

impl Harness {
    fn run(&self, mode: &str, target: &str, extra: &[(&str, &str)]) -> std::process::Output {
        let m = json(&self.dir.join("manifest.json"));
        // Every export any stack names exists, wherever it is looked for.
        let mut exports = BTreeSet::new();
        for t in m["templates"].as_array().expect("templates") {
            for p in t["parameters"].as_array().expect("params") {
                if let Some(e) = p["valueFromExport"]["export"].as_str() {
                    exports.insert(e.to_owned());
                }
            }
        }
        exports.insert("mlz-Pipeline-ArtifactKeyArn".to_owned());
        exports.insert("mlz-ArtifactBucket-Name".to_owned());
        let path = format!(
            "{}:{}",
            self.bin.display(),
            std::env::var("PATH").unwrap_or_default()
        );
        let mut c = Command::new("python3");
        c.args(["pipeline/resolve.py", mode, target, "resolved"])
            .current_dir(&self.dir)
            .env("PATH", path)
            .env("MLZ_AWS_CLI", self.bin.join("aws"))
            .env("FAKE_AWS_LOG", &self.log)
            .env("FAKE_WIRING", self.dir.join("pipeline/wiring.json"))
            .env(
                "FAKE_EXPORTS",
                exports.into_iter().collect::<Vec<_>>().join(","),
            )
            .env("MLZ_ROLE_WAIT_SECONDS", "0");
        for (k, v) in extra {
            c.env(k, v);
        }
        c.output().expect("python3")
    }

    fn calls(&self) -> Vec<Vec<String>> {
        fs::read_to_string(&self.log)
            .unwrap_or_default()
            .lines()
            .map(|l| serde_json::from_str(l).expect("log line"))
            .collect()
    }
}

#[test]
fn resolve_fills_every_wired_parameter_of_every_stage() {
    let h = harness("stages");
    let wiring = json(&h.dir.join("pipeline/wiring.json"));
    let mut filled = 0;
    for (key, stage) in wiring["stages"].as_object().expect("stages") {
        let o = h.run("stage", key, &[]);
        assert!(
            o.status.success(),
            "{key}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        for s in stage["stacks"].as_array().expect("stacks") {
            let config = s["configuration"].as_str().expect("config");
            let got = json(&h.dir.join("resolved").join(config));
            let base = json(&h.dir.join(config));
            for (name, v) in base["Parameters"].as_object().expect("params") {
                assert_eq!(&got["Parameters"][name], v, "{config}: known values kept");
            }
            for (name, _) in s["parameters"].as_object().expect("wired") {
                let v = got["Parameters"][name].as_str().unwrap_or_default();
                assert!(!v.is_empty(), "{key}: {config} {name} empty");
                filled += 1;
            }
            // Policies and tags come through too.
            assert_eq!(got.get("StackPolicy"), base.get("StackPolicy"), "{config}");
        }
    }
    assert!(filled >= 80, "{filled} values filled");
    // Lookups go through the management account's read role.
    let calls = h.calls();
    assert!(calls.iter().any(|c| c[0] == "sts"
        && c[1] == "assume-role"
        && c.iter().any(|a| a.ends_with(":role/mlz-pipeline-read"))));
    assert!(calls.iter().any(|c| c[0] == "identitystore"));
    let _ = fs::remove_dir_all(h.dir.parent().expect("scratch"));
}

#[test]
fn an_external_value_missing_from_parameter_store_fails_with_its_name() {
    let h = harness("external");
    let m = json(&h.dir.join("manifest.json"));
    let ext = &m["pipeline"]["externalValues"][0];
    let wiring = json(&h.dir.join("pipeline/wiring.json"));
    let (key, _) = wiring["stages"]
        .as_object()
        .expect("stages")
        .iter()
        .find(|(_, s)| {
            s["stacks"]
                .as_array()
                .expect("stacks")
                .iter()
                .any(|x| x["template"] == ext["template"])
        })
        .expect("the stage of an external value");
    let o = h.run("stage", key, &[("FAKE_NO_SSM", "1")]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains(ext["parameterStore"].as_str().expect("name")),
        "{err}"
    );
    let _ = fs::remove_dir_all(h.dir.parent().expect("scratch"));
}

#[test]
fn steps_run_their_commands_in_their_account_with_placeholders_filled() {
    let h = harness("steps");
    let wiring = json(&h.dir.join("pipeline/wiring.json"));
    for (id, st) in wiring["steps"].as_object().expect("steps") {
        let _ = fs::remove_file(&h.log);
        let o = h.run("step", id, &[]);
        assert!(
            o.status.success(),
            "{id}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        let calls = h.calls();
        // The step's own role in its account.
        assert!(
            calls.iter().any(|c| c[1] == "assume-role"
                && c.iter().any(|a| a.ends_with(":role/mlz-pipeline-steps"))),
            "{id}"
        );
        // Each command ran, with no placeholder left.
        let ran: Vec<&Vec<String>> = calls
            .iter()
            .filter(|c| !matches!((c[0].as_str(), c[1].as_str()), ("sts", _)))
            .collect();
        assert!(
            ran.len() >= st["commands"].as_array().expect("commands").len(),
            "{id}"
        );
        for c in ran {
            assert!(c.iter().all(|a| !a.contains('<')), "{id}: {c:?}");
        }
    }
    let _ = fs::remove_dir_all(h.dir.parent().expect("scratch"));
}

#[test]
fn a_step_done_already_succeeds_and_a_failing_one_fails() {
    let h = harness("again");
    let o = h.run("step", "enable-policy-types", &[("FAKE_ALREADY", "1")]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stdout).contains("already done"));
    // Any other failure fails the step.
    let o = h.run("step", "enable-policy-types", &[("FAKE_FAIL", "1")]);
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let _ = fs::remove_dir_all(h.dir.parent().expect("scratch"));
}

#[test]
fn the_identity_center_baseline_is_found_by_name_not_by_arn() {
    let h = harness("baseline");
    let wiring = json(&h.dir.join("pipeline/wiring.json"));
    let (key, stack) = wiring["stages"]
        .as_object()
        .expect("stages")
        .iter()
        .flat_map(|(k, s)| {
            s["stacks"]
                .as_array()
                .expect("stacks")
                .iter()
                .map(move |x| (k.clone(), x.clone()))
        })
        .find(|(_, x)| x["parameters"]["IdentityCenterEnabledBaselineArn"].is_object())
        .expect("a stack with the baseline");
    let o = h.run("stage", &key, &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let got = json(
        &h.dir
            .join("resolved")
            .join(stack["configuration"].as_str().expect("c")),
    );
    assert_eq!(
        got["Parameters"]["IdentityCenterEnabledBaselineArn"],
        "arn:aws:controltower:eu-west-1:111111111111:enabledbaseline/XYZ"
    );
    let _ = fs::remove_dir_all(h.dir.parent().expect("scratch"));
}

#[test]
fn enabling_a_policy_type_waits_until_the_root_says_enabled() {
    let h = harness("policy-type");
    let o = h.run("step", "enable-policy-types", &[]);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(h
        .calls()
        .iter()
        .any(|c| c[0] == "organizations" && c[1] == "list-roots"));
    // Still pending when the wait runs out: the step fails, naming the type.
    let o = h.run("step", "enable-policy-types", &[("FAKE_PENDING", "1")]);
    assert_eq!(o.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&o.stderr).contains("is not ENABLED"));
    let _ = fs::remove_dir_all(h.dir.parent().expect("scratch"));
}
