//! Blueprints delivered by StackSets (`controlTower.blueprintDelivery: stackSets`): what
//! changes once the network is known. Automatic deployment gives every account of a StackSet
//! the same parameters (accounts it adds later get the StackSet's own values, never
//! overrides), so:
//!
//! - a blueprint whose VPC attaches takes `IpamPoolId` (its segment's pool in the region)
//!   instead of `VpcCidr`: its VPC draws `Ipv4NetmaskLength` from the pool, and whatever used
//!   `VpcCidr` uses the VPC's `CidrBlock` attribute, which is the allocated range;
//! - every account of an attaching blueprint must attach, in every region of the blueprint;
//! - every parameter without a default needs a value mlz knows for all accounts alike, or
//!   one given in the config.

use std::collections::BTreeMap;

use mlz_cfn::{LogicalId, Parameter, Value};

use super::{Accounts, Resolver};
use crate::model::*;
use crate::path::ConfigPath;

const VPC: &str = "AWS::EC2::VPC";
const VPC_CIDR: &str = "VpcCidr";
pub const IPAM_POOL_PARAM: &str = "IpamPoolId";

impl Resolver<'_> {
    pub(super) fn stack_set_blueprints(
        &mut self,
        ct: &mut ControlTower,
        network: Option<&Network>,
        security: bool,
        accounts: &Accounts,
        ous: &[Ou],
    ) {
        // The segment and regions of each account whose VPC draws from a pool.
        let mut attached: BTreeMap<AccountIdx, (usize, Vec<&str>)> = BTreeMap::new();
        if let Some(n) = network {
            for r in n.ranges.iter().filter(|r| r.cidr.is_none()) {
                attached
                    .entry(r.account)
                    .or_insert((r.segment, Vec::new()))
                    .1
                    .push(r.region.as_str());
            }
        }
        self.one_segment_per_ou(ct, network, &attached, accounts, ous);
        for b in &mut ct.blueprints {
            let at = ConfigPath::root()
                .key("controlTower")
                .key("blueprints")
                .index(b.config_index);
            let attaching: Vec<AccountIdx> = b
                .accounts
                .iter()
                .copied()
                .filter(|a| attached.contains_key(a))
                .collect();
            if let (false, Some(n)) = (attaching.is_empty(), network) {
                let loose: Vec<&str> = b
                    .accounts
                    .iter()
                    .filter(|a| !attached.contains_key(a))
                    .map(|a| accounts.list[a.0].name.as_str())
                    .collect();
                if !loose.is_empty() {
                    let d = self
                        .at(
                            "stacksets-unattached",
                            &at.key("name"),
                            format!(
                                "blueprint {:?} attaches its VPC to the network, but {} of its accounts ({}) {} in no segment's OU: with blueprintDelivery stackSets its VPC takes its range from a segment's IPAM pool",
                                b.name,
                                loose.len(),
                                shown(&loose),
                                if loose.len() == 1 { "is" } else { "are" },
                            ),
                        )
                        .hint("put those accounts' OUs in a network segment, or give them a blueprint that does not attach");
                    self.push(d);
                }
                let mut missing: Vec<String> = Vec::new();
                for a in &attaching {
                    let (seg, regions) = &attached[a];
                    for r in &b.regions {
                        if !regions.contains(&r.as_str()) {
                            let m = format!("segment {:?} in {r}", n.segments[*seg].name);
                            if !missing.contains(&m) {
                                missing.push(m);
                            }
                        }
                    }
                }
                if !missing.is_empty() {
                    let d = self
                        .at(
                            "stacksets-attach-region",
                            &at.key("regions"),
                            format!(
                                "blueprint {:?} deploys where its accounts' segment has no supernet ({}), so its VPC there would have no IPAM pool and no Transit Gateway",
                                b.name,
                                missing.join(", ")
                            ),
                        )
                        .hint("give the segment a supernet in that region, or deploy the blueprint in fewer regions");
                    self.push(d);
                }
                if let Err(why) = draw_from_pool(&mut b.template, n.vpc_prefix_length) {
                    let d = self
                        .at(
                            "stacksets-vpc-cidr",
                            &at.key(if b.builtin { "name" } else { "file" }),
                            format!("blueprint {:?} attaches, but mlz cannot have its VPC draw from an IPAM pool: {why}", b.name),
                        )
                        .hint("with blueprintDelivery stackSets an attached blueprint has one AWS::EC2::VPC whose CidrBlock is !Ref VpcCidr, and uses VpcCidr nowhere in Conditions");
                    self.push(d);
                }
            }
            if b.accounts.is_empty() {
                continue;
            }
            let attaches = !attaching.is_empty();
            for (id, param) in &b.template.parameters {
                let name = id.as_str();
                if param.default.is_some() || b.parameters.contains_key(name) {
                    continue;
                }
                let known = match name {
                    IPAM_POOL_PARAM | "TransitGatewayId" => attaches,
                    "SecurityToolingAccountId" => security,
                    _ => false,
                };
                if known {
                    continue;
                }
                let why = match name {
                    "BudgetAlertEmail" => "AFC gives each account its own address; a StackSet gives every account the same value".to_owned(),
                    VPC_CIDR => "a StackSet gives every account the same range, and this blueprint's accounts are in no network segment".to_owned(),
                    _ => "a StackSet gives every account the same value, and mlz knows none".to_owned(),
                };
                let d = self
                    .at(
                        "stacksets-blueprint-parameter",
                        &at.key("name"),
                        format!("blueprint {:?} has no value for its parameter {name}: {why}", b.name),
                    )
                    .hint(format!("give one value for all its accounts in parameters: {{ {name}: ... }} (for an address, a team list)"));
                self.push(d);
            }
        }
    }
}

