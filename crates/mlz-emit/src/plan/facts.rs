//! Facts: what a stack or a step makes true in AWS (an account exists, a role is in an
//! account, an OU is registered with Control Tower, an export is in an account and region…),
//! and the rules that make one node need a fact another provides. The plan orders nodes by
//! matching what each requires to what others provide.

use mlz_model::{AccountRef, OuIdx, Platform};

use super::id::StackId;

/// An AWS service that must be allowed to work with AWS Organizations.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Service {
    ServiceCatalog,
    StackSets,
    Ram,
    SecurityHub,
    GuardDuty,
    Macie,
    Ipam,
}

impl Service {
    pub fn name(self) -> &'static str {
        match self {
            Service::ServiceCatalog => "Service Catalog",
            Service::StackSets => "CloudFormation StackSets",
            Service::Ram => "AWS RAM",
            Service::SecurityHub => "Security Hub",
            Service::GuardDuty => "GuardDuty",
            Service::Macie => "Macie",
            Service::Ipam => "Amazon VPC IPAM",
        }
    }
}

/// An AWS resource that runs a limited number of operations at once.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Limited {
    /// Control Tower's Account Factory: at most five account operations at once.
    AccountFactory,
    /// AWS Organizations account creation from CloudFormation: one at a time.
    OrganizationsAccounts,
}

impl Limited {
    pub fn name(self) -> &'static str {
        match self {
            Limited::AccountFactory => "accountFactory",
            Limited::OrganizationsAccounts => "organizationsAccounts",
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Fact {
    AccountExists(AccountRef),
    OuExists(OuIdx),
    /// The OU has AWSControlTowerBaseline enabled (it is registered with Control Tower).
    OuRegistered(OuIdx),
    /// The Control Tower landing zone is set up.
    LandingZone,
    /// Control Tower's home region and governed regions are the config's.
    ControlTowerRegions,
    /// An IAM role of this name exists in the account.
    Role {
        account: AccountRef,
        name: String,
    },
    /// An IAM role of this name exists in every account of the OU, and in accounts added later.
    RoleInOu {
        ou: OuIdx,
        name: String,
    },
    /// An export of this name is in an account and region (names come from
    /// [`super::exports::ExportKey::name`] only).
    Export {
        name: String,
        account: AccountRef,
        region: String,
    },
    /// The service has trusted access to AWS Organizations.
    TrustedAccess(Service),
    /// The account is the service's delegated administrator.
    DelegatedAdmin {
        service: Service,
        account: AccountRef,
    },
    /// The policy type (`SERVICE_CONTROL_POLICY`…) is enabled on the root.
    PolicyTypeEnabled(&'static str),
    /// A portfolio (index into `Platform::portfolios`) is shared with the account.
    PortfolioShared {
        portfolio: usize,
        account: AccountRef,
    },
    /// The Unified Studio domain is shared with the account (AWS RAM).
    DomainShared(AccountRef),
    /// The account has its Unified Studio blueprints configured.
    BlueprintConfigured(AccountRef),
    /// The template is in its account's artifact bucket.
    Uploaded(StackId),
    /// The resources a stack adopts were imported into it (an IMPORT change set).
    Imported(StackId),
    /// The principal that vends accounts may use the Account Factory portfolio.
    AccountFactoryAccess,
    /// The AFC blueprints were applied to the accounts that have one.
    BlueprintsApplied,
    /// The stack is deployed: for steps that read its outputs.
    Deployed(StackId),
    /// An Identity Center group mlz creates (index into the groups) exists in the identity
    /// store: for stacks that look its id up by name.
    GroupExists(usize),
    /// A place in one of a limited resource's chains: node `seq` of chain `lane`.
    Slot {
        resource: Limited,
        lane: u32,
        seq: u32,
    },
}

fn account(p: &Platform, a: AccountRef) -> String {
    match a {
        AccountRef::Management => format!("{} (management)", p.organization.management.name),
        AccountRef::Account(i) => p.account(i).name.clone(),
    }
}

impl Fact {
    /// What the fact says, in words, for errors and the manifest.
    pub fn describe(&self, p: &Platform, ext: &str) -> String {
        match self {
            Fact::AccountExists(a) => format!("account {} exists", account(p, *a)),
            Fact::OuExists(o) => format!("OU {} exists", p.ou(*o).path),
            Fact::OuRegistered(o) => format!(
                "OU {} is registered with Control Tower (AWSControlTowerBaseline enabled)",
                p.ou(*o).path
            ),
            Fact::LandingZone => "the Control Tower landing zone is set up".into(),
            Fact::ControlTowerRegions => format!(
                "Control Tower's home region is {} and it governs {}",
                p.organization.home_region,
                p.organization.governed_regions.join(", ")
            ),
            Fact::Role { account: a, name } => {
                format!("role {name} exists in account {}", account(p, *a))
            }
            Fact::RoleInOu { ou, name } => {
                format!(
                    "role {name} exists in every account of OU {}",
                    p.ou(*ou).path
                )
            }
            Fact::Export {
                name,
                account: a,
                region,
            } => format!(
                "export {name} exists in account {}, {region}",
                account(p, *a)
            ),
            Fact::TrustedAccess(s) => {
                format!("{} has trusted access to AWS Organizations", s.name())
            }
            Fact::DelegatedAdmin {
                service,
                account: a,
            } => format!(
                "account {} is the delegated administrator of {}",
                account(p, *a),
                service.name()
            ),
            Fact::PolicyTypeEnabled(t) => format!("policy type {t} is enabled on the root"),
            Fact::PortfolioShared {
                portfolio,
                account: a,
            } => format!(
                "portfolio {} is shared with account {}",
                p.portfolios
                    .get(*portfolio)
                    .map_or("?", |x| x.name.as_str()),
                account(p, *a)
            ),
            Fact::DomainShared(a) => format!(
                "the Unified Studio domain is shared with account {}",
                account(p, *a)
            ),
            Fact::BlueprintConfigured(a) => format!(
                "Unified Studio blueprints are configured in account {}",
                account(p, *a)
            ),
            Fact::Uploaded(id) => format!("{} is uploaded to its artifact bucket", id.file(ext)),
            Fact::Imported(id) => format!(
                "the existing resources of {} are imported into its stack",
                id.file(ext)
            ),
            Fact::AccountFactoryAccess => {
                "the vending principal may use the Account Factory portfolio".into()
            }
            Fact::BlueprintsApplied => {
                "the blueprints are applied to their accounts (by AFC, or by their StackSets)"
                    .into()
            }
            Fact::Deployed(id) => format!("{} is deployed", id.file(ext)),
            Fact::GroupExists(g) => format!(
                "group {} exists in the identity store",
                p.identity_center
                    .as_ref()
                    .and_then(|ic| ic.groups.get(*g))
                    .map_or("?", |x| x.name.as_str())
            ),
            Fact::Slot {
                resource,
                lane,
                seq,
            } => format!(
                "{} chain {} has finished operation group {}",
                resource.name(),
                lane + 1,
                seq + 1
            ),
        }
    }
}

/// An AWS rule that makes a node need a fact, with where AWS says so.
#[derive(Debug, PartialEq, Eq)]
pub struct Rule {
    pub id: &'static str,
    pub text: &'static str,
    pub source: &'static str,
    pub hint: &'static str,
}

/// A fact a node needs, and the rule that says why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Need {
    pub fact: Fact,
    pub rule: &'static Rule,
}

impl Need {
    pub fn new(fact: Fact, rule: &'static Rule) -> Need {
        Need { fact, rule }
    }
}
