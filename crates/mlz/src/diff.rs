//! `mlz diff`: what deploying one output folder over another would do, read the way
//! CloudFormation will act on it. Templates are compared resource by resource; a modified
//! resource is a replacement when a create-only property changes (the table generated from the
//! resource provider schemas, `data/create-only.json`). Dangerous changes come first, then the
//! security-relevant ones, then everything else by account and region.
//!
//! Files whose bytes are equal are not parsed, so diffing two large outputs costs little more
//! than reading them.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::OnceLock;

use serde_json::{json, Map, Value};

/// Exit codes of `mlz diff` (docs/diff.md).
pub mod exit {
    pub const NO_CHANGE: i32 = 0;
    pub const CHANGES: i32 = 1;
    pub const DANGEROUS: i32 = 2;
}

const CREATE_ONLY: &str = include_str!("../data/create-only.json");

/// Create-only property pointers (below `Properties`) by resource type; `None` for a type the
/// table does not know.
fn create_only(ty: &str) -> Option<&'static [String]> {
    static T: OnceLock<HashMap<String, Vec<String>>> = OnceLock::new();
    let t = T.get_or_init(|| {
        let v: Value = serde_json::from_str(CREATE_ONLY).unwrap_or(Value::Null);
        v["types"]
            .as_object()
            .into_iter()
            .flatten()
            .filter_map(|(k, ps)| {
                Some((
                    k.clone(),
                    ps.as_array()?
                        .iter()
                        .filter_map(|p| p.as_str().map(str::to_owned))
                        .collect(),
                ))
            })
            .collect()
    });
    t.get(ty).map(Vec::as_slice)
}

/// Types whose removal without `DeletionPolicy: Retain` loses data or access.
const STATEFUL: &[&str] = &[
    "AWS::S3::Bucket",
    "AWS::KMS::Key",
    "AWS::Logs::LogGroup",
    "AWS::EC2::VPC",
    "AWS::EC2::Subnet",
    "AWS::EC2::TransitGateway",
    "AWS::EC2::TransitGatewayAttachment",
    "AWS::EC2::TransitGatewayRouteTableAssociation",
    "AWS::Organizations::Account",
    "AWS::Organizations::OrganizationalUnit",
    "AWS::Organizations::Policy",
    "AWS::SSO::PermissionSet",
    "AWS::SSO::Assignment",
    "AWS::IdentityStore::Group",
    "AWS::ServiceCatalog::CloudFormationProvisionedProduct",
    "AWS::ServiceCatalog::Portfolio",
    "AWS::ServiceCatalog::CloudFormationProduct",
    "AWS::RAM::ResourceShare",
    "AWS::IAM::Role",
    "AWS::DataZone::Domain",
    "AWS::DataZone::Project",
    "AWS::DataZone::DomainUnit",
    "AWS::SageMaker::Domain",
    "AWS::SageMaker::ModelPackageGroup",
    "AWS::ControlTower::LandingZone",
];

/// A parsed template of a folder, with where the manifest deploys it.
struct Node {
    account: String,
    region: String,
    body: Value,
}

/// One side of the diff: the files, and the manifest's view of them.
struct Side<'a> {
    files: &'a BTreeMap<String, Vec<u8>>,
    manifest: Value,
    /// Template path → (account name, region).
    placed: BTreeMap<String, (String, String)>,
}

