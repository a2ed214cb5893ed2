//! SageMaker Unified Studio (DataZone V2) across accounts: the domain with its roles, key and
//! domain units in the central account; one RAM share of the domain per associated account;
//! and in each associated account the provisioning and manage-access roles, the enabled
//! blueprints and the grants that let projects use them.

use std::collections::{BTreeMap, HashMap};

use mlz_cfn::{LogicalId, Output, ParamType, Parameter, Resource, Template, Value};
use mlz_model::{
    managed_policies, AccountRef, AssociatedAccount, CreatedBy, GroupRef, Platform, UnifiedStudio,
};

use crate::common::{
    account_key, account_name, account_ref_ident_in, all_ok, bug, managed_policy, new_stack,
    region_id, slug, use_ident, Ident, GROUP_ID_PATTERN,
};
use crate::plan::{exports, rules, Area, ExportKey, ExportRef, Fact, Need, StackId};
use crate::ram;
use crate::stack::{Emitted, Lookup, ManualStep, Stack, StackParam};
use crate::types::{
    DZ_BLUEPRINT_CONFIGURATION, DZ_DOMAIN, DZ_DOMAIN_UNIT, DZ_FORM_TYPE, DZ_GROUP_PROFILE,
    DZ_OWNER, DZ_POLICY_GRANT, DZ_PROJECT, DZ_PROJECT_PROFILE, IAM_ROLE, KMS_KEY,
    SSM_STRING_PARAMETER,
};
use crate::EmitError;

/// The RAM permission that shares a V2 domain with an associated account (with portal access).
const DOMAIN_SHARE_PERMISSION: &str = "arn:aws:ram::aws:permission/AWSRAMPermissionsAmazonDatazoneDomainExtendedServiceWithPortalAccess";
/// AWS managed policies of the Unified Studio roles (checked in `mlz_model::managed_policies`).
const EXECUTION_ROLE_POLICY: &str = managed_policies::SAGEMAKER_STUDIO_DOMAIN_EXECUTION;
const SERVICE_ROLE_POLICY: &str = managed_policies::SAGEMAKER_STUDIO_DOMAIN_SERVICE;
const PROVISIONING_ROLE_POLICY: &str = managed_policies::SAGEMAKER_STUDIO_PROJECT_PROVISIONING;
const MANAGE_ACCESS_POLICIES: &[&str] = &[
    managed_policies::DATAZONE_GLUE_MANAGE_ACCESS,
    managed_policies::DATAZONE_REDSHIFT_MANAGE_ACCESS,
    managed_policies::AMAZON_DATAZONE_SAGEMAKER_MANAGE_ACCESS,
];
const DOMAIN_ID_PATTERN: &str = "^dzd[-_][a-zA-Z0-9_-]{1,36}$";

/// A role DataZone assumes, for one account's use only.
fn datazone_role(
    description: &str,
    actions: &[&str],
    source_account: Value,
    managed: &[&str],
) -> Resource {
    datazone_role_with(description, actions, source_account, managed, false)
}

/// `session_tags`: the trust also requires every session tag to be DataZone's
/// (`ForAllValues:StringLike aws:TagKeys datazone*`), as the Unified Studio admin guide's
/// domain execution role does.
fn datazone_role_with(
    description: &str,
    actions: &[&str],
    source_account: Value,
    managed: &[&str],
    session_tags: bool,
) -> Resource {
    let mut condition = vec![(
        "StringEquals",
        Value::map([("aws:SourceAccount", source_account)]),
    )];
    if session_tags {
        condition.push((
            "ForAllValues:StringLike",
            Value::map([("aws:TagKeys", Value::str("datazone*"))]),
        ));
    }
    Resource::new(IAM_ROLE)
        .prop("Description", description)
        .prop(
            "AssumeRolePolicyDocument",
            Value::map([
                ("Version", Value::str(mlz_model::aws::IAM_POLICY_VERSION)),
                (
                    "Statement",
                    Value::List(vec![Value::map([
                        ("Effect", Value::str("Allow")),
                        (
                            "Principal",
                            Value::map([("Service", Value::str("datazone.amazonaws.com"))]),
                        ),
                        ("Action", Value::list_of_str(actions.iter().copied())),
                        ("Condition", Value::map(condition)),
                    ])]),
                ),
            ]),
        )
        .prop(
            "ManagedPolicyArns",
            Value::List(managed.iter().map(|m| managed_policy(m)).collect()),
        )
}

pub fn emit(p: &Platform, out: &mut Emitted) -> Result<(), Vec<EmitError>> {
    let Some(us) = &p.unified_studio else {
        return Ok(());
    };
    let mut errs = Vec::new();
    match domain(p, us) {
        Ok(mut s) => {
            let domain_id = s.id.clone();
            if us.associated.iter().any(|a| a.account != us.account) {
                s.requires.push(ram::require_sharing(out));
            }
            out.stacks.push(s);
            for a in &us.associated {
                match associated(p, us, a, &domain_id) {
                    Ok(s) => out.stacks.push(s),
                    Err(e) => errs.push(e),
                }
            }
            if !us.profiles.is_empty() || !us.projects.is_empty() {
                match projects(p, us) {
                    Ok(mut s) => {
                        match form_rules_step(p, us, &s.id) {
                            Ok(Some(step)) => {
                                s.provides.push(Fact::Deployed(s.id.clone()));
                                out.steps.push(step);
                            }
                            Ok(None) => {}
                            Err(e) => errs.push(e),
                        }
                        out.stacks.push(s);
                    }
                    Err(e) => errs.push(e),
                }
            }
            let dynamic: Vec<&str> = us
                .profiles
                .iter()
                .filter(|pr| pr.dynamic)
                .map(|pr| pr.name.as_str())
                .collect();
            if !dynamic.is_empty() {
                out.steps.push(ManualStep {
                    id: "unified-studio-account-pools".into(),
                    account: us.account,
                    reason: format!(
                        "Optional. CloudFormation has no account-pool type and a project profile names one fixed account, so each dynamic profile ({}) is generated as one profile per account, named \"<profile> <account>\": the creator picks the account by picking the profile. To offer one profile over a pool instead, create the account pool in the domain outside CloudFormation and point a profile at it.",
                        dynamic.join(", ")
                    ),
                    commands: vec!["See docs/unified-studio.md (dynamic project profiles).".into()],
                    provides: Vec::new(),
                    requires: vec![Need::new(
                        Fact::Deployed(domain_id.clone()),
                        &rules::OUTPUTS_FIRST,
                    )],
                });
            }
        }
        Err(e) => errs.push(e),
    }
    all_ok(errs)
}

