//! The network (docs/network.md): the address plan, written as `network/address-plan.json`
//! for review and to be given back as `network.addressPlan` on the next run (existing ranges
//! stay where they are); per region, the Transit Gateway hub with its segment route tables
//! and RAM share, the central egress VPC, and the attachments stacks that associate and
//! propagate each spoke's attachment. IPAM pools are `ipam.rs`, for StackSet blueprints.

use std::collections::BTreeMap;

use mlz_cfn::{LogicalId, Output, Resource, Template, Value};
use mlz_model::{AccountRef, Cidr, Network, Platform, RangeSource};
use serde_json::json;

use crate::common::{
    account_name, account_ref_ident_in, all_ok, bucket_label, bug, custom_function, new_stack,
    team_bucket, use_ident, CustomFunction,
};
use crate::plan::{exports, rules, Area, ExportKey, Fact, Need, StackId};
use crate::ram;
use crate::stack::{Document, Emitted, Stack, StackParam};
use crate::types::{
    CUSTOM_TGW_ATTACHMENT, TGW, TGW_ROUTE, TGW_ROUTE_TABLE, TGW_ROUTE_TABLE_ASSOCIATION,
    TGW_ROUTE_TABLE_PROPAGATION, VPC_ROUTE,
};
use crate::EmitError;

pub mod ipam;

pub const PLAN_PATH: &str = "network/address-plan.json";

/// What the lock records of this run: every range (in use or reserved) and every ASN.
pub fn allocations(p: &Platform) -> mlz_model::lock::Allocations {
    // Declared accounts' keys by e-mail (team accounts' keys are their team and stage).
    let accounts = p
        .accounts
        .iter()
        .filter(|a| a.team.is_none())
        .map(|a| (a.email.to_ascii_lowercase(), a.key.clone()))
        .collect();
    let Some(n) = &p.network else {
        return mlz_model::lock::Allocations {
            accounts,
            ..Default::default()
        };
    };
    let mut ranges: Vec<(String, String, Cidr)> = n
        .ranges
        .iter()
        .filter_map(|r| Some((p.account(r.account).key.clone(), r.region.clone(), r.cidr?)))
        .collect();
    ranges.extend(n.reserved.iter().cloned());
    let mut asns = n.asns.clone();
    asns.extend(n.reserved_asns.iter().cloned());
    mlz_model::lock::Allocations {
        ranges,
        asns,
        accounts,
        vending: Vec::new(),
    }
}

/// The network area: the address plan, the hubs, then the IPAM pools.
pub fn emit(p: &Platform, out: &mut Emitted) -> Result<(), Vec<EmitError>> {
    address_plan(p, out);
    let mut errs = hubs(p, out).err().unwrap_or_default();
    errs.extend(ipam::emit(p, out).err());
    if errs.is_empty() {
        Ok(())
    } else {
        Err(errs)
    }
}

/// `network/address-plan.json`: every range and ASN, for review and the next run.
fn address_plan(p: &Platform, out: &mut Emitted) {
    let Some(n) = &p.network else { return };
    let mut ranges: Vec<serde_json::Value> = Vec::new();
    let mut from_pools: Vec<serde_json::Value> = Vec::new();
    for r in &n.ranges {
        let a = p.account(r.account);
        let entry = json!({
            "account": a.name,
            "key": a.key,
            "region": r.region,
            "segment": n.segments[r.segment].name,
        });
        let mut entry = entry;
        match r.cidr {
            Some(c) => {
                entry["cidr"] = json!(c.to_string());
                entry["source"] = json!(match r.source {
                    RangeSource::Pinned => "pinned",
                    RangeSource::Plan => "plan",
                    RangeSource::Locked => "locked",
                    RangeSource::Allocated | RangeSource::Ipam => "allocated",
                });
                ranges.push(entry);
            }
            None => {
                entry["pool"] = json!(crate::network::ipam::pool_name(n, r.segment, &r.region));
                from_pools.push(entry);
            }
        }
    }
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
    let value = if crate::network::ipam::uses_ipam(p) {
        json!({
            "about": "The attached accounts' VPCs take their ranges from an Amazon VPC IPAM pool per segment and region (stack network/ipam in the Network account), allocated when the blueprint's StackSet creates the VPC: the ranges are known only in IPAM (ec2 get-ipam-pool-allocations). The lock file beside the config (platform.lock.json) keeps the egress VPCs' ranges and the ranges of accounts that left the network, which the pools reserve.",
            "vpcPrefixLength": n.vpc_prefix_length,
            "supernets": supernets,
            "pools": crate::network::ipam::pools_doc(p, n),
            "ranges": ranges,
            "fromPools": from_pools,
        })
    } else {
        json!({
            "about": "VPC ranges of the attached accounts, for review. The lock file beside the config (platform.lock.json) keeps them for the next runs.",
            "vpcPrefixLength": n.vpc_prefix_length,
            "supernets": supernets,
            "ranges": ranges,
        })
    };
    out.documents.push(Document {
        path: PLAN_PATH.to_owned(),
        value,
        refs: Vec::new(),
    });
}

