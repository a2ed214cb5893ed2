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

use mlz_cfn::{LogicalId, Output, Parameter, Resource, Template, Value};
use mlz_model::{Account, AccountIdx, CreatedBy, OuIdx, Platform};

use crate::stack::{AccountRef, DeployKind, Import, Stack, StackParam};
use crate::types::{ORG_ACCOUNT, ORG_OU, ORG_POLICY};
use crate::EmitError;

// Organizations stacks deploy in the home region, beside every other management-account
// stack: the resource types exist in every commercial region, and exports (OU and account
// ids) can only be imported by stacks of the same region.

const ROOT_ID_PATTERN: &str = "^r-[0-9a-z]{4,32}$";
const OU_ID_PATTERN: &str = "^ou-[0-9a-z]{4,32}-[a-z0-9]{8,32}$";
const ACCOUNT_ID_PATTERN: &str = "^[0-9]{12}$";

pub fn ou_logical_id(name: &str) -> Result<LogicalId, EmitError> {
    LogicalId::derive("Ou", name).map_err(|e| bug("organizations", e))
}

pub fn account_logical_id(a: &Account) -> Result<LogicalId, EmitError> {
    LogicalId::derive("Account", &a.key).map_err(|e| bug("organizations", e))
}

fn bug(template: &str, e: impl std::fmt::Display) -> EmitError {
    EmitError {
        template: template.to_owned(),
        message: e.to_string(),
        hint: None,
    }
}

/// The export that carries an OU's or account's id: `mlz-OuWorkloads-Id`.
pub fn export_name(prefix: &str, id: &LogicalId, attr: &str) -> String {
    format!("{prefix}-{id}-{attr}")
}

/// Where a template gets the id of an OU, an account or the root from.
enum Ident {
    Literal(String),
    Import(String),
    Param {
        id: LogicalId,
        description: String,
        pattern: &'static str,
    },
}

fn root_ident(p: &Platform) -> Result<Ident, EmitError> {
    Ok(match &p.organization.root_id {
        Some(r) => Ident::Literal(r.clone()),
        None => Ident::Param {
            id: LogicalId::new("RootId").map_err(|e| bug("organizations", e))?,
            description: "The organization root id (r-...): aws organizations list-roots".into(),
            pattern: ROOT_ID_PATTERN,
        },
    })
}

fn ou_ident(p: &Platform, i: OuIdx) -> Result<Ident, EmitError> {
    let ou = p.ou(i);
    let lid = ou_logical_id(&ou.name)?;
    Ok(match (&ou.id, ou.created_by) {
        (Some(id), _) => Ident::Literal(id.clone()),
        (None, CreatedBy::Mlz) => {
            Ident::Import(export_name(&p.organization.stack_prefix, &lid, "Id"))
        }
        (None, by) => Ident::Param {
            id: LogicalId::new(format!("{lid}Id")).map_err(|e| bug("organizations", e))?,
            description: format!(
                "The id (ou-...) of OU {}, created by {}",
                ou.path,
                created_by_text(by)
            ),
            pattern: OU_ID_PATTERN,
        },
    })
}

fn account_ident(p: &Platform, i: AccountIdx) -> Result<Ident, EmitError> {
    let a = p.account(i);
    let lid = account_logical_id(a)?;
    Ok(match (&a.id, a.created_by) {
        (Some(id), _) => Ident::Literal(id.clone()),
        (None, CreatedBy::Mlz) => {
            Ident::Import(export_name(&p.organization.stack_prefix, &lid, "Id"))
        }
        (None, by) => Ident::Param {
            id: LogicalId::new(format!("{lid}Id")).map_err(|e| bug("organizations", e))?,
            description: format!(
                "The 12-digit id of account {}, created by {}",
                a.name,
                created_by_text(by)
            ),
            pattern: ACCOUNT_ID_PATTERN,
        },
    })
}

fn created_by_text(by: CreatedBy) -> &'static str {
    match by {
        CreatedBy::Mlz => "mlz",
        CreatedBy::ControlTower => "Control Tower",
        CreatedBy::External => "someone else (external)",
    }
}

/// Turns an [`Ident`] into a value, declaring the template parameter it needs on first use.
fn use_ident(ident: Ident, t: &mut Template, params: &mut Vec<StackParam>) -> Value {
    match ident {
        Ident::Literal(s) => Value::Str(s),
        Ident::Import(name) => Value::ImportValue(Box::new(Value::Str(name))),
        Ident::Param {
            id,
            description,
            pattern,
        } => {
            if !t.parameters.contains_key(&id) {
                let param = Parameter::string(description.clone()).with_pattern(
                    pattern,
                    "must be an id of the form shown in the description",
                );
                // Cannot collide: parameter ids end in "Id" and resource ids never do.
                let _ = t.add_parameter(id.clone(), param);
                params.push(StackParam {
                    name: id.to_string(),
                    description,
                    value: None,
                });
            }
            Value::Ref(id)
        }
    }
}

fn new_stack(p: &Platform, name: &str, path: &str, template: Template) -> Stack {
    Stack {
        name: format!("{}-{name}", p.organization.stack_prefix),
        path: path.to_owned(),
        template,
        account: AccountRef::Management,
        region: p.organization.home_region.clone(),
        deploy: DeployKind::Stack,
        parameters: Vec::new(),
        imports: Vec::new(),
        after: Vec::new(),
    }
}

/// Why account stacks deploy one after another.
const ONE_ACCOUNT_AT_A_TIME: &str =
    "AWS Organizations creates one account at a time: concurrent CreateAccount calls fail, so account stacks deploy in sequence";

pub fn emit(p: &Platform, out: &mut Vec<Stack>) -> Result<(), Vec<EmitError>> {
    let mut errs = Vec::new();
    let mut accounts: Vec<Stack> = Vec::new();
    for r in [declared_accounts(p), team_accounts(p)] {
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
            Ok(stacks) => out.extend(stacks),
            Err(e) => errs.push(e),
        }
    }
    if errs.is_empty() {
        Ok(())
    } else {
        Err(errs)
    }
}

/// Makes the given resources (in this order) create one after another. AWS Organizations
/// rejects concurrent changes (the Account resource documentation requires `DependsOn` between
/// accounts of one template), so every resource waits for the one before it, unless it already
/// references it (a redundant `DependsOn` is a cfn-lint warning).
fn chain(t: &mut Template, ids: &[LogicalId]) {
    for pair in ids.windows(2) {
        let (prev, cur) = (&pair[0], &pair[1]);
        let Some(r) = t.resources.get_mut(cur) else {
            continue;
        };
        let mut referenced = false;
        for v in r.properties.values() {
            v.walk(&mut |v| {
                if matches!(v, Value::Ref(x) | Value::GetAtt(x, _) if x == prev) {
                    referenced = true;
                }
            });
        }
        if !referenced {
            r.depends_on.insert(prev.clone());
        }
    }
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
    s.parameters = params;
    s.imports = imports;
    Ok(vec![s])
}

/// FNV-1a, 64 bit. Frozen: changing it would move team accounts between stacks.
pub fn stable_hash(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The team-account stack a team belongs to.
pub fn team_bucket(team: &str, buckets: u32) -> u32 {
    (stable_hash(team) % u64::from(buckets.max(1))) as u32
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_frozen() {
        // These values are a contract: team accounts must never move between stacks.
        assert_eq!(stable_hash(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(stable_hash("a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(
            team_bucket("fraud-detection", 32),
            (stable_hash("fraud-detection") % 32) as u32
        );
    }
}
