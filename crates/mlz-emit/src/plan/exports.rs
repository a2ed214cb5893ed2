//! Typed exports: every cross-stack value has an [`ExportKey`], and its CloudFormation export
//! name is made here and nowhere else. The emitter that owns a value exports it with
//! [`export`]; a consumer in the same account and region imports it with [`import`]; a
//! consumer elsewhere takes it as a parameter that names the same key ([`ExportRef`]), and
//! the plan checks that some stack exports it there.

use mlz_cfn::{LogicalId, Value};
use mlz_model::{AccountIdx, AccountRef, Network, OuIdx, Platform};

use crate::EmitError;

/// What a value is, independent of the name it is exported under.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ExportKey {
    OuId(OuIdx),
    OuArn(OuIdx),
    AccountId(AccountIdx),
    /// The artifact bucket of the account that exports it (one per account).
    ArtifactBucket,
    /// The Service Catalog product of an AFC blueprint (index into `ControlTower::blueprints`).
    BlueprintProduct(usize),
    /// The Lambda function that looks up the Account Factory's product and active artifact.
    AccountFactoryLookup,
    /// The Lambda function that tags accounts the Account Factory vends.
    AccountTagger,
    /// The management-account role that provisions accounts (the account-factory stack's
    /// parameter), which the AFC hub role trusts.
    VendingPrincipal,
    /// Index into `IdentityCenter::permission_sets`.
    PermissionSetArn(usize),
    /// Index into `IdentityCenter::groups` (platform groups mlz creates).
    GroupId(usize),
    /// The Transit Gateway of the region that exports it.
    TransitGatewayId,
    /// A segment's route table (index into `Network::segments`).
    SegmentRouteTable(usize),
    /// The hub's route table of the egress VPC's attachment, which every attachment
    /// propagates into (the return path).
    EgressRouteTable,
    /// The egress VPC's attachment, which the hub account's own lookup leaves out.
    EgressAttachment,
    /// The Lambda function in the hub that finds an account's VPC attachment.
    AttachmentLookup,
    LogBucketArn,
    LogKeyArn,
    StudioDomainId,
    StudioRootDomainUnitId,
    /// Index into `UnifiedStudio::domain_units`.
    StudioDomainUnitId(usize),
    /// The id of a blueprint configured in the account that exports it (by blueprint name:
    /// `Tooling`), which project profiles in the domain account use.
    StudioBlueprintId(String),
    /// One of the pipeline account's shared resources (`ArtifactKeyArn`, `SourceBucket`,
    /// `RoleArn`, `BuildProject`, `EventsRoleArn`), exported by pipeline/pipeline (and the
    /// artifact key by each pipeline/artifacts-<region>).
    Pipeline(&'static str),
    /// The IPAM pool of a segment (index into `Network::segments`) in a region, exported by
    /// network/ipam in the IPAM's home region.
    IpamPool(usize, String),
    /// A Service Catalog TagOption (key, value) of the account that exports it (its
    /// service-catalog/tag-options stack), which the account's portfolios import.
    TagOption(String, String),
}

fn lid(prefix: &str, name: &str) -> Result<String, EmitError> {
    LogicalId::derive(prefix, name)
        .map(|l| l.to_string())
        .map_err(|e| crate::common::bug("exports", e))
}

impl ExportKey {
    /// The export name: `mlz-OuWorkloads-Id`. Names are per account and region.
    pub fn name(&self, p: &Platform) -> Result<String, EmitError> {
        let prefix = &p.organization.stack_prefix;
        // A key names something of the platform by index: one that is not there is a bug in
        // mlz, never an export named after an empty string.
        let missing =
            || crate::common::bug("exports", format!("{self:?} names nothing in the platform"));
        let segment = |s: usize| {
            p.network
                .as_ref()
                .and_then(|n| n.segments.get(s))
                .map(|s| s.name.as_str())
                .ok_or_else(missing)
        };
        Ok(match self {
            ExportKey::OuId(i) => format!("{prefix}-{}-Id", lid("Ou", &p.ou(*i).name)?),
            ExportKey::OuArn(i) => format!("{prefix}-{}-Arn", lid("Ou", &p.ou(*i).name)?),
            ExportKey::AccountId(i) => format!("{prefix}-{}-Id", p.account(*i).logical_id),
            ExportKey::ArtifactBucket => format!("{prefix}-ArtifactBucket-Name"),
            ExportKey::BlueprintProduct(b) => {
                let name = p
                    .control_tower
                    .as_ref()
                    .and_then(|c| c.blueprints.get(*b))
                    .map(|b| b.name.as_str())
                    .ok_or_else(missing)?;
                format!("{prefix}-{}-ProductId", lid("Blueprint", name)?)
            }
            ExportKey::AccountFactoryLookup => {
                format!("{prefix}-ControlTower-AccountFactoryLookupArn")
            }
            ExportKey::AccountTagger => format!("{prefix}-ControlTower-AccountTaggerArn"),
            ExportKey::VendingPrincipal => format!("{prefix}-ControlTower-VendingPrincipalArn"),
            ExportKey::PermissionSetArn(i) => {
                let name = p
                    .identity_center
                    .as_ref()
                    .and_then(|ic| ic.permission_sets.get(*i))
                    .map(|ps| ps.name.as_str())
                    .ok_or_else(missing)?;
                format!("{prefix}-{}-Arn", lid("PermissionSet", name)?)
            }
            ExportKey::GroupId(i) => {
                let name = p
                    .identity_center
                    .as_ref()
                    .and_then(|ic| ic.groups.get(*i))
                    .map(|g| g.name.as_str())
                    .ok_or_else(missing)?;
                format!("{prefix}-{}-Id", lid("Group", name)?)
            }
            ExportKey::TransitGatewayId => format!("{prefix}-Network-TransitGatewayId"),
            ExportKey::SegmentRouteTable(s) => {
                format!("{prefix}-Network-{}", lid("RouteTable", segment(*s)?)?)
            }
            ExportKey::EgressRouteTable => format!("{prefix}-Network-EgressRouteTable"),
            ExportKey::EgressAttachment => format!("{prefix}-Network-EgressAttachmentId"),
            ExportKey::AttachmentLookup => format!("{prefix}-Network-AttachmentLookupArn"),
            ExportKey::LogBucketArn => format!("{prefix}-Security-LogBucketArn"),
            ExportKey::LogKeyArn => format!("{prefix}-Security-LogKeyArn"),
            ExportKey::StudioDomainId => format!("{prefix}-Studio-DomainId"),
            ExportKey::StudioRootDomainUnitId => format!("{prefix}-Studio-RootDomainUnitId"),
            ExportKey::StudioBlueprintId(b) => {
                format!("{prefix}-Studio-{}Id", lid("Blueprint", b)?)
            }
            ExportKey::Pipeline(what) => format!("{prefix}-Pipeline-{what}"),
            ExportKey::IpamPool(s, region) => format!(
                "{prefix}-Network-{}{}-Id",
                lid("IpamPool", segment(*s)?)?,
                crate::common::region_id(region)
            ),
            ExportKey::TagOption(k, v) => {
                format!(
                    "{prefix}-ServiceCatalog-{}-Id",
                    lid("TagOption", &format!("{k} {v}"))?
                )
            }
            ExportKey::StudioDomainUnitId(i) => {
                let unit = p
                    .unified_studio
                    .as_ref()
                    .and_then(|u| u.domain_units.get(*i))
                    .ok_or_else(missing)?;
                format!("{prefix}-Studio-{}Id", lid("DomainUnit", unit)?)
            }
        })
    }
}

