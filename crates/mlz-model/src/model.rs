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
    pub name: String,
    pub email: String,
    pub ou: OuIdx,
    pub id: Option<String>,
    pub created_by: CreatedBy,
    pub tags: BTreeMap<String, String>,
    /// For team accounts: the team and the stage name.
    pub team: Option<(TeamIdx, String)>,
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
