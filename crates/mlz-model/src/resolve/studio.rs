//! SageMaker Unified Studio: the domain, its domain units, and the associated accounts with
//! the blueprints they enable, checked against accounts and governed regions.

use std::collections::HashMap;

use super::access::Names;
use super::{Accounts, Resolver};
use crate::diag::did_you_mean;
use crate::model::*;
use crate::path::ConfigPath;
use crate::raw::*;

impl Resolver<'_> {
    pub(super) fn unified_studio(
        &mut self,
        raw: RawUnifiedStudio,
        org: &Organization,
        cx: &Names<'_>,
        accounts: &Accounts,
    ) -> Option<UnifiedStudio> {
        let base = ConfigPath::root().key("unifiedStudio");
        let dp = base.key("domain");
        let account = self.account_ref(&raw.domain.account, &dp.key("account"), accounts, cx);
        let mut units: HashMap<String, ConfigPath> = HashMap::new();
        for (i, u) in raw.domain.domain_units.iter().enumerate() {
            units.insert(u.clone(), dp.key("domainUnits").index(i));
        }
        let mut associated = Vec::new();
        let mut seen: HashMap<String, ConfigPath> = HashMap::new();
        for (i, a) in raw.associated_accounts.iter().enumerate() {
            let p = base.key("associatedAccounts").index(i);
            if !self.declare_once(
                &mut seen,
                &a.account,
                p.key("account"),
                "duplicate-associated-account",
                "associated account",
            ) {
                continue;
            }
            // An account outside the organisation is not in `accounts`: the lookup reports it.
            let Some(acc) = self.account_ref(&a.account, &p.key("account"), accounts, cx) else {
                continue;
            };
            let regions = a
                .regions
                .clone()
                .unwrap_or_else(|| vec![org.home_region.clone()]);
            for (j, r) in regions.iter().enumerate() {
                if !org.governed_regions.contains(r) {
                    let d = self
                        .at("unified-studio-region", &p.key("regions").index(j), format!("blueprints would be enabled in {r}, which is not a governed region"))
                        .expected(format!("one of the governed regions: {}", org.governed_regions.join(", ")))
                        .hint("the region-deny policy would block every environment there: add the region to organization.governedRegions or remove it here");
                    self.push(d);
                }
            }
            for (j, u) in a.domain_units.iter().enumerate() {
                if !units.contains_key(u) {
                    let names: Vec<&str> = units.keys().map(String::as_str).collect();
                    let d = self
                        .at(
                            "unknown-domain-unit",
                            &p.key("domainUnits").index(j),
                            format!("no domain unit is named {u:?}"),
                        )
                        .expected("the name of an entry in unifiedStudio.domain.domainUnits")
                        .maybe_hint(did_you_mean(u, names.iter().copied()));
                    self.push(d);
                }
            }
            associated.push(AssociatedAccount {
                account: acc,
                regions,
                blueprints: a.blueprints.clone(),
                domain_units: a.domain_units.clone(),
            });
        }
        Some(UnifiedStudio {
            name: raw.domain.name,
            description: raw.domain.description,
            account: account?,
            domain_units: raw.domain.domain_units,
            associated,
        })
    }
}
