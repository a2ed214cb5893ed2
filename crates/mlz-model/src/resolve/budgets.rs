//! Budgets: a monthly cost budget per account and per team, with amounts and alert
//! thresholds checked against what AWS Budgets accepts.

use std::collections::{BTreeMap, HashMap};

use serde::Deserialize;

use super::Context;
use super::Resolver;
use crate::aws;
use crate::diag::did_you_mean;
use crate::model::*;
use crate::path::ConfigPath;

// The section as the config writes it: field for field what the schema allows (see raw.rs).

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawBudgets {
    pub currency: Option<String>,
    pub amount: Option<u64>,
    pub team_amount: Option<u64>,
    pub thresholds: Option<Vec<u32>>,
    pub forecast_threshold: Option<u32>,
    #[serde(default)]
    pub notify: Vec<String>,
    #[serde(default)]
    pub accounts: BTreeMap<String, u64>,
    #[serde(default)]
    pub teams: BTreeMap<String, u64>,
}

/// AWS Budgets: at most five notifications per budget, ten e-mail subscribers per
/// notification.
const MAX_NOTIFICATIONS: usize = 5;
const MAX_EMAIL_SUBSCRIBERS: usize = 10;
const DEFAULT_AMOUNT: u64 = 1000;
/// Regions whose CloudFormation resource list lacks AWS::Budgets::Budget (cfn-lint 1.58.0).
const NO_BUDGETS_REGIONS: &[&str] = &["eu-north-1"];

impl Resolver<'_> {
    pub(super) fn budgets(&mut self, raw: RawBudgets, cx: &Context<'_>) -> Option<Budgets> {
        let (org, accounts, teams) = (cx.org, cx.accounts, cx.teams);
        let base = ConfigPath::root().key("budgets");
        // The budgets stacks deploy in the home region, and the resource schemas have no
        // AWS::Budgets::Budget there.
        if NO_BUDGETS_REGIONS.contains(&org.home_region.as_str()) {
            let d = self
                .at(
                    "budgets-region",
                    &ConfigPath::root().key("organization").key("homeRegion"),
                    format!("budgets deploy in the home region, and CloudFormation has no AWS::Budgets::Budget in {}", org.home_region),
                )
                .hint("remove the budgets section, or use a home region that has the type");
            self.push(d);
        }
        let amount = raw.amount.unwrap_or(DEFAULT_AMOUNT);
        let thresholds = raw.thresholds.unwrap_or_else(|| vec![80, 100]);
        let forecast = match raw.forecast_threshold {
            Some(0) => None,
            Some(f) => Some(f),
            None => Some(100),
        };
        let notifications = thresholds.len() + usize::from(forecast.is_some());
        if notifications > MAX_NOTIFICATIONS {
            let d = self
                .at(
                    "too-many-notifications",
                    &base.key("thresholds"),
                    format!("{notifications} alerts per budget ({} thresholds and the forecast alert); AWS Budgets allows {MAX_NOTIFICATIONS}", thresholds.len()),
                )
                .hint("drop thresholds, or set forecastThreshold: 0");
            self.push(d);
        }
        for (i, e) in raw.notify.iter().enumerate() {
            if !aws::is_valid_email(e) {
                let d = self.bad_email(e, &base.key("notify").index(i));
                self.push(d);
            }
        }
        // Each alert goes to `notify`, the account's own address and, for a team budget, the
        // addresses of the team's accounts.
        let widest = teams
            .iter()
            .map(|t| t.accounts.len())
            .max()
            .unwrap_or(1)
            .max(1);
        if raw.notify.len() + widest > MAX_EMAIL_SUBSCRIBERS {
            let d = self
                .at(
                    "too-many-subscribers",
                    &base.key("notify"),
                    format!(
                        "{} addresses here plus up to {widest} account addresses per alert; AWS Budgets allows {MAX_EMAIL_SUBSCRIBERS}",
                        raw.notify.len()
                    ),
                )
                .hint("use a distribution list instead of several addresses");
            self.push(d);
        }
        let mut management_amount = amount;
        let mut account_amounts = vec![amount; accounts.list.len()];
        for (name, a) in &raw.accounts {
            match self.account_ref(name, &base.key("accounts").key(name), accounts, cx) {
                Some(AccountRef::Management) => management_amount = *a,
                Some(AccountRef::Account(i)) => account_amounts[i.0] = *a,
                None => {}
            }
        }
        let by_name: HashMap<&str, usize> = teams
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.as_str(), i))
            .collect();
        let mut team_amounts: Vec<u64> = teams
            .iter()
            .map(|t| match raw.team_amount {
                Some(a) => a,
                None => t.accounts.iter().map(|a| account_amounts[a.0]).sum(),
            })
            .collect();
        for (name, a) in &raw.teams {
            match by_name.get(name.as_str()) {
                Some(&i) => team_amounts[i] = *a,
                None => {
                    let d = self
                        .at(
                            "unknown-team",
                            &base.key("teams").key(name),
                            format!("no team is named {name:?}"),
                        )
                        .expected("the name of an entry in `teams`")
                        .maybe_hint(did_you_mean(name, teams.iter().map(|t| t.name.as_str())));
                    self.push(d);
                }
            }
        }
        Some(Budgets {
            currency: raw.currency.unwrap_or_else(|| "USD".into()),
            thresholds,
            forecast,
            notify: raw.notify,
            management_amount,
            account_amounts,
            team_amounts,
        })
    }
}
