//! The config as written: field for field what the schema allows, nothing resolved.
//!
//! These structs are deserialized only after the JSON Schema has accepted the document,
//! so a failure here means the schema and these structs disagree (a bug, reported as one).

use std::collections::BTreeMap;

use serde::Deserialize;

// The top level is decoded part by part (see resolve.rs), so that an invalid item in one
// list does not stop the checks of the others.

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawOrganization {
    pub name: String,
    pub stack_prefix: Option<String>,
    pub management_account: RawManagementAccount,
    pub home_region: String,
    pub governed_regions: Vec<String>,
    pub root_id: Option<String>,
    pub team_account_stacks: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawManagementAccount {
    pub name: String,
    pub email: String,
    pub id: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawNaming {
    pub account_name: Option<String>,
    pub account_email: Option<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RawCreatedBy {
    #[default]
    Mlz,
    ControlTower,
    External,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawOu {
    pub name: String,
    pub parent: Option<String>,
    #[serde(default)]
    pub created_by: RawCreatedBy,
    pub id: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawAccount {
    pub name: String,
    pub key: Option<String>,
    pub email: String,
    pub ou: String,
    pub id: Option<String>,
    #[serde(default)]
    pub created_by: RawCreatedBy,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawStage {
    pub name: String,
    pub ou: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawTeam {
    pub name: String,
    pub stages: Option<Vec<String>>,
    pub ou: Option<String>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RawPolicyType {
    ServiceControl,
    ResourceControl,
    Tag,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawPolicy {
    pub name: String,
    #[serde(rename = "type")]
    pub policy_type: RawPolicyType,
    pub description: Option<String>,
    pub document: Option<serde_json::Map<String, serde_json::Value>>,
    pub file: Option<String>,
    pub builtin: Option<RawBuiltin>,
    pub targets: RawTargets,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawTargets {
    #[serde(default)]
    pub root: bool,
    #[serde(default)]
    pub ous: Vec<String>,
    #[serde(default)]
    pub accounts: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RawBuiltin {
    DenyLeaveOrganization,
    DenyOutsideGovernedRegions,
    ProtectSecurityServices,
    EnforceSecureTransport,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RawInlineBuiltin {
    DataScientist,
    MlEngineering,
    DataEngineering,
}
