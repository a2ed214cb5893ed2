//! The network's address plan: each attached account gets a VPC range per region of its
//! segment, from that segment's supernet. Ranges pinned in the config and ranges recorded in
//! a previous plan (`network.addressPlan`) are kept; new accounts take the lowest free
//! ranges, in config order. With the previous plan given, adding an account anywhere in the
//! config never renumbers an existing one.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::Deserialize;

use super::Context;
use super::{Accounts, Resolver};
use crate::model::*;
use crate::path::ConfigPath;

// The section as the config writes it: field for field what the schema allows (see raw.rs).

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawNetwork {
    pub account: String,
    pub vpc_prefix_length: Option<u8>,
    pub attach_blueprints: Option<Vec<String>>,
    pub segments: Vec<RawSegment>,
    #[serde(default)]
    pub ranges: BTreeMap<String, BTreeMap<String, String>>,
    pub address_plan: Option<String>,
    /// By region: the range of the hub's egress VPC (central NAT egress).
    #[serde(default)]
    pub egress: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawSegment {
    pub name: String,
    pub ous: Vec<String>,
    pub supernets: BTreeMap<String, String>,
}

/// The built-in corporate-network blueprint builds a /20 VPC (four /22 subnets).
const DEFAULT_PREFIX: u8 = 20;
const CORPORATE_BLUEPRINT: &str = "corporate-network";

/// What mlz reads back from a previous `network/address-plan.json`.
#[derive(Deserialize)]
struct PlanFile {
    ranges: Vec<PlanEntry>,
}

#[derive(Deserialize)]
struct PlanEntry {
    key: String,
    region: String,
    cidr: String,
}

/// The owner of a range the lock reserves for an account that left the network.
const RESERVED: AccountIdx = AccountIdx(usize::MAX);

/// Used ranges of one supernet, by first address, so a free-slot check is one lookup.
#[derive(Default)]
struct Used(BTreeMap<u32, (u32, AccountIdx)>);

impl Used {
    fn clash(&self, c: Cidr) -> Option<AccountIdx> {
        let (_, (end, who)) = self.0.range(..=c.last()).next_back()?;
        (*end >= c.addr).then_some(*who)
    }
    fn add(&mut self, c: Cidr, who: AccountIdx) {
        self.0.insert(c.addr, (c.last(), who));
    }
}

/// The segments as resolved, with what the phases after them need.
struct Segments {
    segments: Vec<Segment>,
    /// Segments that name an OU which did not resolve (reported there): what they would hold
    /// is unknown, so nothing is said of them being empty.
    partial: Vec<bool>,
    /// Each segment's index in the config (a duplicate segment is left out of `segments`).
    raw_of: Vec<usize>,
    seg_of_ou: HashMap<OuIdx, usize>,
}

/// What the range phases read.
#[derive(Clone, Copy)]
struct Space<'x> {
    base: &'x ConfigPath,
    segments: &'x [Segment],
    raw_of: &'x [usize],
    /// Each account's segment, if it attaches.
    seg_of: &'x [Option<usize>],
    accounts: &'x Accounts,
    ct: Option<&'x ControlTower>,
    prefix: u8,
    /// Blueprints delivered by StackSets draw their VPC ranges from IPAM pools.
    ipam: bool,
    builtin_corporate: bool,
}

impl Space<'_> {
    fn supernet(&self, seg: usize, region: &str) -> Option<Cidr> {
        self.segments.get(seg).and_then(|s| {
            s.supernets
                .iter()
                .find(|(r, _)| r == region)
                .map(|(_, c)| *c)
        })
    }

    /// Where an attached account's VPC can exist: the regions of its blueprint (all of the
    /// segment's when it has none, or without Control Tower).
    fn deploys_in(&self, a: &Account, region: &str) -> bool {
        match (a.blueprint, self.ct) {
            (Some(b), Some(ct)) => ct.blueprints[b].regions.iter().any(|r| r == region),
            _ => true,
        }
    }
}

/// The address plan as the phases build it.
#[derive(Default)]
struct Plan {
    used: HashMap<(String, usize), Used>,
    have: HashSet<(AccountIdx, String)>,
    ranges: Vec<VpcRange>,
    /// Attached accounts whose VPC ranges the lock or the previous plan holds, while IPAM
    /// now allocates: their VPCs came from AFC blueprints.
    switched: Vec<(usize, String)>,
    reserved: Vec<(String, String, Cidr)>,
    ok: bool,
}