/// An export in a given account and region: what a parameter or a document refers to when
/// the value lives in another account's or region's stack.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ExportRef {
    pub key: ExportKey,
    pub account: AccountRef,
    pub region: String,
}

impl ExportRef {
    /// An IPAM pool's id as a blueprint StackSet's holder takes it: a parameter filled from
    /// the Network account's export in the home region (where the IPAM is).
    pub fn ipam_pool(p: &Platform, n: &Network, segment: usize, region: &str) -> ExportRef {
        ExportRef {
            key: ExportKey::IpamPool(segment, region.to_owned()),
            account: n.account,
            region: p.organization.home_region.clone(),
        }
    }
}

/// The `Export` value of an output that exports `key`.
pub fn export(p: &Platform, key: &ExportKey) -> Result<Option<Value>, EmitError> {
    Ok(Some(Value::Str(key.name(p)?)))
}

/// `Fn::ImportValue` of `key`, for a stack in the account and region that exports it.
pub fn import(p: &Platform, key: &ExportKey) -> Result<Value, EmitError> {
    Ok(Value::ImportValue(Box::new(Value::Str(key.name(p)?))))
}

/// Symbolic exports a built-in blueprint or product may name as `mlz:<Name>` in an output's
/// `Export` or an `Fn::ImportValue`; [`resolve_symbols`] turns them into the typed names.
pub fn symbol(name: &str) -> Option<ExportKey> {
    Some(match name {
        "TransitGatewayId" => ExportKey::TransitGatewayId,
        "EgressRouteTable" => ExportKey::EgressRouteTable,
        "EgressAttachment" => ExportKey::EgressAttachment,
        _ => return None,
    })
}

/// Replaces every `mlz:<Name>` export and import of `t` by its export name; the keys it
/// exports and imports, or the unknown symbol as an error.
pub fn resolve_symbols(
    p: &Platform,
    t: &mut mlz_cfn::Template,
    path: &str,
) -> Result<(Vec<ExportKey>, Vec<ExportKey>), EmitError> {
    let mut unknown = None;
    let mut exported = Vec::new();
    let mut imported = Vec::new();
    let mut name_of = |v: &mut Value, into: &mut Vec<ExportKey>| {
        if let Value::Str(s) = v {
            if let Some(sym) = s.strip_prefix("mlz:") {
                match symbol(sym).map(|k| k.name(p).map(|n| (k, n))) {
                    Some(Ok((k, n))) => {
                        *s = n;
                        into.push(k);
                    }
                    Some(Err(e)) => unknown = Some(e),
                    None => {
                        unknown = Some(crate::common::bug(
                            path,
                            format!("unknown export symbol {s:?}"),
                        ))
                    }
                }
            }
        }
    };
    for o in t.outputs.values_mut() {
        if let Some(e) = o.export.as_mut() {
            name_of(e, &mut exported);
        }
    }
    let mut walk = |v: &mut Value| {
        if let Value::ImportValue(inner) = v {
            name_of(inner, &mut imported);
        }
    };
    for r in t.resources.values_mut() {
        for v in r.properties.values_mut() {
            v.walk_mut(&mut walk);
        }
    }
    for o in t.outputs.values_mut() {
        o.value.walk_mut(&mut walk);
    }
    match unknown {
        Some(e) => Err(e),
        None => Ok((exported, imported)),
    }
}
