//! AWS Organizations: OUs, accounts and policies, all deployed in the management account.
//!
//! Three kinds of stack, because of what depends on what: OUs first (accounts need their
//! parent ids), then accounts, then policies (which attach to both). Cross-stack values
//! travel as exports, and the manifest derives the stack order from them.
//!
//! Team accounts are spread over `organization.teamAccountStacks` stacks by a fixed hash of
//! the team name. Moving an `AWS::Organizations::Account` between stacks is not a plain
//! update (the old stack would retain it and the new one would try to create a second
//! account), so the stack an account lands in must never depend on the rest of the list.

use mlz_cfn::{LogicalId, Output, Resource, Template, Value};
use mlz_model::{AccountIdx, AccountRef, CreatedBy, OuIdx, Platform, PolicyType};

use crate::common::{
    account_ident, account_logical_id, all_ok, bug, chain, custom_function, new_stack, ou_ident,
    ou_logical_id, root_ident, team_bucket, use_ident, CustomFunction,
};
use crate::plan::{
    exports, rules, Area, ExportKey, Fact, Limited, Need, StackId, ORGANIZATION_ACCESS_ROLE,
};
use crate::stack::{Emitted, Import, ManualStep, Stack, StackParam};
use crate::types::{CUSTOM_ACCOUNT_ID, ORG_ACCOUNT, ORG_OU, ORG_POLICY};
use crate::EmitError;

// Organizations stacks deploy in the home region, beside every other management-account
// stack: the resource types exist in every commercial region, and exports (OU and account
// ids) can only be imported by stacks of the same region.

pub fn emit(p: &Platform, out: &mut Emitted) -> Result<(), Vec<EmitError>> {
    let mut errs = Vec::new();
    let mut accounts: Vec<Stack> = Vec::new();
    // With Control Tower, accounts are vended through the Account Factory instead
    // (control_tower.rs); Organizations then only holds OUs and policies.
    let vended = p.control_tower.as_ref().is_some_and(|c| c.enabled);
    let account_stacks = if vended {
        Vec::new()
    } else {
        vec![declared_accounts(p), team_accounts(p)]
    };
    for r in account_stacks {
        match r {
            Ok(stacks) => accounts.extend(stacks),
            Err(e) => errs.push(e),
        }
    }
    // AWS Organizations creates one account at a time from CloudFormation: the account
    // stacks form one chain.
    for (i, s) in accounts.iter_mut().enumerate() {
        let seq = i as u32;
        s.provides.push(Fact::Slot {
            resource: Limited::OrganizationsAccounts,
            lane: 0,
            seq,
        });
        if seq > 0 {
            s.requires.push(Need::new(
                Fact::Slot {
                    resource: Limited::OrganizationsAccounts,
                    lane: 0,
                    seq: seq - 1,
                },
                &rules::ACCOUNT_OPERATIONS,
            ));
        }
        let n = s.template.resources.len() as u32;
        s.operations = Some((Limited::OrganizationsAccounts, n));
    }
    match account_ids(p) {
        Ok(Some(s)) => out.stacks.push(s),
        Ok(None) => {}
        Err(e) => errs.push(e),
    }
    for r in [ous(p), Ok(accounts), policies(p)] {
        match r {
            Ok(stacks) => out.stacks.extend(stacks),
            Err(e) => errs.push(e),
        }
    }
    if let Some(step) = enable_policy_types(p) {
        out.steps.push(step);
    }
    all_ok(errs)
}

