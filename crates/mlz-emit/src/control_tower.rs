//! AWS Control Tower: controls and baselines per OU, the AFC blueprint hub with one
//! Service Catalog product per blueprint, the blueprint templates themselves, and account
//! vending through the Account Factory (with a vending request per account for the step
//! CloudFormation cannot do: attaching the blueprint).

use std::collections::{BTreeMap, HashMap};

use mlz_cfn::{LogicalId, Output, Resource, Template, Value};
use mlz_model::{
    AccountIdx, AccountRef, Blueprint, ControlTower, CreatedBy, LandingZone, Platform,
};
use serde_json::json;

use crate::common::{
    account_logical_id, account_ref_ident, all_ok, bucket_label, bucket_of, bug, chain,
    chain_lanes, content_version, export_name, new_stack, ou_arn_ident, ou_ident, slug, use_ident,
    Ident,
};
use crate::stack::{DeployKind, Emitted, ManualStep, Stack, StackParam, Upload};
use crate::types::{
    CT_ENABLED_BASELINE, CT_ENABLED_CONTROL, CT_LANDING_ZONE, IAM_ROLE, SC_PORTFOLIO,
    SC_PORTFOLIO_PRODUCT, SC_PORTFOLIO_SHARE, SC_PRODUCT, SC_PROVISIONED_PRODUCT,
};
use crate::EmitError;

/// The AWSControlTowerBaseline, which registers an OU with Control Tower.
const CONTROL_TOWER_BASELINE_ID: &str = "17BSJV3IGJ2QSGA2";
/// The role AFC assumes in the hub account: Control Tower looks it up by this exact name.
const BLUEPRINT_ACCESS_ROLE: &str = "AWSControlTowerBlueprintAccess";
/// Control Tower runs at most this many control operations at once; more fail.
const CONTROL_OPERATION_LANES: usize = 10;
const ONE_VENDING_AT_A_TIME: &str =
    "the Account Factory provisions one account at a time: vending stacks deploy in sequence";
const UPLOAD_FIRST: &str =
    "the product version loads this template from the artifact bucket: upload it first";

pub fn emit(p: &Platform, ext: &str, out: &mut Emitted) -> Result<(), Vec<EmitError>> {
    let Some(ct) = p.control_tower.as_ref().filter(|c| c.enabled) else {
        return Ok(());
    };
    let mut errs = Vec::new();
    let first = out.stacks.len();
    let landing_zone = match ct.landing_zone.as_ref().map(|lz| landing_zone(p, lz)) {
        Some(Ok(s)) => {
            let path = s.path.clone();
            out.stacks.push(s);
            Some(path)
        }
        Some(Err(e)) => {
            errs.push(e);
            None
        }
        None => None,
    };
    match governance(p, ct) {
        Ok(Some(s)) => out.stacks.push(s),
        Ok(None) => {}
        Err(e) => errs.push(e),
    }
    if let Some(hub) = ct.hub.filter(|_| !ct.blueprints.is_empty()) {
        if let Err(e) = blueprint_hub(p, ct, hub, out) {
            errs.push(e);
        }
    }
    if let Err(e) = vending(p, ct, ext, out) {
        errs.push(e);
    }
    // Everything Control Tower does needs the landing zone first.
    if let Some(lz) = landing_zone {
        for s in out
            .stacks
            .iter_mut()
            .skip(first)
            .filter(|s| s.path != lz && s.account == AccountRef::Management)
        {
            s.after.push((
                lz.clone(),
                "Control Tower's baselines, controls and Account Factory need the landing zone",
            ));
        }
    }
    all_ok(errs)
}

