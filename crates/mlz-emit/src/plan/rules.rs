//! The AWS rules the plan enforces, each with its source. docs/aws-rules.md lists the same
//! rules with the test that guards each; `tests/plan.rs` removes each rule's provider and
//! checks that generation fails naming it.

use super::facts::Rule;

pub const ACCOUNT_FIRST: Rule = Rule {
    id: "account-exists",
    text: "a stack is created in an account that exists, by a role that exists in it",
    source: "CloudFormation user guide, cross-account deployment; Control Tower guide, enrolment prerequisites (AWSControlTowerExecution); Organizations guide, accessing member accounts (OrganizationAccountAccessRole)",
    hint: "give the account's id in the config if it exists already, or let mlz create it",
};

pub const GROUP_FIRST: Rule = Rule {
    id: "group-exists",
    text: "a group's identity store id (identitystore GetGroupId by display name) exists only once the group is created: a stack that takes it as a parameter deploys after the stack that creates the group",
    source: "IAM Identity Center identity store API reference, GetGroupId (ResourceNotFoundException)",
    hint: "this is a bug in mlz: please report it with your config",
};

pub const OU_FIRST: Rule = Rule {
    id: "ou-exists",
    text: "an account or OU is created under an OU that exists",
    source: "Organizations API reference, CreateOrganizationalUnit / MoveAccount (ParentNotFoundException)",
    hint: "give the OU's id in the config if it exists already",
};

pub const EXPORT_FIRST: Rule = Rule {
    id: "export-exists",
    text: "Fn::ImportValue reads an export of the same account and region, which must exist when the importing stack is created; a value of another account or region is passed as a parameter, after the stack that exports it",
    source: "CloudFormation user guide, 'Get exported outputs from a deployed CloudFormation stack' and Fn::ImportValue",
    hint: "this is a bug in mlz: please report it with your config",
};

pub const LANDING_ZONE_FIRST: Rule = Rule {
    id: "landing-zone",
    text: "Control Tower baselines, controls and the Account Factory work only once the landing zone is set up",
    source: "Control Tower API reference, EnableBaseline / EnableControl; Control Tower guide, 'Getting started'",
    hint: "set up the landing zone first, or describe it in controlTower.landingZone",
};

pub const CONTROL_TOWER_REGIONS: Rule = Rule {
    id: "control-tower-regions",
    text: "the Account Factory exists in Control Tower's home region only, and Control Tower's own roles work in every region it governs: the config's home and governed regions must be the landing zone's",
    source: "Control Tower guide, 'Configure your Control Tower home Region' and 'Govern regions'; the Region deny control (CT.MULTISERVICE.PV.1) exempts Control Tower's roles",
    hint: "set organization.homeRegion and governedRegions to the landing zone's, or describe the landing zone in controlTower.landingZone",
};

pub const BASELINE_BEFORE_VENDING: Rule = Rule {
    id: "ou-registered",
    text: "single-account provisioning, update and customisation must target an OU with AWSControlTowerBaseline enabled",
    source: "Control Tower guide, 'Provision and manage accounts in AWS Control Tower'",
    hint: "let mlz create the OU (it enables the baseline on every OU it creates), or register the OU with Control Tower before vending into it",
};

pub const LAUNCH_ROLE_LOCAL: Rule = Rule {
    id: "launch-role-exists",
    text: "a LaunchRoleConstraint's LocalRoleName role must exist in the account where the constraint is created (the portfolio's) and in every account that launches the product",
    source: "CloudFormation reference, AWS::ServiceCatalog::LaunchRoleConstraint (LocalRoleName); Service Catalog API reference, CreateConstraint",
    hint: "keep the portfolio in a member account (service-managed StackSets, which create the launch roles, never deploy to the management account)",
};

pub const STACKSETS_TRUSTED_ACCESS: Rule = Rule {
    id: "stacksets-trusted-access",
    text: "service-managed StackSets need CloudFormation's trusted access to AWS Organizations",
    source:
        "CloudFormation user guide, 'Activate trusted access for StackSets with AWS Organizations'",
    hint: "this is a bug in mlz: please report it with your config",
};

pub const SERVICE_CATALOG_ORGANIZATIONS: Rule = Rule {
    id: "service-catalog-organizations",
    text: "sharing a portfolio with an OU needs Service Catalog's access to AWS Organizations, and a portfolio outside the management account needs its account registered as Service Catalog's delegated administrator",
    source: "Service Catalog API reference, CreatePortfolioShare (OrganizationNode) and EnableAWSOrganizationsAccess",
    hint: "this is a bug in mlz: please report it with your config",
};

pub const RAM_ORGANIZATIONS: Rule = Rule {
    id: "ram-organizations",
    text: "AWS RAM shares with OUs or the organisation, and in-organisation shares without invitations, need RAM's sharing with AWS Organizations enabled",
    source: "AWS RAM user guide, 'Enable resource sharing within AWS Organizations'",
    hint: "this is a bug in mlz: please report it with your config",
};

