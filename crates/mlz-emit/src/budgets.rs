//! Budgets (docs/budgets.md): a monthly cost budget per account and per team, created in the
//! management account (the payer sees every linked account's spend) and filtered by linked
//! account. Declared accounts share `budgets/platform`; team accounts and their team budget
//! live in `budgets/teams-NN`, spread by the same team hash as the vending stacks, so adding
//! a team touches one stack.

use std::collections::BTreeMap;

use mlz_cfn::{LogicalId, Pseudo, Resource, Template, Value};
use mlz_model::{AccountRef, Budgets, Platform};

use crate::common::{
    account_ref_ident, all_ok, bucket_label, bucket_of, bug, new_stack, slug, use_ident,
};
use crate::plan::{Area, StackId};
use crate::stack::{Emitted, Stack, StackParam};
use crate::types::BUDGET;
use crate::EmitError;

pub fn emit(p: &Platform, out: &mut Emitted) -> Result<(), Vec<EmitError>> {
    let Some(b) = &p.budgets else {
        return Ok(());
    };
    let mut errs = Vec::new();
    match platform(p, b) {
        Ok(s) => out.stacks.push(s),
        Err(e) => errs.push(e),
    }
    let buckets = p.organization.team_account_stacks;
    let mut by_bucket: BTreeMap<usize, Vec<usize>> = BTreeMap::new();
    for (ti, t) in p.teams.iter().enumerate() {
        by_bucket
            .entry(bucket_of(&t.name, buckets))
            .or_default()
            .push(ti);
    }
    for (bucket, teams) in by_bucket {
        match team_stack(p, b, bucket, &teams) {
            Ok(s) => out.stacks.push(s),
            Err(e) => errs.push(e),
        }
    }
    all_ok(errs)
}

/// One monthly cost budget over `ids` (linked accounts), alerting `emails` and `notify`.
fn budget(
    p: &Platform,
    b: &Budgets,
    name: &str,
    amount: u64,
    ids: Vec<Value>,
    emails: &[&str],
) -> Resource {
    let mut subscribers: Vec<&str> = b.notify.iter().map(String::as_str).collect();
    for e in emails {
        if !subscribers.iter().any(|s| s.eq_ignore_ascii_case(e)) {
            subscribers.push(e);
        }
    }
    let subs = Value::List(
        subscribers
            .iter()
            .map(|a| {
                Value::map([
                    ("SubscriptionType", Value::str("EMAIL")),
                    ("Address", Value::str(*a)),
                ])
            })
            .collect(),
    );
    let mut alerts: Vec<(&str, u32)> = b.thresholds.iter().map(|t| ("ACTUAL", *t)).collect();
    alerts.extend(b.forecast.map(|f| ("FORECASTED", f)));
    let notifications = alerts
        .into_iter()
        .map(|(kind, t)| {
            Value::map([
                (
                    "Notification",
                    Value::map([
                        ("NotificationType", Value::str(kind)),
                        ("ComparisonOperator", Value::str("GREATER_THAN")),
                        ("Threshold", Value::Int(i64::from(t))),
                        ("ThresholdType", Value::str("PERCENTAGE")),
                    ]),
                ),
                ("Subscribers", subs.clone()),
            ])
        })
        .collect();
    // NotificationsWithSubscribers is create-only: a new alert address or threshold replaces
    // the budget, and CloudFormation creates the replacement before deleting the old one. The
    // name therefore carries a hash of the notifications, so that the replacement has a name
    // of its own instead of failing on the old one's.
    let notifications = Value::List(notifications);
    let tag = crate::common::stable_hash(&notifications.compact_json());
    Resource::new(BUDGET)
        .prop(
            "Budget",
            Value::map([
                (
                    "BudgetName",
                    Value::str(format!(
                        "{}-{name}-{:06x}",
                        p.organization.stack_prefix,
                        tag & 0xff_ffff
                    )),
                ),
                ("BudgetType", Value::str("COST")),
                ("TimeUnit", Value::str("MONTHLY")),
                (
                    "BudgetLimit",
                    Value::map([
                        (
                            "Amount",
                            Value::Int(i64::try_from(amount).unwrap_or(i64::MAX)),
                        ),
                        ("Unit", Value::str(b.currency.clone())),
                    ]),
                ),
                (
                    "FilterExpression",
                    Value::map([(
                        "Dimensions",
                        Value::map([
                            ("Key", Value::str("LINKED_ACCOUNT")),
                            ("Values", Value::List(ids)),
                        ]),
                    )]),
                ),
            ]),
        )
        .prop("NotificationsWithSubscribers", notifications)
}

