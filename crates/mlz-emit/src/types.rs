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
