//! CloudFormation resource type names: one constant each.

pub const ORG_OU: &str = "AWS::Organizations::OrganizationalUnit";
pub const ORG_ACCOUNT: &str = "AWS::Organizations::Account";
pub const ORG_POLICY: &str = "AWS::Organizations::Policy";