/// The domain's customer managed key (rotated, retained) and its execution and service roles.
fn domain_key_and_roles(
    t: &mut Template,
    path: &str,
) -> Result<(LogicalId, LogicalId, LogicalId), EmitError> {
    let key = LogicalId::new("DomainKey").map_err(|e| bug(path, e))?;
    t.add_resource(
        key.clone(),
        Resource::new(KMS_KEY)
            .prop("Description", "Encrypts the Unified Studio domain.")
            .prop("EnableKeyRotation", true)
            .prop(
                "KeyPolicy",
                Value::map([
                    ("Version", Value::str(mlz_model::aws::IAM_POLICY_VERSION)),
                    (
                        "Statement",
                        Value::List(vec![crate::common::key_admin_statement()]),
                    ),
                ]),
            )
            .retained(),
    )
    .map_err(|e| bug(path, e))?;
    let this_account = Value::Pseudo(mlz_cfn::Pseudo::AccountId);
    let exec = LogicalId::new("DomainExecutionRole").map_err(|e| bug(path, e))?;
    t.add_resource(
        exec.clone(),
        datazone_role_with(
            "What the Unified Studio portal does on users' behalf in the domain.",
            &["sts:AssumeRole", "sts:TagSession", "sts:SetContext"],
            this_account.clone(),
            &[EXECUTION_ROLE_POLICY],
            true,
        ),
    )
    .map_err(|e| bug(path, e))?;
    let service = LogicalId::new("DomainServiceRole").map_err(|e| bug(path, e))?;
    t.add_resource(
        service.clone(),
        datazone_role(
            "What Unified Studio itself does in the domain account.",
            &["sts:AssumeRole"],
            this_account,
            &[SERVICE_ROLE_POLICY],
        ),
    )
    .map_err(|e| bug(path, e))?;
    Ok((key, exec, service))
}

/// One RAM share of the domain per associated account: each accepts (or, inside the
/// organisation with RAM's organisation sharing on, receives) the domain on its own.
fn domain_shares(
    p: &Platform,
    us: &UnifiedStudio,
    dom: &LogicalId,
    t: &mut Template,
    params: &mut Vec<StackParam>,
    path: &str,
) -> Result<Vec<Fact>, EmitError> {
    let mut shared = Vec::new();
    for a in &us.associated {
        if a.account == us.account {
            continue;
        }
        let id = LogicalId::derive("DomainShare", &account_key(p, a.account))
            .map_err(|e| bug(path, e))?;
        let principal = use_ident(
            p,
            account_ref_ident_in(p, a.account, us.account)?,
            t,
            params,
        )?;
        shared.push(Fact::DomainShared(a.account));
        let share = ram::share(
            format!(
                "{}-{}-{}",
                p.organization.stack_prefix,
                slug(&us.name),
                slug(&account_key(p, a.account))
            ),
            vec![Value::GetAtt(dom.clone(), "Arn".into())],
            vec![principal],
            &[DOMAIN_SHARE_PERMISSION],
        );
        t.add_resource(id, share).map_err(|e| bug(path, e))?;
    }
    Ok(shared)
}

/// The domain units under the root unit, with their owner groups (each after the group's
/// profile), and their ids as outputs.
#[allow(clippy::too_many_arguments)]
fn domain_units(
    p: &Platform,
    us: &UnifiedStudio,
    dom: &LogicalId,
    owners: &HashMap<&str, &Vec<GroupRef>>,
    profiles: &BTreeMap<&GroupRef, LogicalId>,
    t: &mut Template,
    params: &mut Vec<StackParam>,
    outputs: &mut BTreeMap<String, (Value, ExportKey)>,
    path: &str,
) -> Result<(), EmitError> {
    for (ui, unit) in us.domain_units.iter().enumerate() {
        let id = LogicalId::derive("DomainUnit", unit).map_err(|e| bug(path, e))?;
        for g in owners.get(unit.as_str()).into_iter().flat_map(|o| o.iter()) {
            let gv = group(p, t, params, g, path)?;
            let oid = LogicalId::derive("Owner", &format!("{unit} {}", group_name(p, g)))
                .map_err(|e| bug(path, e))?;
            let mut owner = Resource::new(DZ_OWNER);
            if let Some(gp) = profiles.get(g) {
                owner.depends_on.insert(gp.clone());
            }
            t.add_resource(
                oid,
                owner
                    .prop("DomainIdentifier", Value::GetAtt(dom.clone(), "Id".into()))
                    .prop("EntityType", "DOMAIN_UNIT")
                    .prop("EntityIdentifier", Value::GetAtt(id.clone(), "Id".into()))
                    .prop(
                        "Owner",
                        Value::map([("Group", Value::map([("GroupIdentifier", gv)]))]),
                    ),
            )
            .map_err(|e| bug(path, e))?;
        }
        t.add_resource(
            id.clone(),
            Resource::new(DZ_DOMAIN_UNIT)
                .prop("DomainIdentifier", Value::GetAtt(dom.clone(), "Id".into()))
                .prop("Name", unit.as_str())
                .prop(
                    "ParentDomainUnitIdentifier",
                    Value::GetAtt(dom.clone(), "RootDomainUnitId".into()),
                ),
        )
        .map_err(|e| bug(path, e))?;
        outputs.insert(
            format!("{id}Id"),
            (
                Value::GetAtt(id, "Id".into()),
                ExportKey::StudioDomainUnitId(ui),
            ),
        );
    }
    Ok(())
}