impl Resolver<'_> {
    /// An attached blueprint has a StackSet per segment, each aimed at the OUs of its
    /// accounts and so at every OU below them: an OU below a target of one segment's StackSet
    /// must not hold accounts of another segment (they would get both VPCs). One error per
    /// OU.
    fn one_segment_per_ou(
        &mut self,
        ct: &ControlTower,
        network: Option<&Network>,
        attached: &BTreeMap<AccountIdx, (usize, Vec<&str>)>,
        accounts: &Accounts,
        ous: &[Ou],
    ) {
        let Some(n) = network else { return };
        let mut target: BTreeMap<OuIdx, (usize, usize, AccountIdx)> = BTreeMap::new();
        for (&a, (seg, _)) in attached {
            if let Some(b) = accounts.list[a.0].blueprint {
                target.entry(accounts.list[a.0].ou).or_insert((b, *seg, a));
            }
        }
        let mut broken: BTreeMap<OuIdx, AccountIdx> = BTreeMap::new();
        for (&a, (seg, _)) in attached {
            let b = accounts.list[a.0].blueprint;
            let mut ou = Some(accounts.list[a.0].ou);
            while let Some(o) = ou {
                if let Some(&(tb, ts, _)) = target.get(&o) {
                    if Some(tb) == b && ts != *seg {
                        broken.entry(o).or_insert(a);
                    }
                }
                ou = ous.get(o.0).and_then(|x| x.parent);
            }
        }
        for (o, other) in broken {
            let (b, seg, first) = target[&o];
            let x = &accounts.list[other.0];
            let xseg = attached[&other].0;
            let d = self
                .at(
                    "stacksets-segment-ou",
                    &ConfigPath::root()
                        .key("controlTower")
                        .key("blueprints")
                        .index(ct.blueprints[b].config_index)
                        .key("name"),
                    format!(
                        "blueprint {:?} would reach all of OU {:?} (through {:?}) with segment {:?}'s StackSet, but {:?} below it is in segment {:?}: it would get two VPCs",
                        ct.blueprints[b].name,
                        ous[o.0].path,
                        accounts.list[first.0].name,
                        n.segments[seg].name,
                        x.name,
                        n.segments[xseg].name,
                    ),
                )
                .hint("a StackSet deploys to whole OUs, nested ones included: give the segments OUs that do not nest, or set blueprintDelivery to afc");
            self.push(d);
        }
    }
}

fn shown(names: &[&str]) -> String {
    let mut s: Vec<String> = names.iter().take(3).map(|n| format!("{n:?}")).collect();
    if names.len() > 3 {
        s.push(format!("{} more", names.len() - 3));
    }
    s.join(", ")
}

