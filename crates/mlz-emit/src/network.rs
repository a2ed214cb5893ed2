//! The network (REFERENCE §8). For now: the address plan, written as
//! `network/address-plan.json` for review and to be given back as `network.addressPlan`
//! on the next run, so that existing ranges stay where they are.

use mlz_cfn::{LogicalId, Output, Resource, Template, Value};
use mlz_model::{Network, Platform, RangeSource};
use serde_json::json;

use crate::common::{account_name, all_ok, bug, new_stack, ou_arn_ident_in, use_ident};
use crate::plan::{exports, rules, Area, ExportKey, Fact, Need, StackId};
use crate::ram;
use crate::stack::{Document, Emitted, ManualStep, Stack, StackParam};
use crate::types::{TGW, TGW_ROUTE_TABLE};
use crate::EmitError;

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
    out.documents.push(Document {
        path: PLAN_PATH.to_owned(),
        value: json!({
            "about": "VPC ranges of the attached accounts. Review it, commit it, and set network.addressPlan to it so the next run keeps every range here.",
            "vpcPrefixLength": n.vpc_prefix_length,
            "supernets": supernets,
            "ranges": ranges,
        }),
        refs: Vec::new(),
    });
}

/// The hub: a Transit Gateway per region that has a supernet, in the Network account, with a
/// route table per segment and a RAM share with the segments' OUs.
pub fn hubs(p: &Platform, out: &mut Emitted) -> Result<(), Vec<EmitError>> {
    let Some(n) = &p.network else { return Ok(()) };
    let mut regions: Vec<&str> = n
        .segments
        .iter()
        .flat_map(|s| s.supernets.iter().map(|(r, _)| r.as_str()))
        .collect();
    regions.sort_unstable();
    regions.dedup();
    // A hub only where a spoke can attach: a region where no account has a range gets none.
    regions.retain(|r| n.ranges.iter().any(|x| x.region == *r));
    let mut errs = Vec::new();
    let mut hubs = Vec::new();
    let sharing = ram::require_sharing(out);
    for (ri, region) in regions.iter().enumerate() {
        match hub(p, n, region, ri) {
            Ok(mut s) => {
                s.requires.push(sharing.clone());
                hubs.push(s.id.clone());
                out.stacks.push(s);
            }
            Err(e) => errs.push(e),
        }
    }
    // Attachments are created in the spoke accounts (the corporate-network blueprint), so
    // their ids are unknown here: associating each with its segment's route table is a step.
    let mut commands = Vec::new();
    for r in &n.ranges {
        commands.push(format!(
            "aws ec2 associate-transit-gateway-route-table --region {} --transit-gateway-route-table-id <output {} of {}> --transit-gateway-attachment-id <attachment of {}>",
            r.region,
            LogicalId::derive("RouteTable", &n.segments[r.segment].name).map(|l| l.to_string()).unwrap_or_default(),
            hub_id(&r.region).path(),
            p.account(r.account).name
        ));
    }
    let mut requires: Vec<Need> = hubs
        .into_iter()
        .map(|h| Need::new(Fact::Deployed(h), &rules::OUTPUTS_FIRST))
        .collect();
    if p.control_tower
        .as_ref()
        .is_some_and(|c| c.enabled && !c.blueprints.is_empty())
    {
        requires.push(Need::new(
            Fact::BlueprintsApplied,
            &rules::BLUEPRINTS_APPLIED,
        ));
    }
    commands.push("then, per attachment, aws ec2 enable-transit-gateway-route-table-propagation into the route tables its segment may reach (the same segment's, and shared services')".into());
    out.steps.push(ManualStep {
        id: "transit-gateway-associations".into(),
        account: n.account,
        reason: "Default association and propagation are off, so that segments stay apart. Spoke accounts create their attachments (the corporate-network blueprint) and the hub account must associate each with its segment's route table; CloudFormation in the hub cannot know attachment ids made in other accounts.".into(),
        commands,
        provides: Vec::new(),
        requires,
    });
    all_ok(errs)
}

fn hub_id(region: &str) -> StackId {
    StackId::new(Area::Network, format!("transit-gateway-{region}"))
}

