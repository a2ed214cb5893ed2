//! Facts about AWS that validation needs: regions, name limits, e-mail shape.
//! One constant per fact; the emitters import them from here too.

/// Regions mlz knows. A region missing here is a validation error with a hint, so adding a
/// new region is a one-line change.
pub const REGIONS: &[&str] = &[
    "af-south-1",
    "ap-east-1",
    "ap-east-2",
    "ap-northeast-1",
    "ap-northeast-2",
    "ap-northeast-3",
    "ap-south-1",
    "ap-south-2",
    "ap-southeast-1",
    "ap-southeast-2",
    "ap-southeast-3",
    "ap-southeast-4",
    "ap-southeast-5",
    "ap-southeast-6",
    "ap-southeast-7",
    "ca-central-1",
    "ca-west-1",
    "cn-north-1",
    "cn-northwest-1",
    "eu-central-1",
    "eu-central-2",
    "eu-north-1",
    "eu-south-1",
    "eu-south-2",
    "eu-west-1",
    "eu-west-2",
    "eu-west-3",
    "il-central-1",
    "me-central-1",
    "me-south-1",
    "mx-central-1",
    "sa-east-1",
    "us-east-1",
    "us-east-2",
    "us-gov-east-1",
    "us-gov-west-1",
    "us-west-1",
    "us-west-2",
];

/// `AWS::Organizations::Account.AccountName`: 1 to 50 characters.
pub const MAX_ACCOUNT_NAME: usize = 50;
/// `AWS::Organizations::Account.Email`: 6 to 64 characters.
pub const MIN_EMAIL: usize = 6;
pub const MAX_EMAIL: usize = 64;
/// `AWS::Organizations::OrganizationalUnit.Name` and `Policy.Name`: 1 to 128.
pub const MAX_OU_NAME: usize = 128;
pub const MAX_POLICY_NAME: usize = 128;
/// OUs may nest five levels below the root.
pub const MAX_OU_DEPTH: usize = 5;
/// Tags whose keys start with this are reserved for AWS.
pub const RESERVED_TAG_PREFIX: &str = "aws:";

pub fn is_known_region(r: &str) -> bool {
    REGIONS.binary_search(&r).is_ok()
}

/// The shape AWS Organizations accepts for an account e-mail: one `@`, something before it,
/// a dotted domain after it, no spaces.
pub fn is_valid_email(e: &str) -> bool {
    let Some((local, domain)) = e.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && !e.chars().any(|c| c.is_whitespace() || c.is_control())
        && domain.split('.').count() >= 2
        && domain
            .split('.')
            .all(|l| !l.is_empty() && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_sorted_for_binary_search() {
        assert!(REGIONS.windows(2).all(|w| w[0] < w[1]));
        assert!(is_known_region("eu-west-1"));
        assert!(!is_known_region("eu-west-9"));
    }

    #[test]
    fn emails() {
        assert!(is_valid_email("aws+fraud-dev@example.com"));
        for bad in [
            "no-at.example.com",
            "@example.com",
            "a@b",
            "a@@b.com",
            "a b@c.com",
            "a@b..com",
        ] {
            assert!(!is_valid_email(bad), "{bad}");
        }
    }
}
