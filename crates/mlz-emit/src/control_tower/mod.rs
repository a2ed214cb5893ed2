//! AWS Control Tower: controls and baselines per OU, the AFC blueprint hub with one
//! Service Catalog product per blueprint, the blueprint templates themselves, and account
//! vending through the Account Factory (with a vending request per account for the step
//! CloudFormation cannot do: attaching the blueprint); with `blueprintDelivery: stackSets`,
//! the blueprints as StackSets instead (`stack_sets.rs`).

use std::collections::{BTreeMap, HashMap};

use mlz_cfn::{LogicalId, Output, Resource, Template, Value};
use mlz_model::{
    managed_policies, AccountIdx, AccountRef, Blueprint, BlueprintDelivery, ControlTower,
    CreatedBy, LandingZone, OuIdx, Platform,
};
use serde_json::json;

use crate::common::managed_policy;
use crate::common::{
    account_logical_id, account_ref_ident, all_ok, bucket_label, bucket_of, bug, chain,
    chain_lanes, content_version, custom_function, new_stack, ou_arn_ident, ou_ident, slug,
    template_url, use_ident, CustomFunction, Ident,
};
use crate::plan::{
    exports, lanes, rules, Area, ExportKey, ExportRef, Fact, Limited, Need, StackId,
    CONTROL_TOWER_EXECUTION_ROLE,
};
use crate::stack::{
    DeployKind, Document, Emitted, Lookup, ManualStep, Stack, StackParam, StackSetTargets, Upload,
};
use crate::types::{
    CFN_STACK_SET, CT_ENABLED_BASELINE, CT_ENABLED_CONTROL, CT_LANDING_ZONE,
    CUSTOM_ACCOUNT_FACTORY_ARTIFACT, CUSTOM_ACCOUNT_TAGS, IAM_ROLE, SC_PORTFOLIO,
    SC_PORTFOLIO_PRINCIPAL, SC_PORTFOLIO_PRODUCT, SC_PORTFOLIO_SHARE, SC_PRODUCT,
    SC_PROVISIONED_PRODUCT,
};
use crate::EmitError;

mod stack_sets;

/// The AWSControlTowerBaseline, which registers an OU with Control Tower.
const CONTROL_TOWER_BASELINE_ID: &str = "17BSJV3IGJ2QSGA2";
/// The role AFC assumes in the hub account: Control Tower looks it up by this exact name.
pub const BLUEPRINT_ACCESS_ROLE: &str = "AWSControlTowerBlueprintAccess";
/// Control Tower runs at most this many control operations at once; more fail.
const CONTROL_OPERATION_LANES: usize = 10;

fn need(fact: Fact, rule: &'static crate::plan::Rule) -> Need {
    Need::new(fact, rule)
}