/// The hub: a Transit Gateway per region that has a supernet, in the Network account, with a
/// route table per segment and a RAM share with the segments' OUs.
fn hubs(p: &Platform, out: &mut Emitted) -> Result<(), Vec<EmitError>> {
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
    let sharing = ram::require_sharing(out);
    for region in &regions {
        match hub(p, n, region) {
            Ok(mut s) => {
                s.requires.push(sharing.clone());
                out.stacks.push(s);
            }
            Err(e) => errs.push(e),
        }
        match egress(p, n, region) {
            Ok(s) => out.stacks.push(s),
            Err(e) => errs.push(e),
        }
        match attachments(p, n, region) {
            Ok(s) => out.stacks.extend(s),
            Err(e) => errs.push(e),
        }
    }
    all_ok(errs)
}

/// `Tags: [{Key: Name, Value: name}]`.
fn name_tag(name: String) -> Value {
    Value::List(vec![Value::map([
        ("Key", Value::str("Name")),
        ("Value", Value::str(name)),
    ])])
}

/// The egress VPC of `region`: its range, its NAT gateways and its attachment
/// (`templates/egress.yaml`), and the Transit Gateway routes that send each segment's traffic
/// for anywhere outside the VPCs there, while no segment reaches another through it.
fn egress(p: &Platform, n: &Network, region: &str) -> Result<Stack, EmitError> {
    let id = StackId::new(Area::Network, format!("egress-{region}"));
    let path = id.path();
    let cidr = n
        .egress
        .iter()
        .find(|(r, _)| r == region)
        .map(|(_, c)| *c)
        .ok_or_else(|| bug(&path, "no egress range for a region with a hub"))?;
    let (mut t, _) = mlz_model::blueprints::load(&path, EGRESS_TEMPLATE, false)
        .map_err(|d| bug(&path, format!("{d:?}")))?;
    t.description = format!(
        "{}: the egress VPC of {region} (NAT gateways every attached VPC reaches AWS service endpoints and the internet through), its Transit Gateway attachment, and each segment's routes. Deploy in {}, {region}.",
        p.organization.name,
        account_name(p, n.account)
    );
    exports::resolve_symbols(p, &mut t, &path)?;
    let attachment = LogicalId::new("Attachment").map_err(|e| bug(&path, e))?;
    let in_region: Vec<(usize, Cidr)> = n
        .segments
        .iter()
        .enumerate()
        .flat_map(|(si, s)| {
            s.supernets
                .iter()
                .filter(|(r, _)| r == region)
                .map(move |(_, c)| (si, *c))
        })
        .collect();
    let route = |rt: usize, cidr: Cidr| -> Result<Resource, EmitError> {
        Ok(Resource::new(TGW_ROUTE)
            .prop(
                "TransitGatewayRouteTableId",
                exports::import(p, &ExportKey::SegmentRouteTable(rt))?,
            )
            .prop("DestinationCidrBlock", cidr.to_string()))
    };
    for &(si, sn) in &in_region {
        let seg = &n.segments[si];
        // Replies from the NAT gateways to the attached VPCs go back through the gateway.
        let mut back = Resource::new(VPC_ROUTE)
            .prop(
                "RouteTableId",
                Value::Ref(LogicalId::new("PublicRouteTable").map_err(|e| bug(&path, e))?),
            )
            .prop("DestinationCidrBlock", sn.to_string())
            .prop(
                "TransitGatewayId",
                exports::import(p, &ExportKey::TransitGatewayId)?,
            );
        back.depends_on.insert(attachment.clone());
        t.add_resource(
            LogicalId::derive("Return", &seg.name).map_err(|e| bug(&path, e))?,
            back,
        )
        .map_err(|e| bug(&path, e))?;
        // Other segments' supernets are blackholes in this segment's table: more specific
        // than the default route, so no segment reaches another through the egress VPC.
        for &(sj, other) in &in_region {
            if sj == si {
                continue;
            }
            t.add_resource(
                LogicalId::derive(
                    "Isolate",
                    &format!("{}-from-{}", seg.name, n.segments[sj].name),
                )
                .map_err(|e| bug(&path, e))?,
                route(si, other)?.prop("Blackhole", Value::Bool(true)),
            )
            .map_err(|e| bug(&path, e))?;
        }
    }
    let mut segments: Vec<usize> = in_region.iter().map(|(si, _)| *si).collect();
    segments.dedup();
    for si in segments {
        t.add_resource(
            LogicalId::derive("Default", &n.segments[si].name).map_err(|e| bug(&path, e))?,
            route(si, Cidr { addr: 0, len: 0 })?
                .prop("TransitGatewayAttachmentId", Value::Ref(attachment.clone())),
        )
        .map_err(|e| bug(&path, e))?;
    }
    let mut s = new_stack(p, id.clone(), t);
    s.provides.push(Fact::Deployed(id));
    s.account = n.account;
    s.region = region.to_owned();
    s.parameters = vec![StackParam {
        name: "EgressCidr".into(),
        description: "The egress VPC's range (network.egress).".into(),
        value: Some(cidr.to_string()),
        from_export: None,
        lookup: None,
    }];
    Ok(s)
}

