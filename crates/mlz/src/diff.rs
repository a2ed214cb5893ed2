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

/// Create-only property pointers (below `Properties`) by resource type, and the conditional
/// ones (their change may replace); `None` for a type the table does not know.
/// (create-only pointers, conditionally create-only pointers).
type Pointers = (Vec<String>, Vec<String>);

fn create_only(ty: &str) -> Option<&'static Pointers> {
    static T: OnceLock<HashMap<String, Pointers>> = OnceLock::new();
    let t = T.get_or_init(|| {
        let v: Value = serde_json::from_str(CREATE_ONLY).unwrap_or(Value::Null);
        let list = |x: &Value| -> Vec<String> {
            x.as_array()
                .into_iter()
                .flatten()
                .filter_map(|p| p.as_str().map(str::to_owned))
                .collect()
        };
        v["types"]
            .as_object()
            .into_iter()
            .flatten()
            .filter(|(_, e)| e.is_object())
            .map(|(k, e)| (k.clone(), (list(&e["createOnly"]), list(&e["conditional"]))))
            .collect()
    });
    t.get(ty)
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

/// Where and how a template of the manifest deploys.
#[derive(Clone, Default)]
struct Place {
    account: String,
    region: String,
    /// The stack (or StackSet) name: what CloudFormation knows the template by.
    stack: String,
    /// `stack`, `stackSet`, `serviceCatalogProduct`, `afcBlueprint`.
    kind: String,
}

/// One side of the diff: the files, and the manifest's view of them.
struct Side<'a> {
    files: &'a BTreeMap<String, Vec<u8>>,
    manifest: Value,
    /// Template path → where it deploys.
    placed: BTreeMap<String, Place>,
}

