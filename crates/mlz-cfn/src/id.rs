//! Logical ids: the names of resources, parameters and outputs inside one template.

use std::fmt;

use crate::limits::MAX_LOGICAL_ID_LEN;

/// A logical id: `^[A-Za-z0-9]{1,255}$`. Holding one means it is valid.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct LogicalId(String);

/// Why a string is not a logical id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogicalIdError {
    pub input: String,
}

impl fmt::Display for LogicalIdError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{:?} is not a CloudFormation logical id (1 to {MAX_LOGICAL_ID_LEN} ASCII letters and digits)",
            self.input
        )
    }
}

impl std::error::Error for LogicalIdError {}

impl LogicalId {
    /// Accepts a string that already is a valid logical id.
    pub fn new(s: impl Into<String>) -> Result<Self, LogicalIdError> {
        let s = s.into();
        if !s.is_empty()
            && s.len() <= MAX_LOGICAL_ID_LEN
            && s.bytes().all(|b| b.is_ascii_alphanumeric())
        {
            Ok(LogicalId(s))
        } else {
            Err(LogicalIdError { input: s })
        }
    }

    /// Derives a logical id from a prefix and a human name: `("Ou", "ml-platform team")`
    /// gives `OuMlPlatformTeam`. Derived from names, never from positions in a list, so an
    /// id is stable when the list around it changes. Different names can collide
    /// (`a-b` and `a_b`); callers that derive ids from user names must check for that.
    pub fn derive(prefix: &str, name: &str) -> Result<Self, LogicalIdError> {
        let mut out = String::with_capacity(prefix.len() + name.len());
        out.push_str(prefix);
        out.push_str(&pascal_case(name));
        LogicalId::new(out)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// `ml-platform team` → `MlPlatformTeam`; characters other than ASCII letters and digits
/// separate words and are dropped.
pub fn pascal_case(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut upper_next = true;
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            if upper_next {
                out.push(c.to_ascii_uppercase());
            } else {
                out.push(c);
            }
            upper_next = false;
        } else {
            upper_next = true;
        }
    }
    out
}

impl fmt::Display for LogicalId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_alphanumerics_only() {
        assert!(LogicalId::new("Abc123").is_ok());
        assert!(LogicalId::new("").is_err());
        assert!(LogicalId::new("a-b").is_err());
        assert!(LogicalId::new("a_b").is_err());
        assert!(LogicalId::new("x".repeat(255)).is_ok());
        assert!(LogicalId::new("x".repeat(256)).is_err());
    }

    #[test]
    fn derives_from_names() {
        assert_eq!(
            LogicalId::derive("Ou", "ml-platform team")
                .unwrap()
                .as_str(),
            "OuMlPlatformTeam"
        );
        assert_eq!(
            LogicalId::derive("Account", "fraud-dev").unwrap().as_str(),
            "AccountFraudDev"
        );
        assert_eq!(LogicalId::derive("", "---").unwrap_err().input, "");
    }
}