const EGRESS_TEMPLATE: &str = include_str!("../../templates/egress.yaml");

/// The stacks that associate each attachment of `region` with its segment's route table and
/// propagate it there and into the egress route table: the platform accounts' in one stack,
/// team accounts' spread by team over `organization.teamAccountStacks` like their vending
/// stacks, so that an account's association never moves between stacks (a move would delete
/// it, and cut the VPC off, before creating it again).
fn attachments(p: &Platform, n: &Network, region: &str) -> Result<Vec<Stack>, EmitError> {
    let buckets = p.organization.team_account_stacks;
    let mut groups: BTreeMap<Option<u32>, Vec<&mlz_model::VpcRange>> = BTreeMap::new();
    for r in n.ranges.iter().filter(|r| r.region == region) {
        let a = p.account(r.account);
        let g = a
            .team
            .as_ref()
            .map(|(t, _)| team_bucket(&p.team(*t).name, buckets));
        groups.entry(g).or_default().push(r);
    }
    let mut stacks = Vec::new();
    for (g, ranges) in groups {
        let id = StackId::new(
            Area::Network,
            match g {
                None => format!("attachments-{region}"),
                Some(b) => format!(
                    "attachments-{region}-teams-{}",
                    bucket_label(b as usize, buckets)
                ),
            },
        );
        let path = id.path();
        let mut t = Template::new(format!(
            "{}: the Transit Gateway attachments of {}in {region}, each associated with its segment's route table and propagated there and into the egress route table. Deploy in {}, {region}, after the accounts' AFC blueprints created the attachments.",
            p.organization.name,
            match g {
                None => "the platform accounts ".to_owned(),
                Some(b) => format!("team accounts (group {} of {buckets}) ", bucket_label(b as usize, buckets)),
            },
            account_name(p, n.account)
        ));
        let mut params = Vec::new();
        let mut requires = Vec::new();
        if p.control_tower
            .as_ref()
            .is_some_and(|c| c.enabled && !c.blueprints.is_empty())
        {
            requires.push(Need::new(
                Fact::BlueprintsApplied,
                &rules::BLUEPRINTS_APPLIED,
            ));
        }
        let held: Vec<String> = ranges
            .iter()
            .map(|r| p.account(r.account).name.clone())
            .collect();
        for r in ranges {
            let a = p.account(r.account);
            let account = AccountRef::Account(r.account);
            let account_id = use_ident(
                p,
                account_ref_ident_in(p, account, n.account)?,
                &mut t,
                &mut params,
            )?;
            let lid = |suffix: &str| {
                LogicalId::new(format!("{}{suffix}", a.logical_id)).map_err(|e| bug(&path, e))
            };
            let found = lid("Attachment")?;
            let mut lookup = Resource::new(CUSTOM_TGW_ATTACHMENT)
                .prop("ServiceTimeout", crate::common::service_timeout(900))
                .prop(
                    "ServiceToken",
                    exports::import(p, &ExportKey::AttachmentLookup)?,
                )
                .prop(
                    "TransitGatewayId",
                    exports::import(p, &ExportKey::TransitGatewayId)?,
                )
                .prop("AccountId", account_id);
            // The hub account owns the egress VPC's attachment too: its own lookup leaves
            // that one out.
            if account == n.account {
                lookup = lookup.prop(
                    "ExcludeAttachmentIds",
                    Value::List(vec![exports::import(p, &ExportKey::EgressAttachment)?]),
                );
            }
            t.add_resource(found.clone(), lookup)
                .map_err(|e| bug(&path, e))?;
            // Associated with its segment's table; propagated there (its segment reaches it)
            // and into the egress table (the way back from the NAT gateways).
            let segment = exports::import(p, &ExportKey::SegmentRouteTable(r.segment))?;
            let egress = exports::import(p, &ExportKey::EgressRouteTable)?;
            for (suffix, ty, table) in [
                ("Association", TGW_ROUTE_TABLE_ASSOCIATION, segment.clone()),
                ("Propagation", TGW_ROUTE_TABLE_PROPAGATION, segment),
                ("Return", TGW_ROUTE_TABLE_PROPAGATION, egress),
            ] {
                t.add_resource(
                    lid(suffix)?,
                    Resource::new(ty)
                        .prop("TransitGatewayAttachmentId", Value::Ref(found.clone()))
                        .prop("TransitGatewayRouteTableId", table),
                )
                .map_err(|e| bug(&path, e))?;
            }
            requires.push(Need::new(
                Fact::AccountExists(account),
                &rules::OUTPUTS_FIRST,
            ));
        }
        let mut s = new_stack(p, id, t);
        s.account = n.account;
        s.region = region.to_owned();
        s.parameters = params;
        s.requires = requires;
        s.contents = Some(("accounts", held));
        stacks.push(s);
    }
    Ok(stacks)
}