impl<'a> Side<'a> {
    fn new(files: &'a BTreeMap<String, Vec<u8>>, what: &str) -> Result<Side<'a>, String> {
        let raw = files
            .get("manifest.json")
            .ok_or_else(|| format!("{what} has no manifest.json: is it an mlz output folder?"))?;
        let manifest: Value = serde_json::from_slice(raw)
            .map_err(|e| format!("{what}/manifest.json is not JSON: {e}"))?;
        let Some(templates) = manifest["templates"].as_array() else {
            return Err(format!(
                "{what}/manifest.json is not an mlz manifest (no templates list)"
            ));
        };
        let mut placed = BTreeMap::new();
        // The pipeline's own templates are stacks too (deployed by hand once, then by the
        // pipeline): a change to them is a change to what is deployed.
        let own = manifest["pipeline"]["templates"]
            .as_array()
            .into_iter()
            .flatten();
        for t in templates.iter().chain(own) {
            if let Some(p) = t["path"].as_str() {
                let account = t["account"]["name"].as_str().unwrap_or("?").to_owned();
                let region = t["region"].as_str().unwrap_or("?").to_owned();
                let stack = t["stackName"].as_str().unwrap_or(p).to_owned();
                let kind = t["kind"]
                    .as_str()
                    .unwrap_or(if t["stackName"].is_null() {
                        "stackSet"
                    } else {
                        "stack"
                    })
                    .to_owned();
                placed.insert(
                    p.to_owned(),
                    Place {
                        account,
                        region,
                        stack,
                        kind,
                    },
                );
            }
        }
        Ok(Side {
            files,
            manifest,
            placed,
        })
    }

    /// The template at `path`, parsed; an error when the manifest lists it but it is missing
    /// or does not parse (never read as "removed").
    fn node(&self, path: &str, what: &str) -> Result<Node, String> {
        let bytes = self
            .files
            .get(path)
            .ok_or_else(|| format!("{what}: manifest.json lists {path}, which is missing"))?;
        let text = String::from_utf8_lossy(bytes);
        let body = mlz_model::yaml::parse_cfn(&text)
            .map_err(|e| {
                format!(
                    "{what}/{path}:{}:{}: not a template: {}",
                    e.span.line, e.span.col, e.message
                )
            })?
            .to_json();
        let pl = self.placed.get(path).cloned().unwrap_or_default();
        Ok(Node {
            account: pl.account,
            region: pl.region,
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
/// known only at deploy time, or a conditionally create-only property changes) or "False";
/// `None` when the type is unknown to the table.
fn replacement(ty: &str, old: &Value, new: &Value) -> Option<&'static str> {
    if old["Type"] != new["Type"] {
        return Some("True");
    }
    if ty.starts_with("Custom::") {
        return Some("False");
    }
    let (pointers, conditional) = create_only(ty)?;
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
    if conditional
        .iter()
        .any(|p| at_pointer(op, p) != at_pointer(np, p))
    {
        verdict = "Conditional";
    }
    Some(verdict)
}

/// The parameters of stack `key` whose values the manifest knows.
fn known_params<'m>(
    side: &'m BTreeMap<((String, String, String), String), Value>,
    key: &(String, String, String),
) -> BTreeMap<&'m str, &'m Value> {
    side.range((key.clone(), String::new())..)
        .take_while(|((k, _), _)| k == key)
        .filter(|(_, v)| !v["value"].is_null())
        .map(|((_, n), v)| (n.as_str(), &v["value"]))
        .collect()
}

/// `v` with every `{"Ref": P}` of a parameter whose value the manifest knows replaced by that
/// value, so that a parameter that became a literal (or the other way) compares by value.
fn substitute(v: &Value, known: &BTreeMap<&str, &Value>) -> Value {
    match v {
        Value::Object(m) => {
            if let (1, Some(Value::String(p))) = (m.len(), m.get("Ref")) {
                if let Some(val) = known.get(p.as_str()) {
                    return (*val).clone();
                }
            }
            Value::Object(
                m.iter()
                    .map(|(k, x)| (k.clone(), substitute(x, known)))
                    .collect(),
            )
        }
        Value::Array(a) => Value::Array(a.iter().map(|x| substitute(x, known)).collect()),
        other => other.clone(),
    }
}

/// A change CloudFormation refuses outright, not a replacement: a new type under the same
/// logical id, or a custom resource's new service token.
fn refused(ty: &str, old: &Value, new: &Value) -> Option<String> {
    if old["Type"] != new["Type"] {
        return Some(format!(
            "the type changes from {} to {}: CloudFormation does not update a resource's type (rename the logical id to replace it)",
            old["Type"].as_str().unwrap_or("?"),
            new["Type"].as_str().unwrap_or("?")
        ));
    }
    if ty.starts_with("Custom::")
        && old["Properties"]["ServiceToken"] != new["Properties"]["ServiceToken"]
    {
        return Some("the custom resource's ServiceToken changes: CloudFormation refuses to modify a service token".to_owned());
    }
    None
}

/// A replaced resource whose name (a create-only `…Name` property) stays: CloudFormation
/// creates the replacement before deleting the old one, so the name is taken and the update
/// fails.
fn keeps_its_name(ty: &str, old: &Value, new: &Value) -> Option<String> {
    let (pointers, _) = create_only(ty)?;
    pointers.iter().find_map(|p| {
        let last = p.rsplit('/').next().unwrap_or(p);
        let (a, b) = (
            at_pointer(&old["Properties"], p),
            at_pointer(&new["Properties"], p),
        );
        (last.ends_with("Name") && !a.is_empty() && a == b)
            .then(|| format!("{p} = {}", short(a[0])))
    })
}

fn retains(r: &Value, attr: &str) -> bool {
    matches!(r[attr].as_str(), Some("Retain" | "RetainExceptOnCreate"))
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
        other => serde_json::to_string_pretty(other).expect("string-keyed JSON always serializes"),
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
        | "AWS::ControlTower::EnabledControl"
        | "AWS::ControlTower::EnabledBaseline"
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
        "AWS::ControlTower::EnabledControl" | "AWS::ControlTower::EnabledBaseline" => "control",
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
    // Every count is in the summary, zero or not, so that a reader of the JSON never has
    // to tell a missing key from none.
    let mut counts: BTreeMap<&str, u64> = [
        "templatesChanged",
        "templatesAdded",
        "templatesRemoved",
        "resourcesAdded",
        "resourcesModified",
        "resourcesRemoved",
        "replacements",
    ]
    .into_iter()
    .map(|k| (k, 0))
    .collect();
    // Templates are matched by what CloudFormation knows them by: account, region and stack
    // name (a format switch renames the files, not the stacks).
    type Key = (String, String, String);
    let key_of = |pl: &Place| -> Key { (pl.account.clone(), pl.region.clone(), pl.stack.clone()) };
    let mut keys: BTreeMap<Key, (Option<&String>, Option<&String>)> = BTreeMap::new();
    for (path, pl) in &old.placed {
        keys.entry(key_of(pl)).or_default().0 = Some(path);
    }
    for (path, pl) in &new.placed {
        keys.entry(key_of(pl)).or_default().1 = Some(path);
    }
    // Parameter values by stack: a changed value changes the resources that use it even when
    // the template's text is the same.
    let params = |side: &Side| -> BTreeMap<(Key, String), Value> {
        let mut out = BTreeMap::new();
        for t in side.manifest["templates"].as_array().into_iter().flatten() {
            let Some(pl) = t["path"].as_str().and_then(|p| side.placed.get(p)) else {
                continue;
            };
            for p in t["parameters"].as_array().into_iter().flatten() {
                out.insert(
                    (key_of(pl), p["name"].as_str().unwrap_or("").to_owned()),
                    json!({ "value": p["value"], "valueFromExport": p["valueFromExport"] }),
                );
            }
        }
        out
    };
    let (po, pn) = (params(&old), params(&new));
    let changed_params: BTreeMap<&Key, BTreeSet<&String>> = {
        let mut m: BTreeMap<&Key, BTreeSet<&String>> = BTreeMap::new();
        for k in po.keys().chain(pn.keys()) {
            if po.get(k) != pn.get(k) {
                m.entry(&k.0).or_default().insert(&k.1);
            }
        }
        m
    };
    // The exports of the templates that changed (an unchanged template's are the same on
    // both sides).
    let (mut old_exports, mut new_exports) = (BTreeMap::new(), BTreeMap::new());
    let no_params = BTreeSet::new();
    // The templates to read: those whose text or parameters differ. Each side is parsed on a
    // core of its own (parsing is most of the cost when many templates change).
    let todo: Vec<(&Key, Option<&String>, Option<&String>)> = keys
        .iter()
        .filter(|(key, (op, np))| {
            let (ob, nb) = (
                op.and_then(|p| old.files.get(p)),
                np.and_then(|p| new.files.get(p)),
            );
            !(ob.is_some() && ob == nb && !changed_params.contains_key(key))
        })
        .map(|(k, (o, n))| (k, *o, *n))
        .collect();
    let parse_side =
        |side: &Side, what: &str, paths: Vec<&String>| -> HashMap<String, Result<Node, String>> {
            paths
                .into_iter()
                .map(|p| (p.clone(), side.node(p, what)))
                .collect()
        };
    // In chunks, so that only a chunk's trees are in memory at once.
    for chunk in todo.chunks(128) {
        let (mut parsed_old, mut parsed_new) = std::thread::scope(|sc| {
            let o = sc.spawn(|| {
                parse_side(
                    &old,
                    "the old folder",
                    chunk.iter().filter_map(|t| t.1).collect(),
                )
            });
            let n = parse_side(
                &new,
                "the new folder",
                chunk.iter().filter_map(|t| t.2).collect(),
            );
            (o.join().unwrap_or_default(), n)
        });
        for &(key, op, np) in chunk {
            let (op, np) = (&op, &np);
            let (ob, nb) = (
                op.and_then(|p| old.files.get(p)),
                np.and_then(|p| new.files.get(p)),
            );
            let cp = changed_params.get(key).unwrap_or(&no_params);
            if ob.is_some() && ob == nb && cp.is_empty() {
                continue;
            }
            let on = op
                .map(|p| {
                    parsed_old
                        .remove(p.as_str())
                        .unwrap_or_else(|| old.node(p, "the old folder"))
                })
                .transpose()?;
            let nn = np
                .map(|p| {
                    parsed_new
                        .remove(p.as_str())
                        .unwrap_or_else(|| new.node(p, "the new folder"))
                })
                .transpose()?;
            let path = np.or(*op).cloned().unwrap_or_default();
            // A product version or an AFC blueprint deploys when someone launches or applies it:
            // its changes are listed, never dangerous by themselves.
            let deployed = new
                .placed
                .get(&path)
                .or_else(|| op.and_then(|p| old.placed.get(p)))
                .is_some_and(|pl| pl.kind == "stack" || pl.kind == "stackSet");
            if let Some(x) = &on {
                exports_of(x, &mut old_exports);
            }
            if let Some(x) = &nn {
                exports_of(x, &mut new_exports);
            }
            let (account, region) = (key.0.clone(), key.1.clone());
            let change = match (&on, &nn) {
                (None, Some(_)) => "added",
                (Some(_), None) => "removed",
                _ => "changed",
            };
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
                let ty = b["Type"]
                    .as_str()
                    .or(a["Type"].as_str())
                    .unwrap_or("?")
                    .to_owned();
                // Changed parameters this resource uses, and whether one feeds a create-only
                // property.
                let uses: Vec<&String> = if a == b && !a.is_null() {
                    cp.iter()
                        .copied()
                        .filter(|p| {
                            b["Properties"]
                                .to_string()
                                .contains(&format!("{{\"Ref\":\"{p}\"}}"))
                        })
                        .collect()
                } else {
                    Vec::new()
                };
                if a == b && uses.is_empty() {
                    continue;
                }
                let where_ = json!({ "template": path, "resource": id, "type": ty, "account": account, "region": region });
                let mut entry = json!({ "id": id, "type": ty });
                let (kind, repl) = if a.is_null() {
                    ("Add", None)
                } else if b.is_null() {
                    ("Remove", None)
                } else if !uses.is_empty() {
                    let feeds = create_only(&ty).map(|(c, _)| {
                        c.iter().any(|ptr| {
                            at_pointer(&b["Properties"], ptr).iter().any(|v| {
                                uses.iter().any(|p| {
                                    v.to_string().contains(&format!("{{\"Ref\":\"{p}\"}}"))
                                })
                            })
                        })
                    });
                    (
                        "Modify",
                        Some(feeds.map(|f| if f { "True" } else { "False" })),
                    )
                } else {
                    // Parameters whose values the manifests know compare by value.
                    let (ko, kn) = (known_params(&po, key), known_params(&pn, key));
                    let (sa, sb) = (
                        json!({ "Type": a["Type"], "Properties": substitute(&a["Properties"], &ko) }),
                        json!({ "Type": b["Type"], "Properties": substitute(&b["Properties"], &kn) }),
                    );
                    ("Modify", Some(replacement(&ty, &sa, &sb)))
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
                    for p in &uses {
                        let k = (key.clone(), (*p).clone());
                        changed.push(json!({ "property": format!("(parameter {p})"), "old": po.get(&k).map(|v| v["value"].clone()), "new": pn.get(&k).map(|v| v["value"].clone()) }));
                    }
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
                            changed
                                .push(json!({ "property": attr, "old": a[attr], "new": b[attr] }));
                        }
                    }
                    entry["properties"] = Value::Array(changed);
                }
                // Dangerous kinds, for what CloudFormation deploys now.
                let replaced = matches!(repl, Some(Some("True" | "Conditional")));
                let removed = kind == "Remove";
                let mut found: Vec<(&str, String)> = Vec::new();
                if deployed {
                    let verb = if removed {
                        match added_of(&ty).as_slice() {
                            [] => "removed".to_owned(),
                            [one] => format!("replaced (removed, and {one} added: a rename)"),
                            many => format!(
                                "replaced (removed, and {} others of its type added)",
                                many.len()
                            ),
                        }
                    } else if matches!(repl, Some(Some("Conditional"))) {
                        // A create-only value that is (or was) a parameter or import: the
                        // replacement happens only if the deployed value differs.
                        "replaced if a create-only value known only at deploy time (a parameter, an import) differs from the deployed one".to_owned()
                    } else {
                        "replaced".to_owned()
                    };
                    if kind == "Modify" {
                        if let Some(why) = refused(&ty, a, b) {
                            found.push(("update-refused", format!("{id}: {why}")));
                        }
                    }
                    match ty.as_str() {
                        "AWS::ServiceCatalog::CloudFormationProvisionedProduct"
                        | "AWS::Organizations::Account"
                            if replaced || removed =>
                        {
                            found.push((
                                "account-revended",
                                format!(
                                    "account {id} would be {verb}: {}",
                                    if removed && retains(a, "DeletionPolicy") {
                                        "the account stays (retained) but leaves CloudFormation"
                                    } else {
                                        "a new account is vended"
                                    }
                                ),
                            ));
                        }
                        "AWS::SSO::PermissionSet" | "AWS::SSO::Assignment"
                            if replaced || removed =>
                        {
                            found.push(("access-replaced", format!("{ty} {id} would be {verb}: users lose that access until it is made again")));
                        }
                        "AWS::DataZone::Domain"
                        | "AWS::DataZone::Project"
                        | "AWS::SageMaker::Domain"
                            if replaced || removed =>
                        {
                            found.push(("domain-replaced", format!("{ty} {id} would be {verb}")));
                        }
                        "AWS::EC2::TransitGateway" if replaced || removed => {
                            found.push(("transit-gateway-replaced", format!("Transit Gateway {id} would be {verb}: every attached VPC is cut off")));
                        }
                        "AWS::EC2::VPC" | "AWS::EC2::Subnet"
                            if replaced && !a.is_null() && !b.is_null() =>
                        {
                            found.push((
                                "range-changed",
                                format!(
                                    "{id}'s range or zone changes: the VPC or subnet is replaced"
                                ),
                            ));
                        }
                        _ => {}
                    }
                    if replaced {
                        if let Some(name) = keeps_its_name(&ty, a, b) {
                            found.push(("replacement-blocked", format!("{ty} {id} would be replaced but keeps its name ({name}): CloudFormation creates the replacement first, the name is taken, and the update fails")));
                        }
                    }
                    if STATEFUL.contains(&ty.as_str()) && found.is_empty() {
                        if removed && !retains(a, "DeletionPolicy") {
                            found.push((
                                "removed-without-retain",
                                format!("{ty} {id} would be deleted (no DeletionPolicy: Retain)"),
                            ));
                        } else if replaced && !retains(a, "UpdateReplacePolicy") {
                            found.push(("removed-without-retain", format!("{ty} {id} would be replaced and the old one deleted (no UpdateReplacePolicy: Retain)")));
                        }
                    }
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
                    for (set, other, ch) in [(&sb, &sa, "added"), (&sa, &sb, "removed")] {
                        for s in set.difference(other) {
                            let mut e = where_.clone();
                            e["kind"] = json!(sk);
                            e["change"] = json!(ch);
                            e["detail"] = json!(s);
                            security.push(e);
                        }
                    }
                }
                resources.push(entry);
            }
            if resources.is_empty() && change == "changed" {
                continue; // the same resources (another format, other whitespace)
            }
            *counts
                .entry(match change {
                    "added" => "templatesAdded",
                    "removed" => "templatesRemoved",
                    _ => "templatesChanged",
                })
                .or_default() += 1;
            nodes.push(json!({ "template": path, "account": account, "region": region, "change": change, "resources": resources }));
        }
    }
    // Exports removed or changed while a template still imports them (CloudFormation
    // refuses): the importers of the deployed (old) folder and of the new one, read once from
    // the text of their templates.
    let gone: Vec<(&(String, String, String), bool)> = old_exports
        .iter()
        .filter(|(k, v)| new_exports.get(*k) != Some(*v))
        .map(|(k, _)| (k, new_exports.contains_key(k)))
        .collect();
    if !gone.is_empty() {
        let mut imported: BTreeSet<(&str, &str, String)> = BTreeSet::new();
        for side in [&old, &new] {
            for (path, pl) in &side.placed {
                if let Some(b) = side.files.get(path) {
                    for name in import_names(&String::from_utf8_lossy(b)) {
                        imported.insert((pl.account.as_str(), pl.region.as_str(), name));
                    }
                }
            }
        }
        for (k, still) in gone {
            if imported.contains(&(k.0.as_str(), k.1.as_str(), k.2.clone())) {
                dangerous.push(json!({
                    "kind": "export-in-use",
                    "account": k.0, "region": k.1, "template": "", "resource": k.2, "type": "Export",
                    "message": format!("export {} would be {} while a deployed stack imports it: CloudFormation refuses the exporting stack's update until no stack imports it", k.2, if still { "changed" } else { "removed" }),
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
    let mut parameters = Vec::new();
    for k in po.keys().chain(pn.keys()).collect::<BTreeSet<_>>() {
        let (a, b) = (po.get(k), pn.get(k));
        if a != b {
            let template = keys
                .get(&k.0)
                .and_then(|(o, n)| n.or(*o))
                .cloned()
                .unwrap_or_default();
            parameters.push(json!({ "template": template, "name": k.1, "old": a.cloned().unwrap_or(Value::Null), "new": b.cloned().unwrap_or(Value::Null) }));
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
