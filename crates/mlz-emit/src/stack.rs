//! A stack: one template, where and how it deploys, and what it provides and requires.

use mlz_cfn::{LogicalId, Template};
use mlz_model::OuIdx;

/// Which account a stack deploys to.
pub use mlz_model::AccountRef;

use crate::plan::{DeployAs, ExportRef, Fact, Limited, Need, StackId};

/// How a template reaches its account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeployKind {
    /// A CloudFormation stack in one account and region.
    Stack,
    /// The template of a service-managed StackSet: instances in many accounts.
    StackSet,
    /// A Service Catalog product version: uploaded to S3, launched by users.
    ServiceCatalogProduct,
    /// An Account Factory Customization blueprint, applied by Control Tower at vending.
    AfcBlueprint,
}

impl DeployKind {
    pub fn name(self) -> &'static str {
        match self {
            DeployKind::Stack => "stack",
            DeployKind::StackSet => "stackSet",
            DeployKind::ServiceCatalogProduct => "serviceCatalogProduct",
            DeployKind::AfcBlueprint => "afcBlueprint",
        }
    }
}

/// A template parameter as the manifest describes it: who fills it, and with what.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StackParam {
    pub name: String,
    pub description: String,
    /// Known at generation time (then it is also the parameter's default).
    pub value: Option<String>,
    /// The export (in another account, or another region) whose value this parameter takes:
    /// the stack that exports it deploys first.
    pub from_export: Option<ExportRef>,
    /// For a value that exists in AWS but in no stack of the plan: where the pipeline looks
    /// it up before the stack deploys.
    pub lookup: Option<Lookup>,
}

/// A value that exists in AWS before (or outside) the plan, and how to find it. The pipeline's
/// resolve actions look these up (pipeline/resolve.py); [`Lookup::External`] is what only a
/// person knows.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Lookup {
    /// The organisation root (`organizations list-roots`).
    RootId,
    /// An OU's id or ARN, by its path of names under the root
    /// (`organizations list-organizational-units-for-parent`, level by level).
    OuId(Vec<String>),
    OuArn(Vec<String>),
    /// The management account's id (`organizations describe-organization`).
    ManagementAccountId,
    /// The IAM Identity Center instance and its identity store (`sso-admin list-instances`).
    IdentityCenterInstanceArn,
    IdentityStoreId,
    /// A group of the identity store by display name (`identitystore get-group-id`).
    GroupId(String),
    /// The ARN of an enabled Control Tower baseline, by baseline name
    /// (`controltower list-enabled-baselines`, matched on the baseline's identifier).
    EnabledBaselineArn(&'static str),
    /// The pipeline's deploy role in the management account.
    PipelineDeployRoleArn,
    /// Only a person knows it: the reason is the parameter's description.
    External,
}

impl Lookup {
    /// The key pipeline/resolve.py dispatches on, and its argument.
    pub fn wire(&self) -> serde_json::Value {
        use serde_json::json;
        match self {
            Lookup::RootId => json!({ "lookup": "rootId" }),
            Lookup::OuId(path) => json!({ "lookup": "ouId", "path": path }),
            Lookup::OuArn(path) => json!({ "lookup": "ouArn", "path": path }),
            Lookup::ManagementAccountId => json!({ "lookup": "managementAccountId" }),
            Lookup::IdentityCenterInstanceArn => json!({ "lookup": "identityCenterInstanceArn" }),
            Lookup::IdentityStoreId => json!({ "lookup": "identityStoreId" }),
            Lookup::GroupId(name) => json!({ "lookup": "groupId", "name": name }),
            Lookup::EnabledBaselineArn(b) => {
                json!({ "lookup": "enabledBaselineArn", "baseline": b })
            }
            Lookup::PipelineDeployRoleArn => json!({ "lookup": "pipelineDeployRoleArn" }),
            Lookup::External => json!({ "lookup": "external" }),
        }
    }
}

/// Where a StackSet's instances go, and which stack holds the StackSet resource.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StackSetTargets {
    /// The stack (in the management account) whose `AWS::CloudFormation::StackSet` resource
    /// deploys this template.
    pub holder: StackId,
    pub resource: LogicalId,
    pub ous: Vec<OuIdx>,
    /// Accounts inside `ous` (AccountFilterType INTERSECTION): only these get instances.
    pub accounts: Vec<AccountRef>,
    pub regions: Vec<String>,
    pub auto_deployment: bool,
}

#[derive(Clone, Debug)]
pub struct Stack {
    pub id: StackId,
    pub template: Template,
    pub account: AccountRef,
    pub region: String,
    pub deploy: DeployKind,
    /// Who deploys it; `None`: the plan's default for its kind and account.
    pub deploy_as: Option<DeployAs>,
    pub parameters: Vec<StackParam>,
    /// Resources in this template that already exist and must be imported into the stack
    /// (a CloudFormation IMPORT change set) instead of created.
    pub imports: Vec<Import>,
    /// Facts this stack makes true when it is deployed (its exports are added by the plan).
    pub provides: Vec<Fact>,
    /// Facts that must hold before it deploys (imports of exports, the account and the
    /// deploying role are added by the plan).
    pub requires: Vec<Need>,
    /// For StackSet templates: the targets.
    pub stack_set: Option<StackSetTargets>,
    /// For templates that are not stacks (blueprints, product versions, StackSet
    /// templates): where in the artifact bucket they must be uploaded.
    pub upload: Option<Upload>,
    /// Operations this stack runs on a limited resource, one after another.
    pub operations: Option<(Limited, u32)>,
    /// What to change in the config when this template outgrows a CloudFormation limit.
    pub limit_hint: &'static str,
    /// For a stack that holds one bucket of many (`team-access-13`): what is in it, by
    /// kind (`teams`, `accounts`) and name, for the deploy guide.
    pub contents: Option<(&'static str, Vec<String>)>,
}

/// An S3 upload a template needs before anything can use it: to the artifact bucket of the
/// template's account (export [`crate::plan::ExportKey::ArtifactBucket`]), under `key`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upload {
    pub key: String,
}

/// A step CloudFormation cannot do, which an operator or a pipeline must run. Steps are
/// plan nodes like stacks: they provide and require facts and get a wave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManualStep {
    pub id: String,
    /// The account the step runs in.
    pub account: AccountRef,
    pub reason: String,
    pub commands: Vec<String>,
    pub provides: Vec<Fact>,
    pub requires: Vec<Need>,
}

/// A machine-readable document beside the templates (a vending request), with the exports
/// it names, which the plan checks like a parameter's.
#[derive(Clone, Debug)]
pub struct Document {
    pub path: String,
    pub value: serde_json::Value,
    pub refs: Vec<ExportRef>,
}

/// Everything an emitter produces.
#[derive(Debug, Default)]
pub struct Emitted {
    pub stacks: Vec<Stack>,
    pub documents: Vec<Document>,
    pub steps: Vec<ManualStep>,
}

/// An existing resource a template adopts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Import {
    pub logical_id: String,
    pub resource_type: &'static str,
    /// The resource's primary identifier property and value: `AccountId`, `123456789012`.
    pub identifier: (&'static str, String),
}
