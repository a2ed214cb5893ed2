//! `cfct/`: the parts of the platform Customizations for AWS Control Tower (CfCT) can deploy,
//! for teams that already run it: SCPs and RCPs as policy files attached to OUs, and the
//! service-managed StackSets whose parameters are all known, as `stack_set` resources.
//! `cfct/manifest.yaml` is version 2021-03-15 of CfCT's manifest; docs/cfct.md gives the
//! rules it follows and what is left out (and why).
//!
//! The manifest is written as text, not with the template writer: CfCT reads it twice, with
//! pykwalify (YAML 1.2) in its build stage and PyYAML (YAML 1.1) when it deploys, and finds
//! `*_file:` paths with `grep` and `cut`. So every string value is double-quoted but the
//! file paths (plain, on lines of their own, never the first key of a list item), `version` is
//! the unquoted date, account ids and parameter values are always quoted.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use mlz_model::{AccountRef, OuIdx, Platform, PolicyType};

use crate::common::slug;
use crate::stack::{DeployKind, Stack};

/// CfCT's manifest version (its `manifest-v2.schema.yaml` allows only this date).
const VERSION: &str = "2021-03-15";

/// What `cfct/` holds, and what it leaves out.
pub struct Built {
    pub files: Vec<(String, Vec<u8>)>,
    pub left_out: Vec<String>,
    /// The templates that make what the manifest makes (the policies stack, the StackSets'
    /// holders): an organisation deploys one or the other.
    pub replaces: Vec<String>,
}

/// A double-quoted YAML scalar (JSON's escaping is valid YAML).
fn quote(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".into())
}

/// An OU as CfCT names it: the names from below the root, joined by `:`.
fn ou_name(p: &Platform, i: OuIdx) -> String {
    crate::common::ou_path(p, i).join(":")
}

/// An OU and every OU below it: a CfCT stack set reaches only the accounts directly in the
/// OUs it lists, where a service-managed StackSet reaches the whole subtree.
fn subtree(p: &Platform, top: OuIdx) -> Vec<OuIdx> {
    let mut out = vec![top];
    let mut i = 0;
    while i < out.len() {
        let at = out[i];
        out.extend(
            p.ous
                .iter()
                .enumerate()
                .filter(|(_, o)| o.parent == Some(at))
                .map(|(k, _)| OuIdx(k)),
        );
        i += 1;
    }
    out
}

/// What the manifest's resources add to: its text, its files, what it leaves out and the
/// mlz stacks it replaces.
struct Acc<'x> {
    m: &'x mut String,
    out: &'x mut Vec<(String, Vec<u8>)>,
    left_out: &'x mut Vec<String>,
    replaces: &'x mut std::collections::BTreeSet<String>,
}

/// The SCPs and RCPs as policy resources with their files, to the OUs (and the root) they
/// target; tag policies and account targets are left out (CfCT has no stage for them).
fn policies(p: &Platform, stacks: &[Stack], ext: &str, acc: &mut Acc<'_>) {
    for pol in &p.policies {
        let method = match pol.policy_type {
            PolicyType::ServiceControl => "scp",
            PolicyType::ResourceControl => "rcp",
            PolicyType::Tag => {
                acc.left_out.push(format!(
                    "tag policy {}: CfCT deploys only SCPs and RCPs (organizations/policies deploys it)",
                    pol.name
                ));
                continue;
            }
        };
        if !pol.targets.accounts.is_empty() {
            acc.left_out.push(format!(
                "the account targets of policy {}: CfCT attaches policies to OUs only",
                pol.name
            ));
        }
        let mut ous: Vec<String> = pol.targets.ous.iter().map(|o| ou_name(p, *o)).collect();
        if pol.targets.root {
            ous.insert(0, "Root".into());
        }
        if ous.is_empty() {
            acc.left_out
                .push(format!("policy {}: it has no OU or root target", pol.name));
            continue;
        }
        if let Some(s) = stacks
            .iter()
            .find(|s| s.id.path() == "organizations/policies")
        {
            acc.replaces.insert(s.id.file(ext));
        }
        let file = format!("policies/{}.json", slug(&pol.name));
        let mut text = serde_json::to_string_pretty(&pol.document)
            .expect("string-keyed JSON always serializes");
        text.push('\n');
        acc.out.push((format!("cfct/{file}"), text.into_bytes()));
        let _ = writeln!(acc.m, "  - name: {}", quote(&pol.name));
        if let Some(d) = &pol.description {
            let _ = writeln!(acc.m, "    description: {}", quote(d));
        }
        let _ = writeln!(acc.m, "    resource_file: {file}");
        let _ = writeln!(acc.m, "    deploy_method: {method}");
        let _ = writeln!(
            acc.m,
            "    deployment_targets:\n      organizational_units:"
        );
        for o in ous {
            let _ = writeln!(acc.m, "        - {}", quote(&o));
        }
    }
}

