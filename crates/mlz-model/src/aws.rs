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

/// The IAM policy language version every policy mlz writes declares (IAM user guide, "IAM
/// JSON policy elements: Version": the current one, and the one policy variables need).
pub const IAM_POLICY_VERSION: &str = "2012-10-17";

pub fn is_known_region(r: &str) -> bool {
    REGIONS.binary_search(&r).is_ok()
}

/// An account e-mail address as AWS Organizations' CreateAccount documents its `Email` rules
/// (the length, 6 to 64, is the schema's): 7-bit ASCII; exactly one `@`; a local name without
/// whitespace or any of `" ' ( ) < > [ ] : ; , \ | % &` and not beginning with a dot; a domain
/// of letters, digits, hyphens and dots, with at least one dot, not beginning or ending with a
/// hyphen or a dot. CloudFormation's schema for `AWS::Organizations::Account.Email` says only
/// `[^\s@]+@[^\s@]+\.[^\s@]+`; the API's rules are narrower, and they are what account
/// creation applies. docs/aws-rules.md (`account-email`) gives both sources.
pub fn is_valid_email(e: &str) -> bool {
    const LOCAL_FORBIDDEN: &[u8] = b"\"'()<>[]:;,\\|%&";
    let Some((local, domain)) = e.split_once('@') else {
        return false;
    };
    e.is_ascii()
        && !local.is_empty()
        && !local.starts_with('.')
        && local.bytes().all(|b| {
            !b.is_ascii_whitespace() && !b.is_ascii_control() && !LOCAL_FORBIDDEN.contains(&b)
        })
        && domain.contains('.')
        && !domain.starts_with(['-', '.'])
        && !domain.ends_with(['-', '.'])
        && domain
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
}

/// IAM's `*` and `?` wildcards (any run of characters, any one character), ASCII
/// case-insensitive: IAM action names are case-insensitive; ARN patterns are compared the same
/// way, which no mlz role name depends on. Greedy with one backtrack point, so linear in
/// practice and never exponential.
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.as_bytes(), text.as_bytes());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == b'?' || p[pi].eq_ignore_ascii_case(&t[ti])) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
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
        for good in [
            "aws+fraud-dev@example.com",
            "aws_team_dev@example.com",
            "first.last@mail.example.co.uk",
            "a!#$*=?^`{}~b@example.com",
            "a@b-c.example",
        ] {
            assert!(is_valid_email(good), "{good}");
        }
        for bad in [
            "no-at.example.com",
            "@example.com",
            "a@b",
            "a@@b.com",
            "a@b@c.com",
            "a b@c.com",
            "a(b@example.com",
            "a<b>@example.com",
            "a,b@example.com",
            "a%b@example.com",
            "a&b@example.com",
            "a|b@example.com",
            "a\\b@example.com",
            "a'b@example.com",
            ".ab@example.com",
            "ab@-example.com",
            "ab@example.com.",
            "ab@exa_mple.com",
            "åb@example.com",
        ] {
            assert!(!is_valid_email(bad), "{bad}");
        }
    }

    #[test]
    fn globs_match_like_iam() {
        assert!(glob("guardduty:*", "guardduty:UpdateDetector"));
        assert!(glob("GuardDuty:update*", "guardduty:UpdateDetector"));
        assert!(!glob("guardduty:Delete*", "guardduty:UpdateDetector"));
        assert!(glob(
            "arn:aws:iam::*:role/stacksets-exec-*",
            "arn:aws:iam::123456789012:role/stacksets-exec-*"
        ));
        assert!(glob("*AWSControlTower*", "AWSControlTowerBlueprintAccess"));
        assert!(!glob("aws-controltower-*", "mlz-launch"));
        // More than one `*`, and `?`.
        assert!(glob("cloudformation:*Stack*", "cloudformation:CreateStack"));
        assert!(glob(
            "cloudformation:*Stack*",
            "cloudformation:DescribeStackEvents"
        ));
        assert!(!glob(
            "cloudformation:*Stack*",
            "cloudformation:ListExports"
        ));
        assert!(glob(
            "cloudformation:?reateStack",
            "cloudformation:CreateStack"
        ));
        assert!(!glob(
            "cloudformation:?reateStack",
            "cloudformation:reateStack"
        ));
        assert!(glob("*", ""));
        assert!(!glob("?", ""));
        assert!(glob("a*b*c", "aXbYbZc"));
        assert!(!glob("a*b*c", "aXbYbZ"));
    }
}
