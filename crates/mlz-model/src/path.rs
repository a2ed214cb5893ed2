//! Paths into the config, shown to users as `accounts[3].email`.

use std::fmt;

#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Segment {
    Key(String),
    Index(usize),
}

#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ConfigPath(Vec<Segment>);

impl ConfigPath {
    pub fn root() -> ConfigPath {
        ConfigPath(Vec::new())
    }

    #[must_use]
    pub fn key(&self, k: &str) -> ConfigPath {
        let mut p = self.clone();
        p.0.push(Segment::Key(k.to_owned()));
        p
    }

    #[must_use]
    pub fn index(&self, i: usize) -> ConfigPath {
        let mut p = self.clone();
        p.0.push(Segment::Index(i));
        p
    }

    pub fn segments(&self) -> &[Segment] {
        &self.0
    }

    /// Drops the last segment; false when already at the root.
    pub fn pop(&mut self) -> bool {
        self.0.pop().is_some()
    }

    /// The path without its last segment, displayed: `teams[0]` for `teams[0].name`.
    pub fn parent_display(&self) -> String {
        let mut p = self.clone();
        p.pop();
        p.to_string()
    }

    /// From a JSON pointer (`/accounts/3/email`), as jsonschema reports instance paths.
    /// A segment of digits is an index: the config has no maps with numeric keys where
    /// that would be ambiguous, and `find` falls back gracefully if it were.
    pub fn from_pointer(pointer: &str) -> ConfigPath {
        let segs = pointer
            .split('/')
            .skip(1)
            .map(|s| {
                let s = s.replace("~1", "/").replace("~0", "~");
                match s.parse::<usize>() {
                    Ok(i) if !s.starts_with('+') => Segment::Index(i),
                    _ => Segment::Key(s),
                }
            })
            .collect();
        ConfigPath(segs)
    }
}

impl fmt::Display for ConfigPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return f.write_str("(top level)");
        }
        for (i, seg) in self.0.iter().enumerate() {
            match seg {
                Segment::Index(n) => write!(f, "[{n}]")?,
                Segment::Key(k) if is_ident(k) => {
                    if i > 0 {
                        f.write_str(".")?;
                    }
                    f.write_str(k)?;
                }
                Segment::Key(k) => write!(f, "[{k:?}]")?,
            }
        }
        Ok(())
    }
}

fn is_ident(k: &str) -> bool {
    k.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn displays_like_code() {
        let p = ConfigPath::root()
            .key("accounts")
            .index(3)
            .key("tags")
            .key("cost-centre");
        assert_eq!(p.to_string(), "accounts[3].tags[\"cost-centre\"]");
        assert_eq!(
            ConfigPath::from_pointer("/accounts/3/email").to_string(),
            "accounts[3].email"
        );
        assert_eq!(ConfigPath::root().to_string(), "(top level)");
    }
}
