//! A stack: one template and where and how it deploys.

use mlz_cfn::Template;

/// Which account a stack deploys to.
pub use mlz_model::AccountRef;

/// How a template reaches its account.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeployKind {
    /// A CloudFormation stack in one account and region.
    Stack,
    /// A service-managed StackSet, instances in many accounts.
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
    pub from_export: Option<String>,
}

#[derive(Clone, Debug)]
pub struct Stack {
    /// The CloudFormation stack name.
    pub name: String,
    /// Path in the output folder, without extension: `organizations/accounts`.
    pub path: String,
    pub template: Template,
    pub account: AccountRef,
    pub region: String,
    pub deploy: DeployKind,
    pub parameters: Vec<StackParam>,
    /// Resources in this template that already exist and must be imported into the stack
    /// (a CloudFormation IMPORT change set) instead of created.
    pub imports: Vec<Import>,
    /// Stacks (by path) that must finish before this one although it imports nothing
    /// from them, with the reason: an ordering CloudFormation cannot see.
    pub after: Vec<(String, &'static str)>,
    /// For templates that are not stacks (blueprints, product versions): where in the
    /// artifact bucket they must be uploaded.
    pub upload: Option<Upload>,
    /// What to change in the config when this template outgrows a CloudFormation limit.
    pub limit_hint: &'static str,
}

/// An S3 upload a template needs before anything can use it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upload {
    /// The export (in the template's account and region) that names the bucket.
    pub bucket_export: String,
    pub key: String,
}

/// A step CloudFormation cannot do, which an operator or a pipeline must run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ManualStep {
    pub id: String,
    /// The account name the step runs in.
    pub account: String,
    pub reason: String,
    pub commands: Vec<String>,
    /// Template paths (with extension) that must wait for this step.
    pub before: Vec<String>,
    /// Template paths (with extension) this step waits for; empty: before the first deployment.
    pub after: Vec<String>,
}

/// Everything an emitter produces.
#[derive(Debug, Default)]
pub struct Emitted {
    pub stacks: Vec<Stack>,
    /// Machine-readable documents beside the templates (vending requests), by path.
    pub documents: Vec<(String, serde_json::Value)>,
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
