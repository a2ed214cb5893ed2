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
}

/// An existing resource a template adopts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Import {
    pub logical_id: String,
    pub resource_type: &'static str,
    /// The resource's primary identifier property and value: `AccountId`, `123456789012`.
    pub identifier: (&'static str, String),
}
