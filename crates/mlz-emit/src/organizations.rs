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
use mlz_model::{AccountIdx, CreatedBy, Platform};

use crate::common::{
    account_ident, account_logical_id, all_ok, bug, chain, export_name, new_stack, ou_ident,
    ou_logical_id, root_ident, team_bucket, use_ident,
};
use crate::stack::{Emitted, Import, Stack, StackParam};
use crate::types::{ORG_ACCOUNT, ORG_OU, ORG_POLICY};
use crate::EmitError;

// Organizations stacks deploy in the home region, beside every other management-account
// stack: the resource types exist in every commercial region, and exports (OU and account
// ids) can only be imported by stacks of the same region.

/// Why account stacks deploy one after another.
const ONE_ACCOUNT_AT_A_TIME: &str =
    "AWS Organizations creates one account at a time: concurrent CreateAccount calls fail, so account stacks deploy in sequence";

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
    for i in 1..accounts.len() {
        let prev = accounts[i - 1].path.clone();
        accounts[i].after.push((prev, ONE_ACCOUNT_AT_A_TIME));
    }
    for r in [ous(p), Ok(accounts), policies(p)] {
        match r {
            Ok(stacks) => out.stacks.extend(stacks),
            Err(e) => errs.push(e),
        }
    }
    all_ok(errs)
}

fn ous(p: &Platform) -> Result<Vec<Stack>, EmitError> {
    let prefix = &p.organization.stack_prefix;
    let mut t = Template::new(format!(
        "{}: organizational units. Deploy in the management account.",
        p.organization.name
    ));
    let mut params = Vec::new();
    let mut imports = Vec::new();
    let mut order = Vec::new();
    for ou in &p.ous {
        if ou.created_by != CreatedBy::Mlz {
            continue;
        }
        let lid = ou_logical_id(&ou.name)?;
        // A parent created in this template is referenced directly; anything else via its id.
        let parent = match ou.parent {
            None => use_ident(root_ident(p)?, &mut t, &mut params),
            Some(pi) => {
                let parent = p.ou(pi);
                if parent.created_by == CreatedBy::Mlz && parent.id.is_none() {
                    Value::Ref(ou_logical_id(&parent.name)?)
                } else {
                    use_ident(ou_ident(p, pi)?, &mut t, &mut params)
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
        for (attr, value) in [
            ("Id", Value::Ref(lid.clone())),
            ("Arn", Value::GetAtt(lid.clone(), "Arn".into())),
        ] {
            let out_id =
                LogicalId::new(format!("{lid}{attr}")).map_err(|e| bug("organizations", e))?;
            let o = Output {
                description: Some(format!("{} of OU {}", attr, ou.path)),
                value,
                export: Some(Value::Str(export_name(prefix, &lid, attr))),
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
        "organizations-ous",
        "organizations/organizational-units",
        t,
    );
    s.parameters = params;
    s.imports = imports;
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
    let parent = use_ident(ou_ident(p, a.ou)?, t, params);
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
        export: Some(Value::Str(export_name(
            &p.organization.stack_prefix,
            &lid,
            "Id",
        ))),
        condition: None,
    };
    t.add_output(out_id, o).map_err(|e| bug(path, e))?;
    Ok(lid)
}

fn declared_accounts(p: &Platform) -> Result<Vec<Stack>, EmitError> {
    let path = "organizations/accounts";
    let mut t = Template::new(format!(
        "{}: platform accounts. Deploy in the management account.",
        p.organization.name
    ));
    let mut params = Vec::new();
    let mut imports = Vec::new();
    let mut order = Vec::new();
    for (i, a) in p.accounts.iter().enumerate() {
        if a.team.is_none() && a.created_by == CreatedBy::Mlz {
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
    let mut s = new_stack(p, "organizations-accounts", path, t);
    s.limit_hint = "move some platform accounts into teams, or report this: platform accounts are kept in one stack";
    s.parameters = params;
    s.imports = imports;
    Ok(vec![s])
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
        let path = format!("organizations/team-accounts-{b:0width$}");
        let mut t = Template::new(format!(
            "{}: team accounts, group {b:0width$} of {n} (teams are grouped by a fixed hash of their name). Deploy in the management account.",
            p.organization.name
        ));
        let mut params = Vec::new();
        let mut imports = Vec::new();
        let mut order = Vec::new();
        for i in accounts {
            order.push(add_account(p, i, &mut t, &mut params, &mut imports, &path)?);
        }
        chain(&mut t, &order);
        let mut s = new_stack(
            p,
            &format!("organizations-team-accounts-{b:0width$}"),
            &path,
            t,
        );
        s.limit_hint = "raise organization.teamAccountStacks before the first deployment (it moves accounts between stacks)";
        s.parameters = params;
        s.imports = imports;
        out.push(s);
    }
    Ok(out)
}

fn policies(p: &Platform) -> Result<Vec<Stack>, EmitError> {
    let path = "organizations/policies";
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
            targets.push(use_ident(root_ident(p)?, &mut t, &mut params));
        }
        for &o in &pol.targets.ous {
            targets.push(use_ident(ou_ident(p, o)?, &mut t, &mut params));
        }
        for &a in &pol.targets.accounts {
            targets.push(use_ident(account_ident(p, a)?, &mut t, &mut params));
        }
        let mut r = Resource::new(ORG_POLICY)
            .prop("Name", pol.name.as_str())
            .prop("Type", pol.policy_type.cfn_name())
            .prop("Content", Value::from_json(&pol.document));
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
    let mut s = new_stack(p, "organizations-policies", path, t);
    s.parameters = params;
    Ok(vec![s])
}
