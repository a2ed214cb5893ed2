//! The resolved platform: references checked, defaults filled, names made.
//!
//! Emitters read only this. Indexes (`OuIdx`, `AccountIdx`) point into the vectors of
//! [`Platform`], so no emitter ever looks a name up by string.

use std::collections::BTreeMap;

pub use crate::raw::RawCreatedBy as CreatedBy;

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OuIdx(pub usize);

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct AccountIdx(pub usize);

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TeamIdx(pub usize);

#[derive(Clone, Debug, PartialEq)]
pub struct Platform {
    pub organization: Organization,
    /// Parents before children; siblings in file order.
    pub ous: Vec<Ou>,
    /// Declared accounts in file order, then team accounts team by team, stage by stage.
    pub accounts: Vec<Account>,
    pub teams: Vec<Team>,
    pub policies: Vec<Policy>,
    /// Present when the config has a `controlTower` section.
    pub control_tower: Option<ControlTower>,
    /// Present when the config has an `identityCenter` section.
    pub identity_center: Option<IdentityCenter>,
    /// Service Catalog portfolios (empty without a `serviceCatalog` section).
    pub portfolios: Vec<Portfolio>,
    /// The permission sets whose Identity Center roles may assume the cloud admin role
    /// (`serviceCatalog.cloudAdmins`); `None`: any Identity Center role of the account whose
    /// own policy allows it.
    pub cloud_admins: Option<Vec<String>>,
    /// Vending stack names the lock keeps, by account key.
    pub locked_vending: BTreeMap<String, String>,
    /// Present when the config has a `unifiedStudio` section.
    pub unified_studio: Option<UnifiedStudio>,
    /// Present when the config has a `budgets` section.
    pub budgets: Option<Budgets>,
    /// Present when the config has a `security` section.
    pub security: Option<Security>,
    /// Present when the config has a `network` section.
    pub network: Option<Network>,
    /// Present when the config has a `pipeline` section.
    pub pipeline: Option<Pipeline>,
}

/// An IPv4 range.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cidr {
    pub addr: u32,
    pub len: u8,
}

impl Cidr {
    /// `10.0.0.0/16`; `None` when malformed or when host bits are set. The address is read by
    /// `std::net::Ipv4Addr` (four decimal octets, no leading zeros, no signs: `010.0.0.0`
    /// could be octal to some readers and AWS rejects it), the prefix length is decimal
    /// digits up to 32.
    pub fn parse(s: &str) -> Option<Cidr> {
        let (a, l) = s.split_once('/')?;
        if l.is_empty() || l.len() > 2 || !l.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let len: u8 = l.parse().ok()?;
        if len > 32 {
            return None;
        }
        let addr = u32::from(a.parse::<std::net::Ipv4Addr>().ok()?);
        let c = Cidr { addr, len };
        (c.addr & !c.mask() == 0).then_some(c)
    }

    pub fn mask(self) -> u32 {
        if self.len == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(self.len))
        }
    }

    /// The last address.
    pub fn last(self) -> u32 {
        self.addr | !self.mask()
    }

    pub fn contains(self, other: Cidr) -> bool {
        other.len >= self.len && other.addr & self.mask() == self.addr
    }

    pub fn overlaps(self, other: Cidr) -> bool {
        self.addr <= other.last() && other.addr <= self.last()
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let a = self.addr;
        write!(
            f,
            "{}.{}.{}.{}/{}",
            a >> 24,
            (a >> 16) & 255,
            (a >> 8) & 255,
            a & 255,
            self.len
        )
    }
}