impl<'a> Side<'a> {
    fn new(files: &'a BTreeMap<String, Vec<u8>>, what: &str) -> Result<Side<'a>, String> {
        let raw = files
            .get("manifest.json")
            .ok_or_else(|| format!("{what} has no manifest.json: is it an mlz output folder?"))?;
        let manifest: Value = serde_json::from_slice(raw)
            .map_err(|e| format!("{what}/manifest.json is not JSON: {e}"))?;
        let mut placed = BTreeMap::new();
        for t in manifest["templates"].as_array().into_iter().flatten() {
            if let Some(p) = t["path"].as_str() {
                placed.insert(
                    p.to_owned(),
                    (
                        t["account"]["name"].as_str().unwrap_or("?").to_owned(),
                        t["region"].as_str().unwrap_or("?").to_owned(),
                    ),
                );
            }
        }
        Ok(Side {
            files,
            manifest,
            placed,
        })
    }

    fn node(&self, path: &str) -> Option<Node> {
        let bytes = self.files.get(path)?;
        let text = String::from_utf8_lossy(bytes);
        let body = mlz_model::yaml::parse_cfn(&text).ok()?.to_json();
        let (account, region) = self.placed.get(path).cloned().unwrap_or_default();
        Some(Node {
            account,
            region,
            body,
        })
    }
}

/// Export name → value of the outputs of one template that export, keyed with where the
/// template deploys.
fn exports_of(n: &Node, into: &mut BTreeMap<(String, String, String), Value>) {
    for o in n.body["Outputs"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(_, o)| o)
    {
        if let Some(name) = o["Export"]["Name"].as_str() {
            into.insert(
                (n.account.clone(), n.region.clone(), name.to_owned()),
                o["Value"].clone(),
            );
        }
    }
}

/// The export names a template's text imports (`Fn::ImportValue: name` in YAML,
/// `"Fn::ImportValue": "name"` in JSON; mlz writes import names as plain strings).
fn import_names(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    for part in text.split("Fn::ImportValue").skip(1) {
        let rest = part.trim_start_matches(['"', ':', ' ', '\'']);
        let name: String = rest
            .chars()
            .take_while(|c| !matches!(c, '"' | '\'' | '\n' | '\r' | ',' | '}' | ' '))
            .collect();
        if !name.is_empty() {
            out.push(name);
        }
    }
    out
}

/// Whether a value is (or holds) an intrinsic function: its final value is known only at
/// deploy time.
fn has_intrinsic(v: &Value) -> bool {
    match v {
        Value::Object(m) => {
            (m.len() == 1
                && m.keys()
                    .next()
                    .is_some_and(|k| k == "Ref" || k.starts_with("Fn::")))
                || m.values().any(has_intrinsic)
        }
        Value::Array(a) => a.iter().any(has_intrinsic),
        _ => false,
    }
}

/// The values at a create-only pointer (`A/B`, `A/*/B`) below `Properties`.
fn at_pointer<'v>(v: &'v Value, pointer: &str) -> Vec<&'v Value> {
    let mut cur = vec![v];
    for seg in pointer.split('/') {
        let mut next = Vec::new();
        for c in cur {
            match (seg, c) {
                ("*", Value::Array(a)) => next.extend(a.iter()),
                ("*", Value::Object(m)) => next.extend(m.values()),
                (k, Value::Object(m)) => next.extend(m.get(k)),
                (k, Value::Array(a)) => next.extend(k.parse::<usize>().ok().and_then(|i| a.get(i))),
                _ => {}
            }
        }
        cur = next;
    }
    cur
}

/// Replacement of a modified resource: "True", "Conditional" (the new value is an intrinsic,
/// known only at deploy time) or "False"; `None` when the type is unknown to the table.
fn replacement(ty: &str, old: &Value, new: &Value) -> Option<&'static str> {
    if old["Type"] != new["Type"] {
        return Some("True");
    }
    if ty.starts_with("Custom::") {
        return Some("False");
    }
    let pointers = create_only(ty)?;
    let (op, np) = (&old["Properties"], &new["Properties"]);
    let mut verdict = "False";
    for p in pointers {
        let (a, b) = (at_pointer(op, p), at_pointer(np, p));
        if a != b {
            if b.iter().any(|v| has_intrinsic(v)) || a.iter().any(|v| has_intrinsic(v)) {
                verdict = "Conditional";
            } else {
                return Some("True");
            }
        }
    }
    Some(verdict)
}

