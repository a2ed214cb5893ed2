//! CloudFormation resource type names: one constant each.

pub const ORG_OU: &str = "AWS::Organizations::OrganizationalUnit";
pub const ORG_ACCOUNT: &str = "AWS::Organizations::Account";
pub const ORG_POLICY: &str = "AWS::Organizations::Policy";
pub const CT_ENABLED_BASELINE: &str = "AWS::ControlTower::EnabledBaseline";
pub const CT_ENABLED_CONTROL: &str = "AWS::ControlTower::EnabledControl";
pub const IAM_ROLE: &str = "AWS::IAM::Role";
pub const S3_BUCKET: &str = "AWS::S3::Bucket";
pub const S3_BUCKET_POLICY: &str = "AWS::S3::BucketPolicy";
pub const SC_PORTFOLIO: &str = "AWS::ServiceCatalog::Portfolio";
pub const SC_PORTFOLIO_PRODUCT: &str = "AWS::ServiceCatalog::PortfolioProductAssociation";
pub const SC_PRODUCT: &str = "AWS::ServiceCatalog::CloudFormationProduct";
pub const SC_PROVISIONED_PRODUCT: &str = "AWS::ServiceCatalog::CloudFormationProvisionedProduct";
pub const SSO_PERMISSION_SET: &str = "AWS::SSO::PermissionSet";
pub const SSO_ASSIGNMENT: &str = "AWS::SSO::Assignment";
pub const SSO_ABAC: &str = "AWS::SSO::InstanceAccessControlAttributeConfiguration";
pub const IDENTITY_STORE_GROUP: &str = "AWS::IdentityStore::Group";
pub const CFN_STACK_SET: &str = "AWS::CloudFormation::StackSet";
pub const LAMBDA_FUNCTION: &str = "AWS::Lambda::Function";
pub const LOGS_LOG_GROUP: &str = "AWS::Logs::LogGroup";
pub const SC_LAUNCH_ROLE_CONSTRAINT: &str = "AWS::ServiceCatalog::LaunchRoleConstraint";
pub const SC_PORTFOLIO_PRINCIPAL: &str = "AWS::ServiceCatalog::PortfolioPrincipalAssociation";
pub const SC_PORTFOLIO_SHARE: &str = "AWS::ServiceCatalog::PortfolioShare";
pub const SC_TAG_OPTION: &str = "AWS::ServiceCatalog::TagOption";
pub const SC_TAG_OPTION_ASSOCIATION: &str = "AWS::ServiceCatalog::TagOptionAssociation";
/// Our own custom resource: shares a portfolio with an OU (see service_catalog.rs).
pub const CUSTOM_ORGANIZATION_SHARE: &str = "Custom::OrganizationPortfolioShare";
pub const CT_LANDING_ZONE: &str = "AWS::ControlTower::LandingZone";
pub const KMS_KEY: &str = "AWS::KMS::Key";
pub const RAM_RESOURCE_SHARE: &str = "AWS::RAM::ResourceShare";
pub const DZ_DOMAIN: &str = "AWS::DataZone::Domain";
pub const DZ_DOMAIN_UNIT: &str = "AWS::DataZone::DomainUnit";
pub const DZ_BLUEPRINT_CONFIGURATION: &str = "AWS::DataZone::EnvironmentBlueprintConfiguration";
pub const DZ_POLICY_GRANT: &str = "AWS::DataZone::PolicyGrant";
pub const DZ_PROJECT_PROFILE: &str = "AWS::DataZone::ProjectProfile";
pub const DZ_OWNER: &str = "AWS::DataZone::Owner";
pub const DZ_PROJECT: &str = "AWS::DataZone::Project";