/// Finds the VPC attachment an account's blueprint made to the hub's Transit Gateway (the
/// owner of a gateway sees every attachment to it), waiting while it is being created.
const ATTACHMENT_LOOKUP_CODE: &str = r#"import time
import boto3
import cfnresponse

ec2 = boto3.client("ec2")
LIVE = ["available", "pending", "pendingAcceptance", "modifying"]
DEAD = ["failed", "failing", "rejected"]


def find(tgw, account, states=LIVE):
    pages = ec2.get_paginator("describe_transit_gateway_attachments").paginate(
        Filters=[
            {"Name": "transit-gateway-id", "Values": [tgw]},
            {"Name": "resource-owner-id", "Values": [account]},
            {"Name": "resource-type", "Values": ["vpc"]},
            {"Name": "state", "Values": states},
        ]
    )
    return [a for page in pages for a in page["TransitGatewayAttachments"]]


def handler(event, context):
    physical = event.get("PhysicalResourceId", "attachment-lookup")
    try:
        if event["RequestType"] == "Delete":
            # The attachment belongs to the spoke's blueprint stack: nothing to undo here.
            cfnresponse.send(event, context, cfnresponse.SUCCESS, {}, physical)
            return
        props = event["ResourceProperties"]
        tgw, account = props["TransitGatewayId"], props["AccountId"]
        exclude = set(props.get("ExcludeAttachmentIds", []))
        # Wait while the attachment is being created, leaving a minute to answer.
        deadline = time.time() + context.get_remaining_time_in_millis() / 1000 - 60
        while True:
            found = [a for a in find(tgw, account) if a["TransitGatewayAttachmentId"] not in exclude]
            if len(found) > 1:
                ids = ", ".join(a["TransitGatewayAttachmentId"] for a in found)
                raise Exception(f"account {account} has {len(found)} VPC attachments to {tgw} ({ids}): mlz expects one, its platform VPC's")
            if found and found[0]["State"] == "available":
                break
            if not found:
                dead = [a for a in find(tgw, account, DEAD) if a["TransitGatewayAttachmentId"] not in exclude]
                if dead:
                    raise Exception(f"the VPC attachment {dead[0]['TransitGatewayAttachmentId']} of account {account} to {tgw} is {dead[0]['State']}: fix the spoke's blueprint stack, then update this stack")
            if time.time() > deadline:
                if not found:
                    raise Exception(f"account {account} has no VPC attachment to {tgw}: apply its blueprint (corporate-network: by AFC, or by its StackSet) first, then update this stack")
                raise Exception(f"attachment {found[0]['TransitGatewayAttachmentId']} of account {account} is still {found[0]['State']}")
            time.sleep(20)
        attachment = found[0]["TransitGatewayAttachmentId"]
        cfnresponse.send(event, context, cfnresponse.SUCCESS, {"Id": attachment}, attachment)
    except Exception as error:  # report, never hang the stack
        cfnresponse.send(event, context, cfnresponse.FAILED, {}, physical, reason=str(error)[:1000])