/// The landing zone itself, when the config manages it. Retained on delete: removing the
/// resource would decommission Control Tower.
fn landing_zone(p: &Platform, lz: &LandingZone) -> Result<Stack, EmitError> {
    let path = "control-tower/landing-zone";
    let mut t = Template::new(format!(
        "{}: the Control Tower landing zone. Deploy in the management account, home region.",
        p.organization.name
    ));
    let mut params = Vec::new();
    let log_archive = use_ident(
        account_ref_ident(p, AccountRef::Account(lz.log_archive))?,
        &mut t,
        &mut params,
    );
    let audit = use_ident(
        account_ref_ident(p, AccountRef::Account(lz.audit))?,
        &mut t,
        &mut params,
    );
    let mut structure = vec![(
        "security",
        Value::map([("name", Value::str(p.ou(lz.security_ou).name.clone()))]),
    )];
    if let Some(s) = lz.sandbox_ou {
        structure.push((
            "sandbox",
            Value::map([("name", Value::str(p.ou(s).name.clone()))]),
        ));
    }
    let manifest = Value::map([
        (
            "governedRegions",
            Value::list_of_str(p.organization.governed_regions.iter().cloned()),
        ),
        ("organizationStructure", Value::map(structure)),
        (
            "centralizedLogging",
            Value::map([
                ("accountId", log_archive),
                (
                    "configurations",
                    Value::map([
                        (
                            "loggingBucket",
                            Value::map([(
                                "retentionDays",
                                Value::Int(i64::from(lz.log_retention_days)),
                            )]),
                        ),
                        (
                            "accessLoggingBucket",
                            Value::map([(
                                "retentionDays",
                                Value::Int(i64::from(lz.access_log_retention_days)),
                            )]),
                        ),
                    ]),
                ),
                ("enabled", Value::Bool(true)),
            ]),
        ),
        ("securityRoles", Value::map([("accountId", audit)])),
        (
            "accessManagement",
            Value::map([("enabled", Value::Bool(true))]),
        ),
    ]);
    let r = Resource::new(CT_LANDING_ZONE)
        .prop("Version", lz.version.as_str())
        .prop("Manifest", manifest)
        .retained();
    t.add_resource(LogicalId::new("LandingZone").map_err(|e| bug(path, e))?, r)
        .map_err(|e| bug(path, e))?;
    let mut s = new_stack(p, "control-tower-landing-zone", path, t);
    s.parameters = params;
    Ok(s)
}