fn domain(p: &Platform, us: &UnifiedStudio) -> Result<Stack, EmitError> {
    let sid = StackId::new(Area::UnifiedStudio, "domain");
    let path = sid.path();
    let path = path.as_str();
    let mut t = Template::new(format!(
        "{}: the SageMaker Unified Studio domain {} (V2), its roles, key and domain units, and its RAM shares with associated accounts. Deploy in {}, home region.",
        p.organization.name,
        us.name,
        account_name(p, us.account)
    ));
    let mut params: Vec<StackParam> = Vec::new();
    let (key, exec, service) = domain_key_and_roles(&mut t, path)?;
    let instance = match p
        .identity_center
        .as_ref()
        .and_then(|ic| ic.instance_arn.clone())
    {
        Some(arn) => Value::str(arn),
        None => use_ident(
            p,
            Ident::Param {
                id: LogicalId::new("IdentityCenterInstanceArn").map_err(|e| bug(path, e))?,
                description:
                    "The IAM Identity Center instance ARN, for single sign-on to the portal".into(),
                pattern: crate::common::INSTANCE_ARN_PATTERN,
                lookup: Lookup::IdentityCenterInstanceArn,
            },
            &mut t,
            &mut params,
        )?,
    };
    let dom = LogicalId::new("Domain").map_err(|e| bug(path, e))?;
    let mut d = Resource::new(DZ_DOMAIN)
        .prop("Name", us.name.as_str())
        .prop("DomainVersion", "V2")
        .prop("DomainExecutionRole", Value::GetAtt(exec, "Arn".into()))
        .prop("ServiceRole", Value::GetAtt(service, "Arn".into()))
        .prop("KmsKeyIdentifier", Value::GetAtt(key, "Arn".into()))
        .prop(
            "SingleSignOn",
            Value::map([
                ("Type", Value::str("IAM_IDC")),
                ("UserAssignment", Value::str("MANUAL")),
                ("IdcInstanceArn", instance),
            ]),
        );
    if let Some(desc) = &us.description {
        d = d.prop("Description", desc.as_str());
    }
    t.add_resource(dom.clone(), d.retained())
        .map_err(|e| bug(path, e))?;
    let mut outputs: BTreeMap<String, (Value, ExportKey)> = BTreeMap::new();
    outputs.insert(
        "DomainId".into(),
        (
            Value::GetAtt(dom.clone(), "Id".into()),
            ExportKey::StudioDomainId,
        ),
    );
    let owners: HashMap<&str, &Vec<GroupRef>> = us
        .unit_owners
        .iter()
        .map(|(u, o)| (u.as_str(), o))
        .collect();
    // A group profile for every group the domain uses (unit owners, profile creators, project
    // members), made here before anything names the group: with UserAssignment MANUAL a group
    // is known to the domain only through its profile.
    let mut used: std::collections::BTreeSet<&GroupRef> = std::collections::BTreeSet::new();
    used.extend(us.unit_owners.iter().flat_map(|(_, o)| o.iter()));
    used.extend(us.profiles.iter().flat_map(|pr| pr.creators.iter()));
    used.extend(
        us.projects
            .iter()
            .flat_map(|pj| pj.owners.iter().chain(pj.contributors.iter())),
    );
    let mut profiles: BTreeMap<&GroupRef, LogicalId> = BTreeMap::new();
    for g in used {
        let gv = group(p, &mut t, &mut params, g, path)?;
        let gid = LogicalId::derive("GroupProfile", group_name(p, g)).map_err(|e| bug(path, e))?;
        t.add_resource(
            gid.clone(),
            Resource::new(DZ_GROUP_PROFILE)
                .prop("DomainIdentifier", Value::GetAtt(dom.clone(), "Id".into()))
                .prop("GroupIdentifier", gv)
                .prop("Status", "ASSIGNED"),
        )
        .map_err(|e| bug(path, e))?;
        profiles.insert(g, gid);
    }
    domain_units(
        p,
        us,
        &dom,
        &owners,
        &profiles,
        &mut t,
        &mut params,
        &mut outputs,
        path,
    )?;
    let shared = domain_shares(p, us, &dom, &mut t, &mut params, path)?;
    outputs.insert(
        "RootDomainUnitId".into(),
        (
            Value::GetAtt(dom.clone(), "RootDomainUnitId".into()),
            ExportKey::StudioRootDomainUnitId,
        ),
    );
    for (name, (value, key)) in outputs {
        // Exported for the projects stack of the same account; the associated accounts take
        // these as parameters.
        let export = exports::export(p, &key)?;
        t.add_output(
            LogicalId::new(name.clone()).map_err(|e| bug(path, e))?,
            Output {
                description: None,
                value,
                export,
                condition: None,
            },
        )
        .map_err(|e| bug(path, e))?;
    }
    let mut s = new_stack(p, sid.clone(), t);
    s.account = us.account;
    s.parameters = params;
    s.provides = shared;
    s.provides.push(Fact::Deployed(sid));
    s.limit_hint = "one RAM share per associated account and an id parameter each: CloudFormation allows 200 parameters, so a domain stack holds about 190 associated accounts; associate business-unit accounts, not team accounts";
    Ok(s)
}

