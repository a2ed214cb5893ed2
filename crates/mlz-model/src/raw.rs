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

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawControlTower {
    pub enabled: Option<bool>,
    pub account_factory_product: Option<String>,
    pub account_factory_concurrency: Option<u32>,
    pub baseline: Option<RawBaseline>,
    #[serde(default)]
    pub control_sets: BTreeMap<String, Vec<String>>,
    #[serde(default)]
    pub controls: Vec<RawControls>,
    pub blueprint_delivery: Option<RawBlueprintDelivery>,
    pub blueprint_hub: Option<RawHub>,
    #[serde(default)]
    pub blueprints: Vec<RawBlueprint>,
    pub landing_zone: Option<RawLandingZone>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawLandingZone {
    pub version: String,
    pub log_archive_account: String,
    pub audit_account: String,
    pub security_ou: Option<String>,
    pub sandbox_ou: Option<String>,
    pub log_retention_days: Option<u32>,
    pub access_log_retention_days: Option<u32>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawBaseline {
    pub version: Option<String>,
    pub identity_center_enabled_baseline_arn: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawControls {
    pub ous: Vec<String>,
    #[serde(default)]
    pub sets: Vec<String>,
    #[serde(default)]
    pub enable: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
    #[serde(default)]
    pub parameters: BTreeMap<String, serde_json::Map<String, serde_json::Value>>,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub enum RawBlueprintDelivery {
    Afc,
    StackSets,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawHub {
    pub account: Option<String>,
    pub region: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawBlueprint {
    pub name: String,
    pub file: Option<String>,
    pub description: Option<String>,
    pub regions: Option<Vec<String>>,
    #[serde(default)]
    pub accounts: Vec<String>,
    #[serde(default)]
    pub stages: Vec<String>,
    #[serde(default)]
    pub ous: Vec<String>,
    #[serde(default)]
    pub parameters: BTreeMap<String, serde_json::Value>,
    pub provisioning_policy: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawIdentityCenter {
    pub instance_arn: Option<String>,
    pub identity_store_id: Option<String>,
    pub platform_stacks: Option<u32>,
    pub team_stacks: Option<u32>,
    #[serde(default)]
    pub permission_sets: Vec<RawPermissionSet>,
    #[serde(default)]
    pub groups: Vec<RawGroup>,
    #[serde(default)]
    pub team_groups: Vec<RawTeamGroup>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RawInlineBuiltin {
    DataScientist,
    MlEngineering,
    DataEngineering,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawPermissionSet {
    pub name: String,
    pub description: Option<String>,
    pub session_duration: Option<String>,
    #[serde(default)]
    pub managed_policies: Vec<String>,
    pub builtin: Option<RawInlineBuiltin>,
    pub inline_policy: Option<serde_json::Map<String, serde_json::Value>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawGroup {
    pub name: String,
    pub description: Option<String>,
    #[serde(default)]
    pub created_by: RawCreatedBy,
    pub id: Option<String>,
    #[serde(default)]
    pub access: Vec<RawAccess>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawAccess {
    pub permission_sets: Vec<String>,
    #[serde(default)]
    pub accounts: Vec<String>,
    #[serde(default)]
    pub ous: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawTeamGroup {
    pub name: String,
    pub description: Option<String>,
    pub permission_sets: Vec<String>,
    #[serde(default)]
    pub stages: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawServiceCatalog {
    #[serde(default)]
    pub portfolios: Vec<RawPortfolio>,
    /// Permission sets whose sessions may assume the cloud admin role.
    pub cloud_admins: Option<Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawPortfolio {
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
pub struct RawPrincipals {
    #[serde(default)]
    pub permission_sets: Vec<String>,
    #[serde(default)]
    pub roles: Vec<String>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum RawOuShareMode {
    #[default]
    Organization,
    Accounts,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawShareWith {
    #[serde(default)]
    pub accounts: Vec<String>,
    #[serde(default)]
    pub ous: Vec<String>,
    #[serde(default)]
    pub ou_share_mode: RawOuShareMode,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawProduct {
    pub name: String,
    pub file: Option<String>,
    pub description: Option<String>,
    pub owner: Option<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawNetwork {
    pub account: String,
    pub vpc_prefix_length: Option<u8>,
    pub attach_blueprints: Option<Vec<String>>,
    pub segments: Vec<RawSegment>,
    #[serde(default)]
    pub ranges: BTreeMap<String, BTreeMap<String, String>>,
    pub address_plan: Option<String>,
    /// By region: the range of the hub's egress VPC (central NAT egress).
    #[serde(default)]
    pub egress: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawSegment {
    pub name: String,
    pub ous: Vec<String>,
    pub supernets: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawSecurity {
    pub admin_account: String,
    pub log_archive_account: String,
    pub log_retention_days: Option<u32>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawPipeline {
    pub account: String,
    pub region: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawBudgets {
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

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawUnifiedStudio {
    pub domain: RawStudioDomain,
    #[serde(default)]
    pub associated_accounts: Vec<RawAssociatedAccount>,
    #[serde(default)]
    pub project_profiles: Vec<RawProjectProfile>,
    #[serde(default)]
    pub projects: Vec<RawProject>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawProjectProfile {
    pub name: String,
    pub description: Option<String>,
    pub domain_unit: Option<String>,
    pub blueprints: Vec<String>,
    pub account: Option<String>,
    pub accounts: Option<Vec<String>>,
    pub region: Option<String>,
    #[serde(default)]
    pub creators: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawProject {
    pub name: String,
    pub description: Option<String>,
    pub domain_unit: Option<String>,
    pub profile: String,
    pub account: Option<String>,
    #[serde(default)]
    pub owners: Vec<String>,
    #[serde(default)]
    pub contributors: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawStudioDomain {
    pub name: String,
    pub account: String,
    pub description: Option<String>,
    #[serde(default)]
    pub domain_units: Vec<String>,
    #[serde(default)]
    pub unit_owners: std::collections::BTreeMap<String, Vec<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RawAssociatedAccount {
    pub account: String,
    pub regions: Option<Vec<String>>,
    pub blueprints: Vec<String>,
    #[serde(default)]
    pub domain_units: Vec<String>,
}