/// The ids of the accounts mlz neither vends nor creates and the config gives no id for
/// (`common::looked_up`): a function in the management account finds each by its e-mail
/// (Organizations `ListAccounts`, which the management account may call), and the stack
/// exports the id like the vending stacks export theirs, so no stack asks for it.
fn account_ids(p: &Platform) -> Result<Option<Stack>, EmitError> {
    let found: Vec<AccountIdx> = (0..p.accounts.len())
        .map(AccountIdx)
        .filter(|&i| crate::common::looked_up(p.account(i)))
        .collect();
    if found.is_empty() {
        return Ok(None);
    }
    let id = StackId::new(Area::Organizations, "account-ids");
    let path = id.path();
    let mut t = Template::new(format!(
        "{}: the ids of the accounts mlz does not create and the config gives no id for, looked up by e-mail and exported. Deploy in the management account, home region.",
        p.organization.name
    ));
    let function = custom_function(
        &mut t,
        CustomFunction {
            name: "AccountIdLookup",
            function_id: Some("AccountIdLookup"),
            role_description: "Lists the organisation's accounts; nothing else.",
            policy_name: "list-accounts",
            // ListAccounts has no resource-level permissions.
            statements: vec![Value::map([
                ("Effect", Value::str("Allow")),
                ("Action", Value::str("organizations:ListAccounts")),
                ("Resource", Value::str("*")),
            ])],
            description: "Returns the id of the organisation's one active account with a given e-mail address.",
            timeout: 120,
            code: ACCOUNT_ID_LOOKUP_CODE,
        },
        &path,
    )?;
    let mut requires = Vec::new();
    for i in found {
        let a = p.account(i);
        let lid = account_logical_id(a)?;
        let lookup = LogicalId::new(format!("{lid}Lookup")).map_err(|e| bug(&path, e))?;
        t.add_resource(
            lookup.clone(),
            Resource::new(CUSTOM_ACCOUNT_ID)
                .prop("ServiceTimeout", crate::common::service_timeout(120))
                .prop(
                    "ServiceToken",
                    Value::GetAtt(function.clone(), "Arn".into()),
                )
                .prop("Email", a.email.as_str()),
        )
        .map_err(|e| bug(&path, e))?;
        t.add_output(
            LogicalId::new(format!("{lid}Id")).map_err(|e| bug(&path, e))?,
            Output {
                description: Some(format!("Account id of {}", a.name)),
                value: Value::GetAtt(lookup, "Id".into()),
                export: exports::export(p, &ExportKey::AccountId(i))?,
                condition: None,
            },
        )
        .map_err(|e| bug(&path, e))?;
        requires.push(Need::new(
            Fact::AccountExists(AccountRef::Account(i)),
            &rules::ACCOUNT_FIRST,
        ));
    }
    let mut s = new_stack(p, id, t);
    s.requires = requires;
    Ok(Some(s))
}

const ACCOUNT_ID_LOOKUP_CODE: &str = r#"import boto3
import cfnresponse

org = boto3.client("organizations")


def handler(event, context):
    physical = event.get("PhysicalResourceId", "account-lookup")
    try:
        if event["RequestType"] == "Delete":
            cfnresponse.send(event, context, cfnresponse.SUCCESS, {}, physical)
            return
        email = event["ResourceProperties"]["Email"].lower()
        found = [
            a
            for page in org.get_paginator("list_accounts").paginate()
            for a in page["Accounts"]
            if a["Email"].lower() == email and a.get("State", a.get("Status")) == "ACTIVE"
        ]
        if len(found) != 1:
            raise Exception(f"{len(found)} active accounts of the organisation have the e-mail {email}: expected one (give the account's id in the config instead)")
        account = found[0]["Id"]
        cfnresponse.send(event, context, cfnresponse.SUCCESS, {"Id": account}, account)
    except Exception as error:  # report, never hang the stack
        cfnresponse.send(event, context, cfnresponse.FAILED, {}, physical, reason=str(error)[:1000])
"#;

