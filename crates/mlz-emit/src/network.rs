//! The network (REFERENCE §8). For now: the address plan, written as
//! `network/address-plan.json` for review and to be given back as `network.addressPlan`
//! on the next run, so that existing ranges stay where they are.

use mlz_model::{Platform, RangeSource};
use serde_json::json;

use crate::stack::Emitted;

pub const PLAN_PATH: &str = "network/address-plan.json";

pub fn emit(p: &Platform, out: &mut Emitted) {
    let Some(n) = &p.network else { return };
    let ranges: Vec<serde_json::Value> = n
        .ranges
        .iter()
        .map(|r| {
            let a = p.account(r.account);
            json!({
                "account": a.name,
                "key": a.key,
                "region": r.region,
                "segment": n.segments[r.segment].name,
                "cidr": r.cidr.to_string(),
                "source": match r.source {
                    RangeSource::Pinned => "pinned",
                    RangeSource::Plan => "plan",
                    RangeSource::Allocated => "allocated",
                },
            })
        })
        .collect();
    let supernets: Vec<serde_json::Value> = n
        .segments
        .iter()
        .enumerate()
        .flat_map(|(si, s)| {
            s.supernets.iter().map(move |(region, c)| {
                let used = n.ranges.iter().filter(|r| r.segment == si && &r.region == region).count();
                let slots = 1u64 << (u32::from(n.vpc_prefix_length) - u32::from(c.len));
                json!({ "segment": s.name, "region": region, "cidr": c.to_string(), "vpcs": used, "slots": slots })
            })
        })
        .collect();
    out.documents.push((
        PLAN_PATH.to_owned(),
        json!({
            "about": "VPC ranges of the attached accounts. Review it, commit it, and set network.addressPlan to it so the next run keeps every range here.",
            "vpcPrefixLength": n.vpc_prefix_length,
            "supernets": supernets,
            "ranges": ranges,
        }),
    ));
}