pub const SECURITY_HUB_TRUSTED_ACCESS: Rule = Rule {
    id: "security-hub-trusted-access",
    text: "the integration between Security Hub and AWS Organizations must be enabled before a delegated Security Hub administrator is designated",
    source: "CloudFormation reference, AWS::SecurityHub::DelegatedAdmin",
    hint: "this is a bug in mlz: please report it with your config",
};

pub const SECURITY_HUB_ADMIN: Rule = Rule {
    id: "security-hub-admin",
    text: "Security Hub's organisation configuration, aggregator and policies are made in the delegated administrator account, after it is designated",
    source: "CloudFormation reference, AWS::SecurityHub::OrganizationConfiguration; Security Hub user guide, 'Designating a delegated administrator'",
    hint: "this is a bug in mlz: please report it with your config",
};

pub const SECURITY_HUB_ENABLED_FIRST: Rule = Rule {
    id: "security-hub-enabled-first",
    text: "Security Hub is on in the delegated administrator account, in the aggregation region and every linked region, before the finding aggregator and central configuration",
    source: "CloudFormation reference, AWS::SecurityHub::FindingAggregator ('cross-Region aggregation is a prerequisite for central configuration'); AWS Security Reference Architecture, securityhub_org (EnableSecurityHub in the delegated administrator account before UpdateOrganizationConfiguration)",
    hint: "this is a bug in mlz: please report it with your config",
};

pub const IPAM_DELEGATED_ADMIN: Rule = Rule {
    id: "ipam-delegated-admin",
    text: "IPAM pools can be shared with OUs through AWS RAM only by an IPAM integrated with AWS Organizations: the management account makes the IPAM's account its delegated administrator first",
    source: "Amazon VPC IPAM user guide, 'Integrate IPAM with accounts in an AWS Organization' and 'Share an IPAM pool using AWS RAM'",
    hint: "this is a bug in mlz: please report it with your config",
};

pub const BLUEPRINT_STACK_SETS: Rule = Rule {
    id: "blueprint-stack-sets",
    text: "a blueprint StackSet's instances for the accounts that exist when it is created deploy with it; accounts that join its OUs later get theirs by automatic deployment",
    source: "CloudFormation user guide, 'Enable or disable automatic deployments for StackSets in AWS Organizations'",
    hint: "this is a bug in mlz: please report it with your config",
};

pub const SECURITY_AUTO_ENABLE: Rule = Rule {
    id: "security-auto-enable",
    text: "GuardDuty's and Macie's organisation configuration (auto-enable) is set in the delegated administrator account, after it is designated",
    source: "GuardDuty user guide, 'Managing accounts with AWS Organizations'; Macie user guide, 'Managing Macie accounts with AWS Organizations'",
    hint: "this is a bug in mlz: please report it with your config",
};

pub const POLICY_TYPE_ENABLED: Rule = Rule {
    id: "policy-type-enabled",
    text: "a policy attaches only when its type is enabled on the root",
    source: "Organizations API reference, AttachPolicy (PolicyTypeNotEnabledException) and EnablePolicyType",
    hint: "this is a bug in mlz: please report it with your config",
};

pub const UPLOAD_FIRST: Rule = Rule {
    id: "template-uploaded",
    text: "a product version (LoadTemplateFromURL) or StackSet (TemplateURL) reads its template from S3 when it is created",
    source: "Service Catalog API reference, CreateProduct / CreateProvisioningArtifact; CloudFormation reference, AWS::CloudFormation::StackSet TemplateURL",
    hint: "this is a bug in mlz: please report it with your config",
};

pub const IMPORT_FIRST: Rule = Rule {
    id: "resources-imported",
    text: "resources that already exist join a stack through an IMPORT change set, before the stack is updated with the full template",
    source: "CloudFormation user guide, 'Import AWS resources into a CloudFormation stack'",
    hint: "this is a bug in mlz: please report it with your config",
};

pub const ACCOUNT_FACTORY_ACCESS: Rule = Rule {
    id: "account-factory-access",
    text: "the principal that provisions Account Factory products must be granted access to the AWS Control Tower Account Factory Portfolio",
    source: "Control Tower guide, 'Provision accounts with AWS Service Catalog Account Factory' (grant access to the portfolio)",
    hint: "this is a bug in mlz: please report it with your config",
};

pub const ACCOUNT_FACTORY_ARTIFACT: Rule = Rule {
    id: "account-factory-artifact",
    text: "the Account Factory product can hold several provisioning artifacts named 'AWS Control Tower Account Factory' (one inactive): vending names the active artifact by id, looked up as AFT does (DescribeProductAsAdmin, first artifact with Active)",
    source: "hashicorp/terraform-provider-aws#24362; aws-ia/terraform-aws-control_tower_account_factory aft_common/service_catalog.py",
    hint: "this is a bug in mlz: please report it with your config",
};

