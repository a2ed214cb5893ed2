//! The generated deployment pipeline: which account and region it runs in. The account must
//! exist before the pipeline does, so it cannot be one that the pipeline itself vends.

use serde::Deserialize;

use super::Context;
use super::Resolver;
use crate::model::*;
use crate::path::ConfigPath;

// The section as the config writes it: field for field what the schema allows (see raw.rs).

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawPipeline {
    pub account: String,
    pub region: Option<String>,
}

impl Resolver<'_> {
    pub(super) fn pipeline(&mut self, raw: RawPipeline, cx: &Context<'_>) -> Option<Pipeline> {
        let (org, accounts) = (cx.org, cx.accounts);
        let base = ConfigPath::root().key("pipeline");
        let account = self.account_ref(&raw.account, &base.key("account"), accounts, cx)?;
        if let AccountRef::Account(i) = account {
            let a = &accounts.list[i.0];
            if a.created_by == CreatedBy::Mlz && a.id.is_none() {
                let d = self
                    .at(
                        "pipeline-account-vended",
                        &base.key("account"),
                        format!(
                            "the pipeline runs in account {:?}, which the pipeline itself would vend: it must exist first",
                            a.name
                        ),
                    )
                    .hint("vend the tooling account first (Account Factory console), then mark it createdBy: external, or give its id");
                self.push(d);
                return None;
            }
        }
        let region = match raw.region {
            Some(r) => {
                let path = base.key("region");
                self.check_region(&r, &path);
                if !org.governed_regions.contains(&r) {
                    let d = self
                        .at(
                            "pipeline-region",
                            &path,
                            format!("{r} is not a governed region: the region-deny policy would stop the pipeline"),
                        )
                        .hint("use the home region or another governed region");
                    self.push(d);
                }
                r
            }
            None => org.home_region.clone(),
        };
        Some(Pipeline { account, region })
    }
}