/// The template's VPC draws its range from the pool `IpamPoolId` (`Ipv4IpamPoolId` and
/// `Ipv4NetmaskLength` instead of `CidrBlock`), and every other use of `VpcCidr` becomes the
/// VPC's `CidrBlock` attribute, which is the allocated range (CloudFormation reference,
/// AWS::EC2::VPC).
pub(super) fn draw_from_pool(t: &mut mlz_cfn::Template, prefix: u8) -> Result<(), String> {
    let param = LogicalId::new(VPC_CIDR).map_err(|e| e.to_string())?;
    if !t.parameters.contains_key(&param) {
        return Err("it has no VpcCidr parameter".into());
    }
    let vpcs: Vec<LogicalId> = t
        .resources
        .iter()
        .filter(|(_, r)| r.resource_type == VPC)
        .map(|(id, _)| id.clone())
        .collect();
    let [vpc] = vpcs.as_slice() else {
        return Err(format!(
            "it has {} AWS::EC2::VPC resources, not one",
            vpcs.len()
        ));
    };
    let vpc = vpc.clone();
    let r = t
        .resources
        .get_mut(&vpc)
        .ok_or_else(|| "no VPC".to_owned())?;
    if r.properties.get("CidrBlock") != Some(&Value::Ref(param.clone())) {
        return Err(format!("the CidrBlock of {vpc} is not !Ref VpcCidr"));
    }
    if t.conditions.values().any(|c| mentions(c, &param)) {
        return Err("a condition uses VpcCidr".into());
    }
    let r = t
        .resources
        .get_mut(&vpc)
        .ok_or_else(|| "no VPC".to_owned())?;
    r.properties.remove("CidrBlock");
    r.properties
        .insert("Ipv4IpamPoolId", Value::Ref(pool_param()?));
    r.properties
        .insert("Ipv4NetmaskLength", Value::Int(i64::from(prefix)));
    let attr = Value::GetAtt(vpc.clone(), "CidrBlock".into());
    for (id, r) in t.resources.iter_mut() {
        if *id == vpc {
            continue;
        }
        for v in r.properties.values_mut() {
            replace(v, &param, &attr, &vpc);
        }
    }
    for o in t.outputs.values_mut() {
        replace(&mut o.value, &param, &attr, &vpc);
    }
    t.parameters.remove(&param);
    t.parameters.insert(
        pool_param()?,
        Parameter::string(
            "The IPAM pool the VPC draws its range from: its segment's pool in this region, shared with the account's OU through AWS RAM.",
        )
        .with_pattern(
            "^ipam-pool-[0-9a-f]{8,17}$",
            "an IPAM pool id such as ipam-pool-0123456789abcdef0",
        ),
    );
    Ok(())
}

fn pool_param() -> Result<LogicalId, String> {
    LogicalId::new(IPAM_POOL_PARAM).map_err(|e| e.to_string())
}

fn mentions(v: &Value, param: &LogicalId) -> bool {
    match v {
        Value::Ref(id) => id == param,
        Value::Sub(s) => s.contains(&format!("${{{param}}}")),
        Value::SubWith(s, vars) => {
            (s.contains(&format!("${{{param}}}")) && !vars.contains_key(param.as_str()))
                || vars.values().any(|x| mentions(x, param))
        }
        Value::List(items) | Value::Join(_, items) => items.iter().any(|x| mentions(x, param)),
        Value::Map(m) => m.values().any(|x| mentions(x, param)),
        Value::ImportValue(x) | Value::Not(x) | Value::Call(_, x) => mentions(x, param),
        Value::If(_, a, b) | Value::Equals(a, b) => mentions(a, param) || mentions(b, param),
        _ => false,
    }
}

fn replace(v: &mut Value, param: &LogicalId, attr: &Value, vpc: &LogicalId) {
    let var = format!("${{{param}}}");
    let to = format!("${{{vpc}.CidrBlock}}");
    match v {
        Value::Ref(id) if id == param => *v = attr.clone(),
        Value::Sub(s) => *s = s.replace(&var, &to),
        Value::SubWith(s, vars) => {
            if !vars.contains_key(param.as_str()) {
                *s = s.replace(&var, &to);
            }
            for x in vars.values_mut() {
                replace(x, param, attr, vpc);
            }
        }
        Value::List(items) | Value::Join(_, items) => {
            for x in items {
                replace(x, param, attr, vpc);
            }
        }
        Value::Map(m) => {
            for x in m.values_mut() {
                replace(x, param, attr, vpc);
            }
        }
        Value::ImportValue(x) | Value::Not(x) | Value::Call(_, x) => replace(x, param, attr, vpc),
        Value::If(_, a, b) | Value::Equals(a, b) => {
            replace(a, param, attr, vpc);
            replace(b, param, attr, vpc);
        }
        _ => {}
    }
}