/// The regional parameters of an associated account's blueprint configurations: per enabled
/// region the VPC and private subnets (in the home region read from the SSM parameters the
/// account's network blueprint writes, elsewhere parameters) and the S3 location. Also says
/// whether the stack reads the platform VPC's SSM parameters.
fn regional_parameters(
    p: &Platform,
    a: &mlz_model::AssociatedAccount,
    t: &mut Template,
    params: &mut Vec<StackParam>,
    param: &impl Fn(
        &mut Template,
        &mut Vec<StackParam>,
        &str,
        String,
        &str,
        Option<ExportRef>,
    ) -> Result<Value, EmitError>,
    path: &str,
) -> Result<(Vec<Value>, bool), EmitError> {
    let mut regional = Vec::new();
    let mut reads_platform_vpc = false;
    for r in &a.regions {
        let rid = region_id(r);
        // The account's platform VPC, where its AFC blueprint builds one in this region: in
        // the stack's own region read from the SSM parameters the blueprint writes (a weak
        // reference: the blueprint may change its subnets later); elsewhere a parameter.
        let platform = match a.account {
            AccountRef::Account(i) => crate::common::platform_vpc_regions(p, i).contains(r),
            AccountRef::Management => false,
        };
        let (vpc, subnets) = if platform && *r == p.organization.home_region {
            let mut ssm =
                |name: &str, ty: &str, what: &str, value: &str| -> Result<Value, EmitError> {
                    let id = LogicalId::new(name).map_err(|e| bug(path, e))?;
                    let mut prm = Parameter::string(format!(
                    "The SSM parameter that holds {what} (written by the account's AFC blueprint)"
                ))
                    .with_default(value);
                    prm.param_type = ParamType::Other(ty.to_owned());
                    t.add_parameter(id.clone(), prm).map_err(|e| bug(path, e))?;
                    params.push(StackParam {
                        name: name.to_owned(),
                        description: format!("The SSM parameter that holds {what}"),
                        value: Some(value.to_owned()),
                        from_export: None,
                        lookup: None,
                    });
                    Ok(Value::Ref(id))
                };
            let vpc = ssm(
                &format!("{rid}VpcId"),
                SSM_STRING_PARAMETER,
                "the platform VPC",
                crate::common::PLATFORM_VPC_PARAMETER,
            )?;
            let subnets = ssm(
                &format!("{rid}Subnets"),
                SSM_STRING_PARAMETER,
                "the platform VPC's private subnets, comma-separated",
                crate::common::PLATFORM_SUBNETS_PARAMETER,
            )?;
            reads_platform_vpc = true;
            (vpc, subnets)
        } else {
            (
                param(
                    t,
                    params,
                    &format!("{rid}VpcId"),
                    format!("VPC for environments in {r}"),
                    "^vpc-[0-9a-f]{8,17}$",
                    None,
                )?,
                param(
                    t,
                    params,
                    &format!("{rid}Subnets"),
                    format!("Comma-separated private subnet ids for environments in {r}"),
                    "^subnet-[0-9a-f]{8,17}(,subnet-[0-9a-f]{8,17})*$",
                    None,
                )?,
            )
        };
        let s3 = param(
            t,
            params,
            &format!("{rid}S3Location"),
            format!("S3 location (s3://bucket/prefix) for project data in {r}"),
            "^s3://[a-z0-9.-]{3,63}(/.*)?$",
            None,
        )?;
        regional.push(Value::map([
            ("Region", Value::str(r.clone())),
            (
                "Parameters",
                Value::map([("VpcId", vpc), ("Subnets", subnets), ("S3Location", s3)]),
            ),
        ]));
    }
    Ok((regional, reads_platform_vpc))
}

/// An associated account's configuration of one blueprint: enabled in its regions, with its
/// provisioning and manage-access roles and the regional parameters.
fn blueprint_configuration(
    domain_id: &Value,
    b: &str,
    regions: &[String],
    provisioning: &LogicalId,
    manage: &LogicalId,
    regional: &[Value],
) -> Resource {
    Resource::new(DZ_BLUEPRINT_CONFIGURATION)
        .prop("DomainIdentifier", domain_id.clone())
        .prop("EnvironmentBlueprintIdentifier", b)
        .prop(
            "EnabledRegions",
            Value::list_of_str(regions.iter().cloned()),
        )
        .prop(
            "ProvisioningRoleArn",
            Value::GetAtt(provisioning.clone(), "Arn".into()),
        )
        .prop(
            "ManageAccessRoleArn",
            Value::GetAtt(manage.clone(), "Arn".into()),
        )
        .prop("RegionalParameters", Value::List(regional.to_vec()))
}

/// The grant that lets projects of a domain unit (and its children) create environments
/// from a blueprint configuration of this account.
fn blueprint_grant(domain_id: &Value, configuration: &LogicalId, unit: &Value) -> Resource {
    let id = configuration;
    Resource::new(DZ_POLICY_GRANT)
        .prop("DomainIdentifier", domain_id.clone())
        .prop("EntityType", "ENVIRONMENT_BLUEPRINT_CONFIGURATION")
        .prop(
            "EntityIdentifier",
            Value::Sub(format!(
                "${{AWS::AccountId}}:${{{id}.EnvironmentBlueprintId}}"
            )),
        )
        .prop("PolicyType", "CREATE_ENVIRONMENT_FROM_BLUEPRINT")
        .prop(
            "Principal",
            Value::map([(
                "Project",
                Value::map([
                    ("ProjectDesignation", Value::str("CONTRIBUTOR")),
                    (
                        "ProjectGrantFilter",
                        Value::map([(
                            "DomainUnitFilter",
                            Value::map([
                                ("DomainUnit", unit.clone()),
                                ("IncludeChildDomainUnits", Value::Bool(true)),
                            ]),
                        )]),
                    ),
                ]),
            )]),
        )
        .prop(
            "Detail",
            Value::map([(
                "CreateEnvironmentFromBlueprint",
                Value::Map(mlz_cfn::Map::new()),
            )]),
        )
}