fn governance(p: &Platform, ct: &ControlTower) -> Result<Option<Stack>, EmitError> {
    let path = "control-tower/governance";
    let mut t = Template::new(format!(
        "{}: Control Tower baselines and controls per OU. Deploy in the management account, home region.",
        p.organization.name
    ));
    let mut params = Vec::new();
    let home = &p.organization.home_region;
    let mut baselines: BTreeMap<usize, LogicalId> = BTreeMap::new();
    let mut order = Vec::new();
    // Every OU mlz creates is registered with Control Tower, parents first.
    for (i, ou) in p.ous.iter().enumerate() {
        if ou.created_by != CreatedBy::Mlz {
            continue;
        }
        let lid = LogicalId::derive("Baseline", &ou.name).map_err(|e| bug(path, e))?;
        let target = use_ident(ou_arn_ident(p, mlz_model::OuIdx(i))?, &mut t, &mut params);
        let ic = match &ct.identity_center_baseline_arn {
            Some(arn) => Value::str(arn.clone()),
            None => use_ident(
                Ident::Param {
                    id: LogicalId::new("IdentityCenterEnabledBaselineArn").map_err(|e| bug(path, e))?,
                    description: "ARN of the enabled IdentityCenterBaseline (aws controltower list-enabled-baselines), when the landing zone manages IAM Identity Center".into(),
                    pattern: "^arn:aws[0-9a-zA-Z_\\-:/]+$",
                },
                &mut t,
                &mut params,
            ),
        };
        let r = Resource::new(CT_ENABLED_BASELINE)
            .prop(
                "BaselineIdentifier",
                format!("arn:aws:controltower:{home}::baseline/{CONTROL_TOWER_BASELINE_ID}"),
            )
            .prop("BaselineVersion", ct.baseline_version.as_str())
            .prop("TargetIdentifier", target)
            .prop(
                "Parameters",
                Value::List(vec![Value::map([
                    ("Key", Value::str("IdentityCenterEnabledBaselineArn")),
                    ("Value", ic),
                ])]),
            );
        t.add_resource(lid.clone(), r).map_err(|e| bug(path, e))?;
        baselines.insert(i, lid.clone());
        order.push(lid);
    }
    // Nested OUs register after their parents.
    chain(&mut t, &order);
    let mut controls = Vec::new();
    for oc in &ct.controls {
        let ou = p.ou(oc.ou);
        let target = use_ident(ou_arn_ident(p, oc.ou)?, &mut t, &mut params);
        for c in &oc.controls {
            let short = c.arn.rsplit('/').next().unwrap_or(&c.arn);
            let lid = LogicalId::derive("Control", &format!("{} {short}", ou.name))
                .map_err(|e| bug(path, e))?;
            let mut r = Resource::new(CT_ENABLED_CONTROL)
                .prop("ControlIdentifier", c.arn.as_str())
                .prop("TargetIdentifier", target.clone());
            if !c.parameters.is_empty() {
                let ps = c.parameters.iter().map(|(k, v)| {
                    Value::map([
                        ("Key", Value::str(k.clone())),
                        ("Value", Value::from_json(v)),
                    ])
                });
                r = r.prop("Parameters", Value::List(ps.collect()));
            }
            // A control needs its OU registered first.
            if let Some(b) = baselines.get(&oc.ou.0) {
                r.depends_on.insert(b.clone());
            }
            t.add_resource(lid.clone(), r).map_err(|e| bug(path, e))?;
            controls.push(lid);
        }
    }
    chain_lanes(&mut t, &controls, CONTROL_OPERATION_LANES);
    if t.resources.is_empty() {
        return Ok(None);
    }
    let mut s = new_stack(p, "control-tower-governance", path, t);
    s.limit_hint = "enable fewer controls per OU (each control on each OU is one resource)";
    s.parameters = params;
    Ok(Some(s))
}

fn account_name(p: &Platform, i: AccountIdx) -> String {
    p.account(i).name.clone()
}