fn hub(p: &Platform, n: &Network, region: &str, index: usize) -> Result<Stack, EmitError> {
    let id = hub_id(region);
    let path = id.path();
    let mut t = Template::new(format!(
        "{}: the Transit Gateway of {region}, its segment route tables, and its RAM share with the attached OUs. Deploy in {}, {region}.",
        p.organization.name,
        account_name(p, n.account)
    ));
    let mut params: Vec<StackParam> = Vec::new();
    let tgw = LogicalId::new("TransitGateway").map_err(|e| bug(&path, e))?;
    let asn = 64512 + i64::try_from(index).unwrap_or(0);
    t.add_resource(
        tgw.clone(),
        Resource::new(TGW)
            .prop(
                "Description",
                format!("{} hub, {region}", p.organization.name),
            )
            .prop("AmazonSideAsn", Value::Int(asn))
            .prop("AutoAcceptSharedAttachments", "enable")
            .prop("DefaultRouteTableAssociation", "disable")
            .prop("DefaultRouteTablePropagation", "disable")
            .prop("DnsSupport", "enable")
            .prop("VpnEcmpSupport", "enable")
            .prop("MulticastSupport", "disable")
            .prop(
                "Tags",
                Value::List(vec![Value::map([
                    ("Key", Value::str("Name")),
                    (
                        "Value",
                        Value::str(format!("{}-hub-{region}", p.organization.stack_prefix)),
                    ),
                ])]),
            ),
    )
    .map_err(|e| bug(&path, e))?;
    let mut outputs = vec![(
        "TransitGatewayId".to_owned(),
        Value::Ref(tgw.clone()),
        ExportKey::TransitGatewayId,
    )];
    for (si, s) in n.segments.iter().enumerate() {
        if !s.supernets.iter().any(|(r, _)| r == region) {
            continue;
        }
        let rt = LogicalId::derive("RouteTable", &s.name).map_err(|e| bug(&path, e))?;
        t.add_resource(
            rt.clone(),
            Resource::new(TGW_ROUTE_TABLE)
                .prop("TransitGatewayId", Value::Ref(tgw.clone()))
                .prop(
                    "Tags",
                    Value::List(vec![Value::map([
                        ("Key", Value::str("Name")),
                        (
                            "Value",
                            Value::str(format!(
                                "{}-{}-{region}",
                                p.organization.stack_prefix, s.name
                            )),
                        ),
                    ])]),
                ),
        )
        .map_err(|e| bug(&path, e))?;
        outputs.push((
            rt.to_string(),
            Value::Ref(rt),
            ExportKey::SegmentRouteTable(si),
        ));
    }
    // Shared only with the OUs of the accounts that attach in this region (their own OUs,
    // the narrowest that hold them): auto-accept lets any account the gateway is shared with
    // attach a VPC without approval, so the share is the admission control; segments stay
    // apart by their route tables.
    let mut ous: Vec<mlz_model::OuIdx> = n
        .ranges
        .iter()
        .filter(|r| r.region == region)
        .map(|r| p.account(r.account).ou)
        .collect();
    ous.sort_unstable();
    ous.dedup();
    let mut principals = Vec::new();
    for ou in ous {
        principals.push(use_ident(
            p,
            ou_arn_ident_in(p, ou, n.account)?,
            &mut t,
            &mut params,
        )?);
    }
    t.add_resource(
        LogicalId::new("HubShare").map_err(|e| bug(&path, e))?,
        ram::share(
            format!("{}-transit-gateway-{region}", p.organization.stack_prefix),
            vec![Value::GetAtt(tgw, "TransitGatewayArn".into())],
            principals,
            &[],
        ),
    )
    .map_err(|e| bug(&path, e))?;
    for (name, value, key) in outputs {
        t.add_output(
            LogicalId::new(name.clone()).map_err(|e| bug(&path, e))?,
            Output {
                description: None,
                value,
                export: exports::export(p, &key)?,
                condition: None,
            },
        )
        .map_err(|e| bug(&path, e))?;
    }
    let mut s = new_stack(p, id.clone(), t);
    s.provides.push(Fact::Deployed(id));
    s.account = n.account;
    s.region = region.to_owned();
    s.parameters = params;
    Ok(s)
}
