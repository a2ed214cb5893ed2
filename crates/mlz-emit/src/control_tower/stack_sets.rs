//! Blueprint delivery by StackSets (`controlTower.blueprintDelivery: stackSets`): each
//! blueprint is a service-managed StackSet in the management account with automatic
//! deployment to the OUs whose accounts use it, so an account that joins one of those OUs
//! later (a newly vended one) gets it with no console step. Automatic deployment gives new
//! accounts the StackSet's own parameter values, never per-account overrides, so the
//! parameters are the same for every account: an attached blueprint gets a StackSet per
//! segment and region, with that segment's IPAM pool and that region's Transit Gateway.

use std::collections::BTreeMap;

use mlz_cfn::{LogicalId, Resource, Template, Value};
use mlz_model::{AccountIdx, AccountRef, Blueprint, ControlTower, OuIdx, Platform};
use serde_json::json;

use crate::common::{
    account_ref_ident, bug, content_version, new_stack, ou_ident, region_id, template_url,
    use_ident, Ident,
};
use crate::plan::{rules, Area, ExportKey, ExportRef, Fact, Need, StackId};
use crate::stack::{DeployKind, Emitted, StackParam, StackSetTargets, Upload};
use crate::types::CFN_STACK_SET;
use crate::EmitError;

pub const HOLDER: &str = "blueprint-stack-sets";
const TGW_PATTERN: &str = "^tgw-[0-9a-f]{8,17}$";
const POOL_PATTERN: &str = "^ipam-pool-[0-9a-f]{8,17}$";

/// One StackSet of a blueprint: its accounts (those of one segment when it attaches), their
/// OUs (the targets) and its regions.
struct Set {
    blueprint: usize,
    /// For an attached blueprint: the segment and the one region.
    segment: Option<(usize, String)>,
    accounts: Vec<AccountIdx>,
    ous: Vec<OuIdx>,
    regions: Vec<String>,
}

/// The StackSets of every blueprint, in blueprint order, then segment and region.
fn sets(p: &Platform, ct: &ControlTower) -> Vec<Set> {
    // The segment of each account whose VPC draws from a pool, and its regions.
    let mut attached: BTreeMap<AccountIdx, (usize, Vec<String>)> = BTreeMap::new();
    if let Some(n) = &p.network {
        for r in n.ranges.iter().filter(|r| r.cidr.is_none()) {
            attached
                .entry(r.account)
                .or_insert((r.segment, Vec::new()))
                .1
                .push(r.region.clone());
        }
    }
    let mut out = Vec::new();
    for (bi, b) in ct.blueprints.iter().enumerate() {
        let mut groups: BTreeMap<Option<(usize, String)>, Vec<AccountIdx>> = BTreeMap::new();
        for &a in &b.accounts {
            match attached.get(&a) {
                Some((seg, regions)) => {
                    for r in regions {
                        groups.entry(Some((*seg, r.clone()))).or_default().push(a);
                    }
                }
                None => groups.entry(None).or_default().push(a),
            }
        }
        for (segment, accounts) in groups {
            let mut ous: Vec<OuIdx> = accounts.iter().map(|&a| p.account(a).ou).collect();
            ous.sort_unstable();
            ous.dedup();
            // A target OU includes the OUs below it: name only the topmost.
            let all = ous.clone();
            ous.retain(|&o| {
                let mut up = p.ou(o).parent;
                while let Some(u) = up {
                    if all.contains(&u) {
                        return false;
                    }
                    up = p.ou(u).parent;
                }
                true
            });
            let regions = match &segment {
                Some((_, r)) => vec![r.clone()],
                None => b.regions.clone(),
            };
            out.push(Set {
                blueprint: bi,
                segment,
                accounts,
                ous,
                regions,
            });
        }
    }
    out
}

fn set_id(p: &Platform, b: &Blueprint, set: &Set) -> StackId {
    StackId::new(
        Area::Blueprints,
        match &set.segment {
            Some((si, region)) => {
                let seg = p
                    .network
                    .as_ref()
                    .map_or("", |n| n.segments[*si].name.as_str());
                format!("{}-{seg}-{region}", b.name)
            }
            None => b.name.clone(),
        },
    )
}