fn blueprint_hub(
    p: &Platform,
    ct: &ControlTower,
    hub: AccountIdx,
    out: &mut Emitted,
) -> Result<(), EmitError> {
    let prefix = &p.organization.stack_prefix;
    let bucket_export = crate::artifacts::bucket_export(p);

    // 2. The blueprint templates, uploaded under a key named by their content.
    let mut versions = Vec::new();
    for b in &ct.blueprints {
        let version = content_version(&b.template);
        // One key whatever the output format, so YAML and JSON output describe the same products.
        let key = format!("blueprints/{}/{version}.template", b.name);
        let path = format!("blueprints/{}", b.name);
        let mut s = new_stack(
            p,
            &format!("blueprint-{}", b.name),
            &path,
            b.template.clone(),
        );
        s.name = b.name.clone();
        s.account = AccountRef::Account(hub);
        s.deploy = DeployKind::AfcBlueprint;
        s.upload = Some(Upload {
            bucket_export: bucket_export.clone(),
            key: key.clone(),
        });
        s.parameters = blueprint_params(b);
        versions.push((version, key, path));
        out.stacks.push(s);
    }

    // 3. The hub: the role AFC assumes, the portfolio, one product per blueprint.
    let path = "control-tower/blueprint-hub";
    let mut t = Template::new(format!(
        "{}: the AFC blueprint hub (role {BLUEPRINT_ACCESS_ROLE}, portfolio, one product per blueprint). Deploy in the hub account ({}), home region.",
        p.organization.name,
        account_name(p, hub)
    ));
    let mut params: Vec<StackParam> = Vec::new();
    let mgmt = use_ident(
        account_ref_ident(p, AccountRef::Management)?,
        &mut t,
        &mut params,
    );
    let principal = |suffix: &str| {
        Value::SubWith(
            format!("arn:${{AWS::Partition}}:iam::${{Management}}:{suffix}"),
            BTreeMap::from([("Management".to_owned(), mgmt.clone())]),
        )
    };
    let role = Resource::new(IAM_ROLE)
        .prop("RoleName", BLUEPRINT_ACCESS_ROLE)
        .prop("Description", "Lets Control Tower (AFC) read the blueprints in this hub account and share them with new accounts.")
        .prop(
            "AssumeRolePolicyDocument",
            Value::map([
                ("Version", Value::str("2012-10-17")),
                (
                    "Statement",
                    Value::List(vec![Value::map([
                        ("Effect", Value::str("Allow")),
                        (
                            "Principal",
                            Value::map([("AWS", Value::List(vec![principal("role/service-role/AWSControlTowerAdmin"), principal("root")]))]),
                        ),
                        ("Action", Value::str("sts:AssumeRole")),
                    ])]),
                ),
            ]),
        )
        .prop("ManagedPolicyArns", Value::List(vec![Value::Sub("arn:${AWS::Partition}:iam::aws:policy/AWSServiceCatalogAdminFullAccess".into())]));
    t.add_resource(
        LogicalId::new("BlueprintAccessRole").map_err(|e| bug(path, e))?,
        role,
    )
    .map_err(|e| bug(path, e))?;
    let portfolio = LogicalId::new("BlueprintPortfolio").map_err(|e| bug(path, e))?;
    t.add_resource(
        portfolio.clone(),
        Resource::new(SC_PORTFOLIO)
            .prop("DisplayName", "Account vending")
            .prop("ProviderName", "Cloud platform team")
            .prop(
                "Description",
                "AFC blueprints that Control Tower applies to accounts as they are vended.",
            ),
    )
    .map_err(|e| bug(path, e))?;
    // The account vending portfolio is shared with the management account, where Control
    // Tower's Account Factory runs.
    t.add_resource(
        LogicalId::new("ShareWithManagement").map_err(|e| bug(path, e))?,
        Resource::new(SC_PORTFOLIO_SHARE)
            .prop("PortfolioId", Value::Ref(portfolio.clone()))
            .prop("AccountId", mgmt.clone()),
    )
    .map_err(|e| bug(path, e))?;
    let bucket_var = BTreeMap::from([(
        "Bucket".to_owned(),
        Value::ImportValue(Box::new(Value::str(bucket_export.clone()))),
    )]);
    let mut hub_stack_after = Vec::new();
    for (b, (version, key, bpath)) in ct.blueprints.iter().zip(&versions) {
        let pid = LogicalId::derive("Blueprint", &b.name).map_err(|e| bug(path, e))?;
        let product = Resource::new(SC_PRODUCT)
            .prop("Name", b.name.as_str())
            .prop("Owner", "Cloud platform team")
            .prop("Description", truncate(&b.description, 8000))
            .prop(
                "ProvisioningArtifactParameters",
                Value::List(vec![Value::map([
                    ("Name", Value::str(version.clone())),
                    ("Description", Value::str(format!("Template content {version}"))),
                    (
                        "Info",
                        Value::map([(
                            "LoadTemplateFromURL",
                            Value::SubWith(format!("https://${{Bucket}}.s3.${{AWS::Region}}.${{AWS::URLSuffix}}/{key}"), bucket_var.clone()),
                        )]),
                    ),
                ])]),
            );
        t.add_resource(pid.clone(), product)
            .map_err(|e| bug(path, e))?;
        let assoc = Resource::new(SC_PORTFOLIO_PRODUCT)
            .prop("PortfolioId", Value::Ref(portfolio.clone()))
            .prop("ProductId", Value::Ref(pid.clone()));
        t.add_resource(
            LogicalId::new(format!("{pid}InPortfolio")).map_err(|e| bug(path, e))?,
            assoc,
        )
        .map_err(|e| bug(path, e))?;
        t.add_output(
            LogicalId::new(format!("{pid}ProductId")).map_err(|e| bug(path, e))?,
            Output {
                description: Some(format!("Service Catalog product of blueprint {}", b.name)),
                value: Value::Ref(pid.clone()),
                export: Some(Value::str(export_name(prefix, &pid, "ProductId"))),
                condition: None,
            },
        )
        .map_err(|e| bug(path, e))?;
        hub_stack_after.push((bpath.clone(), UPLOAD_FIRST));
    }
    let mut s = new_stack(p, "control-tower-blueprint-hub", path, t);
    s.account = AccountRef::Account(hub);
    s.parameters = params;
    s.after = hub_stack_after;
    out.stacks.push(s);
    Ok(())
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// The manifest's view of a blueprint's parameters: who fills them, with what.
fn blueprint_params(b: &Blueprint) -> Vec<StackParam> {
    b.template
        .parameters
        .iter()
        .map(|(id, param)| StackParam {
            name: id.to_string(),
            description: param.description.clone(),
            value: b
                .parameters
                .get(id.as_str())
                .cloned()
                .or_else(|| param.default.clone()),
            from_export: None,
        })
        .collect()
}

fn vending(p: &Platform, ct: &ControlTower, ext: &str, out: &mut Emitted) -> Result<(), EmitError> {
    let vended: Vec<AccountIdx> = (0..p.accounts.len())
        .map(AccountIdx)
        .filter(|&i| {
            let a = p.account(i);
            a.created_by == CreatedBy::Mlz && a.id.is_none()
        })
        .collect();
    // Platform accounts in one stack, team accounts grouped by a fixed hash of the team (as
    // for Organizations accounts, and for the same reason: a vended account must never move).
    let buckets = p.organization.team_account_stacks;
    let mut groups: BTreeMap<Option<usize>, Vec<AccountIdx>> = BTreeMap::new();
    for &i in &vended {
        let key = p
            .account(i)
            .team
            .as_ref()
            .map(|(t, _)| bucket_of(&p.team(*t).name, buckets));
        groups.entry(key).or_default().push(i);
    }
    // Each attached account's VPC range in the home region, from the address plan: it
    // fills the blueprint's VpcCidr parameter.
    let vpc_ranges: HashMap<AccountIdx, String> = p
        .network
        .iter()
        .flat_map(|n| n.ranges.iter())
        .filter(|r| r.region == p.organization.home_region)
        .map(|r| (r.account, r.cidr.to_string()))
        .collect();
    let blueprint_docs: Vec<serde_json::Value> = ct
        .blueprints
        .iter()
        .map(|b| {
            let mut doc = blueprint_doc(p, ct, b);
            transit_gateway_source(p, ext, &mut doc);
            doc
        })
        .collect();
    let mut previous: Option<String> = None;
    for (group, accounts) in groups {
        let (name, path) = match group {
            None => (
                "control-tower-vending".to_owned(),
                "control-tower/vending-accounts".to_owned(),
            ),
            Some(b) => {
                let label = bucket_label(b, buckets);
                (
                    format!("control-tower-vending-team-{label}"),
                    format!("control-tower/vending-team-accounts-{label}"),
                )
            }
        };
        let mut t = Template::new(format!(
            "{}: accounts vended through the Control Tower Account Factory{}. Deploy in the management account, home region.",
            p.organization.name,
            match group {
                Some(b) => format!(" (team accounts, group {} of {buckets})", bucket_label(b, buckets)),
                None => " (platform accounts)".to_owned(),
            }
        ));
        let mut params = Vec::new();
        let mut order = Vec::new();
        for &i in &accounts {
            let a = p.account(i);
            let lid = account_logical_id(a)?;
            let ou = p.ou(a.ou);
            let ou_id = use_ident(ou_ident(p, a.ou)?, &mut t, &mut params);
            // The Account Factory names an OU as "Name (ou-id)".
            let managed_ou = Value::Join(
                String::new(),
                vec![Value::str(format!("{} (", ou.name)), ou_id, Value::str(")")],
            );
            let kv = |k: &str, v: Value| Value::map([("Key", Value::str(k)), ("Value", v)]);
            let r = Resource::new(SC_PROVISIONED_PRODUCT)
                .prop("ProductName", ct.account_factory_product.as_str())
                .prop(
                    "ProvisioningArtifactName",
                    ct.account_factory_product.as_str(),
                )
                .prop(
                    "ProvisionedProductName",
                    provisioned_name(&p.organization.stack_prefix, &a.key),
                )
                .prop(
                    "ProvisioningParameters",
                    Value::List(vec![
                        kv("AccountName", Value::str(a.name.clone())),
                        kv("AccountEmail", Value::str(a.email.clone())),
                        kv("ManagedOrganizationalUnit", managed_ou),
                        kv("SSOUserEmail", Value::str(a.email.clone())),
                        kv("SSOUserFirstName", Value::str("Account")),
                        kv("SSOUserLastName", Value::str("Owner")),
                    ]),
                )
                // Terminating the provisioned product would take the account out of Control Tower.
                .retained();
            t.add_resource(lid.clone(), r).map_err(|e| bug(&path, e))?;
            t.add_output(
                LogicalId::new(format!("{lid}Id")).map_err(|e| bug(&path, e))?,
                Output {
                    description: Some(format!("Account id of {}", a.name)),
                    value: Value::GetAtt(lid.clone(), "Outputs.AccountId".into()),
                    export: Some(Value::str(export_name(
                        &p.organization.stack_prefix,
                        &lid,
                        "Id",
                    ))),
                    condition: None,
                },
            )
            .map_err(|e| bug(&path, e))?;
            order.push(lid);
            out.documents.push((
                format!("vending/{}.json", slug(&a.key)),
                vending_request(p, ct, i, &path, ext, &blueprint_docs, vpc_ranges.get(&i)),
            ));
        }
        chain(&mut t, &order);
        let declared = group.is_none();
        let mut s = new_stack(p, &name, &path, t);
        s.limit_hint = if declared {
            "declared accounts share one vending stack (an output each, 200 at most): declare large fleets as teams, which are spread over organization.teamAccountStacks"
        } else {
            "raise organization.teamAccountStacks before the first deployment (it moves vended accounts between stacks)"
        };
        s.parameters = params;
        if let Some(prev) = previous.replace(path.clone()) {
            s.after.push((prev, ONE_VENDING_AT_A_TIME));
        }
        out.stacks.push(s);
    }
    if vended.iter().any(|&i| p.account(i).blueprint.is_some()) {
        out.steps.push(ManualStep {
            id: "apply-blueprints".into(),
            account: p.organization.management.name.clone(),
            reason: "CloudFormation vends the accounts but cannot attach an AFC blueprint: after each vending stack, apply the blueprint named in vending/<account>.json with the Control Tower console's Update account (Account factory customization section).".into(),
            commands: vec!["See docs/control-tower.md: one console update per account, with the hub account, product, version, regions and parameters from its vending request.".into()],
            before: Vec::new(),
            after: out
                .stacks
                .iter()
                .filter(|s| s.path.starts_with("control-tower/vending-") || s.path == "control-tower/blueprint-hub")
                .map(|s| format!("{}.{ext}", s.path))
                .collect(),
        });
    }
    Ok(())
}

/// A provisioned product name from an account key: `[a-zA-Z0-9][a-zA-Z0-9._-]*`, ≤ 128.
fn provisioned_name(prefix: &str, key: &str) -> String {
    let mut s: String = format!("{prefix}-{key}")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '-'
            }
        })
        .collect();
    s.truncate(128);
    s
}

