//! Service Catalog portfolios: products, principals, tag options and shares, resolved
//! against accounts, OUs and Identity Center permission sets.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use serde::Deserialize;

use super::Context;
use super::{Accounts, Resolver};
use crate::diag::did_you_mean;
use crate::model::*;
use crate::path::ConfigPath;

// The section as the config writes it: field for field what the schema allows (see raw.rs).

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawServiceCatalog {
    #[serde(default)]
    pub portfolios: Vec<RawPortfolio>,
    /// Permission sets whose sessions may assume the cloud admin role.
    pub cloud_admins: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawPortfolio {
    pub name: String,
    pub display_name: Option<String>,
    pub description: Option<String>,
    pub provider: Option<String>,
    pub account: String,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    #[serde(default)]
    pub tag_options: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub principals: RawPrincipals,
    pub launch_role: Option<String>,
    #[serde(default)]
    pub share_with: RawShareWith,
    pub products: Vec<RawProduct>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawPrincipals {
    #[serde(default)]
    pub permission_sets: Vec<String>,
    #[serde(default)]
    pub roles: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) enum RawOuShareMode {
    #[default]
    Organization,
    Accounts,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawShareWith {
    #[serde(default)]
    pub accounts: Vec<String>,
    #[serde(default)]
    pub ous: Vec<String>,
    #[serde(default)]
    pub ou_share_mode: RawOuShareMode,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub(super) struct RawProduct {
    pub name: String,
    pub file: Option<String>,
    pub description: Option<String>,
    pub owner: Option<String>,
}

/// Service Catalog accepts at most this many IAM_PATTERN principals per portfolio.
const MAX_PATTERN_PRINCIPALS: usize = 10;
const DEFAULT_PROVIDER: &str = "ML platform team";

/// The IAM_PATTERN that matches the roles Identity Center makes for a permission set in
/// every account: `/aws-reserved/sso.amazonaws.com/[region/]AWSReservedSSO_<name>_<suffix>`.
pub fn permission_set_pattern(name: &str) -> String {
    format!("arn:aws:iam:::role/aws-reserved/sso.amazonaws.com/*AWSReservedSSO_{name}_*")
}

/// The IAM_PATTERN of every team's Studio execution role (`mlz-sagemaker-<team>-studio`, made
/// by the studio-domain product) in every account.
pub fn studio_role_pattern() -> String {
    format!(
        "arn:aws:iam:::role/{}*{}",
        crate::products::ROLE_PREFIX,
        crate::products::STUDIO_ROLE_SUFFIX
    )
}

/// The parameters SageMaker passes to a project template's product when a Studio user
/// creates a project from it (SageMaker developer guide, "Create custom project templates").
pub const PROJECT_PARAMETERS: [&str; 2] = ["SageMakerProjectName", "SageMakerProjectId"];

impl Resolver<'_> {
    /// Whether a product is a SageMaker project template: its template declares both
    /// parameters SageMaker passes. One without the other is a mistake.
    fn project_template(
        &mut self,
        template: &mlz_cfn::Template,
        name: &str,
        at: &ConfigPath,
    ) -> bool {
        let declared: Vec<&str> = PROJECT_PARAMETERS
            .into_iter()
            .filter(|n| template.parameters.keys().any(|k| k.as_str() == *n))
            .collect();
        match declared.len() {
            2 => true,
            0 => false,
            _ => {
                let missing = PROJECT_PARAMETERS
                    .into_iter()
                    .find(|n| !declared.contains(n))
                    .unwrap_or_default();
                let d = self
                    .at(
                        "project-template-parameters",
                        at,
                        format!("product {name:?} declares {} but not {missing}", declared[0]),
                    )
                    .expected("both SageMakerProjectName and SageMakerProjectId (a SageMaker project template), or neither")
                    .hint("SageMaker passes both when a Studio user creates a project from the product: declare the other one too, or remove this one");
                self.push(d);
                false
            }
        }
    }

    /// `serviceCatalog.cloudAdmins`: permission sets of the config.
    pub(super) fn cloud_admins(
        &mut self,
        raw: Option<&[String]>,
        identity: Option<&IdentityCenter>,
    ) -> Option<Vec<String>> {
        let raw = raw?;
        let base = ConfigPath::root().key("serviceCatalog").key("cloudAdmins");
        let names: HashSet<&str> = identity
            .map(|ic| ic.permission_sets.iter().map(|p| p.name.as_str()).collect())
            .unwrap_or_default();
        let mut out = Vec::new();
        for (i, ps) in raw.iter().enumerate() {
            if names.contains(ps.as_str()) {
                if !out.contains(ps) {
                    out.push(ps.clone());
                }
            } else {
                let d = self
                    .at(
                        "unknown-permission-set",
                        &base.index(i),
                        format!("no permission set is named {ps:?}"),
                    )
                    .expected("the name of an entry in identityCenter.permissionSets")
                    .maybe_hint(did_you_mean(ps, names.iter().copied()));
                self.push(d);
            }
        }
        Some(out)
    }

    /// A portfolio's shares: with accounts (not its own), and with OUs as organisation-node
    /// shares or, with `ouShareMode: accounts`, with each of their accounts, which needs the
    /// accounts' ids. Returns the accounts, the OU shares, and the OUs whose accounts consume.
    fn shares(
        &mut self,
        pf: &RawPortfolio,
        p: &ConfigPath,
        account: AccountRef,
        cx: &Context<'_>,
        accounts: &Accounts,
    ) -> (BTreeSet<AccountRef>, Vec<OuIdx>, Vec<OuIdx>) {
        let sp = p.key("shareWith");
        let mut share_accounts: BTreeSet<AccountRef> = BTreeSet::new();
        for (j, a) in pf.share_with.accounts.iter().enumerate() {
            if let Some(r) = self.account_ref(a, &sp.key("accounts").index(j), accounts, cx) {
                if r == account {
                    let d = self
                        .at(
                            "share-with-self",
                            &sp.key("accounts").index(j),
                            format!("{a:?} holds the portfolio; it needs no share"),
                        )
                        .warning();
                    self.push(d);
                } else {
                    share_accounts.insert(r);
                }
            }
        }
        let ous = self.ou_list(&pf.share_with.ous, &sp.key("ous"), cx);
        let mut share_ous = Vec::new();
        match pf.share_with.ou_share_mode {
            RawOuShareMode::Organization => share_ous.extend(ous.iter().copied()),
            RawOuShareMode::Accounts => {
                for (j, &ou) in ous.iter().enumerate() {
                    let subtree = Self::subtree(cx.ous, ou);
                    let members: Vec<AccountIdx> = (0..accounts.list.len())
                        .map(AccountIdx)
                        .filter(|a| subtree.contains(&accounts.list[a.0].ou))
                        .collect();
                    let (known, unknown): (Vec<AccountIdx>, Vec<AccountIdx>) = members
                        .iter()
                        .partition(|a| accounts.list[a.0].id.is_some());
                    let op = sp.key("ous").index(j);
                    let ou_name = &cx.ous[ou.0].name;
                    if known.is_empty() {
                        let d = self
                            .at("share-needs-account-ids", &op, format!("OU {ou_name:?} has no accounts with known ids, so a per-account share would reach nobody"))
                            .hint("give the accounts' ids in the config, or use ouShareMode: organization (one organization-node share that reaches every account)");
                        self.push(d);
                    } else if !unknown.is_empty() {
                        let names: Vec<&str> = unknown
                            .iter()
                            .map(|a| accounts.list[a.0].name.as_str())
                            .collect();
                        let d = self
                            .at("share-needs-account-ids", &op, format!("OU {ou_name:?} has accounts without known ids: {}", names.join(", ")))
                            .hint("a PortfolioShare needs a 12-digit account id: give these accounts' ids, or use ouShareMode: organization");
                        self.push(d);
                    }
                    share_accounts.extend(
                        known
                            .into_iter()
                            .filter(|a| AccountRef::Account(*a) != account)
                            .map(AccountRef::Account),
                    );
                }
            }
        }

        (share_accounts, share_ous, ous)
    }

    pub(super) fn service_catalog(
        &mut self,
        raw: RawServiceCatalog,
        cx: &Context<'_>,
    ) -> Option<(Vec<Portfolio>, Option<Vec<String>>)> {
        let (accounts, identity) = (cx.accounts, cx.identity_center);
        let cloud_admins = self.cloud_admins(raw.cloud_admins.as_deref(), identity);
        let base = ConfigPath::root().key("serviceCatalog").key("portfolios");
        let mut out = Vec::new();
        let mut seen: HashMap<String, ConfigPath> = HashMap::new();
        let permission_sets: HashSet<&str> = identity
            .map(|ic| ic.permission_sets.iter().map(|p| p.name.as_str()).collect())
            .unwrap_or_default();
        for (i, pf) in raw.portfolios.iter().enumerate() {
            let p = base.index(i);
            if !self.declare_once(
                &mut seen,
                &pf.name,
                p.key("name"),
                "duplicate-portfolio",
                "portfolio",
            ) {
                continue;
            }
            self.check_tags(&pf.tags, &p.key("tags"));
            let Some(account) = self.account_ref(&pf.account, &p.key("account"), accounts, cx)
            else {
                continue;
            };

            // Principals, as patterns that match in every account the portfolio reaches.
            let mut principals = Vec::new();
            for (j, ps) in pf.principals.permission_sets.iter().enumerate() {
                let pp = p.key("principals").key("permissionSets").index(j);
                if identity.is_none() {
                    let d = self.at("unknown-permission-set", &pp, format!("{ps:?} names a permission set, but the config has no identityCenter section"));
                    self.push(d);
                } else if !permission_sets.contains(ps.as_str()) {
                    let d = self
                        .at(
                            "unknown-permission-set",
                            &pp,
                            format!("no permission set is named {ps:?}"),
                        )
                        .expected("the name of an entry in identityCenter.permissionSets")
                        .maybe_hint(did_you_mean(ps, permission_sets.iter().copied()));
                    self.push(d);
                }
                principals.push(permission_set_pattern(ps));
            }
            for r in &pf.principals.roles {
                principals.push(format!("arn:aws:iam:::role/{r}"));
            }
            let (share_accounts, share_ous, ous) = self.shares(pf, &p, account, cx, accounts);

            // Products.
            let mut products_out = Vec::new();
            let mut product_names: HashMap<String, ConfigPath> = HashMap::new();
            for (j, prod) in pf.products.iter().enumerate() {
                let pp = p.key("products").index(j);
                if !self.declare_once(
                    &mut product_names,
                    &prod.name,
                    pp.key("name"),
                    "duplicate-product",
                    "product",
                ) {
                    continue;
                }
                let Some(loaded) = self.load_template(
                    &super::templates::PRODUCT,
                    &prod.name,
                    prod.file.as_deref(),
                    &pp,
                ) else {
                    continue;
                };
                match loaded {
                    Ok((template, warnings)) => {
                        self.diags.extend(warnings);
                        let project_template = self.project_template(&template, &prod.name, &pp);
                        products_out.push(Product {
                            name: prod.name.clone(),
                            description: prod
                                .description
                                .clone()
                                .unwrap_or_else(|| template.description.clone()),
                            owner: prod.owner.clone().unwrap_or_else(|| {
                                pf.provider
                                    .clone()
                                    .unwrap_or_else(|| DEFAULT_PROVIDER.to_owned())
                            }),
                            builtin: prod.file.is_none(),
                            project_template,
                            template,
                        });
                    }
                    Err(diags) => self.diags.extend(diags),
                }
            }

            // SageMaker Studio lists a project template to the Studio execution roles the
            // portfolio is associated with (docs/aws-rules.md, `project-templates`).
            if products_out.iter().any(|pr| pr.project_template) {
                let studio = studio_role_pattern();
                if !principals.contains(&studio) {
                    principals.push(studio);
                }
            }
            if principals.len() > MAX_PATTERN_PRINCIPALS {
                let d = self
                    .at("too-many-principals", &p.key("principals"), format!("portfolio {:?} has {} principal patterns{}", pf.name, principals.len(), if products_out.iter().any(|pr| pr.project_template) { " (one is the Studio execution roles', added for its SageMaker project templates)" } else { "" }))
                    .expected(format!("at most {MAX_PATTERN_PRINCIPALS} IAM_PATTERN principals per portfolio, as Service Catalog allows"))
                    .hint("use one permission set for several personas, or a role name pattern with * that matches several roles");
                self.push(d);
            }

            out.push(Portfolio {
                name: pf.name.clone(),
                display_name: pf.display_name.clone().unwrap_or_else(|| pf.name.clone()),
                description: pf.description.clone(),
                provider: pf
                    .provider
                    .clone()
                    .unwrap_or_else(|| DEFAULT_PROVIDER.to_owned()),
                account,
                tags: pf.tags.clone(),
                tag_options: pf.tag_options.clone(),
                principals,
                launch_role: pf
                    .launch_role
                    .clone()
                    .unwrap_or_else(|| format!("mlz-sc-launch-{}", pf.name)),
                share_accounts: share_accounts.into_iter().collect(),
                share_ous,
                consumer_ous: ous,
                products: products_out,
            });
        }
        Some((out, cloud_admins))
    }
}