/// A blueprint's service-managed StackSet: auto-deployed to its OUs (instances not retained
/// when an account leaves them), with named-IAM capability, managed execution, and the values
/// every account of the set shares.
fn stack_set(
    p: &Platform,
    b: &mlz_model::Blueprint,
    id: &StackId,
    set: &Set,
    ou_ids: Vec<Value>,
    values: Vec<(String, Value)>,
    key: &str,
) -> Result<Resource, EmitError> {
    let mut resource = Resource::new(CFN_STACK_SET)
        .prop("StackSetName", id.stack_name(&p.organization.stack_prefix))
        .prop(
            "Description",
            b.description.chars().take(1024).collect::<String>(),
        )
        .prop("PermissionModel", "SERVICE_MANAGED")
        // Not retained: an account that leaves the OUs loses this blueprint's instance,
        // so one that moves to another blueprint's or segment's OUs gets the new one
        // without two VPCs, two attachments or a clash of role names (a VPC still in use
        // fails to delete, and the StackSet operation says so).
        .prop(
            "AutoDeployment",
            crate::common::plain(json!({ "Enabled": true, "RetainStacksOnAccountRemoval": false })),
        )
        .prop("Capabilities", Value::list_of_str(["CAPABILITY_NAMED_IAM"]))
        .prop(
            "ManagedExecution",
            crate::common::plain(json!({ "Active": true })),
        )
        .prop(
            "OperationPreferences",
            crate::common::plain(json!({
                "FailureTolerancePercentage": 10,
                "MaxConcurrentPercentage": 25,
                "RegionConcurrencyType": "PARALLEL"
            })),
        )
        .prop(
            "StackInstancesGroup",
            Value::List(vec![Value::map([
                (
                    "DeploymentTargets",
                    Value::map([("OrganizationalUnitIds", Value::List(ou_ids))]),
                ),
                ("Regions", Value::list_of_str(set.regions.iter().cloned())),
            ])]),
        )
        .prop("TemplateURL", template_url(p, key)?);
    if !values.is_empty() {
        resource = resource.prop(
            "Parameters",
            Value::List(
                values
                    .into_iter()
                    .map(|(k, v)| {
                        Value::map([("ParameterKey", Value::Str(k)), ("ParameterValue", v)])
                    })
                    .collect(),
            ),
        );
    }
    Ok(resource)
}

/// What mlz knows of a blueprint parameter for every account of a StackSet alike: the
/// config's value, or the segment's IPAM pool, the region's Transit Gateway, the security
/// tooling account (each a parameter of the holder filled from its export or lookup).
fn known_value(
    p: &Platform,
    b: &mlz_model::Blueprint,
    set: &Set,
    name: &str,
    t: &mut Template,
    params: &mut Vec<StackParam>,
    path: &str,
) -> Result<Option<Value>, EmitError> {
    Ok(if let Some(v) = b.parameters.get(name) {
        Some(Value::str(v.clone()))
    } else {
        match name {
            "IpamPoolId" => match (&set.segment, &p.network) {
                (Some((si, region)), Some(n)) => Some(use_ident(
                    p,
                    Ident::ExportParam {
                        id: LogicalId::new(format!(
                            "{}{}",
                            LogicalId::derive("IpamPool", &n.segments[*si].name)
                                .map_err(|e| bug(path, e))?,
                            region_id(region)
                        ))
                        .map_err(|e| bug(path, e))?,
                        description: format!(
                            "The IPAM pool of segment {} in {region} (export {} of network/ipam in {})",
                            n.segments[*si].name,
                            ExportKey::IpamPool(*si, region.clone()).name(p)?,
                            crate::common::account_name(p, n.account),
                        ),
                        pattern: POOL_PATTERN,
                        export: ExportRef::ipam_pool(p, n, *si, region),
                    },
                    t,
                    params,
                )?),
                _ => None,
            },
            "TransitGatewayId" => match (&set.segment, &p.network) {
                (Some((_, region)), Some(n)) => Some(use_ident(
                    p,
                    Ident::ExportParam {
                        id: LogicalId::new(format!(
                            "TransitGateway{}",
                            region_id(region)
                        ))
                        .map_err(|e| bug(path, e))?,
                        description: format!(
                            "The Transit Gateway of {region} (export {} of {} in {})",
                            ExportKey::TransitGatewayId.name(p)?,
                            StackId::transit_gateway(region).path(),
                            crate::common::account_name(p, n.account),
                        ),
                        pattern: TGW_PATTERN,
                        export: ExportRef {
                            key: ExportKey::TransitGatewayId,
                            account: n.account,
                            region: region.clone(),
                        },
                    },
                    t,
                    params,
                )?),
                _ => None,
            },
            "SecurityToolingAccountId" => match &p.security {
                Some(sec) => Some(use_ident(
                    p,
                    account_ref_ident(p, sec.admin)?,
                    t,
                    params,
                )?),
                None => None,
            },
            _ => None,
        }
    })
}