impl Resolver<'_> {
    pub(super) fn network(&mut self, raw: RawNetwork, cx: &Context<'_>) -> Option<Network> {
        let (org, accounts, ct) = (cx.org, cx.accounts, cx.control_tower);
        let base = ConfigPath::root().key("network");
        let hub = self.account_ref(&raw.account, &base.key("account"), accounts, cx);
        let prefix = raw.vpc_prefix_length.unwrap_or(DEFAULT_PREFIX);
        let attach = raw
            .attach_blueprints
            .clone()
            .unwrap_or_else(|| vec!["corporate-network".into()]);
        let mut ok = true;
        // Blueprints delivered by StackSets draw their VPC ranges from IPAM pools.
        let ipam = ct.is_some_and(|c| c.blueprint_delivery == BlueprintDelivery::StackSets);
        let builtin_corporate = ct.is_some_and(|ct| {
            ct.blueprints
                .iter()
                .any(|b| b.builtin && b.name == CORPORATE_BLUEPRINT)
        });
        if builtin_corporate
            && attach.iter().any(|b| b == CORPORATE_BLUEPRINT)
            && prefix != DEFAULT_PREFIX
        {
            let d = self
                .at("vpc-prefix", &base.key("vpcPrefixLength"), format!("the built-in {CORPORATE_BLUEPRINT} blueprint builds a /{DEFAULT_PREFIX} VPC, not a /{prefix}"))
                .hint("leave vpcPrefixLength out, or attach accounts with your own blueprint (file:) sized for it");
            self.push(d);
            ok = false;
        }

        let segs = self.segments(&raw, org, cx, &mut ok);
        let seg_of = self.attached(&attach, cx, accounts, ct, &segs, ipam, &mut ok);
        let sp = Space {
            base: &base,
            segments: &segs.segments,
            raw_of: &segs.raw_of,
            seg_of: &seg_of,
            accounts,
            ct,
            prefix,
            ipam,
            builtin_corporate,
        };
        // Pinned ranges, then the lock's, then the previous plan's, then new ones.
        let mut st = Plan {
            ok,
            ..Plan::default()
        };
        self.pinned_ranges(&raw, cx, &sp, &mut st);
        self.locked_ranges(&sp, &mut st);
        self.previous_plan(&raw, &sp, &mut st);
        let complete = self.new_ranges(&sp, &mut st);
        if !st.ok || !complete {
            return None;
        }
        self.unused_supernets(&sp, &mut st, &segs.partial);
        let Plan {
            ranges, reserved, ..
        } = st;
        let segments = segs.segments;
        let egress = self.egress(&raw.egress, &base, &segments, &ranges)?;
        let (asns, reserved_asns) = self.asns(&base, &ranges)?;
        Some(Network {
            account: hub?,
            vpc_prefix_length: prefix,
            segments,
            ranges,
            egress,
            asns,
            reserved,
            reserved_asns,
        })
    }

    /// The segments: their OUs (each in one segment) and supernets (governed regions, no
    /// overlaps). Segments are indexed as resolved (a duplicate is left out); `raw_of` maps
    /// each back to its place in the config.
    fn segments(
        &mut self,
        raw: &RawNetwork,
        org: &Organization,
        cx: &Context<'_>,
        ok: &mut bool,
    ) -> Segments {
        let base = ConfigPath::root().key("network");
        let prefix = raw.vpc_prefix_length.unwrap_or(DEFAULT_PREFIX);
        let mut segments: Vec<Segment> = Vec::new();
        // Segments that name an OU which did not resolve (reported there): what they would
        // hold is unknown, so nothing is said of them being empty.
        let mut partial = Vec::new();
        let mut raw_of: Vec<usize> = Vec::new();
        let mut seg_of_ou: HashMap<OuIdx, usize> = HashMap::new();
        let mut seg_names: HashMap<String, ConfigPath> = HashMap::new();
        let mut by_region: HashMap<String, Vec<(Cidr, usize, ConfigPath)>> = HashMap::new();
        for (si, s) in raw.segments.iter().enumerate() {
            let sp = base.key("segments").index(si);
            if !self.declare_once(
                &mut seg_names,
                &s.name,
                sp.key("name"),
                "duplicate-segment",
                "segment",
            ) {
                *ok = false;
                continue;
            }
            let seg_ous = self.ou_list(&s.ous, &sp.key("ous"), cx);
            // Segments are indexed as resolved (a duplicate is left out), their config paths
            // by `raw_of`.
            for (oi, &ou) in seg_ous.iter().enumerate() {
                if let Some(prev) = seg_of_ou.insert(ou, segments.len()) {
                    let d = self
                        .at(
                            "ou-in-two-segments",
                            &sp.key("ous").index(oi),
                            format!(
                                "OU {} is already in segment {:?}",
                                cx.ous[ou.0].name, segments[prev].name
                            ),
                        )
                        .hint("an OU's accounts attach to one route table: list it in one segment");
                    self.push(d);
                    *ok = false;
                }
            }
            let mut supernets = Vec::new();
            for (region, text) in &s.supernets {
                let rp = sp.key("supernets").key(region);
                if !org.governed_regions.contains(region) {
                    let d = self
                        .at(
                            "network-region",
                            &rp,
                            format!("{region} is not a governed region"),
                        )
                        .expected(format!("one of: {}", org.governed_regions.join(", ")));
                    self.push(d);
                    *ok = false;
                    continue;
                }
                let Some(c) = self.cidr(text, &rp) else {
                    *ok = false;
                    continue;
                };
                if c.len > prefix {
                    let d = self
                        .at(
                            "vpc-prefix",
                            &rp,
                            format!("supernet {c} is smaller than one VPC (/{prefix})"),
                        )
                        .hint("use a larger supernet or a larger network.vpcPrefixLength");
                    self.push(d);
                    *ok = false;
                    continue;
                }
                for (other, oseg, _) in by_region.get(region).map(Vec::as_slice).unwrap_or_default()
                {
                    if other.overlaps(c) {
                        let d = self
                            .at(
                                "supernet-overlap",
                                &rp,
                                format!(
                                    "supernet {c} overlaps {other} of segment {:?} in {region}",
                                    raw.segments[*oseg].name
                                ),
                            )
                            .hint("segments route separately: give them disjoint supernets");
                        self.push(d);
                        *ok = false;
                    }
                }
                by_region
                    .entry(region.clone())
                    .or_default()
                    .push((c, si, rp.clone()));
                supernets.push((region.clone(), c));
            }
            partial.push(seg_ous.len() < s.ous.len());
            raw_of.push(si);
            segments.push(Segment {
                name: s.name.clone(),
                ous: seg_ous,
                supernets,
            });
        }

        Segments {
            segments,
            partial,
            raw_of,
            seg_of_ou,
        }
    }

    /// Which accounts attach, and to which segment: the nearest OU that is in a segment.
    /// Under Control Tower an account's VPC comes from its blueprint: an account without one
    /// (one that exists already, such as the pipeline's) has no VPC to attach. AFC gives a
    /// blueprint one set of parameters for all its regions, so an attaching blueprint in two
    /// regions with supernets is an error.
    #[allow(clippy::too_many_arguments)]
    fn attached(
        &mut self,
        attach: &[String],
        cx: &Context<'_>,
        accounts: &Accounts,
        ct: Option<&ControlTower>,
        segs: &Segments,
        ipam: bool,
        ok: &mut bool,
    ) -> Vec<Option<usize>> {
        let base = ConfigPath::root().key("network");
        let seg_of_ou = &segs.seg_of_ou;
        let segments = &segs.segments;
        let blueprint_ok = |a: &Account| match (a.blueprint, ct) {
            (Some(b), Some(ct)) => attach.iter().any(|n| *n == ct.blueprints[b].name),
            (None, Some(_)) => false,
            (_, None) => true,
        };
        let mut seg_of: Vec<Option<usize>> = vec![None; accounts.list.len()];
        for (i, a) in accounts.list.iter().enumerate() {
            if !blueprint_ok(a) {
                continue;
            }
            let mut ou = Some(a.ou);
            while let Some(o) = ou {
                if let Some(&s) = seg_of_ou.get(&o) {
                    seg_of[i] = Some(s);
                    break;
                }
                ou = cx.ous[o.0].parent;
            }
        }
        // AFC gives a blueprint one set of parameters for all its regions, so one VpcCidr: an
        // attaching blueprint that deploys in two regions with supernets would build the same
        // range in both.
        if let (Some(ct), false) = (ct, ipam) {
            for (bi, b) in ct.blueprints.iter().enumerate() {
                if !attach.contains(&b.name) {
                    continue;
                }
                let attached = accounts
                    .list
                    .iter()
                    .enumerate()
                    .filter(|(i, a)| a.blueprint == Some(bi) && seg_of[*i].is_some());
                let mut regions: Vec<&str> = Vec::new();
                for (i, _) in attached {
                    if let Some(seg) = seg_of[i] {
                        for (r, _) in &segments[seg].supernets {
                            if b.regions.iter().any(|x| x == r) && !regions.contains(&r.as_str()) {
                                regions.push(r);
                            }
                        }
                    }
                }
                if regions.len() > 1 {
                    let d = self
                        .at(
                            "attach-blueprint-regions",
                            &base.key("attachBlueprints"),
                            format!(
                                "blueprint {:?} attaches accounts in {}, but an AFC blueprint gets one set of parameters for all its regions: its VPC would have the same range in each",
                                b.name,
                                regions.join(" and ")
                            ),
                        )
                        .hint("deploy the attaching blueprint in the home region only (its regions), or give the segments a supernet in one of them");
                    self.push(d);
                    *ok = false;
                }
            }
        }
        seg_of
    }

    /// Pinned ranges (`network.ranges`): each in its account's segment and region, of the
    /// blueprint's size, overlapping nothing.
    fn pinned_ranges(&mut self, raw: &RawNetwork, cx: &Context<'_>, sp: &Space<'_>, st: &mut Plan) {
        let Space {
            base,
            segments,
            seg_of,
            accounts,
            prefix,
            ipam,
            builtin_corporate,
            ..
        } = *sp;
        let supernet = |seg: usize, region: &str| sp.supernet(seg, region);
        let deploys_in = |a: &Account, region: &str| sp.deploys_in(a, region);
        let Plan {
            used,
            have,
            ranges,
            ok,
            ..
        } = st;
        if ipam && !raw.ranges.is_empty() {
            let d = self
                .at("range-with-ipam", &base.key("ranges"), "with controlTower.blueprintDelivery stackSets, attached VPCs take their ranges from the segments' IPAM pools: there is nothing to pin")
                .hint("remove network.ranges, or set blueprintDelivery to afc");
            // The ranges are left out below; the rest of the network still resolves, so that
            // nothing else echoes this one mistake.
            self.push(d);
        }
        // Attached accounts whose VPC ranges the lock or the previous plan holds, while IPAM
        // now allocates: their VPCs came from AFC blueprints.
        for (name, by_r) in raw.ranges.iter().filter(|_| !ipam) {
            let ap = base.key("ranges").key(name);
            let Some(r) = self.account_ref(name, &ap, accounts, cx) else {
                *ok = false;
                continue;
            };
            let AccountRef::Account(ai) = r else {
                let d = self.at(
                    "range-not-attached",
                    &ap,
                    "the management account does not attach to the network",
                );
                self.push(d);
                *ok = false;
                continue;
            };
            let Some(seg) = seg_of[ai.0] else {
                let d = self
                    .at("range-not-attached", &ap, format!("{name:?} does not attach to the network, so it gets no range"))
                    .hint("its OU is in no segment, or its blueprint is not in network.attachBlueprints");
                self.push(d);
                *ok = false;
                continue;
            };
            for (region, text) in by_r {
                let rp = ap.key(region);
                let Some(c) = self.cidr(text, &rp) else {
                    *ok = false;
                    continue;
                };
                let Some(sn) = supernet(seg, region) else {
                    let d = self.at(
                        "range-region",
                        &rp,
                        format!(
                            "segment {:?} has no supernet in {region}",
                            segments[seg].name
                        ),
                    );
                    self.push(d);
                    *ok = false;
                    continue;
                };
                if !deploys_in(&accounts.list[ai.0], region) {
                    let d = self
                        .at(
                            "range-region",
                            &rp,
                            format!("{name:?}'s blueprint does not deploy in {region}, so it has no VPC there"),
                        )
                        .hint("pin ranges only in the regions of the account's blueprint");
                    self.push(d);
                    *ok = false;
                    continue;
                }
                if builtin_corporate && c.len != prefix {
                    let d = self
                        .at("range-size", &rp, format!("{c} is not a /{prefix}: the {CORPORATE_BLUEPRINT} blueprint builds a /{prefix} VPC"))
                        .hint(format!("pin a /{prefix}"));
                    self.push(d);
                    *ok = false;
                    continue;
                }
                if !sn.contains(c) {
                    let d = self
                        .at(
                            "range-outside-supernet",
                            &rp,
                            format!(
                                "{c} is outside {sn}, the {region} supernet of segment {:?}",
                                segments[seg].name
                            ),
                        )
                        .hint("pin a range inside the supernet, or widen the supernet");
                    self.push(d);
                    *ok = false;
                    continue;
                }
                let u = used.entry((region.clone(), seg)).or_default();
                if let Some(other) = u.clash(c) {
                    let d = self
                        .at(
                            "range-overlap",
                            &rp,
                            format!(
                                "{c} of {name:?} overlaps the range pinned for {:?}",
                                accounts.list[other.0].name
                            ),
                        )
                        .hint("attached VPCs must not overlap: pin disjoint ranges");
                    self.push(d);
                    *ok = false;
                    continue;
                }
                u.add(c, ai);
                have.insert((ai, region.clone()));
                ranges.push(VpcRange {
                    account: ai,
                    region: region.clone(),
                    segment: seg,
                    cidr: Some(c),
                    source: RangeSource::Pinned,
                });
            }
        }
    }

    /// The lock's ranges: each account keeps the range it has; the range of an account that
    /// left the network stays reserved (never given to another) until its entry is deleted
    /// from the lock. A locked range the config now contradicts is an error that names both
    /// places.
    fn locked_ranges(&mut self, sp: &Space<'_>, st: &mut Plan) {
        let Space {
            base,
            segments,
            raw_of,
            seg_of,
            accounts,
            prefix,
            ipam,
            ..
        } = *sp;
        let supernet = |seg: usize, region: &str| sp.supernet(seg, region);
        let deploys_in = |a: &Account, region: &str| sp.deploys_in(a, region);
        let Plan {
            used,
            have,
            ranges,
            switched,
            reserved,
            ok,
            ..
        } = st;
        if let Some(lock) = self.lock {
            let by_key: HashMap<&str, usize> = accounts
                .list
                .iter()
                .enumerate()
                .map(|(i, a)| (a.key.as_str(), i))
                .collect();
            for e in &lock.ranges {
                let attached = by_key.get(e.key.as_str()).and_then(|&i| {
                    let seg = seg_of[i]?;
                    supernet(seg, &e.region)?;
                    deploys_in(&accounts.list[i], &e.region).then_some((i, seg))
                });
                let Some((i, seg)) = attached else {
                    // Reserved: keep it out of every supernet of its region that holds it.
                    for (si, sg) in segments.iter().enumerate() {
                        if sg
                            .supernets
                            .iter()
                            .any(|(r, sn)| *r == e.region && sn.contains(e.cidr))
                        {
                            // A range pinned over it would overlap a VPC that may still exist.
                            let u = used.entry((e.region.clone(), si)).or_default();
                            if let Some(other) = u.clash(e.cidr) {
                                let d = self
                                    .at("lock-conflict", &base.key("ranges").key(&accounts.list[other.0].name), format!("this range overlaps {}, which the lock ({}) reserves for {:?}, an account that left the network", e.cidr, lock.place(e.at), e.key))
                                    .hint("pin another range, or delete the reserved entry from the lock once that VPC is gone");
                                self.push(d);
                                *ok = false;
                                continue;
                            }
                            u.add(e.cidr, RESERVED);
                        }
                    }
                    reserved.push((e.key.clone(), e.region.clone(), e.cidr));
                    continue;
                };
                if ipam {
                    switched.push((i, lock.place(e.at)));
                    continue;
                }
                let ai = AccountIdx(i);
                let name = &accounts.list[i].name;
                let sp = base
                    .key("segments")
                    .index(raw_of[seg])
                    .key("supernets")
                    .key(&e.region);
                if have.contains(&(ai, e.region.clone())) {
                    // Pinned in the config: the pin wins, but a change replaces the VPC.
                    if let Some(r) = ranges
                        .iter()
                        .find(|r: &&VpcRange| r.account == ai && r.region == e.region)
                    {
                        if let Some(pinned) = r.cidr.filter(|c| *c != e.cidr) {
                            let d = self
                                .at("lock-pin-changed", &base.key("ranges").key(name).key(&e.region), format!("{name:?} is pinned to {}, but the lock ({}) has {}: its VPC will be replaced", pinned, lock.place(e.at), e.cidr))
                                .warning()
                                .hint("pin the locked range to keep the VPC");
                            self.push(d);
                        }
                    }
                    continue;
                }
                let sn = supernet(seg, &e.region).unwrap_or(e.cidr);
                if !sn.contains(e.cidr) || e.cidr.len != prefix {
                    let d = self
                        .at(
                            "lock-conflict",
                            &sp,
                            format!(
                                "the lock ({}) gives {name:?} {} in {}, which {}",
                                lock.place(e.at),
                                e.cidr,
                                e.region,
                                if sn.contains(e.cidr) { format!("is not a /{prefix}") } else { format!("is outside this supernet ({sn})") }
                            ),
                        )
                        .hint("change the supernet or network.vpcPrefixLength back, or delete the entry from the lock to let mlz allocate a new range (CloudFormation then replaces the account's VPC)");
                    self.push(d);
                    *ok = false;
                    continue;
                }
                let u = used.entry((e.region.clone(), seg)).or_default();
                if u.clash(e.cidr).is_some() {
                    let d = self
                        .at(
                            "lock-conflict",
                            &sp,
                            format!("the lock ({}) gives {name:?} {}, which overlaps another range of the lock or the config", lock.place(e.at), e.cidr),
                        )
                        .hint("attached VPCs must not overlap: correct the lock entry or the pinned range");
                    self.push(d);
                    *ok = false;
                    continue;
                }
                u.add(e.cidr, ai);
                have.insert((ai, e.region.clone()));
                ranges.push(VpcRange {
                    account: ai,
                    region: e.region.clone(),
                    segment: seg,
                    cidr: Some(e.cidr),
                    source: RangeSource::Locked,
                });
            }
        }
    }

    /// The ranges of a previous address plan (`network.addressPlan`), after the lock's.
    fn previous_plan(&mut self, raw: &RawNetwork, sp: &Space<'_>, st: &mut Plan) {
        let Space {
            base,
            seg_of,
            accounts,
            ipam,
            ..
        } = *sp;
        let supernet = |seg: usize, region: &str| sp.supernet(seg, region);
        let Plan {
            used,
            have,
            ranges,
            switched,
            ok,
            ..
        } = st;
        if let Some(plan) = &raw.address_plan {
            let pp = base.key("addressPlan");
            match self.files.read(plan) {
                Err(e) => {
                    let d = self
                        .at("address-plan", &pp, format!("cannot read the address plan {plan:?}: {e}"))
                        .hint("the path is relative to the folder of the config file; leave it out on the first run");
                    self.push(d);
                    *ok = false;
                }
                Ok(text) => {
                    match serde_json::from_str::<PlanFile>(&text) {
                        Err(e) => {
                            let d = self
                            .at("address-plan", &pp, format!("{plan:?} is not an address plan mlz wrote: {e}"))
                            .hint("point at network/address-plan.json from a previous `mlz generate`");
                            self.push(d);
                            *ok = false;
                        }
                        Ok(file) => {
                            let by_key: HashMap<&str, usize> = accounts
                                .list
                                .iter()
                                .enumerate()
                                .map(|(i, a)| (a.key.as_str(), i))
                                .collect();
                            for e in file.ranges {
                                // Accounts that left, left the network or changed segment give
                                // their range back; the rest keep theirs.
                                let Some(&i) = by_key.get(e.key.as_str()) else {
                                    continue;
                                };
                                let ai = AccountIdx(i);
                                let (Some(seg), Some(c)) = (seg_of[i], Cidr::parse(&e.cidr)) else {
                                    continue;
                                };
                                if ipam {
                                    switched.push((i, format!("{plan:?}")));
                                    continue;
                                }
                                if have.contains(&(ai, e.region.clone())) {
                                    continue;
                                }
                                let Some(sn) = supernet(seg, &e.region) else {
                                    continue;
                                };
                                let u = used.entry((e.region.clone(), seg)).or_default();
                                if !sn.contains(c) || u.clash(c).is_some() {
                                    continue;
                                }
                                u.add(c, ai);
                                have.insert((ai, e.region.clone()));
                                ranges.push(VpcRange {
                                    account: ai,
                                    region: e.region,
                                    segment: seg,
                                    cidr: Some(c),
                                    source: RangeSource::Plan,
                                });
                            }
                        }
                    }
                }
            }
        }
    }

    /// New ranges (also after errors above, so one run reports an exhausted supernet too):
    /// the lowest free slot of the supernet, in config order. One cursor per supernet, since
    /// slots below it are taken: linear in accounts and ranges. An account gets a range only
    /// in the regions its blueprint deploys to: elsewhere no VPC of its can exist, and so
    /// neither can an attachment. False when a supernet is exhausted (reported).
    fn new_ranges(&mut self, sp: &Space<'_>, st: &mut Plan) -> bool {
        let Space {
            base,
            segments,
            raw_of,
            seg_of,
            accounts,
            prefix,
            ipam,
            ..
        } = *sp;
        let deploys_in = |a: &Account, region: &str| sp.deploys_in(a, region);
        let Plan {
            used,
            have,
            ranges,
            switched,
            ok,
            ..
        } = st;
        if !switched.is_empty() {
            switched.sort();
            switched.dedup_by_key(|x| x.0);
            let shown: Vec<String> = switched
                .iter()
                .take(5)
                .map(|(i, place)| format!("{:?} ({place})", accounts.list[*i].name))
                .collect();
            let more = switched.len().saturating_sub(5);
            let d = self
                .at(
                    "delivery-changed",
                    &ConfigPath::root().key("controlTower").key("blueprintDelivery"),
                    format!(
                        "{} attached account{} already {} a VPC range from an AFC blueprint: {}{}; a blueprint StackSet would build a second VPC beside it",
                        switched.len(),
                        if switched.len() == 1 { "" } else { "s" },
                        if switched.len() == 1 { "has" } else { "have" },
                        shown.join(", "),
                        if more > 0 { format!(" and {more} more") } else { String::new() }
                    ),
                )
                .hint("keep blueprintDelivery afc while those VPCs exist; to move, remove the accounts' AFC blueprints first (Control Tower console), then delete their ranges from the lock");
            self.push(d);
            *ok = false;
        }
        let size = 1u64 << (32 - u32::from(prefix));
        let mut cursor: HashMap<(String, usize), u64> = HashMap::new();
        let mut exhausted: BTreeMap<(String, usize), Vec<&str>> = BTreeMap::new();
        for (i, a) in accounts.list.iter().enumerate() {
            let Some(seg) = seg_of[i] else { continue };
            let ai = AccountIdx(i);
            for (region, sn) in &segments[seg].supernets {
                if have.contains(&(ai, region.clone())) || !deploys_in(a, region) {
                    continue;
                }
                if ipam {
                    ranges.push(VpcRange {
                        account: ai,
                        region: region.clone(),
                        segment: seg,
                        cidr: None,
                        source: RangeSource::Ipam,
                    });
                    continue;
                }
                let k = (region.clone(), seg);
                let next = cursor.entry(k.clone()).or_insert(u64::from(sn.addr));
                let u = used.entry(k.clone()).or_default();
                let end = u64::from(sn.last());
                let mut placed = None;
                while *next + size - 1 <= end {
                    let c = Cidr {
                        addr: *next as u32,
                        len: prefix,
                    };
                    *next += size;
                    if u.clash(c).is_none() {
                        placed = Some(c);
                        break;
                    }
                }
                match placed {
                    Some(c) => {
                        u.add(c, ai);
                        ranges.push(VpcRange {
                            account: ai,
                            region: region.clone(),
                            segment: seg,
                            cidr: Some(c),
                            source: RangeSource::Allocated,
                        });
                    }
                    None => exhausted.entry(k).or_default().push(a.name.as_str()),
                }
            }
        }
        for ((region, seg), names) in &exhausted {
            let shown: Vec<String> = names.iter().take(5).map(|n| format!("{n:?}")).collect();
            let more = names.len().saturating_sub(5);
            let d = self
                .at(
                    "supernet-exhausted",
                    &base.key("segments").index(raw_of[*seg]).key("supernets").key(region),
                    format!(
                        "no /{prefix} left in this supernet for {} account{}: {}{}",
                        names.len(),
                        if names.len() == 1 { "" } else { "s" },
                        shown.join(", "),
                        if more > 0 { format!(" and {more} more") } else { String::new() }
                    ),
                )
                .hint("widen the supernet, or give VPCs fewer addresses (a larger network.vpcPrefixLength)");
            self.push(d);
        }
        exhausted.is_empty()
    }

    /// A supernet no account can use makes no hub: say so rather than build an empty one.
    fn unused_supernets(&mut self, sp: &Space<'_>, st: &mut Plan, partial: &[bool]) {
        let Space {
            base,
            segments,
            raw_of,
            ..
        } = *sp;
        let Plan { ranges, .. } = st;
        for (si, seg) in segments.iter().enumerate() {
            if partial[si] || self.has_errors() {
                continue;
            }
            for (region, _) in &seg.supernets {
                if !ranges
                    .iter()
                    .any(|r| r.segment == si && &r.region == region)
                {
                    let d = self
                        .at(
                            "supernet-unused",
                            &base.key("segments").index(raw_of[si]).key("supernets").key(region),
                            format!(
                                "no account of segment {:?} has a VPC in {region} (their blueprints deploy elsewhere), so nothing attaches there",
                                seg.name
                            ),
                        )
                        .warning()
                        .hint("leave the region out of the supernets, or deploy the attaching blueprint there");
                    self.push(d);
                }
            }
        }
        ranges.sort_by(|a, b| {
            (&a.region, a.segment, a.cidr, a.account)
                .cmp(&(&b.region, b.segment, b.cidr, b.account))
        });
    }

    /// The Amazon-side ASN of each region's Transit Gateway: the lock's, or the lowest private
    /// ASN no region has (so, without a lock, 64512, 64513... in region order, as before the
    /// lock existed). Locked ASNs of regions without a hub stay reserved.
    #[allow(clippy::type_complexity)]
    fn asns(
        &mut self,
        base: &ConfigPath,
        ranges: &[VpcRange],
    ) -> Option<(Vec<(String, u32)>, Vec<(String, u32)>)> {
        let mut hubs: Vec<&str> = ranges.iter().map(|r| r.region.as_str()).collect();
        hubs.dedup();
        let mut locked: BTreeMap<String, u32> = BTreeMap::new();
        let mut taken: HashMap<u32, String> = HashMap::new();
        let mut ok = true;
        if let Some(lock) = self.lock {
            for e in &lock.asns {
                if let Some(prev) = taken.get(&e.asn) {
                    let d = self
                        .at("lock-conflict", base, format!("the lock ({}) gives {} the ASN {}, which {prev} has too", lock.place(e.at), e.region, e.asn))
                        .hint("each Transit Gateway needs its own Amazon-side ASN: correct the lock entry");
                    self.push(d);
                    ok = false;
                    continue;
                }
                taken.insert(e.asn, e.region.clone());
                locked.insert(e.region.clone(), e.asn);
            }
        }
        if !ok {
            return None;
        }
        let mut next = 64_512u32;
        let mut asns = Vec::new();
        for region in &hubs {
            let asn = match locked.remove(*region) {
                Some(a) => a,
                None => {
                    while taken.contains_key(&next) {
                        next += 1;
                    }
                    taken.insert(next, (*region).to_owned());
                    next
                }
            };
            asns.push(((*region).to_owned(), asn));
        }
        Some((asns, locked.into_iter().collect()))
    }

    /// The egress VPC range of each region with a hub (a region where some account has a
    /// range): given, a /16 to /24, outside every supernet of that region.
    fn egress(
        &mut self,
        raw: &BTreeMap<String, String>,
        base: &ConfigPath,
        segments: &[Segment],
        ranges: &[VpcRange],
    ) -> Option<Vec<(String, Cidr)>> {
        let ep = base.key("egress");
        let mut hubs: Vec<&str> = ranges.iter().map(|r| r.region.as_str()).collect();
        hubs.dedup();
        let mut ok = true;
        let mut out = Vec::new();
        for (region, text) in raw {
            let rp = ep.key(region);
            if !hubs.contains(&region.as_str()) {
                let d = self
                    .at(
                        "egress-unused",
                        &rp,
                        format!(
                            "no account attaches in {region}, so it has no hub and no egress VPC"
                        ),
                    )
                    .warning()
                    .hint("leave the region out of network.egress");
                self.push(d);
                continue;
            }
            let Some(c) = self.cidr(text, &rp) else {
                ok = false;
                continue;
            };
            if !(16..=24).contains(&c.len) {
                let d = self
                    .at("egress-size", &rp, format!("the egress VPC is a /{}", c.len))
                    .expected("a /16 to /24: its six subnets are /28s")
                    .hint("a /24 is enough: the egress VPC holds only NAT gateways and the Transit Gateway attachment");
                self.push(d);
                ok = false;
                continue;
            }
            if let Some((seg, sn)) = segments.iter().find_map(|s| {
                s.supernets
                    .iter()
                    .find(|(r, sn)| r == region && sn.overlaps(c))
                    .map(|(_, sn)| (s, sn))
            }) {
                let d = self
                    .at(
                        "egress-overlap",
                        &rp,
                        format!(
                            "{c} overlaps segment {:?}'s supernet {sn} in {region}",
                            seg.name
                        ),
                    )
                    .hint("the egress VPC is routed like any attached VPC: give it a range outside every supernet");
                self.push(d);
                ok = false;
                continue;
            }
            out.push((region.clone(), c));
        }
        for region in hubs {
            if !raw.contains_key(region) {
                let d = self
                    .at(
                        "egress-missing",
                        base,
                        format!("accounts attach in {region}, but network.egress gives no range for its egress VPC"),
                    )
                    .hint(format!("add egress: {{ {region}: 10.255.0.0/24 }} (any /24 outside every supernet): attached VPCs have no internet gateway and reach AWS services through the hub's NAT gateways"));
                self.push(d);
                ok = false;
            }
        }
        ok.then_some(out)
    }

    fn cidr(&mut self, text: &str, path: &ConfigPath) -> Option<Cidr> {
        let c = Cidr::parse(text);
        if c.is_none() {
            let d = self
                .at("bad-cidr", path, format!("{text:?} is not an IPv4 range"))
                .expected(
                    "four decimal octets without leading zeros, a prefix length of 0 to 32 and no host bits set, such as 10.0.0.0/16",
                );
            self.push(d);
        }
        c
    }
}