/// Policy types must be enabled on the root before policies of that type attach.
/// CloudFormation has no resource type for EnablePolicyType; Control Tower enables service
/// control policies itself, and enabling a type twice fails (PolicyTypeAlreadyEnabledException),
/// so that one is left out when Control Tower is on.
fn enable_policy_types(p: &Platform) -> Option<ManualStep> {
    let control_tower = p.control_tower.as_ref().is_some_and(|c| c.enabled);
    let types: Vec<&'static str> = PolicyType::ALL
        .into_iter()
        .filter(|t| p.policies.iter().any(|x| x.policy_type == *t))
        .filter(|t| !(control_tower && *t == PolicyType::ServiceControl))
        .map(PolicyType::cfn_name)
        .collect();
    if types.is_empty() {
        return None;
    }
    let root = p
        .organization
        .root_id
        .clone()
        .unwrap_or_else(|| "<root id>".into());
    Some(ManualStep {
        id: "enable-policy-types".into(),
        account: AccountRef::Management,
        reason: "Policy types must be enabled on the root before policies of that type attach; CloudFormation has no resource type for EnablePolicyType.".into(),
        commands: types
            .iter()
            .map(|t| format!("aws organizations enable-policy-type --root-id {root} --policy-type {t}"))
            .collect(),
        provides: types.into_iter().map(Fact::PolicyTypeEnabled).collect(),
        requires: Vec::new(),
    })
}

fn ous(p: &Platform) -> Result<Vec<Stack>, EmitError> {
    let mut t = Template::new(format!(
        "{}: organizational units. Deploy in the management account.",
        p.organization.name
    ));
    let mut params = Vec::new();
    let mut imports = Vec::new();
    let mut order = Vec::new();
    let mut provides = Vec::new();
    for (oi, ou) in p.ous.iter().enumerate() {
        if ou.created_by != CreatedBy::Mlz {
            continue;
        }
        provides.push(Fact::OuExists(OuIdx(oi)));
        let lid = ou_logical_id(&ou.name)?;
        // A parent created in this template is referenced directly; anything else via its id.
        let parent = match ou.parent {
            None => use_ident(p, root_ident(p)?, &mut t, &mut params)?,
            Some(pi) => {
                let parent = p.ou(pi);
                if parent.created_by == CreatedBy::Mlz && parent.id.is_none() {
                    Value::Ref(ou_logical_id(&parent.name)?)
                } else {
                    use_ident(p, ou_ident(p, pi)?, &mut t, &mut params)?
                }
            }
        };
        if let Some(id) = &ou.id {
            imports.push(Import {
                logical_id: lid.to_string(),
                resource_type: ORG_OU,
                identifier: ("Id", id.clone()),
            });
        }
        let r = Resource::new(ORG_OU)
            .prop("Name", ou.name.as_str())
            .prop("ParentId", parent);
        t.add_resource(lid.clone(), r)
            .map_err(|e| bug("organizations/organizational-units", e))?;
        order.push(lid.clone());
        for (attr, value, key) in [
            ("Id", Value::Ref(lid.clone()), ExportKey::OuId(OuIdx(oi))),
            (
                "Arn",
                Value::GetAtt(lid.clone(), "Arn".into()),
                ExportKey::OuArn(OuIdx(oi)),
            ),
        ] {
            let out_id =
                LogicalId::new(format!("{lid}{attr}")).map_err(|e| bug("organizations", e))?;
            let o = Output {
                description: Some(format!("{} of OU {}", attr, ou.path)),
                value,
                export: exports::export(p, &key)?,
                condition: None,
            };
            t.add_output(out_id, o)
                .map_err(|e| bug("organizations/organizational-units", e))?;
        }
    }
    if t.resources.is_empty() {
        return Ok(Vec::new());
    }
    chain(&mut t, &order);
    let mut s = new_stack(
        p,
        StackId::new(Area::Organizations, "organizational-units"),
        t,
    );
    s.parameters = params;
    s.imports = imports;
    s.provides = provides;
    Ok(vec![s])
}