pub const ACCOUNT_OPERATIONS: Rule = Rule {
    id: "account-operations",
    text: "Control Tower runs at most five account operations (provision, update, enrol) at once; CloudFormation's AWS::Organizations::Account resources must be created one after another",
    source: "Control Tower guide, 'Provision and manage accounts'; CloudFormation reference, AWS::Organizations::Account (DependsOn)",
    hint: "this is a bug in mlz: please report it with your config",
};

pub const DOMAIN_SHARED: Rule = Rule {
    id: "domain-shared",
    text: "an associated account enables Unified Studio blueprints only once the domain is shared with it through AWS RAM",
    source: "SageMaker Unified Studio admin guide, 'Associate AWS accounts'; aws/Unified-Studio-for-Amazon-Sagemaker cloudformation/domain",
    hint: "this is a bug in mlz: please report it with your config",
};

pub const BLUEPRINTS_BEFORE_PROFILES: Rule = Rule {
    id: "blueprint-configured",
    text: "a project profile's environment configurations use blueprints configured in their account",
    source: "aws/Unified-Studio-for-Amazon-Sagemaker cloudformation/domain/create_project_profiles.yaml",
    hint: "associate the profile's account with the domain (unifiedStudio.associatedAccounts) and enable the blueprint there",
};

pub const OUTPUTS_FIRST: Rule = Rule {
    id: "stack-outputs",
    text: "a step that uses a stack's resources or outputs runs after that stack",
    source: "the step's own commands (they name the stack's outputs or resources)",
    hint: "this is a bug in mlz: please report it with your config",
};

pub const BLUEPRINTS_APPLIED: Rule = Rule {
    id: "blueprints-applied",
    text: "spoke VPC attachments are made by the corporate-network blueprint, so they exist only once it is applied",
    source: "Transit Gateway user guide, 'Transit gateway attachments' (made in the VPC owner's account)",
    hint: "this is a bug in mlz: please report it with your config",
};

/// Checks that are not needs: who may create what.
pub const CONTROL_TOWER_ROLE_SCP: Rule = Rule {
    id: "control-tower-role-scp",
    text: "Control Tower's mandatory SCP (GRIAMROLEPOLICY) denies creating or changing roles named *AWSControlTower*, aws-controltower-* or stacksets-exec-* in enrolled accounts unless the caller is AWSControlTowerExecution or stacksets-exec-*",
    source: "Control Tower guide, AFC page, 'Error while creating the AWSControlTowerBlueprintAccess role'; mandatory controls (AWS-GR_IAM_ROLE_CHANGE_PROHIBITED)",
    hint: "deliver the role through a service-managed StackSet (its stacksets-exec-* role is exempt), as mlz does for AWSControlTowerBlueprintAccess",
};

pub const SCP_EXEMPTS_DEPLOYER: Rule = Rule {
    id: "scp-exempts-deployer",
    text: "an SCP that denies the actions a stack's resources need must exempt the principal that deploys the stack, or the stack cannot be created or updated",
    source: "Organizations user guide, 'SCP evaluation' (an explicit Deny applies to every principal in the account except by condition)",
    hint: "exempt the deploying role in the policy's aws:PrincipalARN condition, or deploy the stack as a role the policy exempts",
};

pub const STACK_SET_CAPABILITIES: Rule = Rule {
    id: "stack-set-capabilities",
    text: "a StackSet whose template creates IAM resources must list the capability (CAPABILITY_IAM or CAPABILITY_NAMED_IAM)",
    source: "CloudFormation reference, AWS::CloudFormation::StackSet Capabilities",
    hint: "this is a bug in mlz: please report it with your config",
};

pub const LAMBDA_RESERVED_CONCURRENCY: Rule = Rule {
    id: "lambda-reserved-concurrency",
    text: "a new account has a Lambda concurrency quota of 10 and rejects any ReservedConcurrentExecutions (it would take unreserved concurrency below its minimum of 10): the stack, or the AFC blueprint and so the account's customisation, fails",
    source: "Lambda developer guide, 'Lambda quotas' and 'Configuring reserved concurrency'; aws-samples/one-observability-demo#278; awslabs/fhir-works-on-aws-deployment#691",
    hint: "remove ReservedConcurrentExecutions from the function",
};

pub const ACCOUNT_TAGS: Rule = Rule {
    id: "account-tags",
    text: "the Account Factory takes no tags: the tags the config gives an account are put on it with Organizations TagResource once it exists, and kept in step when they change",
    source: "Control Tower guide, Account Factory provisioning parameters (no tags); Organizations API reference, TagResource / UntagResource",
    hint: "this is a bug in mlz: please report it with your config",
};