fn associated(
    p: &Platform,
    us: &UnifiedStudio,
    a: &AssociatedAccount,
    domain_stack: &StackId,
) -> Result<Stack, EmitError> {
    let key = account_key(p, a.account);
    let sid = StackId::new(Area::UnifiedStudio, format!("blueprints-{}", slug(&key)));
    let path = sid.path();
    let domain_path = domain_stack.path();
    let from_domain = |key: ExportKey| ExportRef {
        key,
        account: us.account,
        region: p.organization.home_region.clone(),
    };
    let mut t = Template::new(format!(
        "{}: Unified Studio blueprints enabled in {} for domain {} (roles, blueprint configurations, policy grants). Deploy in {}, home region, after the account has the domain share.",
        p.organization.name,
        account_name(p, a.account),
        us.name,
        account_name(p, a.account)
    ));
    let mut params: Vec<StackParam> = Vec::new();
    let param = |t: &mut Template,
                 params: &mut Vec<StackParam>,
                 name: &str,
                 description: String,
                 pattern: &str,
                 export: Option<ExportRef>|
     -> Result<Value, EmitError> {
        let id = LogicalId::new(name).map_err(|e| bug(&path, e))?;
        if !t.parameters.contains_key(&id) {
            let mut prm = Parameter::string(description.clone());
            prm.allowed_pattern = Some(pattern.to_owned());
            prm.constraint_description = Some("see the description".into());
            t.add_parameter(id.clone(), prm)
                .map_err(|e| bug(&path, e))?;
            params.push(StackParam {
                name: name.to_owned(),
                description,
                value: None,
                // The domain stack's outputs are exported in the domain account; what no
                // stack provides (the project data location) only a person knows.
                lookup: export.is_none().then_some(Lookup::External),
                from_export: export,
            });
        }
        Ok(Value::Ref(id))
    };
    let domain_id = param(
        &mut t,
        &mut params,
        "DomainId",
        format!("The domain id (dzd-...): output DomainId of {domain_path}"),
        DOMAIN_ID_PATTERN,
        Some(from_domain(ExportKey::StudioDomainId)),
    )?;
    let domain_account = use_ident(
        p,
        account_ref_ident_in(p, us.account, a.account)?,
        &mut t,
        &mut params,
    )?;
    let provisioning = LogicalId::new("ProvisioningRole").map_err(|e| bug(&path, e))?;
    t.add_resource(
        provisioning.clone(),
        datazone_role(
            "Creates the resources of Unified Studio projects' environments in this account.",
            &["sts:AssumeRole", "sts:TagSession"],
            domain_account.clone(),
            &[PROVISIONING_ROLE_POLICY],
        ),
    )
    .map_err(|e| bug(&path, e))?;
    let manage = LogicalId::new("ManageAccessRole").map_err(|e| bug(&path, e))?;
    t.add_resource(
        manage.clone(),
        datazone_role("Publishes and grants access to this account's Lakehouse, Glue, Redshift and SageMaker assets.", &["sts:AssumeRole"], domain_account, MANAGE_ACCESS_POLICIES),
    )
    .map_err(|e| bug(&path, e))?;
    // Regional parameters: the network and storage each enabled region's environments use.
    let (regional, reads_platform_vpc) =
        regional_parameters(p, a, &mut t, &mut params, &param, &path)?;
    let units: Vec<String> = if a.domain_units.is_empty() {
        us.domain_units.clone()
    } else {
        a.domain_units.clone()
    };
    let mut unit_ids = Vec::new();
    for u in &units {
        let lid = LogicalId::derive("DomainUnit", u).map_err(|e| bug(&path, e))?;
        let ui = unit_index(us, u).map_err(|e| bug(&path, e))?;
        unit_ids.push(param(
            &mut t,
            &mut params,
            &format!("{lid}Id"),
            format!("The id of domain unit {u}: output {lid}Id of {domain_path}"),
            "^[a-zA-Z0-9_-]{1,36}$",
            Some(from_domain(ExportKey::StudioDomainUnitId(ui))),
        )?);
    }
    for b in &a.blueprints {
        let id = LogicalId::derive("Blueprint", b).map_err(|e| bug(&path, e))?;
        t.add_resource(
            id.clone(),
            blueprint_configuration(&domain_id, b, &a.regions, &provisioning, &manage, &regional),
        )
        .map_err(|e| bug(&path, e))?;
        // Projects of the chosen domain units may create environments from the blueprint.
        for (u, unit) in units.iter().zip(&unit_ids) {
            let gid = LogicalId::derive("Grant", &format!("{b} {u}")).map_err(|e| bug(&path, e))?;
            t.add_resource(gid, blueprint_grant(&domain_id, &id, unit))
                .map_err(|e| bug(&path, e))?;
        }
        // Project profiles in the domain account use the configuration's id, not the
        // blueprint's name: exported here, taken from the export there.
        t.add_output(
            LogicalId::new(format!("{id}Id")).map_err(|e| bug(&path, e))?,
            Output {
                description: Some(format!("The id of blueprint {b} in this account")),
                value: Value::GetAtt(id.clone(), "EnvironmentBlueprintId".into()),
                export: exports::export(p, &ExportKey::StudioBlueprintId(b.clone()))?,
                condition: None,
            },
        )
        .map_err(|e| bug(&path, e))?;
    }
    let mut s = new_stack(p, sid, t);
    s.account = a.account;
    s.parameters = params;
    // The account must have the domain (its RAM share) before it can enable blueprints.
    if a.account != us.account {
        s.requires.push(Need::new(
            Fact::DomainShared(a.account),
            &rules::DOMAIN_SHARED,
        ));
    }
    // The SSM parameters of the platform VPC exist once the account's blueprint is applied.
    if reads_platform_vpc {
        s.requires.push(Need::new(
            Fact::BlueprintsApplied,
            &rules::BLUEPRINTS_APPLIED,
        ));
    }
    s.provides.push(Fact::BlueprintConfigured(a.account));
    Ok(s)
}

/// Where a domain unit is in the domain's list (the resolver checked every name).
fn unit_index(us: &UnifiedStudio, unit: &str) -> Result<usize, String> {
    us.domain_units
        .iter()
        .position(|x| x == unit)
        .ok_or_else(|| format!("domain unit {unit:?} is not one of the domain's"))
}

fn unit_id(p: &Platform, us: &UnifiedStudio, unit: &Option<String>) -> Result<Value, EmitError> {
    match unit {
        Some(u) => {
            let ui = unit_index(us, u).map_err(|e| bug("unified-studio/projects", e))?;
            exports::import(p, &ExportKey::StudioDomainUnitId(ui))
        }
        None => exports::import(p, &ExportKey::StudioRootDomainUnitId),
    }
}