/// Adds one account resource and the output that exports its id.
fn add_account(
    p: &Platform,
    i: AccountIdx,
    t: &mut Template,
    params: &mut Vec<StackParam>,
    imports: &mut Vec<Import>,
    path: &str,
) -> Result<LogicalId, EmitError> {
    let a = p.account(i);
    let lid = account_logical_id(a)?;
    if let Some(id) = &a.id {
        imports.push(Import {
            logical_id: lid.to_string(),
            resource_type: ORG_ACCOUNT,
            identifier: ("AccountId", id.clone()),
        });
    }
    let parent = use_ident(p, ou_ident(p, a.ou)?, t, params)?;
    let mut r = Resource::new(ORG_ACCOUNT)
        .prop("AccountName", a.name.as_str())
        .prop("Email", a.email.as_str())
        .prop("ParentIds", Value::List(vec![parent]))
        // Deleting an Account resource closes the account: never let a stack do that.
        .retained();
    if !a.tags.is_empty() {
        r = r.prop("Tags", Value::tags(&a.tags));
    }
    t.add_resource(lid.clone(), r).map_err(|e| bug(path, e))?;
    let out_id = LogicalId::new(format!("{lid}Id")).map_err(|e| bug(path, e))?;
    let o = Output {
        description: Some(format!("Account id of {}", a.name)),
        value: Value::GetAtt(lid.clone(), "AccountId".into()),
        export: exports::export(p, &ExportKey::AccountId(i))?,
        condition: None,
    };
    t.add_output(out_id, o).map_err(|e| bug(path, e))?;
    Ok(lid)
}

fn declared_accounts(p: &Platform) -> Result<Vec<Stack>, EmitError> {
    let id = StackId::new(Area::Organizations, "accounts");
    let path = id.path();
    let path = path.as_str();
    let mut t = Template::new(format!(
        "{}: platform accounts. Deploy in the management account.",
        p.organization.name
    ));
    let mut params = Vec::new();
    let mut imports = Vec::new();
    let mut order = Vec::new();
    let mut provides = Vec::new();
    for (i, a) in p.accounts.iter().enumerate() {
        if a.team.is_none() && a.created_by == CreatedBy::Mlz {
            provides.extend(account_facts(AccountIdx(i)));
            order.push(add_account(
                p,
                AccountIdx(i),
                &mut t,
                &mut params,
                &mut imports,
                path,
            )?);
        }
    }
    if t.resources.is_empty() {
        return Ok(Vec::new());
    }
    chain(&mut t, &order);
    let mut s = new_stack(p, id, t);
    s.requires = ou_needs(p, &provides);
    s.limit_hint = "move some platform accounts into teams, or report this: platform accounts are kept in one stack";
    s.parameters = params;
    s.imports = imports;
    s.provides = provides;
    Ok(vec![s])
}

/// The OUs the accounts of a stack are created in must exist first.
fn ou_needs(p: &Platform, provides: &[Fact]) -> Vec<Need> {
    let mut out: Vec<Need> = Vec::new();
    for f in provides {
        if let Fact::AccountExists(AccountRef::Account(i)) = f {
            let need = Need::new(Fact::OuExists(p.account(*i).ou), &rules::OU_FIRST);
            if !out.contains(&need) {
                out.push(need);
            }
        }
    }
    out
}

/// What creating an account makes true: it exists, with the role Organizations creates in it.
fn account_facts(i: AccountIdx) -> [Fact; 2] {
    [
        Fact::AccountExists(AccountRef::Account(i)),
        Fact::Role {
            account: AccountRef::Account(i),
            name: ORGANIZATION_ACCESS_ROLE.to_owned(),
        },
    ]
}

