//! Amazon VPC IPAM, for blueprints delivered by StackSets (`controlTower.blueprintDelivery:
//! stackSets`): a StackSet's automatic deployment gives every account the same parameters, so
//! an attached VPC cannot be given its range; it draws one from its segment's pool instead.
//!
//! The stack `network/ipam` in the Network account's home region holds the IPAM (operating in
//! every region with a pool), one pool per segment and region where accounts attach (the
//! segment's supernet provisioned, allocations exactly the plan's VPC size), the lock's
//! reserved ranges as allocations (IPAM never hands them out), and a RAM share per segment
//! with the OUs of the accounts that draw from it. IPAM's delegated administrator is the
//! Network account: a step from the management account (docs/network.md, "IPAM").

use std::collections::BTreeMap;

use mlz_cfn::{LogicalId, Output, Resource, Template, Value};
use mlz_model::{AccountRef, BlueprintDelivery, Network, OuIdx, Platform};
use serde_json::json;

use crate::common::{account_name, bug, new_stack, ou_principals, region_id};
use crate::plan::{exports, rules, Area, ExportKey, Fact, Need, Service, StackId};
use crate::ram;
use crate::stack::{Emitted, ManualStep};
use crate::types::{IPAM, IPAM_ALLOCATION, IPAM_POOL};
use crate::EmitError;

/// RAM's managed permission for IPAM pools (VPC IPAM guide, "Share an IPAM pool using AWS
/// RAM").
pub const POOL_PERMISSION: &str = "arn:aws:ram::aws:permission/AWSRAMDefaultPermissionsIpamPool";

pub const STACK: &str = "ipam";

/// Whether attached VPCs take their ranges from IPAM pools.
pub fn uses_ipam(p: &Platform) -> bool {
    p.network.is_some()
        && p.control_tower
            .as_ref()
            .is_some_and(|c| c.enabled && c.blueprint_delivery == BlueprintDelivery::StackSets)
}

/// A pool's name in the address plan and its tags: `<segment>-<region>`.
pub fn pool_name(n: &Network, segment: usize, region: &str) -> String {
    format!("{}-{region}", n.segments[segment].name)
}

/// The pools: each (segment, region) where an attached account draws its VPC range, with the
/// segment's supernet there and the OUs of those accounts (sorted, without repeats).
pub fn pools(p: &Platform, n: &Network) -> BTreeMap<(usize, String), Vec<OuIdx>> {
    let mut out: BTreeMap<(usize, String), Vec<OuIdx>> = BTreeMap::new();
    for r in n.ranges.iter().filter(|r| r.cidr.is_none()) {
        out.entry((r.segment, r.region.clone()))
            .or_default()
            .push(p.account(r.account).ou);
    }
    for ous in out.values_mut() {
        ous.sort_unstable();
        ous.dedup();
    }
    out
}

fn supernet(n: &Network, segment: usize, region: &str) -> Option<mlz_model::Cidr> {
    n.segments[segment]
        .supernets
        .iter()
        .find(|(r, _)| r == region)
        .map(|(_, c)| *c)
}

/// The address plan's view of the pools.
pub fn pools_doc(p: &Platform, n: &Network) -> serde_json::Value {
    let pools = pools(p, n);
    serde_json::Value::Array(
        pools
            .iter()
            .map(|((si, region), ous)| {
                let reserved: Vec<String> = n
                    .reserved
                    .iter()
                    .filter(|(_, r, c)| {
                        r == region && supernet(n, *si, region).is_some_and(|s| s.contains(*c))
                    })
                    .map(|(_, _, c)| c.to_string())
                    .collect();
                json!({
                    "pool": pool_name(n, *si, region),
                    "segment": n.segments[*si].name,
                    "region": region,
                    "cidr": supernet(n, *si, region).map(|c| c.to_string()),
                    "netmaskLength": n.vpc_prefix_length,
                    "sharedWith": ous.iter().map(|&o| p.ou(o).path.clone()).collect::<Vec<_>>(),
                    "vpcs": n.ranges.iter().filter(|r| r.segment == *si && &r.region == region).count(),
                    "reserved": reserved,
                    "stack": StackId::new(Area::Network, STACK).path(),
                })
            })
            .collect(),
    )
}