/// What an operator (or a script against the Control Tower console flow) needs to apply the
/// blueprint: everything mlz knows, and the parameters still to fill.
/// The blueprint part of a vending request: the same for every account with that blueprint,
/// so it is built once per blueprint.
fn blueprint_doc(p: &Platform, ct: &ControlTower, b: &Blueprint) -> serde_json::Value {
    let (known, to_fill): (Vec<StackParam>, Vec<StackParam>) = blueprint_params(b)
        .into_iter()
        .partition(|sp| sp.value.is_some());
    let hub = ct.hub.map(|h| p.account(h));
    json!({
        "name": b.name,
        "hubAccount": hub.map(|h| json!({ "name": h.name, "id": h.id })),
        "product": b.name,
        "productIdExport": LogicalId::derive("Blueprint", &b.name).map(|pid| export_name(&p.organization.stack_prefix, &pid, "ProductId")).unwrap_or_default(),
        "version": content_version(&b.template),
        "regions": b.regions,
        "parameters": known.iter().map(|sp| (sp.name.clone(), serde_json::Value::String(sp.value.clone().unwrap_or_default()))).collect::<serde_json::Map<_, _>>(),
        "parametersToFill": to_fill.iter().map(|sp| json!({ "name": sp.name, "description": sp.description })).collect::<Vec<_>>(),
        "provisioningPolicy": b.provisioning_policy.clone().unwrap_or_else(|| json!("AdministratorAccess (the AFC default)")),
    })
}