/// A name DataZone accepts (`^[\w -]+$`, at most 64 characters).
fn dz_name(s: &str) -> String {
    let cleaned: String = s
        .chars()
        .map(|c| {
            if c.is_alphanumeric() || c == '_' || c == '-' || c == ' ' {
                c
            } else {
                ' '
            }
        })
        .collect();
    cleaned
        .chars()
        .take(64)
        .collect::<String>()
        .trim()
        .to_owned()
}

fn group_name<'a>(p: &'a Platform, g: &'a GroupRef) -> &'a str {
    match g {
        GroupRef::Group(i) => p
            .identity_center
            .as_ref()
            .and_then(|ic| ic.groups.get(*i))
            .map_or("", |g| g.name.as_str()),
        GroupRef::Named(n) => n,
    }
}

/// Where a group's identity store id comes from: the config, the export of the stack that
/// creates it (platform groups mlz creates; a parameter here, since this stack is in another
/// account, and ordered after that stack), or a parameter to fill.
fn group(
    p: &Platform,
    t: &mut Template,
    params: &mut Vec<StackParam>,
    g: &GroupRef,
    path: &str,
) -> Result<Value, EmitError> {
    let name = group_name(p, g);
    let id = LogicalId::derive("Group", &format!("{name} Id")).map_err(|e| bug(path, e))?;
    let description =
        format!("The identity store id of group {name} (aws identitystore list-groups)");
    let found = match g {
        GroupRef::Group(i) => p
            .identity_center
            .as_ref()
            .and_then(|ic| ic.groups.get(*i))
            .map(|x| (*i, x)),
        GroupRef::Named(_) => None,
    };
    let ident = match found {
        Some((_, x)) if let Some(id) = &x.id => Ident::Literal(id.clone()),
        Some((i, x)) if x.team.is_none() && x.created_by == CreatedBy::Mlz => Ident::ExportParam {
            export: ExportRef {
                key: ExportKey::GroupId(i),
                account: AccountRef::Management,
                region: p.organization.home_region.clone(),
            },
            description: format!("{description}; exported by the Identity Center stacks"),
            id,
            pattern: GROUP_ID_PATTERN,
        },
        _ => Ident::Param {
            id,
            description,
            pattern: GROUP_ID_PATTERN,
            lookup: Lookup::GroupId(name.to_string()),
        },
    };
    use_ident(p, ident, t, params)
}

/// One project profile in one account (a dynamic profile gives one per account), with its
/// environment configurations and the grants of who may create projects from it.
#[allow(clippy::too_many_arguments)]
fn profile(
    p: &Platform,
    us: &UnifiedStudio,
    pr: &mlz_model::ProjectProfile,
    acc: AccountRef,
    domain: &Value,
    t: &mut Template,
    params: &mut Vec<StackParam>,
    requires: &mut Vec<Need>,
    path: &str,
) -> Result<LogicalId, EmitError> {
    let label = if pr.dynamic {
        format!("{} {}", pr.name, account_name(p, acc))
    } else {
        pr.name.clone()
    };
    let id = LogicalId::derive("Profile", &label).map_err(|e| bug(path, e))?;
    let account_id = use_ident(p, account_ref_ident_in(p, acc, us.account)?, t, params)?;
    let configured = Need::new(
        Fact::BlueprintConfigured(acc),
        &rules::BLUEPRINTS_BEFORE_PROFILES,
    );
    if !requires.contains(&configured) {
        requires.push(configured);
    }
    let mut configs: Vec<Value> = Vec::new();
    for b in &pr.blueprints {
        let tooling = b == "Tooling";
        let key = ExportKey::StudioBlueprintId(b.clone());
        // The blueprint's id lives in the profile's account: imported when that is
        // this (the domain) account, a parameter taken from its export otherwise.
        let blueprint_id = if acc == us.account {
            exports::import(p, &key)?
        } else {
            use_ident(
                p,
                Ident::ExportParam {
                    id: LogicalId::derive("Blueprint", &format!("{b} {} Id", account_key(p, acc)))
                        .map_err(|e| bug(path, e))?,
                    description: format!(
                        "The id of blueprint {b} in account {} (its blueprints stack's export)",
                        account_name(p, acc)
                    ),
                    pattern: "^[a-zA-Z0-9_-]{1,36}$",
                    export: ExportRef {
                        key,
                        account: acc,
                        region: p.organization.home_region.clone(),
                    },
                },
                t,
                params,
            )?
        };
        configs.push(Value::map([
            ("Name", Value::str(b.clone())),
            ("EnvironmentBlueprintId", blueprint_id),
            (
                "AwsAccount",
                Value::map([("AwsAccountId", account_id.clone())]),
            ),
            (
                "AwsRegion",
                Value::map([("RegionName", Value::str(pr.region.clone()))]),
            ),
            (
                "DeploymentMode",
                Value::str(if tooling { "ON_CREATE" } else { "ON_DEMAND" }),
            ),
            ("DeploymentOrder", Value::Int(if tooling { 0 } else { 1 })),
        ]));
    }
    let mut r = Resource::new(DZ_PROJECT_PROFILE)
        .prop("DomainIdentifier", domain.clone())
        .prop("Name", dz_name(&label))
        .prop("Status", "ENABLED")
        .prop("DomainUnitIdentifier", unit_id(p, us, &pr.domain_unit)?)
        .prop("EnvironmentConfigurations", Value::List(configs));
    if let Some(d) = &pr.description {
        r = r.prop("Description", d.as_str());
    }
    t.add_resource(id.clone(), r).map_err(|e| bug(path, e))?;
    // Who may create projects from it: the configured groups, or every user.
    let mut principals: Vec<(String, Value)> = Vec::new();
    if pr.creators.is_empty() {
        principals.push((
            "AllUsers".into(),
            Value::map([(
                "User",
                Value::map([("AllUsersGrantFilter", Value::Map(mlz_cfn::Map::new()))]),
            )]),
        ));
    }
    for g in &pr.creators {
        let gv = group(p, t, params, g, path)?;
        principals.push((
            group_name(p, g).to_owned(),
            Value::map([("Group", Value::map([("GroupIdentifier", gv)]))]),
        ));
    }
    for (who, principal) in principals {
        let gid =
            LogicalId::derive("Grant", &format!("{label} {who}")).map_err(|e| bug(path, e))?;
        t.add_resource(
            gid,
            Resource::new(DZ_POLICY_GRANT)
                .prop("DomainIdentifier", domain.clone())
                .prop("EntityType", "DOMAIN_UNIT")
                .prop("EntityIdentifier", unit_id(p, us, &pr.domain_unit)?)
                .prop("PolicyType", "CREATE_PROJECT_FROM_PROJECT_PROFILE")
                .prop("Principal", principal)
                .prop(
                    "Detail",
                    Value::map([(
                        "CreateProjectFromProjectProfile",
                        Value::map([
                            (
                                "ProjectProfiles",
                                Value::List(vec![Value::GetAtt(id.clone(), "Id".into())]),
                            ),
                            ("IncludeChildDomainUnits", Value::Bool(true)),
                        ]),
                    )]),
                ),
        )
        .map_err(|e| bug(path, e))?;
    }
    Ok(id)
}