/// A short line-based unified diff of two texts (for policy documents and inline code).
fn unified(old: &str, new: &str) -> Vec<String> {
    let a: Vec<&str> = old.lines().collect();
    let b: Vec<&str> = new.lines().collect();
    if a.len() * b.len() > 4_000_000 {
        return vec![format!("({} lines → {} lines)", a.len(), b.len())];
    }
    // Longest common subsequence, then the edit script.
    let mut l = vec![vec![0u32; b.len() + 1]; a.len() + 1];
    for i in (0..a.len()).rev() {
        for j in (0..b.len()).rev() {
            l[i][j] = if a[i] == b[j] {
                l[i + 1][j + 1] + 1
            } else {
                l[i + 1][j].max(l[i][j + 1])
            };
        }
    }
    let (mut i, mut j) = (0, 0);
    let mut ops: Vec<(char, &str)> = Vec::new();
    while i < a.len() || j < b.len() {
        if i < a.len() && j < b.len() && a[i] == b[j] {
            ops.push((' ', a[i]));
            i += 1;
            j += 1;
        } else if j < b.len() && (i == a.len() || l[i][j + 1] >= l[i + 1][j]) {
            ops.push(('+', b[j]));
            j += 1;
        } else {
            ops.push(('-', a[i]));
            i += 1;
        }
    }
    // Two lines of context around each change.
    let near: Vec<bool> = (0..ops.len())
        .map(|k| {
            let lo = k.saturating_sub(2);
            let hi = (k + 2).min(ops.len() - 1);
            ops[lo..=hi].iter().any(|(c, _)| *c != ' ')
        })
        .collect();
    let mut out = Vec::new();
    let mut gap = false;
    for (k, (c, line)) in ops.iter().enumerate() {
        if near[k] {
            if gap {
                out.push("...".to_owned());
                gap = false;
            }
            out.push(format!("{c} {line}"));
        } else {
            gap = !out.is_empty();
        }
    }
    out
}

fn pretty(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        other => serde_json::to_string_pretty(other).unwrap_or_default(),
    }
}

fn short(v: &Value) -> String {
    let s = match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if s.chars().count() > 120 {
        format!("{}…", s.chars().take(120).collect::<String>())
    } else {
        s
    }
}

/// IAM statements of a resource, each as canonical JSON, labelled by where they sit.
fn statements(ty: &str, props: &Value) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut add = |label: &str, doc: &Value| {
        let doc = match doc {
            // Organizations policies and some inline policies are JSON text.
            Value::String(s) => serde_json::from_str(s).unwrap_or(Value::Null),
            other => other.clone(),
        };
        let list = match &doc["Statement"] {
            Value::Array(a) => a.clone(),
            Value::Null => Vec::new(),
            one => vec![one.clone()],
        };
        for s in list {
            out.insert(format!("{label}: {s}"));
        }
    };
    match ty {
        "AWS::IAM::Role" => {
            add("trust", &props["AssumeRolePolicyDocument"]);
            for p in props["Policies"].as_array().into_iter().flatten() {
                add(
                    &format!("policy {}", p["PolicyName"].as_str().unwrap_or("?")),
                    &p["PolicyDocument"],
                );
            }
            for m in props["ManagedPolicyArns"].as_array().into_iter().flatten() {
                out.insert(format!("managed policy: {m}"));
            }
        }
        "AWS::IAM::ManagedPolicy" | "AWS::IAM::Policy" => add("policy", &props["PolicyDocument"]),
        "AWS::SSO::PermissionSet" => {
            add("inline policy", &props["InlinePolicy"]);
            for m in props["ManagedPolicies"].as_array().into_iter().flatten() {
                out.insert(format!("managed policy: {m}"));
            }
        }
        "AWS::Organizations::Policy" => {
            add("policy", &props["Content"]);
            for t in props["TargetIds"].as_array().into_iter().flatten() {
                out.insert(format!("target: {t}"));
            }
        }
        "AWS::RAM::ResourceShare" => {
            for p in props["Principals"].as_array().into_iter().flatten() {
                out.insert(format!("principal: {p}"));
            }
        }
        "AWS::ServiceCatalog::PortfolioPrincipalAssociation"
        | "AWS::ServiceCatalog::PortfolioShare"
        | "AWS::SSO::Assignment"
        | "Custom::OrganizationPortfolioShare"
            if !props.is_null() =>
        {
            out.insert(format!("grant: {props}"));
        }
        _ => {}
    }
    out
}

/// What a security-relevant resource kind is called in the report.
fn security_kind(ty: &str) -> Option<&'static str> {
    Some(match ty {
        "AWS::IAM::Role" | "AWS::IAM::ManagedPolicy" | "AWS::IAM::Policy" => "iam",
        "AWS::SSO::PermissionSet" => "permission-set",
        "AWS::SSO::Assignment" => "identity-center-assignment",
        "AWS::Organizations::Policy" => "organization-policy",
        "AWS::RAM::ResourceShare" => "ram-principals",
        "AWS::ServiceCatalog::PortfolioPrincipalAssociation" => "portfolio-principal",
        "AWS::ServiceCatalog::PortfolioShare" | "Custom::OrganizationPortfolioShare" => {
            "portfolio-share"
        }
        _ => return None,
    })
}