/// The hub's export names the Transit Gateway id, when the blueprint asks for it: the same for
/// every account with the blueprint.
fn transit_gateway_source(p: &Platform, ext: &str, doc: &mut serde_json::Value) {
    let Some(n) = &p.network else { return };
    let home = &p.organization.home_region;
    if !n
        .segments
        .iter()
        .any(|s| s.supernets.iter().any(|(r, _)| r == home))
    {
        return;
    }
    let Some(fill) = doc["parametersToFill"].as_array_mut() else {
        return;
    };
    for x in fill.iter_mut().filter(|x| x["name"] == "TransitGatewayId") {
        x["valueFromExport"] = json!({
            "export": format!("{}-Network-TransitGatewayId", p.organization.stack_prefix),
            "account": crate::common::account_name(p, n.account),
            "region": home,
            "stack": format!("network/transit-gateway-{home}.{ext}"),
        });
    }
}

fn vending_request(
    p: &Platform,
    ct: &ControlTower,
    i: AccountIdx,
    stack_path: &str,
    ext: &str,
    blueprint_docs: &[serde_json::Value],
    vpc: Option<&String>,
) -> serde_json::Value {
    let a = p.account(i);
    let ou = p.ou(a.ou);
    let mut blueprint = a.blueprint.and_then(|b| blueprint_docs.get(b)).cloned();
    // The address plan's range fills VpcCidr, when the blueprint asks for it.
    if let (Some(doc), Some(cidr)) = (blueprint.as_mut(), vpc) {
        let asked = doc["parametersToFill"]
            .as_array()
            .is_some_and(|a| a.iter().any(|x| x["name"] == "VpcCidr"));
        if asked {
            if let Some(fill) = doc["parametersToFill"].as_array_mut() {
                fill.retain(|x| x["name"] != "VpcCidr");
            }
            if let Some(params) = doc["parameters"].as_object_mut() {
                params.insert("VpcCidr".into(), serde_json::Value::String(cidr.clone()));
            }
        }
    }
    json!({
        "account": { "name": a.name, "key": a.key, "email": a.email, "organizationalUnit": ou.name, "ouPath": ou.path },
        "accountFactory": {
            "product": ct.account_factory_product,
            "stack": format!("{stack_path}.{ext}"),
            "accountIdExport": account_logical_id(a).map(|lid| export_name(&p.organization.stack_prefix, &lid, "Id")).unwrap_or_default(),
        },
        "blueprint": blueprint,
    })
}