"#;

/// The gateway's RAM share: only with the OUs of the accounts that attach in this region
/// (their own OUs, the narrowest that hold them). Auto-accept lets any account the gateway is
/// shared with attach a VPC without approval, so the share is the admission control; segments
/// stay apart by their route tables.
fn hub_share(
    p: &Platform,
    n: &Network,
    region: &str,
    tgw: &LogicalId,
    t: &mut Template,
    params: &mut Vec<StackParam>,
    path: &str,
) -> Result<(), EmitError> {
    let mut ous: Vec<mlz_model::OuIdx> = n
        .ranges
        .iter()
        .filter(|r| r.region == region)
        .map(|r| p.account(r.account).ou)
        .collect();
    ous.sort_unstable();
    ous.dedup();
    let principals = crate::common::ou_principals(p, &ous, n.account, t, params)?;
    t.add_resource(
        LogicalId::new("HubShare").map_err(|e| bug(path, e))?,
        ram::share(
            format!("{}-transit-gateway-{region}", p.organization.stack_prefix),
            vec![Value::GetAtt(tgw.clone(), "TransitGatewayArn".into())],
            principals,
            &[],
        ),
    )
    .map_err(|e| bug(path, e))?;
    Ok(())
}

fn hub(p: &Platform, n: &Network, region: &str) -> Result<Stack, EmitError> {
    let id = StackId::transit_gateway(region);
    let path = id.path();
    let mut t = Template::new(format!(
        "{}: the Transit Gateway of {region}, its segment route tables, and its RAM share with the attached OUs. Deploy in {}, {region}.",
        p.organization.name,
        account_name(p, n.account)
    ));
    let mut params: Vec<StackParam> = Vec::new();
    let tgw = LogicalId::new("TransitGateway").map_err(|e| bug(&path, e))?;
    // From the lock (or newly allocated and then locked): AmazonSideAsn is create-only, so
    // a hub never changes it.
    let asn = n
        .asns
        .iter()
        .find(|(r, _)| r == region)
        .map(|(_, a)| i64::from(*a))
        .ok_or_else(|| bug(&path, "no ASN for a region with a hub"))?;
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
                name_tag(format!("{}-hub-{region}", p.organization.stack_prefix)),
            )
            // Every attachment, association and route hangs off the gateway: deleting or
            // replacing it would cut every attached VPC off.
            .retained(),
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
                    name_tag(format!(
                        "{}-{}-{region}",
                        p.organization.stack_prefix, s.name
                    )),
                ),
        )
        .map_err(|e| bug(&path, e))?;
        outputs.push((
            rt.to_string(),
            Value::Ref(rt),
            ExportKey::SegmentRouteTable(si),
        ));
    }
    // The egress VPC's attachment is associated with a table of its own, into which every
    // attachment propagates: the way back from the NAT gateways to each VPC.
    let egress_rt = LogicalId::new("EgressRouteTable").map_err(|e| bug(&path, e))?;
    t.add_resource(
        egress_rt.clone(),
        Resource::new(TGW_ROUTE_TABLE)
            .prop("TransitGatewayId", Value::Ref(tgw.clone()))
            .prop(
                "Tags",
                name_tag(format!("{}-egress-{region}", p.organization.stack_prefix)),
            ),
    )
    .map_err(|e| bug(&path, e))?;
    outputs.push((
        egress_rt.to_string(),
        Value::Ref(egress_rt),
        ExportKey::EgressRouteTable,
    ));
    let lookup = custom_function(
        &mut t,
        CustomFunction {
            name: "AttachmentLookup",
            function_id: Some("AttachmentLookup"),
            role_description: "Reads the Transit Gateway's attachments; nothing else.",
            policy_name: "read-attachments",
            // DescribeTransitGatewayAttachments has no resource-level permissions.
            statements: vec![Value::map([
                ("Effect", Value::str("Allow")),
                ("Action", Value::str("ec2:DescribeTransitGatewayAttachments")),
                ("Resource", Value::str("*")),
            ])],
            description: "Returns the id of the VPC attachment an account made to this Transit Gateway, once it is available.",
            timeout: 900,
            code: ATTACHMENT_LOOKUP_CODE,
        },
        &path,
    )?;
    outputs.push((
        "AttachmentLookupArn".to_owned(),
        Value::GetAtt(lookup, "Arn".into()),
        ExportKey::AttachmentLookup,
    ));
    hub_share(p, n, region, &tgw, &mut t, &mut params, &path)?;
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