/// Project profiles (a dynamic profile becomes one profile per account: CloudFormation has no
/// account pools, and a profile names one account), who may create projects from them, and
/// the configured projects with their memberships.
fn projects(p: &Platform, us: &UnifiedStudio) -> Result<Stack, EmitError> {
    let sid = StackId::new(Area::UnifiedStudio, "projects");
    let path = sid.path();
    let path = path.as_str();
    let mut t = Template::new(format!(
        "{}: Unified Studio project profiles, who may use them, and the projects of domain {}. Deploy in {}, home region, after the associated accounts enabled their blueprints.",
        p.organization.name,
        us.name,
        account_name(p, us.account)
    ));
    let mut params: Vec<StackParam> = Vec::new();
    let domain = exports::import(p, &ExportKey::StudioDomainId)?;
    let mut requires: Vec<Need> = Vec::new();
    // (profile index, account) -> the profile resource made for that account.
    let mut made: BTreeMap<(usize, AccountRef), LogicalId> = BTreeMap::new();
    let mut made_projects: BTreeMap<&str, LogicalId> = BTreeMap::new();
    for (pi, pr) in us.profiles.iter().enumerate() {
        for &acc in &pr.accounts {
            let id = profile(
                p,
                us,
                pr,
                acc,
                &domain,
                &mut t,
                &mut params,
                &mut requires,
                path,
            )?;
            made.insert((pi, acc), id);
        }
    }
    for pj in &us.projects {
        let Some(profile) = made.get(&(pj.profile, pj.account)) else {
            continue;
        };
        let id = LogicalId::derive("Project", &pj.name).map_err(|e| bug(path, e))?;
        let mut r = Resource::new(DZ_PROJECT)
            .prop("DomainIdentifier", domain.clone())
            .prop("Name", dz_name(&pj.name))
            .prop("DomainUnitId", unit_id(p, us, &pj.domain_unit)?)
            .prop(
                "ProjectProfileId",
                Value::GetAtt(profile.clone(), "Id".into()),
            );
        if let Some(d) = &pj.description {
            r = r.prop("Description", d.as_str());
        }
        // Members are set at creation through MembershipAssignments rather than one
        // AWS::DataZone::ProjectMembership each: that type's primary identifier is only
        // domain + project, so two memberships on one project collide. The property is
        // create-only, so the project is retained: a membership change made in the config
        // cannot silently delete a project and its data (see docs/unified-studio.md).
        let mut members = Vec::new();
        for (designation, groups) in [
            ("PROJECT_OWNER", &pj.owners),
            ("PROJECT_CONTRIBUTOR", &pj.contributors),
        ] {
            for g in groups {
                let member = group(p, &mut t, &mut params, g, path)?;
                members.push(Value::map([
                    ("Member", Value::map([("GroupIdentifier", member)])),
                    ("Designation", Value::str(designation)),
                ]));
            }
        }
        if !members.is_empty() {
            r = r.prop("MembershipAssignments", Value::List(members));
        }
        t.add_resource(id.clone(), r.retained())
            .map_err(|e| bug(path, e))?;
        made_projects.insert(pj.name.as_str(), id);
    }
    metadata_forms(us, &domain, &made_projects, &mut t, path)?;
    let mut s = new_stack(p, sid, t);
    s.account = us.account;
    s.parameters = params;
    s.requires = requires;
    s.limit_hint = "profiles, grants and projects share one stack (500 resources, and a parameter per group): keep projects to business initiatives, or create the rest in the portal; mlz does not split this stack yet";
    Ok(s)
}

/// A form type's logical id: its resource, and the outputs the enforcement step reads.
fn form_id(form: &mlz_model::MetadataForm) -> Result<LogicalId, mlz_cfn::LogicalIdError> {
    LogicalId::derive("Form", &form.name)
}

/// A form's Smithy model: one structure named after the form, a member per field.
fn smithy(form: &mlz_model::MetadataForm) -> String {
    let quote = |s: &str| {
        s.replace('\\', "\\\\")
            .replace('"', "\\\"")
            .replace('\n', "\\n")
    };
    let mut out = String::new();
    if let Some(d) = &form.description {
        out.push_str(&format!("@documentation(\"{}\")\n", quote(d)));
    }
    out.push_str(&format!("structure {} {{\n", form.name));
    for (i, f) in form.fields.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        if let Some(d) = &f.description {
            out.push_str(&format!("    @documentation(\"{}\")\n", quote(d)));
        }
        if f.required {
            out.push_str("    @required\n");
        }
        if f.searchable {
            out.push_str("    @amazon.datazone#searchable\n");
        }
        out.push_str(&format!("    {}: {}\n", f.name, f.kind));
    }
    out.push_str("}\n");
    out
}