fn team_accounts(p: &Platform) -> Result<Vec<Stack>, EmitError> {
    let n = p.organization.team_account_stacks;
    let width = (n.saturating_sub(1)).to_string().len().max(2);
    let mut buckets: Vec<Vec<AccountIdx>> = vec![Vec::new(); n as usize];
    for team in &p.teams {
        let b = team_bucket(&team.name, n) as usize;
        buckets[b].extend(team.accounts.iter().copied());
    }
    let mut out = Vec::new();
    for (b, accounts) in buckets.into_iter().enumerate() {
        if accounts.is_empty() {
            continue;
        }
        let id = StackId::new(Area::Organizations, format!("team-accounts-{b:0width$}"));
        let path = id.path();
        let mut t = Template::new(format!(
            "{}: team accounts, group {b:0width$} of {n} (teams are grouped by a fixed hash of their name). Deploy in the management account.",
            p.organization.name
        ));
        let mut params = Vec::new();
        let mut imports = Vec::new();
        let mut order = Vec::new();
        let mut provides = Vec::new();
        for i in accounts {
            provides.extend(account_facts(i));
            order.push(add_account(p, i, &mut t, &mut params, &mut imports, &path)?);
        }
        chain(&mut t, &order);
        let mut s = new_stack(p, id, t);
        s.requires = ou_needs(p, &provides);
        s.provides = provides;
        s.limit_hint = "raise organization.teamAccountStacks before the first deployment (it moves accounts between stacks)";
        s.parameters = params;
        s.imports = imports;
        out.push(s);
    }
    Ok(out)
}

fn policies(p: &Platform) -> Result<Vec<Stack>, EmitError> {
    let id = StackId::new(Area::Organizations, "policies");
    let path = id.path();
    let path = path.as_str();
    let mut t = Template::new(format!(
        "{}: organization policies and their attachments. Deploy in the management account.",
        p.organization.name
    ));
    let mut params = Vec::new();
    let mut order = Vec::new();
    for pol in &p.policies {
        let lid = LogicalId::derive("Policy", &pol.name).map_err(|e| bug(path, e))?;
        let mut targets = Vec::new();
        if pol.targets.root {
            targets.push(use_ident(p, root_ident(p)?, &mut t, &mut params)?);
        }
        for &o in &pol.targets.ous {
            targets.push(use_ident(p, ou_ident(p, o)?, &mut t, &mut params)?);
        }
        for &a in &pol.targets.accounts {
            targets.push(use_ident(p, account_ident(p, a)?, &mut t, &mut params)?);
        }
        let mut r = Resource::new(ORG_POLICY)
            .prop("Name", pol.name.as_str())
            .prop("Type", pol.policy_type.cfn_name())
            .prop(
                "Content",
                Value::from_json(&pol.document).map_err(|e| EmitError {
                    template: path.to_owned(),
                    message: format!("the document of policy {}: {e}", pol.name),
                    hint: Some("a policy document is plain JSON: CloudFormation functions cannot be used in it".into()),
                })?,
            );
        if let Some(d) = &pol.description {
            r = r.prop("Description", d.as_str());
        }
        if !targets.is_empty() {
            r = r.prop("TargetIds", Value::List(targets));
        }
        if !pol.tags.is_empty() {
            r = r.prop("Tags", Value::tags(&pol.tags));
        }
        t.add_resource(lid.clone(), r).map_err(|e| bug(path, e))?;
        order.push(lid);
    }
    if t.resources.is_empty() {
        return Ok(Vec::new());
    }
    chain(&mut t, &order);
    let mut s = new_stack(p, id, t);
    s.parameters = params;
    let mut types: Vec<&'static str> = p
        .policies
        .iter()
        .map(|x| x.policy_type.cfn_name())
        .collect();
    types.sort_unstable();
    types.dedup();
    s.requires = types
        .into_iter()
        .map(|t| Need::new(Fact::PolicyTypeEnabled(t), &rules::POLICY_TYPE_ENABLED))
        .collect();
    // The builtin region-deny policy exempts Control Tower's roles only in the regions the
    // config governs: they must be the landing zone's.
    if p.control_tower.as_ref().is_some_and(|c| c.enabled) {
        s.requires.push(Need::new(
            Fact::ControlTowerRegions,
            &rules::CONTROL_TOWER_REGIONS,
        ));
    }
    Ok(vec![s])
}