/// Compares two output folders' files: the report as JSON (schema: schema/diff.schema.json).
pub fn diff(
    old_files: &BTreeMap<String, Vec<u8>>,
    new_files: &BTreeMap<String, Vec<u8>>,
) -> Result<Value, String> {
    let old = Side::new(old_files, "the old folder")?;
    let new = Side::new(new_files, "the new folder")?;
    let mut dangerous: Vec<Value> = Vec::new();
    let mut security: Vec<Value> = Vec::new();
    let mut nodes: Vec<Value> = Vec::new();
    let mut counts = BTreeMap::<&str, u64>::new();
    let paths: BTreeSet<&String> = old.placed.keys().chain(new.placed.keys()).collect();
    // The exports of the templates that changed (an unchanged template's are the same on
    // both sides).
    let (mut old_exports, mut new_exports) = (BTreeMap::new(), BTreeMap::new());
    for path in paths {
        let (o, n) = (old.files.get(path), new.files.get(path));
        if o == n {
            continue;
        }
        let (on, nn) = (
            old.placed
                .contains_key(path)
                .then(|| old.node(path))
                .flatten(),
            new.placed
                .contains_key(path)
                .then(|| new.node(path))
                .flatten(),
        );
        if let Some(x) = &on {
            exports_of(x, &mut old_exports);
        }
        if let Some(x) = &nn {
            exports_of(x, &mut new_exports);
        }
        let (account, region) = nn
            .as_ref()
            .or(on.as_ref())
            .map(|x| (x.account.clone(), x.region.clone()))
            .unwrap_or_default();
        let change = match (&on, &nn) {
            (None, Some(_)) => "added",
            (Some(_), None) => "removed",
            _ => "changed",
        };
        *counts
            .entry(match change {
                "added" => "templatesAdded",
                "removed" => "templatesRemoved",
                _ => "templatesChanged",
            })
            .or_default() += 1;
        let empty = json!({});
        let ores = on.as_ref().map_or(&empty, |x| &x.body["Resources"]);
        let nres = nn.as_ref().map_or(&empty, |x| &x.body["Resources"]);
        let ids: BTreeSet<&String> = ores
            .as_object()
            .into_iter()
            .flatten()
            .chain(nres.as_object().into_iter().flatten())
            .map(|(k, _)| k)
            .collect();
        // Resources of a type added in this template: a removal beside one is a rename,
        // which CloudFormation carries out as a replacement.
        let added_of = |ty: &str| -> Vec<String> {
            nres.as_object()
                .into_iter()
                .flatten()
                .filter(|(k, r)| r["Type"] == ty && ores[k.as_str()].is_null())
                .map(|(k, _)| k.clone())
                .collect()
        };
        let mut resources = Vec::new();
        for id in ids {
            let (a, b) = (&ores[id.as_str()], &nres[id.as_str()]);
            if a == b {
                continue;
            }
            let ty = b["Type"]
                .as_str()
                .or(a["Type"].as_str())
                .unwrap_or("?")
                .to_owned();
            let where_ = json!({ "template": path, "resource": id, "type": ty, "account": account, "region": region });
            let mut entry = json!({ "id": id, "type": ty });
            let (kind, repl) = if a.is_null() {
                ("Add", None)
            } else if b.is_null() {
                ("Remove", None)
            } else {
                ("Modify", Some(replacement(&ty, a, b)))
            };
            entry["change"] = json!(kind);
            *counts
                .entry(match kind {
                    "Add" => "resourcesAdded",
                    "Remove" => "resourcesRemoved",
                    _ => "resourcesModified",
                })
                .or_default() += 1;
            if let Some(r) = repl {
                entry["replacement"] = json!(r.unwrap_or("Unknown"));
                if r == Some("True") || r == Some("Conditional") {
                    *counts.entry("replacements").or_default() += 1;
                }
                let props: BTreeSet<&String> = a["Properties"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .chain(b["Properties"].as_object().into_iter().flatten())
                    .map(|(k, _)| k)
                    .collect();
                let mut changed = Vec::new();
                for p in props {
                    let (x, y) = (&a["Properties"][p.as_str()], &b["Properties"][p.as_str()]);
                    if x == y {
                        continue;
                    }
                    let (px, py) = (pretty(x), pretty(y));
                    let mut c = json!({ "property": p });
                    if px.lines().count() > 3
                        || py.lines().count() > 3
                        || px.len() > 120
                        || py.len() > 120
                    {
                        c["diff"] = json!(unified(&px, &py));
                    } else {
                        c["old"] = x.clone();
                        c["new"] = y.clone();
                    }
                    changed.push(c);
                }
                for attr in [
                    "DeletionPolicy",
                    "UpdateReplacePolicy",
                    "DependsOn",
                    "Condition",
                ] {
                    if a[attr] != b[attr] {
                        changed.push(json!({ "property": attr, "old": a[attr], "new": b[attr] }));
                    }
                }
                entry["properties"] = Value::Array(changed);
            }
            // Dangerous kinds.
            let replaced = matches!(repl, Some(Some("True" | "Conditional")));
            let removed = kind == "Remove";
            let retained = a["DeletionPolicy"] == "Retain";
            let mut found: Vec<(&str, String)> = Vec::new();
            let mut danger = |kind: &'static str, msg: String| found.push((kind, msg));
            let verb = if removed {
                match added_of(&ty).as_slice() {
                    [] => "removed".to_owned(),
                    [one] => format!("replaced (removed, and {one} added: a rename)"),
                    many => format!(
                        "replaced (removed, and {} others of its type added)",
                        many.len()
                    ),
                }
            } else {
                "replaced".to_owned()
            };

            match ty.as_str() {
                "AWS::ServiceCatalog::CloudFormationProvisionedProduct"
                | "AWS::Organizations::Account"
                    if replaced || removed =>
                {
                    danger("account-revended", format!("account {id} would be {verb}: a new account is vended (or the old one leaves the stack)"));
                }
                "AWS::SSO::PermissionSet" | "AWS::SSO::Assignment" if replaced || removed => {
                    danger("access-replaced", format!("{ty} {id} would be {verb}: users lose that access until it is made again"));
                }
                "AWS::DataZone::Domain" | "AWS::DataZone::Project" | "AWS::SageMaker::Domain"
                    if replaced || removed =>
                {
                    danger("domain-replaced", format!("{ty} {id} would be {verb}"));
                }
                "AWS::EC2::TransitGateway" if replaced || removed => {
                    danger(
                        "transit-gateway-replaced",
                        format!(
                            "Transit Gateway {id} would be {verb}: every attached VPC is cut off"
                        ),
                    );
                }
                "AWS::EC2::VPC" | "AWS::EC2::Subnet"
                    if a["Properties"]["CidrBlock"] != b["Properties"]["CidrBlock"]
                        && !a.is_null()
                        && !b.is_null() =>
                {
                    danger(
                        "range-changed",
                        format!("{id}'s range changes: the VPC or subnet is replaced"),
                    );
                }
                _ => {}
            }
            if removed && !retained && STATEFUL.contains(&ty.as_str()) && found.is_empty() {
                found.push((
                    "removed-without-retain",
                    format!("{ty} {id} would be deleted (no DeletionPolicy: Retain)"),
                ));
            }
            for (kind, msg) in found {
                let mut d = where_.clone();
                d["kind"] = json!(kind);
                d["message"] = json!(msg);
                dangerous.push(d);
            }
            // Security: statements and grants added and removed.
            if let Some(sk) = security_kind(&ty) {
                let (sa, sb) = (
                    statements(&ty, &a["Properties"]),
                    statements(&ty, &b["Properties"]),
                );
                for s in sb.difference(&sa) {
                    let mut e = where_.clone();
                    e["kind"] = json!(sk);
                    e["change"] = json!("added");
                    e["detail"] = json!(s);
                    security.push(e);
                }
                for s in sa.difference(&sb) {
                    let mut e = where_.clone();
                    e["kind"] = json!(sk);
                    e["change"] = json!("removed");
                    e["detail"] = json!(s);
                    security.push(e);
                }
            }
            resources.push(entry);
        }
        nodes.push(json!({ "template": path, "account": account, "region": region, "change": change, "resources": resources }));
    }
    // Exports removed or changed while a template still imports them (CloudFormation refuses
    // to change them), only when some template changed.
    // Exports removed or changed while a template still imports them (CloudFormation
    // refuses): the new folder's imports, read once from the text of its templates.
    let gone: Vec<(&(String, String, String), bool)> = old_exports
        .iter()
        .filter(|(k, v)| new_exports.get(*k) != Some(*v))
        .map(|(k, _)| (k, new_exports.contains_key(k)))
        .collect();
    if !gone.is_empty() {
        let mut imported: BTreeSet<(&str, &str, String)> = BTreeSet::new();
        for (path, (account, region)) in &new.placed {
            if let Some(b) = new.files.get(path) {
                for name in import_names(&String::from_utf8_lossy(b)) {
                    imported.insert((account.as_str(), region.as_str(), name));
                }
            }
        }
        for (k, still) in gone {
            if imported.contains(&(k.0.as_str(), k.1.as_str(), k.2.clone())) {
                dangerous.push(json!({
                    "kind": "export-in-use",
                    "account": k.0, "region": k.1, "template": "", "resource": k.2, "type": "Export",
                    "message": format!("export {} would be {} while a stack still imports it: CloudFormation refuses the update", k.2, if still { "changed" } else { "removed" }),
                }));
            }
        }
    }
    // Documents: vending requests' VPC ranges, the address plan.
    for (path, o) in old_files.iter().filter(|(p, _)| p.starts_with("vending/")) {
        let Some(n) = new_files.get(path) else {
            continue;
        };
        if o == n {
            continue;
        }
        let (a, b): (Value, Value) = (
            serde_json::from_slice(o).unwrap_or(Value::Null),
            serde_json::from_slice(n).unwrap_or(Value::Null),
        );
        let (ca, cb) = (
            &a["blueprint"]["parameters"]["VpcCidr"],
            &b["blueprint"]["parameters"]["VpcCidr"],
        );
        if !ca.is_null() && ca != cb {
            dangerous.push(json!({
                "kind": "range-changed", "template": path, "resource": "VpcCidr", "type": "VendingRequest",
                "account": a["account"]["name"], "region": "",
                "message": format!("{}'s VPC range changes from {} to {}: applying the blueprint replaces its VPC", a["account"]["name"].as_str().unwrap_or("?"), short(ca), short(cb)),
            }));
        }
    }
    // Manual steps and parameters, from the manifests.
    let steps = |m: &Value| -> BTreeSet<String> {
        m["manualSteps"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|s| s["id"].as_str().map(str::to_owned))
            .collect()
    };
    let (so, sn) = (steps(&old.manifest), steps(&new.manifest));
    let params = |m: &Value| -> BTreeMap<(String, String), Value> {
        let mut out = BTreeMap::new();
        for t in m["templates"].as_array().into_iter().flatten() {
            for p in t["parameters"].as_array().into_iter().flatten() {
                out.insert(
                    (
                        t["path"].as_str().unwrap_or("").to_owned(),
                        p["name"].as_str().unwrap_or("").to_owned(),
                    ),
                    json!({ "value": p["value"], "valueFromExport": p["valueFromExport"] }),
                );
            }
        }
        out
    };
    let (po, pn) = (params(&old.manifest), params(&new.manifest));
    let mut parameters = Vec::new();
    for k in po.keys().chain(pn.keys()).collect::<BTreeSet<_>>() {
        let (a, b) = (po.get(k), pn.get(k));
        if a != b {
            parameters.push(json!({ "template": k.0, "name": k.1, "old": a.cloned().unwrap_or(Value::Null), "new": b.cloned().unwrap_or(Value::Null) }));
        }
    }
    let (ao, an) = (address_plan(old_files), address_plan(new_files));
    let mut ranges = Vec::new();
    for k in ao.keys().chain(an.keys()).collect::<BTreeSet<_>>() {
        let (a, b) = (ao.get(k), an.get(k));
        if a != b {
            ranges.push(json!({ "account": k.0, "region": k.1, "old": a, "new": b }));
            if a.is_some() && b.is_some() {
                dangerous.push(json!({
                    "kind": "range-changed", "template": "network/address-plan.json", "resource": k.0, "type": "VpcRange",
                    "account": k.0, "region": k.1,
                    "message": format!("{}'s VPC range in {} moves from {} to {}", k.0, k.1, a.map_or("", String::as_str), b.map_or("", String::as_str)),
                }));
            }
        }
    }
    dangerous.sort_by_cached_key(Value::to_string);
    dangerous.dedup();
    let mut summary = Map::new();
    for (k, v) in counts {
        summary.insert(k.to_owned(), json!(v));
    }
    let templates: BTreeSet<&String> = old.placed.keys().chain(new.placed.keys()).collect();
    let documents = old_files
        .keys()
        .chain(new_files.keys())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .filter(|k| !templates.contains(k) && old_files.get(*k) != new_files.get(*k))
        .count();
    summary.insert("documentsChanged".into(), json!(documents));
    summary.insert("dangerous".into(), json!(dangerous.len()));
    summary.insert("security".into(), json!(security.len()));
    let any = !nodes.is_empty()
        || so != sn
        || !parameters.is_empty()
        || !ranges.is_empty()
        || old_files.keys().ne(new_files.keys())
        || old_files.iter().any(|(k, v)| new_files.get(k) != Some(v));
    let exit = if !dangerous.is_empty() {
        exit::DANGEROUS
    } else if any {
        exit::CHANGES
    } else {
        exit::NO_CHANGE
    };
    Ok(json!({
        "diffVersion": 1,
        "exitCode": exit,
        "summary": summary,
        "dangerous": dangerous,
        "security": security,
        "nodes": nodes,
        "steps": { "added": sn.difference(&so).collect::<Vec<_>>(), "removed": so.difference(&sn).collect::<Vec<_>>() },
        "parameters": parameters,
        "ranges": ranges,
    }))
}

fn address_plan(files: &BTreeMap<String, Vec<u8>>) -> BTreeMap<(String, String), String> {
    let Some(raw) = files.get("network/address-plan.json") else {
        return BTreeMap::new();
    };
    let v: Value = serde_json::from_slice(raw).unwrap_or(Value::Null);
    v["ranges"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            (
                (
                    r["key"].as_str().unwrap_or("").to_owned(),
                    r["region"].as_str().unwrap_or("").to_owned(),
                ),
                r["cidr"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

/// The report for people: dangerous changes first, then security, then by account and region.
pub fn render(r: &Value) -> String {
    let mut out = String::new();
    let list = |v: &Value| v.as_array().cloned().unwrap_or_default();
    let dangerous = list(&r["dangerous"]);
    if !dangerous.is_empty() {
        out.push_str(&format!("DANGEROUS ({}):\n", dangerous.len()));
        for d in &dangerous {
            out.push_str(&format!(
                "  ! [{}] {} {}: {}\n",
                d["kind"].as_str().unwrap_or(""),
                d["template"].as_str().unwrap_or(""),
                d["resource"].as_str().unwrap_or(""),
                d["message"].as_str().unwrap_or("")
            ));
        }
        out.push('\n');
    }
    let security = list(&r["security"]);
    if !security.is_empty() {
        out.push_str(&format!("security ({}):\n", security.len()));
        for s in &security {
            out.push_str(&format!(
                "  {} {} {} {}: {}\n",
                if s["change"] == "added" { "+" } else { "-" },
                s["kind"].as_str().unwrap_or(""),
                s["template"].as_str().unwrap_or(""),
                s["resource"].as_str().unwrap_or(""),
                short(&Value::String(
                    s["detail"].as_str().unwrap_or("").to_owned()
                ))
            ));
        }
        out.push('\n');
    }
    let mut by_place: BTreeMap<(String, String), Vec<&Value>> = BTreeMap::new();
    let nodes = list(&r["nodes"]);
    for n in &nodes {
        by_place
            .entry((
                n["account"].as_str().unwrap_or("").to_owned(),
                n["region"].as_str().unwrap_or("").to_owned(),
            ))
            .or_default()
            .push(n);
    }
    for ((account, region), ns) in by_place {
        out.push_str(&format!("{account} / {region}\n"));
        for n in ns {
            let mark = match n["change"].as_str() {
                Some("added") => "+",
                Some("removed") => "-",
                _ => "~",
            };
            out.push_str(&format!(
                "  {mark} {}\n",
                n["template"].as_str().unwrap_or("")
            ));
            for res in list(&n["resources"]) {
                let change = res["change"].as_str().unwrap_or("");
                let repl = match res["replacement"].as_str() {
                    Some(r) => format!(" (replacement: {r})"),
                    None => String::new(),
                };
                out.push_str(&format!(
                    "      {change} {} {}{repl}\n",
                    res["id"].as_str().unwrap_or(""),
                    res["type"].as_str().unwrap_or("")
                ));
                for p in list(&res["properties"]) {
                    match p["diff"].as_array() {
                        Some(lines) => {
                            out.push_str(&format!(
                                "          {}:\n",
                                p["property"].as_str().unwrap_or("")
                            ));
                            for l in lines {
                                out.push_str(&format!(
                                    "            {}\n",
                                    l.as_str().unwrap_or("")
                                ));
                            }
                        }
                        None => out.push_str(&format!(
                            "          {}: {} → {}\n",
                            p["property"].as_str().unwrap_or(""),
                            short(&p["old"]),
                            short(&p["new"])
                        )),
                    }
                }
            }
        }
    }
    for (what, mark) in [("added", "+"), ("removed", "-")] {
        for s in list(&r["steps"][what]) {
            out.push_str(&format!(
                "manual step {mark} {}\n",
                s.as_str().unwrap_or("")
            ));
        }
    }
    for p in list(&r["parameters"]) {
        let (t, name) = (
            p["template"].as_str().unwrap_or(""),
            p["name"].as_str().unwrap_or(""),
        );
        let change = match (p["old"].is_null(), p["new"].is_null()) {
            (true, _) => "added".to_owned(),
            (_, true) => "removed".to_owned(),
            _ => format!(
                "{} → {}",
                short(&p["old"]["value"]),
                short(&p["new"]["value"])
            ),
        };
        out.push_str(&format!("parameter {t} {name}: {change}\n"));
    }
    for g in list(&r["ranges"]) {
        out.push_str(&format!(
            "range {} {}: {} → {}\n",
            g["account"].as_str().unwrap_or(""),
            g["region"].as_str().unwrap_or(""),
            short(&g["old"]),
            short(&g["new"])
        ));
    }
    out.push_str(&format!("{}\n", summary_line(r)));
    out
}

/// One line: the counts, for `generate` and the end of the report.
pub fn summary_line(r: &Value) -> String {
    let s = &r["summary"];
    let n = |k: &str| s[k].as_u64().unwrap_or(0);
    if r["exitCode"] == exit::NO_CHANGE {
        return "no change".to_owned();
    }
    format!(
        "{} templates changed, {} added, {} removed; resources: {} added, {} modified ({} replaced), {} removed; {} other files changed; {} security changes; {} dangerous",
        n("templatesChanged"),
        n("templatesAdded"),
        n("templatesRemoved"),
        n("resourcesAdded"),
        n("resourcesModified"),
        n("replacements"),
        n("resourcesRemoved"),
        n("documentsChanged"),
        n("security"),
        n("dangerous")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_only_changes_replace_and_intrinsics_are_conditional() {
        let old = json!({ "Type": "AWS::SSO::PermissionSet", "Properties": { "Name": "A", "Description": "x", "InstanceArn": "arn" } });
        let desc = json!({ "Type": "AWS::SSO::PermissionSet", "Properties": { "Name": "A", "Description": "y", "InstanceArn": "arn" } });
        let name = json!({ "Type": "AWS::SSO::PermissionSet", "Properties": { "Name": "B", "Description": "x", "InstanceArn": "arn" } });
        let param = json!({ "Type": "AWS::SSO::PermissionSet", "Properties": { "Name": "A", "Description": "x", "InstanceArn": { "Ref": "InstanceArn" } } });
        let ty = "AWS::SSO::PermissionSet";
        assert_eq!(replacement(ty, &old, &desc), Some("False"));
        assert_eq!(replacement(ty, &old, &name), Some("True"));
        assert_eq!(replacement(ty, &old, &param), Some("Conditional"));
        assert_eq!(replacement("AWS::No::Such", &old, &desc), None);
    }

    #[test]
    fn nested_pointers_are_followed() {
        let v = json!({ "Budget": { "BudgetName": "a", "BudgetLimit": 1 } });
        assert_eq!(at_pointer(&v, "Budget/BudgetName"), vec![&json!("a")]);
        let l = json!({ "Tags": [{ "Key": "a" }, { "Key": "b" }] });
        assert_eq!(at_pointer(&l, "Tags/*/Key").len(), 2);
    }

    #[test]
    fn unified_diff_shows_context_and_changes() {
        let d = unified("a\nb\nc\nd\ne\nf\ng\n", "a\nb\nc\nX\ne\nf\ng\n");
        assert!(
            d.contains(&"- d".to_owned()) && d.contains(&"+ X".to_owned()),
            "{d:?}"
        );
        assert!(
            !d.contains(&"  a".to_owned()),
            "context is two lines: {d:?}"
        );
    }
}