/// The config's metadata forms as form types, each owned by its project (which must exist
/// first: DataZone CreateFormType), with their identifier and revision as outputs for the
/// enforcement step.
fn metadata_forms(
    us: &UnifiedStudio,
    domain: &Value,
    projects: &BTreeMap<&str, LogicalId>,
    t: &mut Template,
    path: &str,
) -> Result<(), EmitError> {
    for form in &us.metadata_forms {
        let Some(project) = us
            .projects
            .get(form.project)
            .and_then(|pj| projects.get(pj.name.as_str()))
        else {
            continue;
        };
        let id = form_id(form).map_err(|e| bug(path, e))?;
        let mut r = Resource::new(DZ_FORM_TYPE)
            .prop("DomainIdentifier", domain.clone())
            .prop("Name", form.name.as_str())
            .prop(
                "OwningProjectIdentifier",
                Value::GetAtt(project.clone(), "Id".into()),
            )
            .prop("Model", Value::map([("Smithy", Value::str(smithy(form)))]))
            .prop("Status", "ENABLED");
        if let Some(d) = &form.description {
            r = r.prop("Description", d.as_str());
        }
        t.add_resource(id.clone(), r).map_err(|e| bug(path, e))?;
        for (attr, what) in [
            ("FormTypeIdentifier", "identifier"),
            ("Revision", "revision"),
        ] {
            t.add_output(
                LogicalId::new(format!("{id}{attr}")).map_err(|e| bug(path, e))?,
                Output {
                    description: Some(format!("Metadata form {}: its {what}", form.name)),
                    value: Value::GetAtt(id.clone(), attr.into()),
                    export: None,
                    condition: None,
                },
            )
            .map_err(|e| bug(path, e))?;
        }
    }
    Ok(())
}

/// The enforcement rules for the forms that have `enforceOn`: CloudFormation has no DataZone
/// rule type, so a step with the DataZone CreateRule call per form and action, on the root
/// domain unit and every unit below it, for every asset type and data products.
fn form_rules_step(
    p: &Platform,
    us: &UnifiedStudio,
    projects: &StackId,
) -> Result<Option<ManualStep>, EmitError> {
    let forms: Vec<&mlz_model::MetadataForm> = us
        .metadata_forms
        .iter()
        .filter(|f| !f.enforce_on.is_empty())
        .collect();
    if forms.is_empty() {
        return Ok(None);
    }
    let stack = projects.stack_name(&p.organization.stack_prefix);
    let region = &p.organization.home_region;
    let output = |key: &str| {
        format!("$(aws cloudformation describe-stacks --region {region} --stack-name {stack} --query \"Stacks[0].Outputs[?OutputKey=='{key}'].OutputValue\" --output text)")
    };
    // The domain stack's exports (list-exports; an output may not re-export an import).
    let export = |key: &ExportKey| -> Result<String, EmitError> {
        let name = key.name(p)?;
        Ok(format!("$(aws cloudformation list-exports --region {region} --query \"Exports[?Name=='{name}'].Value\" --output text)"))
    };
    let mut commands = vec![
        format!("domain={}", export(&ExportKey::StudioDomainId)?),
        format!("root={}", export(&ExportKey::StudioRootDomainUnitId)?),
    ];
    for f in &forms {
        let id = form_id(f).map_err(|e| bug(&projects.path(), e))?;
        commands.push(format!(
            "form={}",
            output(&format!("{id}FormTypeIdentifier"))
        ));
        commands.push(format!("revision={}", output(&format!("{id}Revision"))));
        let detail = "\"{\\\"metadataFormEnforcementDetail\\\":{\\\"requiredMetadataForms\\\":[{\\\"typeIdentifier\\\":\\\"$form\\\",\\\"typeRevision\\\":\\\"$revision\\\"}]}}\"";
        for e in &f.enforce_on {
            let (action, label) = match e {
                mlz_model::FormEnforcement::Publishing => {
                    ("CREATE_LISTING_CHANGE_SET", "publishing")
                }
                mlz_model::FormEnforcement::Subscription => {
                    ("CREATE_SUBSCRIPTION_REQUEST", "subscription")
                }
            };
            let rule = format!("require-{}-on-{label}", f.name);
            // Create the rule, or point the existing one at the form's current revision.
            commands.push(format!(
                "rule=$(aws datazone list-rules --region {region} --domain-identifier \"$domain\" --target-type DOMAIN_UNIT --target-identifier \"$root\" --rule-type METADATA_FORM_ENFORCEMENT --action {action} --query \"items[?name=='{rule}'].identifier\" --output text)"
            ));
            commands.push(format!(
                "if [ -z \"$rule\" ]; then aws datazone create-rule --region {region} --domain-identifier \"$domain\" --name \"{rule}\" --action {action} --target \"{{\\\"domainUnitTarget\\\":{{\\\"domainUnitId\\\":\\\"$root\\\",\\\"includeChildDomainUnits\\\":true}}}}\" --scope '{{\"assetType\":{{\"selectionMode\":\"ALL\"}},\"dataProduct\":true}}' --detail {detail}; else aws datazone update-rule --region {region} --domain-identifier \"$domain\" --identifier \"$rule\" --detail {detail}; fi"
            ));
        }
    }
    Ok(Some(ManualStep {
        id: "unified-studio-metadata-form-rules".into(),
        account: us.account,
        reason: format!(
            "CloudFormation has no type for DataZone rules: make the domain require the metadata forms {} where the config says (enforceOn), from the root domain unit down, with DataZone CreateRule (METADATA_FORM_ENFORCEMENT), as an owner of the root domain unit (the role that deployed the domain). A rule names a form revision: run this again after a form changes, and it updates the rule.",
            forms.iter().map(|f| f.name.as_str()).collect::<Vec<_>>().join(", ")
        ),
        commands,
        provides: Vec::new(),
        requires: vec![Need::new(Fact::Deployed(projects.clone()), &rules::OUTPUTS_FIRST)],
    }))
}