/// One segment's pool in one region: the supernet provisioned, allocations of the plan's VPC
/// size, the lock's reserved ranges allocated so IPAM never gives them to another VPC, and
/// the pool id exported for the blueprints. Returns the pool's id.
fn pool(
    p: &Platform,
    n: &Network,
    si: usize,
    region: &String,
    ipam: &LogicalId,
    t: &mut Template,
    path: &str,
) -> Result<LogicalId, EmitError> {
    let sn = supernet(n, si, region).ok_or_else(|| bug(path, "a pool without a supernet"))?;
    let pool = LogicalId::new(format!(
        "{}{}",
        LogicalId::derive("Pool", &n.segments[si].name).map_err(|e| bug(path, e))?,
        region_id(region)
    ))
    .map_err(|e| bug(path, e))?;
    let len = i64::from(n.vpc_prefix_length);
    // Locale and the scope are create-only, so is the address family: the pool is
    // retained like the gateway, since the VPCs allocated from it outlive any change.
    t.add_resource(
        pool.clone(),
        Resource::new(IPAM_POOL)
            .prop("AddressFamily", "ipv4")
            .prop(
                "IpamScopeId",
                Value::GetAtt(ipam.clone(), "PrivateDefaultScopeId".into()),
            )
            .prop("Locale", region.as_str())
            .prop(
                "Description",
                format!("VPC ranges of segment {} in {region}", n.segments[si].name),
            )
            .prop(
                "ProvisionedCidrs",
                Value::List(vec![Value::map([("Cidr", Value::str(sn.to_string()))])]),
            )
            // Allocations no larger than the plan's VPC size, and the plan's size when a
            // VPC asks for none (CreateIpamPool: the maximum must be greater than the
            // minimum, so it stays at AWS's default).
            .prop("AllocationDefaultNetmaskLength", Value::Int(len))
            .prop("AllocationMinNetmaskLength", Value::Int(len))
            .prop("AutoImport", false)
            .prop(
                "Tags",
                Value::List(vec![Value::map([
                    ("Key", Value::str("Name")),
                    (
                        "Value",
                        Value::str(format!(
                            "{}-{}",
                            p.organization.stack_prefix,
                            pool_name(n, si, region)
                        )),
                    ),
                ])]),
            )
            .retained(),
    )
    .map_err(|e| bug(path, e))?;
    // The lock's reserved ranges (accounts that left the network, whose VPCs may still
    // exist): allocations IPAM never gives to another VPC.
    for (k, (key, _, c)) in n
        .reserved
        .iter()
        .filter(|(_, r, c)| r == region && sn.contains(*c))
        .enumerate()
    {
        t.add_resource(
            LogicalId::new(format!("{pool}Reserved{}", k + 1)).map_err(|e| bug(path, e))?,
            Resource::new(IPAM_ALLOCATION)
                .prop(
                    "IpamPoolId",
                    Value::GetAtt(pool.clone(), "IpamPoolId".into()),
                )
                .prop("Cidr", c.to_string())
                .prop(
                    "Description",
                    format!("reserved by the mlz lock for {key}, which left the network"),
                ),
        )
        .map_err(|e| bug(path, e))?;
    }
    t.add_output(
        LogicalId::new(format!("{pool}Id")).map_err(|e| bug(path, e))?,
        Output {
            description: Some(format!(
                "IPAM pool of segment {} in {region}",
                n.segments[si].name
            )),
            value: Value::GetAtt(pool.clone(), "IpamPoolId".into()),
            export: exports::export(p, &ExportKey::IpamPool(si, region.clone()))?,
            condition: None,
        },
    )
    .map_err(|e| bug(path, e))?;
    Ok(pool)
}