pub fn emit(p: &Platform, ct: &ControlTower, out: &mut Emitted) -> Result<(), EmitError> {
    let sets = sets(p, ct);
    if sets.is_empty() {
        return Ok(());
    }
    let holder = StackId::new(Area::ControlTower, HOLDER);
    let hpath = holder.path();
    let path = hpath.as_str();
    let mut t = Template::new(format!(
        "{}: the blueprints as service-managed StackSets with automatic deployment to the OUs whose accounts use them (blueprintDelivery stackSets). Deploy in the management account, home region.",
        p.organization.name
    ));
    let mut params: Vec<StackParam> = Vec::new();
    let mut requires: Vec<Need> = Vec::new();
    let mut covered: Vec<AccountIdx> = Vec::new();
    for set in &sets {
        let b = &ct.blueprints[set.blueprint];
        let id = set_id(p, b, set);
        let tpath = id.path();
        let template = super::blueprint_template(p, b)?;
        let version = content_version(&template);
        let key = format!("{tpath}/{version}.template");
        // The StackSet's parameters: what the config fixes, then what mlz knows for every
        // account of the set alike.
        let mut values: Vec<(String, Value)> = Vec::new();
        for (pid, param) in &template.parameters {
            let name = pid.to_string();
            let value = known_value(p, b, set, &name, &mut t, &mut params, path)?;
            match (value, &param.default) {
                (Some(v), _) => values.push((name, v)),
                (None, Some(_)) => {}
                (None, None) => {
                    return Err(EmitError {
                        template: tpath.clone(),
                        message: format!(
                            "blueprint {:?} needs a value for {name}, and a StackSet gives every account the same one",
                            b.name
                        ),
                        hint: Some(format!(
                            "give it in controlTower.blueprints (name {:?}).parameters",
                            b.name
                        )),
                    })
                }
            }
        }
        let ou_ids: Vec<Value> = set
            .ous
            .iter()
            .map(|&o| ou_ident(p, o).and_then(|i| use_ident(p, i, &mut t, &mut params)))
            .collect::<Result<_, _>>()?;
        let lid = LogicalId::derive(
            "StackSet",
            tpath.rsplit('/').next().unwrap_or(tpath.as_str()),
        )
        .map_err(|e| bug(path, e))?;
        let resource = stack_set(p, b, &id, set, ou_ids, values, &key)?;
        t.add_resource(lid.clone(), resource)
            .map_err(|e| bug(path, e))?;
        requires.push(Need::new(Fact::Uploaded(id.clone()), &rules::UPLOAD_FIRST));
        for &o in &set.ous {
            let n = Need::new(Fact::OuExists(o), &rules::OU_FIRST);
            if !requires.contains(&n) {
                requires.push(n);
            }
        }
        covered.extend(set.accounts.iter().copied());
        let mut ms = new_stack(p, id, template);
        ms.deploy = DeployKind::StackSet;
        ms.upload = Some(Upload { key });
        ms.parameters = crate::common::passed_by_stack_set(super::blueprint_params(b));
        ms.stack_set = Some(StackSetTargets {
            holder: holder.clone(),
            resource: lid,
            ous: set.ous.clone(),
            accounts: Vec::new(),
            regions: set.regions.clone(),
            auto_deployment: true,
        });
        ms.contents = Some((
            "accounts",
            set.accounts
                .iter()
                .map(|&a| p.account(a).name.clone())
                .collect(),
        ));
        out.stacks.push(ms);
    }
    // Created after the accounts the config has now, so that its first operation gives them
    // their blueprint (and the plan can rely on it); later accounts get theirs by automatic
    // deployment when they join the OUs.
    covered.sort_unstable();
    covered.dedup();
    for a in covered {
        requires.push(Need::new(
            Fact::AccountExists(AccountRef::Account(a)),
            &rules::BLUEPRINT_STACK_SETS,
        ));
    }
    requires.push(Need::new(
        Fact::TrustedAccess(crate::plan::Service::StackSets),
        &rules::STACKSETS_TRUSTED_ACCESS,
    ));
    let mut s = new_stack(p, holder, t);
    s.parameters = params;
    s.requires = requires;
    s.provides = vec![Fact::BlueprintsApplied];
    out.stacks.push(s);
    crate::common::require_stack_sets(out);
    Ok(())
}