pub fn build(
    p: &Platform,
    stacks: &[Stack],
    files: &BTreeMap<String, Vec<u8>>,
    ext: &str,
) -> Built {
    let mut m = format!(
        "---\n# Generated by mlz. The rcp resources need CfCT 2.8.1 or later. Merge these resources\n# into your manifest, and deploy them or the mlz stacks that make the same\n# (manifest.json cfct.replaces), never both.\nregion: {}\nversion: {VERSION}\nresources:\n",
        p.organization.home_region
    );
    let mut out: Vec<(String, Vec<u8>)> = Vec::new();
    let mut left_out = Vec::new();
    let mut replaces: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    // Policies first: CfCT runs its SCP and RCP stages before the stack sets.
    let mut acc = Acc {
        m: &mut m,
        out: &mut out,
        left_out: &mut left_out,
        replaces: &mut replaces,
    };
    policies(p, stacks, ext, &mut acc);
    for s in stacks.iter().filter(|s| s.deploy == DeployKind::StackSet) {
        let Some(t) = &s.stack_set else {
            continue;
        };
        let path = s.id.file(ext);
        if !s.template.parameters.is_empty() {
            // The values its holder passes that are not literals: other stacks' outputs or
            // lookups (the holder's parameters, imports).
            let passed = stacks
                .iter()
                .find(|h| h.id == t.holder)
                .and_then(|h| h.template.resources.get(&t.resource))
                .and_then(|r| match r.properties.get("Parameters") {
                    Some(mlz_cfn::Value::List(items)) => Some(items),
                    _ => None,
                });
            let dynamic: Vec<String> = passed
                .into_iter()
                .flatten()
                .filter_map(|x| match x {
                    mlz_cfn::Value::Map(m) => {
                        match (m.get("ParameterKey"), m.get("ParameterValue")) {
                            (Some(mlz_cfn::Value::Str(k)), Some(v))
                                if !matches!(v, mlz_cfn::Value::Str(_)) =>
                            {
                                Some(k.clone())
                            }
                            _ => None,
                        }
                    }
                    _ => None,
                })
                .collect();
            let named = if dynamic.is_empty() {
                s.template
                    .parameters
                    .keys()
                    .map(|k| k.to_string())
                    .collect::<Vec<_>>()
            } else {
                dynamic
            };
            left_out.push(format!(
                "StackSet {path}: its parameters take values of other stacks or lookups ({}), which a CfCT manifest cannot name",
                named.join(", ")
            ));
            continue;
        }
        let Some(body) = files.get(&path) else {
            continue;
        };
        replaces.insert(t.holder.file(ext));
        let file = format!("templates/{}.template", s.id.path());
        out.push((format!("cfct/{file}"), body.clone()));
        let name = format!("{}-{}", p.organization.stack_prefix, slug(&s.id.path()));
        let _ = writeln!(m, "  - name: {}", quote(&name));
        let _ = writeln!(m, "    description: {}", quote(&s.template.description));
        let _ = writeln!(m, "    resource_file: {file}");
        let _ = writeln!(m, "    deploy_method: stack_set");
        let _ = writeln!(m, "    deployment_targets:");
        if t.accounts.is_empty() {
            // The whole subtree of each OU, as the service-managed StackSet reaches it.
            let mut names: Vec<String> = t
                .ous
                .iter()
                .flat_map(|o| subtree(p, *o))
                .map(|o| ou_name(p, o))
                .collect();
            names.dedup();
            let _ = writeln!(m, "      organizational_units:");
            for n in names {
                let _ = writeln!(m, "        - {}", quote(&n));
            }
        } else {
            // Only these accounts (CfCT adds an OU's accounts to the list, it does not
            // intersect): by name, as CfCT matches them, or by id when the config gives it.
            let _ = writeln!(m, "      accounts:");
            for a in &t.accounts {
                let name = match a {
                    AccountRef::Management => p.organization.management.name.clone(),
                    AccountRef::Account(i) => {
                        let acc = p.account(*i);
                        acc.id.clone().unwrap_or_else(|| acc.name.clone())
                    }
                };
                let _ = writeln!(m, "        - {}", quote(&name));
            }
        }
        let _ = writeln!(m, "    regions:");
        for r in &t.regions {
            let _ = writeln!(m, "      - {}", quote(r));
        }
    }
    if out.is_empty() {
        m = m.replace("resources:\n", "resources: []\n");
    }
    out.insert(0, ("cfct/manifest.yaml".to_owned(), m.into_bytes()));
    Built {
        files: out,
        left_out,
        replaces: replaces.into_iter().collect(),
    }
}