pub fn emit(p: &Platform, out: &mut Emitted) -> Result<(), EmitError> {
    let Some(n) = &p.network else { return Ok(()) };
    if !uses_ipam(p) {
        return Ok(());
    }
    let pools = pools(p, n);
    if pools.is_empty() {
        return Ok(());
    }
    let id = StackId::new(Area::Network, STACK);
    let path = id.path();
    let home = p.organization.home_region.clone();
    let mut t = Template::new(format!(
        "{}: the IPAM the attached VPCs draw their ranges from, a pool per segment and region, and their RAM shares with the segments' OUs. Deploy in {}, {home} (the IPAM's home region), after {} is IPAM's delegated administrator.",
        p.organization.name,
        account_name(p, n.account),
        account_name(p, n.account),
    ));
    let mut params = Vec::new();
    let mut regions: Vec<String> = pools.keys().map(|(_, r)| r.clone()).collect();
    regions.push(home.clone());
    regions.sort();
    regions.dedup();
    let ipam = LogicalId::new("Ipam").map_err(|e| bug(&path, e))?;
    // Sharing pools with other accounts through RAM is an Advanced-tier feature; the
    // operating regions must hold every pool's locale (VPC IPAM guide, "IPAM tiers",
    // "Create an IPAM"). Retained: every pool and allocation hangs off it.
    t.add_resource(
        ipam.clone(),
        Resource::new(IPAM)
            .prop(
                "Description",
                format!("{} VPC address plan", p.organization.name),
            )
            .prop("Tier", "advanced")
            .prop(
                "OperatingRegions",
                Value::List(
                    regions
                        .iter()
                        .map(|r| Value::map([("RegionName", Value::str(r.clone()))]))
                        .collect(),
                ),
            )
            .retained(),
    )
    .map_err(|e| bug(&path, e))?;
    let mut by_segment: BTreeMap<usize, (Vec<Value>, Vec<OuIdx>)> = BTreeMap::new();
    for ((si, region), ous) in &pools {
        let pool = pool(p, n, *si, region, &ipam, &mut t, &path)?;
        let e = by_segment.entry(*si).or_default();
        e.0.push(Value::GetAtt(pool, "Arn".into()));
        e.1.extend(ous.iter().copied());
    }
    // One share per segment, with the OUs of the accounts that draw from its pools: the
    // share is the admission control (an account can allocate only from a pool shared
    // with it).
    for (si, (arns, mut ous)) in by_segment {
        ous.sort_unstable();
        ous.dedup();
        let principals = ou_principals(p, &ous, n.account, &mut t, &mut params)?;
        let segment = &n.segments[si].name;
        t.add_resource(
            LogicalId::derive("Share", segment).map_err(|e| bug(&path, e))?,
            ram::share(
                format!("{}-ipam-{segment}", p.organization.stack_prefix),
                arns,
                principals,
                &[POOL_PERMISSION],
            ),
        )
        .map_err(|e| bug(&path, e))?;
    }
    let sharing = ram::require_sharing(out);
    let mut s = new_stack(p, id, t);
    s.account = n.account;
    s.region = home;
    s.parameters = params;
    s.requires = vec![
        sharing,
        Need::new(
            Fact::DelegatedAdmin {
                service: Service::Ipam,
                account: n.account,
            },
            &rules::IPAM_DELEGATED_ADMIN,
        ),
    ];
    out.stacks.push(s);
    out.steps.push(ManualStep {
        id: "ipam-organization-admin".into(),
        account: AccountRef::Management,
        reason: format!(
            "IPAM's integration with AWS Organizations, with {} as its delegated administrator: it lets IPAM pools be shared with the organisation's OUs. CloudFormation has no resource type for it. The call also turns on IPAM's trusted access and creates its service-linked role.",
            account_name(p, n.account)
        ),
        commands: vec![format!(
            "aws ec2 enable-ipam-organization-admin-account --region {} --delegated-admin-account-id <{} account id>",
            p.organization.home_region,
            account_name(p, n.account)
        )],
        provides: vec![Fact::DelegatedAdmin {
            service: Service::Ipam,
            account: n.account,
        }],
        requires: vec![Need::new(
            Fact::AccountExists(n.account),
            &rules::ACCOUNT_FIRST,
        )],
    });
    Ok(())
}
