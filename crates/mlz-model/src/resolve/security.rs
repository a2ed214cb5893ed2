//! Security services: the delegated administrator and the central log bucket's account.

use serde::Deserialize;

use super::Context;
use super::Resolver;
use crate::model::*;
use crate::path::ConfigPath;

// The section as the config writes it: field for field what the schema allows (see raw.rs).

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawSecurity {
    pub admin_account: String,
    pub log_archive_account: String,
    pub log_retention_days: Option<u32>,
}

const DEFAULT_RETENTION_DAYS: u32 = 730;

impl Resolver<'_> {
    pub(super) fn security(&mut self, raw: RawSecurity, cx: &Context<'_>) -> Option<Security> {
        let accounts = cx.accounts;
        let base = ConfigPath::root().key("security");
        let admin = self.account_ref(&raw.admin_account, &base.key("adminAccount"), accounts, cx);
        let log_archive = self.account_ref(
            &raw.log_archive_account,
            &base.key("logArchiveAccount"),
            accounts,
            cx,
        );
        if admin == Some(AccountRef::Management) {
            let d = self
                .at(
                    "security-admin-management",
                    &base.key("adminAccount"),
                    "the management account cannot be the delegated administrator of the security services",
                )
                .hint("use the Security Tooling (audit) account, as the AWS Security Reference Architecture does");
            self.push(d);
            return None;
        }
        Some(Security {
            admin: admin?,
            log_archive: log_archive?,
            retention_days: raw.log_retention_days.unwrap_or(DEFAULT_RETENTION_DAYS),
        })
    }
}