pub fn emit(p: &Platform, out: &mut Emitted) -> Result<(), Vec<EmitError>> {
    let Some(ct) = p.control_tower.as_ref().filter(|c| c.enabled) else {
        return Ok(());
    };
    let mut errs = Vec::new();
    let first = out.stacks.len();
    let landing_zone_id = match ct.landing_zone.as_ref().map(|lz| landing_zone(p, lz)) {
        Some(Ok(s)) => {
            let id = s.id.clone();
            out.stacks.push(s);
            Some(id)
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
    if ct.blueprint_delivery == BlueprintDelivery::StackSets {
        if let Err(e) = stack_sets::emit(p, ct, out) {
            errs.push(e);
        }
    } else if let Some(hub) = ct.hub.filter(|_| !ct.blueprints.is_empty()) {
        if let Err(e) = blueprint_hub(p, ct, hub, out) {
            errs.push(e);
        }
    }
    if let Err(e) = vending(p, ct, out) {
        errs.push(e);
    }
    // Everything Control Tower does needs the landing zone first.
    for s in
        out.stacks.iter_mut().skip(first).filter(|s| {
            Some(&s.id) != landing_zone_id.as_ref() && s.account == AccountRef::Management
        })
    {
        s.requires
            .push(need(Fact::LandingZone, &rules::LANDING_ZONE_FIRST));
    }
    all_ok(errs)
}

/// The landing zone itself, when the config manages it. Retained on delete: removing the
/// resource would decommission Control Tower.
fn landing_zone(p: &Platform, lz: &LandingZone) -> Result<Stack, EmitError> {
    let id = StackId::new(Area::ControlTower, "landing-zone");
    let path = id.path();
    let path = path.as_str();
    let mut t = Template::new(format!(
        "{}: the Control Tower landing zone. Deploy in the management account, home region.",
        p.organization.name
    ));
    let mut params = Vec::new();
    let log_archive = use_ident(
        p,
        account_ref_ident(p, AccountRef::Account(lz.log_archive))?,
        &mut t,
        &mut params,
    )?;
    let audit = use_ident(
        p,
        account_ref_ident(p, AccountRef::Account(lz.audit))?,
        &mut t,
        &mut params,
    )?;
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
    let mut s = new_stack(p, id, t);
    s.parameters = params;
    // Setting up the landing zone creates and registers its OUs and enrols the log archive
    // and audit accounts.
    s.provides.push(Fact::LandingZone);
    s.provides.push(Fact::ControlTowerRegions);
    for ou in [Some(lz.security_ou), lz.sandbox_ou].into_iter().flatten() {
        s.provides.push(Fact::OuExists(ou));
        s.provides.push(Fact::OuRegistered(ou));
    }
    // The log archive and audit accounts exist before (a precondition: the manifest takes
    // their ids); enrolling them creates AWSControlTowerExecution in them.
    for a in [lz.log_archive, lz.audit] {
        let [_, role] = control_tower_account(AccountRef::Account(a));
        s.provides.push(role);
    }
    Ok(s)
}

/// What Control Tower makes true when it creates or enrols an account.
fn control_tower_account(a: AccountRef) -> [Fact; 2] {
    [
        Fact::AccountExists(a),
        Fact::Role {
            account: a,
            name: CONTROL_TOWER_EXECUTION_ROLE.to_owned(),
        },
    ]
}

fn governance(p: &Platform, ct: &ControlTower) -> Result<Option<Stack>, EmitError> {
    let id = StackId::new(Area::ControlTower, "governance");
    let path = id.path();
    let path = path.as_str();
    let mut t = Template::new(format!(
        "{}: Control Tower baselines and controls per OU. Deploy in the management account, home region.",
        p.organization.name
    ));
    let mut params = Vec::new();
    let home = &p.organization.home_region;
    let mut baselines: BTreeMap<usize, LogicalId> = BTreeMap::new();
    let mut order = Vec::new();
    let mut provides = Vec::new();
    // Every OU mlz creates is registered with Control Tower, parents first.
    for (i, ou) in p.ous.iter().enumerate() {
        if ou.created_by != CreatedBy::Mlz {
            continue;
        }
        provides.push(Fact::OuRegistered(OuIdx(i)));
        let lid = LogicalId::derive("Baseline", &ou.name).map_err(|e| bug(path, e))?;
        let target = use_ident(p, ou_arn_ident(p, OuIdx(i))?, &mut t, &mut params)?;
        let ic = match &ct.identity_center_baseline_arn {
            Some(arn) => Value::str(arn.clone()),
            None => use_ident(
                p,
                Ident::Param {
                    id: LogicalId::new("IdentityCenterEnabledBaselineArn").map_err(|e| bug(path, e))?,
                    description: "ARN of the enabled IdentityCenterBaseline (aws controltower list-enabled-baselines), when the landing zone manages IAM Identity Center".into(),
                    pattern: "^arn:aws[0-9a-zA-Z_\\-:/]+$",
                    lookup: Lookup::EnabledBaselineArn("IdentityCenterBaseline"),
                },
                &mut t,
                &mut params,
            )?,
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
        let target = use_ident(p, ou_arn_ident(p, oc.ou)?, &mut t, &mut params)?;
        for c in &oc.controls {
            let short = c.arn.rsplit('/').next().unwrap_or(&c.arn);
            let lid = LogicalId::derive("Control", &format!("{} {short}", ou.name))
                .map_err(|e| bug(path, e))?;
            let mut r = Resource::new(CT_ENABLED_CONTROL)
                .prop("ControlIdentifier", c.arn.as_str())
                .prop("TargetIdentifier", target.clone());
            if !c.parameters.is_empty() {
                let ps = c
                    .parameters
                    .iter()
                    .map(|(k, v)| {
                        let v = Value::from_json(v)
                            .map_err(|e| bug(path, format!("control parameter {k}: {e}")))?;
                        Ok(Value::map([("Key", Value::str(k.clone())), ("Value", v)]))
                    })
                    .collect::<Result<Vec<_>, EmitError>>()?;
                r = r.prop("Parameters", Value::List(ps));
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
    let mut s = new_stack(p, id, t);
    s.limit_hint = "enable fewer controls per OU (each control on each OU is one resource)";
    s.parameters = params;
    s.provides = provides;
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
    let hub_ref = AccountRef::Account(hub);
    // 1. The blueprint templates, uploaded under a key named by their content.
    let mut versions = Vec::new();
    for b in &ct.blueprints {
        let template = blueprint_template(p, b)?;
        let version = content_version(&template);
        // One key whatever the output format, so YAML and JSON output describe the same products.
        let key = format!("blueprints/{}/{version}.template", b.name);
        let id = StackId::new(Area::Blueprints, b.name.clone());
        let mut s = new_stack(p, id.clone(), template);
        s.account = hub_ref;
        s.deploy = DeployKind::AfcBlueprint;
        s.upload = Some(Upload { key: key.clone() });
        s.parameters = blueprint_params(b);
        versions.push((version, key, id));
        out.stacks.push(s);
    }

    // 2. The role AFC assumes in the hub, delivered by a StackSet: in an enrolled account,
    // Control Tower's mandatory SCP lets only AWSControlTowerExecution or stacksets-exec-*
    // create a role whose name contains AWSControlTower.
    blueprint_access(p, hub, out)?;

    // 3. The hub: the portfolio and one product per blueprint.
    let id = StackId::new(Area::ControlTower, "blueprint-hub");
    let path = id.path();
    let path = path.as_str();
    let mut t = Template::new(format!(
        "{}: the AFC blueprint hub (portfolio, one product per blueprint; Control Tower reads it through role {BLUEPRINT_ACCESS_ROLE}). Deploy in the hub account ({}), home region.",
        p.organization.name,
        account_name(p, hub)
    ));
    let mut params: Vec<StackParam> = Vec::new();
    let mgmt = use_ident(
        p,
        account_ref_ident(p, AccountRef::Management)?,
        &mut t,
        &mut params,
    )?;
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
            .prop("AccountId", mgmt),
    )
    .map_err(|e| bug(path, e))?;
    let mut requires = Vec::new();
    for (bi, (b, (version, key, bid))) in ct.blueprints.iter().zip(&versions).enumerate() {
        let pid = LogicalId::derive("Blueprint", &b.name).map_err(|e| bug(path, e))?;
        let product = Resource::new(SC_PRODUCT)
            .prop("Name", b.name.as_str())
            .prop("Owner", "Cloud platform team")
            .prop("Description", truncate(&b.description, 8000))
            .prop(
                "ProvisioningArtifactParameters",
                crate::common::artifact_parameters(p, version, key)?,
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
                export: exports::export(p, &ExportKey::BlueprintProduct(bi))?,
                condition: None,
            },
        )
        .map_err(|e| bug(path, e))?;
        requires.push(need(Fact::Uploaded(bid.clone()), &rules::UPLOAD_FIRST));
    }
    let mut s = new_stack(p, id, t);
    s.account = hub_ref;
    s.parameters = params;
    s.requires = requires;
    out.stacks.push(s);
    Ok(())
}

/// The template of the AFC hub's blueprint access role: trusted by Control Tower's service
/// role, the principal that provisions accounts and the one that applies blueprints in the
/// console, with Service Catalog administration and S3 reads. Its parameters too.
fn blueprint_access_role(
    p: &Platform,
    hub: AccountIdx,
    rpath: &str,
) -> Result<(Template, Vec<StackParam>), EmitError> {
    let mut rt = Template::new(format!(
        "{}: role {BLUEPRINT_ACCESS_ROLE}, which Control Tower assumes to read AFC blueprints in the hub account ({}). Deployed by a StackSet.",
        p.organization.name,
        account_name(p, hub)
    ));
    let mut rparams = Vec::new();
    let mgmt = use_ident(
        p,
        account_ref_ident(p, AccountRef::Management)?,
        &mut rt,
        &mut rparams,
    )?;
    let principal = |suffix: &str| {
        Value::SubWith(
            format!("arn:${{AWS::Partition}}:iam::${{Management}}:{suffix}"),
            BTreeMap::from([("Management".to_owned(), mgmt.clone())]),
        )
    };
    // The AFC guide's trust: Control Tower's service role, and the principal that provisions
    // accounts. That principal may be a pattern (an Identity Center role has a generated
    // suffix), so it is the management account with an ArnLike condition, not `:root` alone.
    let vending = principal_parameter(
        &mut rt,
        &mut rparams,
        "VendingPrincipalArn",
        VENDING_PRINCIPAL_DESCRIPTION,
        None,
        Some(Lookup::PipelineDeployRoleArn),
        rpath,
    )?;
    // The AFC guide trusts the principal that applies blueprints in the Control Tower
    // console; that is a person's role, which need not be the pipeline's.
    let console = principal_parameter(
        &mut rt,
        &mut rparams,
        "BlueprintPrincipalArn",
        BLUEPRINT_PRINCIPAL_DESCRIPTION,
        None,
        Some(Lookup::External),
        rpath,
    )?;
    let role = Resource::new(IAM_ROLE)
        .prop("RoleName", BLUEPRINT_ACCESS_ROLE)
        .prop("Description", "Lets Control Tower (AFC) read the blueprints in this hub account and share them with new accounts.")
        .prop(
            "AssumeRolePolicyDocument",
            Value::map([
                ("Version", Value::str(mlz_model::aws::IAM_POLICY_VERSION)),
                (
                    "Statement",
                    Value::List(vec![
                        Value::map([
                            ("Sid", Value::str("ControlTower")),
                            ("Effect", Value::str("Allow")),
                            (
                                "Principal",
                                Value::map([("AWS", principal("role/service-role/AWSControlTowerAdmin"))]),
                            ),
                            ("Action", Value::str("sts:AssumeRole")),
                        ]),
                        Value::map([
                            ("Sid", Value::str("VendingPrincipal")),
                            ("Effect", Value::str("Allow")),
                            ("Principal", Value::map([("AWS", principal("root"))])),
                            ("Action", Value::str("sts:AssumeRole")),
                            (
                                "Condition",
                                Value::map([(
                                    "ArnLike",
                                    Value::map([(
                                        "aws:PrincipalArn",
                                        Value::List(vec![vending, console]),
                                    )]),
                                )]),
                            ),
                        ]),
                    ]),
                ),
            ]),
        )
        .prop(
            "ManagedPolicyArns",
            Value::List(vec![
                managed_policy(managed_policies::AWS_SERVICE_CATALOG_ADMIN_FULL_ACCESS),
                managed_policy(managed_policies::AMAZON_S3_READ_ONLY_ACCESS),
            ]),
        );
    rt.add_resource(
        LogicalId::new("BlueprintAccessRole").map_err(|e| bug(rpath, e))?,
        role,
    )
    .map_err(|e| bug(rpath, e))?;
    Ok((rt, rparams))
}

/// `AWSControlTowerBlueprintAccess` in the hub account, as the AFC guide gives it: trusted by
/// the management account's `service-role/AWSControlTowerAdmin` and by the management account
/// (whose principals provision accounts), with `AWSServiceCatalogAdminFullAccess` and
/// `AmazonS3ReadOnlyAccess` (the blueprints load from S3). A service-managed StackSet in the
/// management account creates it: its `stacksets-exec-*` role is exempt from Control Tower's
/// role-protection SCP, which a plain stack in the enrolled hub account is not.
fn blueprint_access(p: &Platform, hub: AccountIdx, out: &mut Emitted) -> Result<(), EmitError> {
    let role_id = StackId::new(Area::ControlTower, "blueprint-access-role");
    let holder_id = StackId::new(Area::ControlTower, "blueprint-access");
    let rpath = role_id.path();
    let (rt, rparams) = blueprint_access_role(p, hub, &rpath)?;
    let version = content_version(&rt);
    let key = format!("{rpath}/{version}.template");

    // The StackSet, in the management account, aimed at the hub account only.
    let hpath = holder_id.path();
    let mut t = Template::new(format!(
        "{}: the service-managed StackSet that creates {BLUEPRINT_ACCESS_ROLE} in the hub account ({}). Deploy in the management account, home region.",
        p.organization.name,
        account_name(p, hub)
    ));
    let mut params = Vec::new();
    let hub_ou = p.account(hub).ou;
    let ou_id = use_ident(p, ou_ident(p, hub_ou)?, &mut t, &mut params)?;
    let hub_id = use_ident(
        p,
        account_ref_ident(p, AccountRef::Account(hub))?,
        &mut t,
        &mut params,
    )?;
    let set_id = LogicalId::new("BlueprintAccessStackSet").map_err(|e| bug(&hpath, e))?;
    // The holder runs in the management account: its own id is the management account's.
    // The vending principal is the account-factory stack's parameter, taken from its export
    // as a parameter here (not an import, which would lock the export against change); the
    // console principal is this stack's own parameter.
    let vending_value = principal_parameter(
        &mut t,
        &mut params,
        "VendingPrincipalArn",
        VENDING_PRINCIPAL_DESCRIPTION,
        Some(ExportRef {
            key: ExportKey::VendingPrincipal,
            account: AccountRef::Management,
            region: p.organization.home_region.clone(),
        }),
        None,
        &hpath,
    )?;
    let console_value = principal_parameter(
        &mut t,
        &mut params,
        "BlueprintPrincipalArn",
        BLUEPRINT_PRINCIPAL_DESCRIPTION,
        None,
        Some(Lookup::External),
        &hpath,
    )?;
    let mut parameters = vec![
        Value::map([
            ("ParameterKey", Value::str("VendingPrincipalArn")),
            ("ParameterValue", vending_value),
        ]),
        Value::map([
            ("ParameterKey", Value::str("BlueprintPrincipalArn")),
            ("ParameterValue", console_value),
        ]),
    ];
    if rparams.iter().any(|x| x.name == "ManagementAccountId") {
        parameters.push(Value::map([
            ("ParameterKey", Value::str("ManagementAccountId")),
            ("ParameterValue", Value::Pseudo(mlz_cfn::Pseudo::AccountId)),
        ]));
    }
    let parameters = Value::List(parameters);
    let mut set = Resource::new(CFN_STACK_SET)
        .prop(
            "StackSetName",
            role_id.stack_name(&p.organization.stack_prefix),
        )
        .prop(
            "Description",
            rt.description.chars().take(1024).collect::<String>(),
        )
        .prop("PermissionModel", "SERVICE_MANAGED")
        .prop(
            "AutoDeployment",
            crate::common::plain(json!({ "Enabled": false })),
        )
        .prop("Capabilities", Value::list_of_str(["CAPABILITY_NAMED_IAM"]))
        .prop(
            "ManagedExecution",
            crate::common::plain(json!({ "Active": true })),
        )
        .prop(
            "StackInstancesGroup",
            Value::List(vec![Value::map([
                (
                    "DeploymentTargets",
                    Value::map([
                        ("OrganizationalUnitIds", Value::List(vec![ou_id])),
                        ("Accounts", Value::List(vec![hub_id])),
                        ("AccountFilterType", Value::str("INTERSECTION")),
                    ]),
                ),
                (
                    "Regions",
                    Value::list_of_str([p.organization.home_region.clone()]),
                ),
            ])]),
        )
        .prop("TemplateURL", template_url(p, &key)?);
    set = set.prop("Parameters", parameters);
    t.add_resource(set_id.clone(), set)
        .map_err(|e| bug(&hpath, e))?;

    let mut rs = new_stack(p, role_id.clone(), rt);
    rs.deploy = DeployKind::StackSet;
    rs.upload = Some(Upload { key });
    rs.parameters = crate::common::passed_by_stack_set(rparams);
    rs.stack_set = Some(StackSetTargets {
        holder: holder_id.clone(),
        resource: set_id,
        ous: vec![hub_ou],
        accounts: vec![AccountRef::Account(hub)],
        regions: vec![p.organization.home_region.clone()],
        auto_deployment: false,
    });
    out.stacks.push(rs);

    let mut hs = new_stack(p, holder_id, t);
    hs.parameters = params;
    hs.requires = vec![
        need(Fact::Uploaded(role_id), &rules::UPLOAD_FIRST),
        need(
            Fact::TrustedAccess(crate::plan::Service::StackSets),
            &rules::STACKSETS_TRUSTED_ACCESS,
        ),
        need(
            Fact::AccountExists(AccountRef::Account(hub)),
            &rules::ACCOUNT_FIRST,
        ),
    ];
    hs.provides = vec![Fact::Role {
        account: AccountRef::Account(hub),
        name: BLUEPRINT_ACCESS_ROLE.to_owned(),
    }];
    out.stacks.push(hs);
    crate::common::require_stack_sets(out);
    Ok(())
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

/// The manifest's view of a blueprint's parameters: who fills them, with what.
pub(crate) fn blueprint_params(b: &Blueprint) -> Vec<StackParam> {
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
            lookup: None,
        })
        .collect()
}

/// Service Catalog's IAM_PATTERN takes a role ARN without its account id
/// (`arn:aws:iam:::role/...`): rebuilt from the role ARN at deploy time.
fn iam_pattern_of(role_arn: &Value) -> Value {
    let split = Value::Call(
        mlz_cfn::Func::Split,
        Box::new(Value::List(vec![Value::str(":"), role_arn.clone()])),
    );
    let part = |i: i64| {
        Value::Call(
            mlz_cfn::Func::Select,
            Box::new(Value::List(vec![Value::Int(i), split.clone()])),
        )
    };
    Value::Join(
        ":".into(),
        vec![
            part(0),
            part(1),
            part(2),
            Value::str(""),
            Value::str(""),
            part(5),
        ],
    )
}

/// The stack that looks up the Account Factory product, its active provisioning artifact and
/// its portfolio (as AFT does: DescribeProductAsAdmin, then the first artifact that is
/// Active), and grants the vending principal access to that portfolio.
fn account_factory(p: &Platform, ct: &ControlTower) -> Result<Stack, EmitError> {
    let id = StackId::new(Area::ControlTower, "account-factory");
    let path = id.path();
    let path = path.as_str();
    let mut t = Template::new(format!(
        "{}: the Account Factory lookup (product, active provisioning artifact, portfolio) and the vending principal's access to its portfolio. Deploy in the management account, home region.",
        p.organization.name
    ));
    let function = custom_function(
        &mut t,
        CustomFunction {
            name: "AccountFactoryLookup",
            function_id: Some("AccountFactoryLookup"),
            role_description: "Reads the Account Factory product, its artifacts and its portfolio; nothing else.",
            policy_name: "read-account-factory",
            statements: vec![Value::map([
                ("Effect", Value::str("Allow")),
                (
                    "Action",
                    Value::list_of_str([
                        "servicecatalog:DescribeProductAsAdmin",
                        "servicecatalog:DescribeProvisioningArtifact",
                        "servicecatalog:ListPortfoliosForProduct",
                    ]),
                ),
                (
                    "Resource",
                    Value::Sub("arn:${AWS::Partition}:catalog:${AWS::Region}:${AWS::AccountId}:product/*".into()),
                ),
            ])],
            description: "Returns the Account Factory's product id, active provisioning artifact id and portfolio id, found as AFT finds them.",
            timeout: 60,
            code: ACCOUNT_FACTORY_LOOKUP_CODE,
        },
        path,
    )?;
    // Account tags: the Account Factory takes none, so a second function puts the config's
    // tags on each vended account (Organizations TagResource) and keeps them in step.
    let tagger = custom_function(
        &mut t,
        CustomFunction {
            name: "AccountTagger",
            function_id: Some("AccountTagger"),
            role_description: "Tags the accounts the Account Factory vends; nothing else.",
            policy_name: "tag-accounts",
            statements: vec![Value::map([
                ("Effect", Value::str("Allow")),
                (
                    "Action",
                    Value::list_of_str([
                        "organizations:TagResource",
                        "organizations:UntagResource",
                        "organizations:ListTagsForResource",
                    ]),
                ),
                (
                    "Resource",
                    Value::str("arn:aws:organizations::*:account/o-*/*"),
                ),
            ])],
            description: "Puts the config's tags on an account the Account Factory vended (it takes no tags), and removes the ones the config dropped.",
            timeout: 60,
            code: ACCOUNT_TAGGER_CODE,
        },
        path,
    )?;
    t.add_output(
        LogicalId::new("AccountTaggerArn").map_err(|e| bug(path, e))?,
        Output {
            description: Some("The account tagger (the vending stacks' custom resource)".into()),
            value: Value::GetAtt(tagger, "Arn".into()),
            export: exports::export(p, &ExportKey::AccountTagger)?,
            condition: None,
        },
    )
    .map_err(|e| bug(path, e))?;
    let lookup = LogicalId::new("AccountFactory").map_err(|e| bug(path, e))?;
    t.add_resource(
        lookup.clone(),
        Resource::new(CUSTOM_ACCOUNT_FACTORY_ARTIFACT)
            .prop(
                "ServiceToken",
                Value::GetAtt(function.clone(), "Arn".into()),
            )
            .prop("ProductName", ct.account_factory_product.as_str()),
    )
    .map_err(|e| bug(path, e))?;
    let mut params = Vec::new();
    let principal = principal_parameter(
        &mut t,
        &mut params,
        "VendingPrincipalArn",
        VENDING_PRINCIPAL_DESCRIPTION,
        None,
        Some(Lookup::PipelineDeployRoleArn),
        path,
    )?;
    let pattern = iam_pattern_of(&principal);
    t.add_resource(
        LogicalId::new("VendingPrincipalAccess").map_err(|e| bug(path, e))?,
        Resource::new(SC_PORTFOLIO_PRINCIPAL)
            .prop("PortfolioId", Value::GetAtt(lookup, "PortfolioId".into()))
            .prop("PrincipalType", "IAM_PATTERN")
            .prop("PrincipalARN", pattern),
    )
    .map_err(|e| bug(path, e))?;
    t.add_output(
        LogicalId::new("VendingPrincipalArn").map_err(|e| bug(path, e))?,
        Output {
            description: Some(
                "The principal that provisions accounts (trusted by the AFC hub role)".into(),
            ),
            value: principal,
            export: exports::export(p, &ExportKey::VendingPrincipal)?,
            condition: None,
        },
    )
    .map_err(|e| bug(path, e))?;
    t.add_output(
        LogicalId::new("AccountFactoryLookupArn").map_err(|e| bug(path, e))?,
        Output {
            description: Some(
                "The Account Factory lookup function (the vending stacks' custom resource)".into(),
            ),
            value: Value::GetAtt(function, "Arn".into()),
            export: exports::export(p, &ExportKey::AccountFactoryLookup)?,
            condition: None,
        },
    )
    .map_err(|e| bug(path, e))?;
    let mut s = new_stack(p, id, t);
    s.requires.push(need(
        Fact::ControlTowerRegions,
        &rules::CONTROL_TOWER_REGIONS,
    ));
    s.parameters = params;
    s.provides = vec![Fact::AccountFactoryAccess];
    Ok(s)
}

const ACCOUNT_FACTORY_LOOKUP_CODE: &str = r#"import boto3
import cfnresponse

sc = boto3.client("servicecatalog")
PORTFOLIO = "AWS Control Tower Account Factory Portfolio"


def lookup(name):
    # As AFT's get_ct_provisioning_artifact_id: DescribeProductAsAdmin by name, then the
    # provisioning artifacts that are Active (the name alone can match an inactive one).
    # Several active ones: the DEFAULT guidance first, then the newest.
    product = sc.describe_product_as_admin(Name=name)
    product_id = product["ProductViewDetail"]["ProductViewSummary"]["ProductId"]
    active = []
    for summary in product["ProvisioningArtifactSummaries"]:
        try:
            detail = sc.describe_provisioning_artifact(
                ProductId=product_id, ProvisioningArtifactId=summary["Id"]
            )["ProvisioningArtifactDetail"]
        except Exception as error:
            # An artifact being removed is gone by now: skip it, as AFT does.
            if getattr(error, "response", {}).get("Error", {}).get("Code") == "ResourceNotFoundException":
                continue
            raise
        if detail.get("Active"):
            active.append(detail)
    if not active:
        raise RuntimeError(f"product {name} has no active provisioning artifact")
    active.sort(key=lambda d: (d.get("Guidance") == "DEFAULT", str(d.get("CreatedTime"))), reverse=True)
    portfolios, token = [], None
    while True:
        page = sc.list_portfolios_for_product(ProductId=product_id, **({"PageToken": token} if token else {}))
        portfolios.extend(page["PortfolioDetails"])
        token = page.get("NextPageToken")
        if not token:
            break
    named = [p for p in portfolios if p.get("DisplayName") == PORTFOLIO]
    if not named:
        raise RuntimeError(f"no portfolio named {PORTFOLIO} holds product {name}")
    return {
        "ProductId": product_id,
        "ProvisioningArtifactId": active[0]["Id"],
        "PortfolioId": named[0]["Id"],
    }


def handler(event, context):
    physical = event.get("PhysicalResourceId", "account-factory")
    try:
        if event["RequestType"] == "Delete":
            cfnresponse.send(event, context, cfnresponse.SUCCESS, {}, physical)
            return
        data = lookup(event["ResourceProperties"]["ProductName"])
        cfnresponse.send(event, context, cfnresponse.SUCCESS, data, "account-factory")
    except Exception as error:  # report, never hang the stack
        cfnresponse.send(event, context, cfnresponse.FAILED, {}, physical, reason=str(error)[:1000])
"#;

/// A parameter that takes a management-account role ARN (patterns allowed), declared in the
/// template and listed for the manifest; `export` when its value is another stack's export.
fn principal_parameter(
    t: &mut Template,
    params: &mut Vec<StackParam>,
    name: &str,
    description: &str,
    export: Option<ExportRef>,
    lookup: Option<Lookup>,
    path: &str,
) -> Result<Value, EmitError> {
    let id = LogicalId::new(name).map_err(|e| bug(path, e))?;
    let mut prm = mlz_cfn::Parameter::string(description);
    prm.allowed_pattern = Some(VENDING_PRINCIPAL_PATTERN.into());
    prm.constraint_description =
        Some("an IAM role ARN of the management account; * and ? allowed".into());
    t.add_parameter(id.clone(), prm).map_err(|e| bug(path, e))?;
    params.push(StackParam {
        name: name.into(),
        description: description.into(),
        value: None,
        from_export: export,
        lookup,
    });
    Ok(Value::Ref(id))
}

const VENDING_PRINCIPAL_DESCRIPTION: &str = "ARN of the management-account role that provisions and updates accounts: the role your pipeline deploys the vending stacks as, or the administrators' Identity Center role (arn:<partition>:iam::<management id>:role/aws-reserved/sso.amazonaws.com/*AWSReservedSSO_AdministratorAccess_*). It gets the Account Factory portfolio; it also needs organizations:CreateAccount, organizations:DescribeCreateAccountStatus and Service Catalog end-user rights, which administrators have.";
const BLUEPRINT_PRINCIPAL_DESCRIPTION: &str = "ARN of the management-account role people use in the Control Tower console to create or update accounts with an AFC blueprint, usually the administrators' Identity Center role (arn:<partition>:iam::<management id>:role/aws-reserved/sso.amazonaws.com/*AWSReservedSSO_AdministratorAccess_*): the AFC hub role trusts it.";
const VENDING_PRINCIPAL_PATTERN: &str =
    "^arn:aws[a-z-]*:iam::[0-9]{12}:role/[A-Za-z0-9+=,.@_/*?-]+$";

/// Team vending stacks per `organization.teamAccountStacks` (frozen: changing it moves
/// vended accounts between stacks).
const VENDING_SPREAD: u32 = 5;
/// Platform (declared) accounts are spread over this many vending stacks.
const DECLARED_VENDING_STACKS: u32 = 5;

/// Which vending stack an account belongs to.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Group {
    Platform(usize),
    Team(usize),
    /// A stack the lock names for the account.
    Locked(String),
}

/// The vending stack of a vended account: the lock's, or a fixed hash of its team's name (team
/// accounts) or its key (platform accounts).
fn vending_group(p: &Platform, i: AccountIdx) -> Group {
    let a = p.account(i);
    if let Some(name) = p.locked_vending.get(&a.key) {
        return Group::Locked(name.clone());
    }
    let buckets = p.organization.team_account_stacks * VENDING_SPREAD;
    match &a.team {
        Some((t, _)) => Group::Team(bucket_of(&p.team(*t).name, buckets)),
        None => Group::Platform(bucket_of(&a.key, DECLARED_VENDING_STACKS)),
    }
}

fn group_name(g: &Group, buckets: u32) -> String {
    match g {
        Group::Platform(b) => format!(
            "vending-accounts-{}",
            bucket_label(*b, DECLARED_VENDING_STACKS)
        ),
        Group::Team(b) => format!("vending-team-accounts-{}", bucket_label(*b, buckets)),
        Group::Locked(name) => name.clone(),
    }
}

/// Each vended account's vending stack name, for the lock.
pub fn vending_stacks(p: &Platform) -> Vec<(String, String)> {
    if !p.control_tower.as_ref().is_some_and(|c| c.enabled) {
        return Vec::new();
    }
    let buckets = p.organization.team_account_stacks * VENDING_SPREAD;
    (0..p.accounts.len())
        .map(AccountIdx)
        .filter(|&i| {
            let a = p.account(i);
            a.created_by == CreatedBy::Mlz && a.id.is_none()
        })
        .map(|i| {
            (
                p.account(i).key.clone(),
                group_name(&vending_group(p, i), buckets),
            )
        })
        .collect()
}

const ACCOUNT_TAGGER_CODE: &str = r#"import boto3
import cfnresponse
from botocore.config import Config

# Organizations throttles tagging hard, and several stacks tag at once.
org = boto3.client("organizations", config=Config(retries={"mode": "adaptive", "max_attempts": 10}))


def tags(props):
    return {t["Key"]: t["Value"] for t in props.get("Tags", [])}


def handler(event, context):
    physical = event.get("PhysicalResourceId", "tags")
    try:
        props = event["ResourceProperties"]
        account = props["AccountId"]
        physical = f"tags-{account}"
        if event["RequestType"] != "Delete":
            want = tags(props)
            old = tags(event.get("OldResourceProperties", {}))
            gone = [k for k in old if k not in want]
            if gone:
                org.untag_resource(ResourceId=account, TagKeys=gone)
            if want:
                org.tag_resource(
                    ResourceId=account, Tags=[{"Key": k, "Value": v} for k, v in want.items()]
                )
        # On delete the account stays (it is retained), and so do its tags.
        cfnresponse.send(event, context, cfnresponse.SUCCESS, {}, physical)
    except Exception as error:  # report, never hang the stack
        cfnresponse.send(event, context, cfnresponse.FAILED, {}, physical, reason=str(error)[:1000])
"#;

/// Tags of accounts mlz does not vend (Control Tower's own, or ones that exist already): the
/// same tagger, from the management account, once the accounts are known.
fn existing_account_tags(p: &Platform) -> Result<Option<Stack>, EmitError> {
    let id = StackId::new(Area::ControlTower, "account-tags");
    let path = id.path();
    let mut t = Template::new(format!(
        "{}: the config's tags on the accounts mlz does not vend (Control Tower's, and those that exist already). Deploy in the management account, home region.",
        p.organization.name
    ));
    let mut params = Vec::new();
    let mut requires = Vec::new();
    for (i, a) in p.accounts.iter().enumerate() {
        let vended = a.created_by == CreatedBy::Mlz && a.id.is_none();
        if vended || a.tags.is_empty() {
            continue;
        }
        let r = AccountRef::Account(AccountIdx(i));
        let account_id = use_ident(p, account_ref_ident(p, r)?, &mut t, &mut params)?;
        t.add_resource(
            LogicalId::new(format!("{}Tags", a.logical_id)).map_err(|e| bug(&path, e))?,
            Resource::new(CUSTOM_ACCOUNT_TAGS)
                .prop("ServiceTimeout", crate::common::service_timeout(60))
                .prop(
                    "ServiceToken",
                    exports::import(p, &ExportKey::AccountTagger)?,
                )
                .prop("AccountId", account_id)
                .prop("Tags", Value::tags(&a.tags)),
        )
        .map_err(|e| bug(&path, e))?;
        requires.push(need(Fact::AccountExists(r), &rules::ACCOUNT_TAGS));
    }
    if t.resources.is_empty() {
        return Ok(None);
    }
    let mut s = new_stack(p, id, t);
    s.parameters = params;
    s.requires = requires;
    Ok(Some(s))
}

/// A vending stack before it is placed in a lane: its id, template and what it knows.
struct Vending {
    stack: Stack,
    products: Vec<LogicalId>,
}

/// An account's Account Factory provisioned product, on the artifact `lookup` found. Retained:
/// terminating it would take the account out of Control Tower.
fn provisioned_account(
    p: &Platform,
    a: &mlz_model::Account,
    lookup: &LogicalId,
    t: &mut Template,
    params: &mut Vec<StackParam>,
) -> Result<Resource, EmitError> {
    let ou = p.ou(a.ou);
    let ou_id = use_ident(p, ou_ident(p, a.ou)?, t, params)?;
    // The Account Factory names an OU as "Name (ou-id)".
    let managed_ou = Value::Join(
        String::new(),
        vec![Value::str(format!("{} (", ou.name)), ou_id, Value::str(")")],
    );
    let kv = |k: &str, v: Value| Value::map([("Key", Value::str(k)), ("Value", v)]);
    let r = Resource::new(SC_PROVISIONED_PRODUCT)
        .prop(
            "ProductId",
            Value::GetAtt(lookup.clone(), "ProductId".into()),
        )
        .prop(
            "ProvisioningArtifactId",
            Value::GetAtt(lookup.clone(), "ProvisioningArtifactId".into()),
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
    Ok(r)
}

/// The custom resource that tags an account (the Account Factory does not pass tags on).
fn account_tags(
    p: &Platform,
    a: &mlz_model::Account,
    lid: &LogicalId,
    t: &mut Template,
    path: &str,
) -> Result<(), EmitError> {
    let tags_id = LogicalId::new(format!("{lid}Tags")).map_err(|e| bug(path, e))?;
    t.add_resource(
        tags_id,
        Resource::new(CUSTOM_ACCOUNT_TAGS)
            .prop("ServiceTimeout", crate::common::service_timeout(60))
            .prop(
                "ServiceToken",
                exports::import(p, &ExportKey::AccountTagger)?,
            )
            .prop(
                "AccountId",
                Value::GetAtt(lid.clone(), "Outputs.AccountId".into()),
            )
            .prop("Tags", Value::tags(&a.tags)),
    )
    .map_err(|e| bug(path, e))?;
    Ok(())
}

/// Each stack provisions its accounts one after another; the stacks are spread over
/// `accountFactoryConcurrency` lanes that run side by side, so at most that many account
/// operations are in flight. Within a lane, stacks follow each other in path order.
fn place_in_lanes(stacks: &mut [Vending], concurrency: u32) {
    let paths: Vec<String> = stacks.iter().map(|v| v.stack.id.path()).collect();
    let items: Vec<(&str, u32)> = stacks
        .iter()
        .zip(&paths)
        .map(|(v, path)| (path.as_str(), v.products.len() as u32))
        .collect();
    let lane_of = lanes::partition(&items, concurrency);
    let mut next_seq: BTreeMap<u32, u32> = BTreeMap::new();
    for (v, lane) in stacks.iter_mut().zip(lane_of) {
        chain(&mut v.stack.template, &v.products);
        let seq = next_seq.entry(lane).or_insert(0);
        let resource = Limited::AccountFactory;
        v.stack.provides.push(Fact::Slot {
            resource,
            lane,
            seq: *seq,
        });
        if *seq > 0 {
            v.stack.requires.push(need(
                Fact::Slot {
                    resource,
                    lane,
                    seq: *seq - 1,
                },
                &rules::ACCOUNT_OPERATIONS,
            ));
        }
        *seq += 1;
    }
}

/// What every vending stack is made from.
struct VendingCx<'x> {
    p: &'x Platform,
    ct: &'x ControlTower,
    /// Each attached account's VPC range in the home region (the blueprints' VpcCidr).
    vpc_ranges: &'x HashMap<AccountIdx, String>,
    blueprint_docs: &'x [serde_json::Value],
    tgw: Option<&'x ExportRef>,
}

/// One vending stack: its accounts' provisioned products (looking the active Account Factory
/// artifact up once), their tags and outputs, and each account's vending request document.
fn vending_stack(
    cx: &VendingCx<'_>,
    name: &str,
    group: &Group,
    accounts: &[AccountIdx],
    refs: &mut Vec<ExportRef>,
    out: &mut Emitted,
) -> Result<Vending, EmitError> {
    let VendingCx {
        p,
        ct,
        vpc_ranges,
        blueprint_docs,
        tgw,
    } = *cx;
    let id = StackId::new(Area::ControlTower, name);
    let path = id.path();
    let mut t = Template::new(format!(
        "{}: accounts vended through the Control Tower Account Factory{}. Deploy in the management account, home region.",
        p.organization.name,
        // From the name alone, so that the lock (which keeps the name) never changes it.
        match name.rsplit_once('-') {
            Some((kind, n)) if kind.ends_with("team-accounts") => format!(" (team accounts, group {n})"),
            Some((_, n)) => format!(" (platform accounts, group {n})"),
            None => String::new(),
        }
    ));
    let mut params = Vec::new();
    let mut order = Vec::new();
    let mut provides = Vec::new();
    let mut requires = vec![
        need(Fact::AccountFactoryAccess, &rules::ACCOUNT_FACTORY_ACCESS),
        // The lookup of the active artifact (imported below).
        need(
            Fact::Export {
                name: ExportKey::AccountFactoryLookup.name(p)?,
                account: AccountRef::Management,
                region: p.organization.home_region.clone(),
            },
            &rules::ACCOUNT_FACTORY_ARTIFACT,
        ),
    ];
    // The active artifact, looked up again whenever anything of this stack's accounts
    // changes (a property of the lookup hashes them all), never by name. An update of the
    // stack after Control Tower replaced the artifact (a landing-zone update) so moves every
    // account of the stack to the active one, one after another along the chain: the
    // account update Control Tower asks for then anyway, and the only artifact an update
    // may name (Service Catalog refuses inactive ones). A rollback looks up again and
    // gets the active artifact, never a retired one.
    let lookup = LogicalId::new("AccountFactory").map_err(|e| bug(&path, e))?;
    let mut spec = String::new();
    for &i in accounts {
        let a = p.account(i);
        spec.push_str(&format!(
            "{}\t{}\t{}\t{}\t{:?}\n",
            a.key,
            a.name,
            a.email,
            p.ou(a.ou).path,
            a.blueprint
        ));
    }
    t.add_resource(
        lookup.clone(),
        Resource::new(CUSTOM_ACCOUNT_FACTORY_ARTIFACT)
            .prop(
                "ServiceToken",
                exports::import(p, &ExportKey::AccountFactoryLookup)?,
            )
            .prop("ProductName", ct.account_factory_product.as_str())
            .prop(
                "Accounts",
                format!("{:016x}", crate::common::stable_hash(&spec)),
            ),
    )
    .map_err(|e| bug(&path, e))?;
    for &i in accounts {
        let a = p.account(i);
        let lid = account_logical_id(a)?;
        let r = provisioned_account(p, a, &lookup, &mut t, &mut params)?;
        t.add_resource(lid.clone(), r).map_err(|e| bug(&path, e))?;
        t.add_output(
            LogicalId::new(format!("{lid}Id")).map_err(|e| bug(&path, e))?,
            Output {
                description: Some(format!("Account id of {}", a.name)),
                value: Value::GetAtt(lid.clone(), "Outputs.AccountId".into()),
                export: exports::export(p, &ExportKey::AccountId(i))?,
                condition: None,
            },
        )
        .map_err(|e| bug(&path, e))?;
        if !a.tags.is_empty() {
            account_tags(p, a, &lid, &mut t, &path)?;
            let n = need(
                Fact::Export {
                    name: ExportKey::AccountTagger.name(p)?,
                    account: AccountRef::Management,
                    region: p.organization.home_region.clone(),
                },
                &rules::ACCOUNT_TAGS,
            );
            if !requires.contains(&n) {
                requires.push(n);
            }
        }
        order.push(lid);
        provides.extend(control_tower_account(AccountRef::Account(i)));
        for n in [
            need(Fact::OuExists(a.ou), &rules::OU_FIRST),
            need(Fact::OuRegistered(a.ou), &rules::BASELINE_BEFORE_VENDING),
        ] {
            if !requires.contains(&n) {
                requires.push(n);
            }
        }
        let (doc, doc_refs) =
            vending_request(p, ct, i, &id, blueprint_docs, vpc_ranges.get(&i), tgw)?;
        refs.extend(doc_refs.iter().cloned());
        out.documents.push(Document {
            path: format!("vending/{}.json", slug(&a.key)),
            value: doc,
            refs: doc_refs,
        });
    }
    let declared = matches!(group, Group::Platform(_))
        || matches!(&group, Group::Locked(n) if n.starts_with("vending-accounts-"));
    let mut s = new_stack(p, id, t);
    s.limit_hint = if declared {
        "declared accounts share five vending stacks (an output each, 200 at most): declare large fleets as teams, which are spread over organization.teamAccountStacks"
    } else {
        "raise organization.teamAccountStacks before the first deployment (it moves vended accounts between stacks)"
    };
    s.parameters = params;
    s.provides = provides;
    s.requires = requires;
    s.operations = Some((Limited::AccountFactory, order.len() as u32));
    s.contents = Some((
        "accounts",
        accounts
            .iter()
            .map(|&i| p.account(i).name.clone())
            .collect(),
    ));
    Ok(Vending {
        stack: s,
        products: order,
    })
}

fn vending(p: &Platform, ct: &ControlTower, out: &mut Emitted) -> Result<(), EmitError> {
    let vended: Vec<AccountIdx> = (0..p.accounts.len())
        .map(AccountIdx)
        .filter(|&i| {
            let a = p.account(i);
            a.created_by == CreatedBy::Mlz && a.id.is_none()
        })
        .collect();
    if vended.is_empty() {
        return Ok(());
    }
    out.stacks.push(account_factory(p, ct)?);
    if let Some(s) = existing_account_tags(p)? {
        out.stacks.push(s);
    }
    // Accounts are grouped into stacks by a fixed hash (of the team name for team accounts,
    // of the key for platform accounts), so a vended account never moves. The stacks are
    // small (VENDING_SPREAD times as many as organization.teamAccountStacks) because they are
    // the unit the Account Factory lanes are balanced with: whole stacks of ~20 accounts
    // balance five lanes to within an operation or two, stacks of ~100 do not.
    // The lock keeps each vended account in the stack it was vended from, even when
    // organization.teamAccountStacks changes (a move would vend the account again).
    let buckets = p.organization.team_account_stacks * VENDING_SPREAD;
    // By stack name: an account the lock keeps in a stack and a new one hashed to the same
    // stack share it (one template per stack, never two of one name).
    let mut groups: BTreeMap<String, (Group, Vec<AccountIdx>)> = BTreeMap::new();
    for &i in &vended {
        let g = vending_group(p, i);
        let e = groups
            .entry(group_name(&g, buckets))
            .or_insert_with(|| (g.clone(), Vec::new()));
        if matches!(e.0, Group::Locked(_)) && !matches!(g, Group::Locked(_)) {
            e.0 = g;
        }
        e.1.push(i);
    }
    // Each attached account's VPC range in the home region, from the address plan: it
    // fills the blueprint's VpcCidr parameter.
    let vpc_ranges: HashMap<AccountIdx, String> = p
        .network
        .iter()
        .flat_map(|n| n.ranges.iter())
        .filter(|r| r.region == p.organization.home_region)
        .filter_map(|r| Some((r.account, r.cidr?.to_string())))
        .collect();
    let mut refs: Vec<ExportRef> = Vec::new();
    let tgw = transit_gateway_ref(p);
    let mut blueprint_docs: Vec<serde_json::Value> = Vec::with_capacity(ct.blueprints.len());
    for (bi, b) in ct.blueprints.iter().enumerate() {
        let mut doc = blueprint_doc(p, ct, bi, b)?;
        if let Some(r) = &tgw {
            transit_gateway_source(p, r, &mut doc)?;
        }
        blueprint_docs.push(doc);
    }
    let mut stacks = Vec::new();
    let cx = VendingCx {
        p,
        ct,
        vpc_ranges: &vpc_ranges,
        blueprint_docs: &blueprint_docs,
        tgw: tgw.as_ref(),
    };
    for (name, (group, accounts)) in groups {
        let v = vending_stack(&cx, &name, &group, &accounts, &mut refs, out)?;
        stacks.push(v);
    }
    place_in_lanes(&mut stacks, ct.account_factory_concurrency);
    out.stacks.extend(stacks.into_iter().map(|v| v.stack));
    let with_blueprint: Vec<AccountIdx> = vended
        .iter()
        .copied()
        .filter(|&i| p.account(i).blueprint.is_some())
        .collect();
    if let (false, Some(hub)) = (with_blueprint.is_empty(), ct.hub) {
        let mut requires: Vec<Need> = with_blueprint
            .iter()
            .map(|&i| {
                need(
                    Fact::AccountExists(AccountRef::Account(i)),
                    &rules::OUTPUTS_FIRST,
                )
            })
            .collect();
        requires.push(need(
            Fact::Role {
                account: AccountRef::Account(hub),
                name: BLUEPRINT_ACCESS_ROLE.to_owned(),
            },
            &rules::OUTPUTS_FIRST,
        ));
        requires.push(need(
            Fact::Export {
                name: ExportKey::BlueprintProduct(0).name(p)?,
                account: AccountRef::Account(hub),
                region: p.organization.home_region.clone(),
            },
            &rules::OUTPUTS_FIRST,
        ));
        // The values the vending requests name by export (the Transit Gateway id, the
        // Security Tooling id...) must exist before anyone applies a blueprint with them.
        let mut named: Vec<&ExportRef> = refs
            .iter()
            .filter(|r| !matches!(r.key, ExportKey::AccountId(i) if with_blueprint.contains(&i)))
            .collect();
        named.sort();
        named.dedup();
        for r in named {
            requires.push(need(crate::plan::export_fact(p, r)?, &rules::EXPORT_FIRST));
        }
        let provides = vec![Fact::BlueprintsApplied];
        out.steps.push(ManualStep {
            id: "apply-blueprints".into(),
            account: AccountRef::Management,
            reason: "CloudFormation vends the accounts but cannot attach an AFC blueprint (no API or provisioning parameter does): apply the blueprint named in vending/<account>.json with the Control Tower console's Update account (Account factory customization section), once the account exists. Updates count against Control Tower's five concurrent account operations.".into(),
            commands: vec!["See docs/control-tower.md: one console update per account, with the hub account, product, version, regions and parameters from its vending request.".into()],
            provides,
            requires,
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

/// The blueprint part of a vending request: the same for every account with that blueprint,
/// so it is built once per blueprint. What an operator (or a script against the Control Tower
/// console flow) needs to apply the blueprint: everything mlz knows, and the parameters still
/// to fill.
fn blueprint_doc(
    p: &Platform,
    ct: &ControlTower,
    bi: usize,
    b: &Blueprint,
) -> Result<serde_json::Value, EmitError> {
    let (known, to_fill): (Vec<StackParam>, Vec<StackParam>) = blueprint_params(b)
        .into_iter()
        .partition(|sp| sp.value.is_some());
    let hub = ct.hub.map(|h| p.account(h));
    Ok(json!({
        "name": b.name,
        "hubAccount": hub.map(|h| json!({ "name": h.name, "id": h.id })),
        "product": b.name,
        "productIdExport": ExportKey::BlueprintProduct(bi).name(p)?,
        "version": content_version(&blueprint_template(p, b)?),
        "regions": b.regions,
        "parameters": known.iter().map(|sp| (sp.name.clone(), serde_json::Value::String(sp.value.clone().unwrap_or_default()))).collect::<serde_json::Map<_, _>>(),
        "parametersToFill": to_fill.iter().map(|sp| json!({ "name": sp.name, "description": sp.description })).collect::<Vec<_>>(),
        "provisioningPolicy": b.provisioning_policy.clone().unwrap_or_else(|| json!("AdministratorAccess (the AFC default)")),
    }))
}

/// A blueprint's template as it is uploaded: its `mlz:` export symbols named.
pub(crate) fn blueprint_template(p: &Platform, b: &Blueprint) -> Result<Template, EmitError> {
    let mut t = b.template.clone();
    exports::resolve_symbols(p, &mut t, &format!("blueprints/{}", b.name))?;
    Ok(t)
}

/// The Transit Gateway of the home region, when the network has one there.
fn transit_gateway_ref(p: &Platform) -> Option<ExportRef> {
    let n = p.network.as_ref()?;
    let home = &p.organization.home_region;
    n.segments
        .iter()
        .any(|s| s.supernets.iter().any(|(r, _)| r == home))
        .then(|| ExportRef {
            key: ExportKey::TransitGatewayId,
            account: n.account,
            region: home.clone(),
        })
}

/// The hub's export names the Transit Gateway id, when the blueprint asks for it: the same for
/// every account with the blueprint.
fn transit_gateway_source(
    p: &Platform,
    tgw: &ExportRef,
    doc: &mut serde_json::Value,
) -> Result<(), EmitError> {
    let export = tgw.key.name(p)?;
    let Some(fill) = doc["parametersToFill"].as_array_mut() else {
        return Ok(());
    };
    for x in fill.iter_mut().filter(|x| x["name"] == "TransitGatewayId") {
        x["valueFromExport"] = json!({
            "export": export,
            "account": crate::common::account_name(p, tgw.account),
            "region": tgw.region,
        });
    }
    Ok(())
}

fn vending_request(
    p: &Platform,
    ct: &ControlTower,
    i: AccountIdx,
    stack: &StackId,
    blueprint_docs: &[serde_json::Value],
    vpc: Option<&String>,
    tgw: Option<&ExportRef>,
) -> Result<(serde_json::Value, Vec<ExportRef>), EmitError> {
    let a = p.account(i);
    let ou = p.ou(a.ou);
    let mut refs = vec![ExportRef {
        key: ExportKey::AccountId(i),
        account: AccountRef::Management,
        region: p.organization.home_region.clone(),
    }];
    let blueprint = if ct.blueprint_delivery == BlueprintDelivery::StackSets {
        // The blueprint comes by its StackSet's automatic deployment once the account is in
        // its OU: nothing to apply.
        a.blueprint.map(|b| {
            json!({
                "name": ct.blueprints[b].name,
                "delivery": "stackSets",
                "note": "delivered by the blueprint's StackSet (control-tower/blueprint-stack-sets) when the account joins its OU: no console step",
            })
        })
    } else {
        let mut blueprint = a.blueprint.and_then(|b| blueprint_docs.get(b)).cloned();
        if let (Some(bi), Some(hub)) = (a.blueprint, ct.hub) {
            refs.push(ExportRef {
                key: ExportKey::BlueprintProduct(bi),
                account: AccountRef::Account(hub),
                region: p.organization.home_region.clone(),
            });
        }
        if let Some(doc) = blueprint.as_mut() {
            let asks = |doc: &serde_json::Value, name: &str| {
                doc["parametersToFill"]
                    .as_array()
                    .is_some_and(|a| a.iter().any(|x| x["name"] == name))
            };
            if let (Some(t), true) = (tgw, asks(doc, "TransitGatewayId")) {
                refs.push(t.clone());
            }
            let fill = |doc: &mut serde_json::Value, name: &str, value: &str| {
                if let Some(fill) = doc["parametersToFill"].as_array_mut() {
                    fill.retain(|x| x["name"] != name);
                }
                if let Some(params) = doc["parameters"].as_object_mut() {
                    params.insert(name.into(), serde_json::Value::String(value.to_owned()));
                }
            };
            // The address plan's range fills VpcCidr, when the blueprint asks for it.
            if let (Some(cidr), true) = (vpc, asks(doc, "VpcCidr")) {
                fill(doc, "VpcCidr", cidr);
            }
            // The sandbox's budget alerts go to the account's owner: its e-mail address.
            if asks(doc, "BudgetAlertEmail") {
                fill(doc, "BudgetAlertEmail", &a.email);
            }
            // The Security Tooling account: its id from the config, or the export of the stack
            // that vends it; an account Control Tower made without an id in the config stays to
            // fill (docs/control-tower.md).
            if let (Some(sec), true) = (&p.security, asks(doc, "SecurityToolingAccountId")) {
                match crate::common::account_ref_ident(p, sec.admin)? {
                    crate::common::Ident::Literal(id) => fill(doc, "SecurityToolingAccountId", &id),
                    crate::common::Ident::Import(key) => {
                        let export = ExportRef {
                            key,
                            account: AccountRef::Management,
                            region: p.organization.home_region.clone(),
                        };
                        if let Some(x) = doc["parametersToFill"].as_array_mut().and_then(|f| {
                            f.iter_mut()
                                .find(|x| x["name"] == "SecurityToolingAccountId")
                        }) {
                            x["valueFromExport"] = json!({
                                "export": export.key.name(p)?,
                                "account": crate::common::account_name(p, export.account),
                                "region": export.region,
                            });
                        }
                        refs.push(export);
                    }
                    _ => {}
                }
            }
        }
        blueprint
    };
    let doc = json!({
        "account": { "name": a.name, "key": a.key, "email": a.email, "organizationalUnit": ou.name, "ouPath": ou.path },
        "accountFactory": {
            "product": ct.account_factory_product,
            "stack": stack.path(),
            "accountIdExport": ExportKey::AccountId(i).name(p)?,
        },
        "blueprint": blueprint,
    });
    Ok((doc, refs))
}