/// The hub-and-spoke network and its address plan.
#[derive(Clone, Debug, PartialEq)]
pub struct Network {
    pub account: AccountRef,
    pub vpc_prefix_length: u8,
    pub segments: Vec<Segment>,
    /// One range per attached account and region of its segment, sorted by region, segment
    /// and address.
    pub ranges: Vec<VpcRange>,
    /// By region, sorted: the range of the hub's egress VPC, one for each region with a hub.
    pub egress: Vec<(String, Cidr)>,
    /// By region, sorted: each hub's Amazon-side ASN (from the lock, or newly allocated).
    pub asns: Vec<(String, u32)>,
    /// Ranges the lock keeps for accounts that left the network: (key, region, range).
    pub reserved: Vec<(String, String, Cidr)>,
    /// ASNs the lock keeps for regions without a hub now.
    pub reserved_asns: Vec<(String, u32)>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Segment {
    pub name: String,
    /// The OUs listed for it (their nested OUs belong to it too, unless listed elsewhere).
    pub ous: Vec<OuIdx>,
    /// By region, sorted.
    pub supernets: Vec<(String, Cidr)>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeSource {
    /// Pinned in the config.
    Pinned,
    /// From the segment's IPAM pool, at deploy time.
    Ipam,
    /// Kept from the previous address plan.
    Plan,
    /// Kept from the lock file.
    Locked,
    /// Newly allocated in this run.
    Allocated,
}

#[derive(Clone, Debug, PartialEq)]
pub struct VpcRange {
    pub account: AccountIdx,
    pub region: String,
    pub segment: usize,
    /// `None`: allocated by the segment's IPAM pool when the VPC is created (blueprints
    /// delivered by StackSets).
    pub cidr: Option<Cidr>,
    pub source: RangeSource,
}

/// Security Hub, GuardDuty and Macie administered from one account, and the central log bucket.
#[derive(Clone, Debug, PartialEq)]
pub struct Security {
    pub admin: AccountRef,
    pub log_archive: AccountRef,
    pub retention_days: u32,
}

/// The generated deployment pipeline: the account (a tooling account, not the management
/// account, by default) and region it runs in.
#[derive(Clone, Debug, PartialEq)]
pub struct Pipeline {
    pub account: AccountRef,
    pub region: String,
}

/// The role CloudFormation runs as when the pipeline deploys a stack (one per account, made by
/// pipeline/roles-*): the builtin SCPs exempt it as they exempt AWSControlTowerExecution.
pub fn pipeline_deploy_role(stack_prefix: &str) -> String {
    format!("{stack_prefix}-pipeline-deploy")
}

/// The role the pipeline's CloudFormation actions assume in each account, the one principal
/// that passes the deploy role to CloudFormation (the builtin SCPs let no other pass it).
pub fn pipeline_action_role(stack_prefix: &str) -> String {
    format!("{stack_prefix}-pipeline-action")
}

/// Monthly cost budgets: one per account and one per team.
#[derive(Clone, Debug, PartialEq)]
pub struct Budgets {
    pub currency: String,
    /// Percentages of actual spend that alert.
    pub thresholds: Vec<u32>,
    /// Percentage of forecast spend that alerts, if any.
    pub forecast: Option<u32>,
    pub notify: Vec<String>,
    pub management_amount: u64,
    /// By account index.
    pub account_amounts: Vec<u64>,
    /// By team index.
    pub team_amounts: Vec<u64>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct UnifiedStudio {
    pub name: String,
    pub description: Option<String>,
    /// The central account that holds the domain.
    pub account: AccountRef,
    pub domain_units: Vec<String>,
    /// Owner groups by domain unit name, for the units that have them.
    pub unit_owners: Vec<(String, Vec<GroupRef>)>,
    pub associated: Vec<AssociatedAccount>,
    pub profiles: Vec<ProjectProfile>,
    pub projects: Vec<Project>,
    pub metadata_forms: Vec<MetadataForm>,
}

/// A metadata form (DataZone form type) of the domain.
#[derive(Clone, Debug, PartialEq)]
pub struct MetadataForm {
    pub name: String,
    pub description: Option<String>,
    /// Index into `UnifiedStudio::projects`: the project that owns the form.
    pub project: usize,
    pub fields: Vec<FormField>,
    /// Where the domain requires the form (an enforcement rule each; a manual step).
    pub enforce_on: Vec<FormEnforcement>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct FormField {
    pub name: String,
    /// The Smithy type: String, Integer, Long, Float, Double, Boolean or Timestamp.
    pub kind: String,
    pub required: bool,
    pub searchable: bool,
    pub description: Option<String>,
}

/// The DataZone actions a metadata-form enforcement rule guards.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum FormEnforcement {
    /// `CREATE_LISTING_CHANGE_SET`: publishing an asset or data product.
    Publishing,
    /// `CREATE_SUBSCRIPTION_REQUEST`: asking for a subscription.
    Subscription,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ProjectProfile {
    pub name: String,
    pub description: Option<String>,
    pub domain_unit: Option<String>,
    pub blueprints: Vec<String>,
    /// One account for a static profile; several for a dynamic one.
    pub accounts: Vec<AccountRef>,
    pub dynamic: bool,
    pub region: String,
    /// Groups; empty means every user of the domain unit.
    pub creators: Vec<GroupRef>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Project {
    pub name: String,
    pub description: Option<String>,
    pub domain_unit: Option<String>,
    /// Index into `UnifiedStudio::profiles`.
    pub profile: usize,
    /// The account it deploys to (the profile's, or the one chosen from a dynamic profile).
    pub account: AccountRef,
    pub owners: Vec<GroupRef>,
    pub contributors: Vec<GroupRef>,
}

/// A reference to an Identity Center group from another section.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GroupRef {
    /// Index into `IdentityCenter::groups`.
    Group(usize),
    /// A group named in a config without an `identityCenter` section: its id is a parameter.
    Named(String),
}

#[derive(Clone, Debug, PartialEq)]
pub struct AssociatedAccount {
    pub account: AccountRef,
    pub regions: Vec<String>,
    pub blueprints: Vec<String>,
    /// Domain units whose projects may use the blueprints (by name; all when empty).
    pub domain_units: Vec<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Portfolio {
    pub name: String,
    pub display_name: String,
    pub description: Option<String>,
    pub provider: String,
    /// The account that holds it.
    pub account: AccountRef,
    pub tags: BTreeMap<String, String>,
    pub tag_options: BTreeMap<String, Vec<String>>,
    /// IAM_PATTERN principal ARNs, at most ten.
    pub principals: Vec<String>,
    /// Local name of the launch role, created in every account of `share_ous`.
    pub launch_role: String,
    /// Accounts shared with one by one (explicit accounts, and OUs in `accounts` mode).
    pub share_accounts: Vec<AccountRef>,
    /// OUs shared with as organization nodes.
    pub share_ous: Vec<OuIdx>,
    /// Every OU the portfolio reaches (either mode): where its launch role must exist.
    pub consumer_ous: Vec<OuIdx>,
    pub products: Vec<Product>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Product {
    pub name: String,
    pub description: String,
    pub owner: String,
    pub builtin: bool,
    /// A SageMaker project template: its template declares `SageMakerProjectName` and
    /// `SageMakerProjectId`, so the product is tagged to be listed in Studio.
    pub project_template: bool,
    pub template: mlz_cfn::Template,
}

/// An account something is assigned to: the management account or one of `accounts`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum AccountRef {
    Management,
    Account(AccountIdx),
}

#[derive(Clone, Debug, PartialEq)]
pub struct ControlTower {
    /// False: accounts are plain Organizations accounts and no Control Tower stack is made.
    pub enabled: bool,
    pub account_factory_product: String,
    /// How many Account Factory operations may run at once (1–5; Control Tower's limit is 5).
    pub account_factory_concurrency: u32,
    pub baseline_version: String,
    pub identity_center_baseline_arn: Option<String>,
    /// Controls per OU, in OU order; each list in the order given, without repeats.
    pub controls: Vec<OuControls>,
    pub blueprint_delivery: BlueprintDelivery,
    /// The AFC hub account, when there are blueprints delivered by AFC.
    pub hub: Option<AccountIdx>,
    pub blueprints: Vec<Blueprint>,
    /// When mlz manages the landing zone itself.
    pub landing_zone: Option<LandingZone>,
}

/// How blueprints reach the accounts that use them (`controlTower.blueprintDelivery`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum BlueprintDelivery {
    /// Account Factory Customization: a Service Catalog product per blueprint in the hub
    /// account, attached to each account in the Control Tower console.
    #[default]
    Afc,
    /// A service-managed StackSet per blueprint (and segment and region, where the blueprint
    /// draws its VPC range from an IPAM pool), automatically deployed to whole OUs.
    StackSets,
}

impl BlueprintDelivery {
    pub fn name(self) -> &'static str {
        match self {
            BlueprintDelivery::Afc => "afc",
            BlueprintDelivery::StackSets => "stackSets",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct LandingZone {
    pub version: String,
    pub log_archive: AccountIdx,
    pub audit: AccountIdx,
    pub security_ou: OuIdx,
    pub sandbox_ou: Option<OuIdx>,
    pub log_retention_days: u32,
    pub access_log_retention_days: u32,
}

#[derive(Clone, Debug, PartialEq)]
pub struct OuControls {
    pub ou: OuIdx,
    pub controls: Vec<Control>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Control {
    /// The full control ARN.
    pub arn: String,
    pub parameters: BTreeMap<String, serde_json::Value>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Blueprint {
    pub name: String,
    pub description: String,
    /// From mlz's catalogue (`blueprints/`), or the user's own file.
    pub builtin: bool,
    /// The checked template (built-ins with the shared standard part merged in).
    pub template: mlz_cfn::Template,
    pub regions: Vec<String>,
    /// Parameter values the config fixes for every account.
    pub parameters: BTreeMap<String, String>,
    pub provisioning_policy: Option<serde_json::Value>,
    /// The accounts that get this blueprint, in account order.
    pub accounts: Vec<AccountIdx>,
    /// Its position in `controlTower.blueprints`, for diagnostics of later sections.
    pub config_index: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub struct IdentityCenter {
    pub instance_arn: Option<String>,
    pub identity_store_id: Option<String>,
    pub platform_stacks: u32,
    pub team_stacks: u32,
    pub permission_sets: Vec<PermissionSet>,
    pub groups: Vec<Group>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct PermissionSet {
    pub name: String,
    pub description: Option<String>,
    pub session_duration: String,
    /// AWS managed policies by name (with their path, see `managed_policies`), or policy ARNs.
    pub managed_policies: Vec<String>,
    pub inline_policy: Option<serde_json::Value>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Group {
    pub name: String,
    pub description: Option<String>,
    pub created_by: CreatedBy,
    pub id: Option<String>,
    /// For a team group: the team. Team groups live with their team's stacks.
    pub team: Option<TeamIdx>,
    /// Sorted, without repeats.
    pub assignments: Vec<Assignment>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Assignment {
    pub account: AccountRef,
    /// Index into `IdentityCenter::permission_sets`.
    pub permission_set: usize,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Organization {
    pub name: String,
    pub stack_prefix: String,
    pub management: ManagementAccount,
    pub home_region: String,
    pub governed_regions: Vec<String>,
    pub root_id: Option<String>,
    /// How many stacks team accounts are spread over, by a hash of the team name.
    pub team_account_stacks: u32,
}

/// The defaults of `identityCenter.platformStacks` and `identityCenter.teamStacks`.
pub const DEFAULT_PLATFORM_ACCESS_STACKS: u32 = 16;
pub const DEFAULT_TEAM_ACCESS_STACKS: u32 = 64;

/// The default of `controlTower.accountFactoryConcurrency`: Control Tower's own limit.
pub const DEFAULT_ACCOUNT_FACTORY_CONCURRENCY: u32 = 5;

/// The default of `organization.teamAccountStacks`: room for about 2,000 teams of three
/// stages before any stack nears CloudFormation's 200-output limit.
pub const DEFAULT_TEAM_ACCOUNT_STACKS: u32 = 32;

#[derive(Clone, Debug, PartialEq)]
pub struct ManagementAccount {
    pub name: String,
    pub email: String,
    pub id: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Ou {
    pub name: String,
    pub parent: Option<OuIdx>,
    /// 1 for an OU directly under the root.
    pub depth: usize,
    /// `Workloads/Prod`.
    pub path: String,
    pub created_by: CreatedBy,
    pub id: Option<String>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Account {
    /// Stable identity: logical ids and export names derive from it, never from the name.
    pub key: String,
    /// The template logical id derived from the key (`AccountDataLake`), checked unique.
    pub logical_id: String,
    pub name: String,
    pub email: String,
    pub ou: OuIdx,
    pub id: Option<String>,
    pub created_by: CreatedBy,
    pub tags: BTreeMap<String, String>,
    /// For team accounts: the team and the stage name.
    pub team: Option<(TeamIdx, String)>,
    /// Index into `ControlTower::blueprints`: the blueprint this account gets (by AFC at
    /// vending, or by the blueprint's StackSet).
    pub blueprint: Option<usize>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Team {
    pub name: String,
    pub accounts: Vec<AccountIdx>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PolicyType {
    ServiceControl,
    ResourceControl,
    Tag,
}

impl PolicyType {
    /// Every type, in the order the manifest names them.
    pub const ALL: [PolicyType; 3] = [
        PolicyType::ServiceControl,
        PolicyType::ResourceControl,
        PolicyType::Tag,
    ];

    /// Whether documents of this type are in the IAM policy language (`Version`,
    /// `Statement`) and restrict principals: SCPs and RCPs. Tag policies have their own
    /// syntax and only report or enforce tags, on the management account too.
    pub fn is_authorization(self) -> bool {
        match self {
            PolicyType::ServiceControl | PolicyType::ResourceControl => true,
            PolicyType::Tag => false,
        }
    }

    /// The `AWS::Organizations::Policy` `Type` value.
    pub fn cfn_name(self) -> &'static str {
        match self {
            PolicyType::ServiceControl => "SERVICE_CONTROL_POLICY",
            PolicyType::ResourceControl => "RESOURCE_CONTROL_POLICY",
            PolicyType::Tag => "TAG_POLICY",
        }
    }

    /// The largest policy document AWS accepts for this type, in characters.
    pub fn max_document_chars(self) -> usize {
        match self {
            PolicyType::ServiceControl | PolicyType::ResourceControl => 5_120,
            PolicyType::Tag => 10_000,
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    pub name: String,
    pub policy_type: PolicyType,
    pub description: Option<String>,
    /// The document with insignificant whitespace removed, as AWS counts its size.
    pub document: serde_json::Value,
    pub targets: Targets,
    pub tags: BTreeMap<String, String>,
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Targets {
    pub root: bool,
    pub ous: Vec<OuIdx>,
    pub accounts: Vec<AccountIdx>,
}

impl Platform {
    pub fn ou(&self, i: OuIdx) -> &Ou {
        &self.ous[i.0]
    }

    pub fn account(&self, i: AccountIdx) -> &Account {
        &self.accounts[i.0]
    }

    pub fn team(&self, i: TeamIdx) -> &Team {
        &self.teams[i.0]
    }
}

#[cfg(test)]
mod tests {
    use super::Cidr;

    #[test]
    fn cidrs_are_read_as_aws_reads_them() {
        for ok in [
            "10.0.0.0/16",
            "0.0.0.0/0",
            "172.16.0.0/12",
            "192.168.1.128/25",
        ] {
            assert_eq!(Cidr::parse(ok).map(|c| c.to_string()).as_deref(), Some(ok));
        }
        for bad in [
            "010.0.0.0/14",
            "+10.0.0.0/16",
            "10.0.0.0/+16",
            "10.0.0.0/016",
            "10.0.0.0/33",
            "10.0.0.1/16",
            "10.0.0/16",
            "10.0.0.0.0/16",
            " 10.0.0.0/16",
            "10.0.0.0/",
            "10.0.0.0",
            "256.0.0.0/8",
        ] {
            assert_eq!(Cidr::parse(bad), None, "{bad}");
        }
    }
}