fn account_id(
    p: &Platform,
    r: AccountRef,
    t: &mut Template,
    params: &mut Vec<StackParam>,
) -> Result<Value, EmitError> {
    Ok(match r {
        // These stacks deploy in the management account.
        AccountRef::Management => Value::Pseudo(Pseudo::AccountId),
        r => use_ident(p, account_ref_ident(p, r)?, t, params)?,
    })
}

fn platform(p: &Platform, b: &Budgets) -> Result<Stack, EmitError> {
    let id = StackId::new(Area::Budgets, "platform");
    let path = id.path();
    let path = path.as_str();
    let mut t = Template::new(format!(
        "{}: monthly cost budgets of the management account and the declared accounts. Deploy in the management account, home region.",
        p.organization.name
    ));
    let mut params = Vec::new();
    let mgmt = account_id(p, AccountRef::Management, &mut t, &mut params)?;
    t.add_resource(
        LogicalId::new("BudgetManagement").map_err(|e| bug(path, e))?,
        budget(
            p,
            b,
            "management",
            b.management_amount,
            vec![mgmt],
            &[p.organization.management.email.as_str()],
        ),
    )
    .map_err(|e| bug(path, e))?;
    for (i, a) in p.accounts.iter().enumerate() {
        if a.team.is_some() {
            continue;
        }
        let id = account_id(
            p,
            AccountRef::Account(mlz_model::AccountIdx(i)),
            &mut t,
            &mut params,
        )?;
        t.add_resource(
            LogicalId::derive("Budget", &a.key).map_err(|e| bug(path, e))?,
            budget(
                p,
                b,
                &format!("account-{}", slug(&a.key)),
                b.account_amounts[i],
                vec![id],
                &[a.email.as_str()],
            ),
        )
        .map_err(|e| bug(path, e))?;
    }
    let mut s = new_stack(p, id, t);
    s.parameters = params;
    s.limit_hint =
        "a budget per declared account: split declared accounts into teams, or report it";
    Ok(s)
}

fn team_stack(
    p: &Platform,
    b: &Budgets,
    bucket: usize,
    teams: &[usize],
) -> Result<Stack, EmitError> {
    let label = bucket_label(bucket, p.organization.team_account_stacks);
    let id = StackId::new(Area::Budgets, format!("teams-{label}"));
    let path = id.path();
    let mut t = Template::new(format!(
        "{}: monthly cost budgets of the teams in bucket {label} and of their accounts. Deploy in the management account, home region.",
        p.organization.name
    ));
    let mut params = Vec::new();
    for &ti in teams {
        let team = &p.teams[ti];
        let mut ids = Vec::new();
        let mut emails = Vec::new();
        for &ai in &team.accounts {
            let a = p.account(ai);
            let id = account_id(p, AccountRef::Account(ai), &mut t, &mut params)?;
            t.add_resource(
                LogicalId::derive("Budget", &a.key).map_err(|e| bug(&path, e))?,
                budget(
                    p,
                    b,
                    &format!("account-{}", slug(&a.key)),
                    b.account_amounts[ai.0],
                    vec![id.clone()],
                    &[a.email.as_str()],
                ),
            )
            .map_err(|e| bug(&path, e))?;
            ids.push(id);
            emails.push(a.email.as_str());
        }
        t.add_resource(
            LogicalId::derive("TeamBudget", &team.name).map_err(|e| bug(&path, e))?,
            budget(
                p,
                b,
                &format!("team-{}", slug(&team.name)),
                b.team_amounts[ti],
                ids,
                &emails,
            ),
        )
        .map_err(|e| bug(&path, e))?;
    }
    let mut s = new_stack(p, id, t);
    s.parameters = params;
    s.limit_hint = "raise organization.teamAccountStacks before the first deployment (it moves vended accounts between stacks)";
    s.contents = Some((
        "teams",
        teams.iter().map(|&ti| p.teams[ti].name.clone()).collect(),
    ));
    Ok(s)
}
