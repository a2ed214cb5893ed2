//! A small ordered map for property values: a sorted `Vec`, not a `BTreeMap`.
//!
//! Templates hold tens of thousands of tiny maps (a tag is `{Key, Value}`, an intrinsic is
//! one entry). A `BTreeMap` allocates a node of eleven slots for each; a sorted vector
//! allocates what it holds. Keys stay sorted, so output never depends on insertion order.

use std::borrow::Cow;

use crate::value::Value;

/// A map key: property names are mostly `&'static str` literals, which cost no allocation.
pub type Key = Cow<'static, str>;

#[derive(Clone, Debug, Default, PartialEq)]
pub struct Map {
    entries: Vec<(Key, Value)>,
}

impl Map {
    pub fn new() -> Map {
        Map::default()
    }

    /// Inserts or replaces; returns the value replaced.
    pub fn insert(&mut self, key: impl Into<Key>, value: Value) -> Option<Value> {
        let key = key.into();
        match self
            .entries
            .binary_search_by(|(k, _)| k.as_ref().cmp(key.as_ref()))
        {
            Ok(i) => Some(std::mem::replace(&mut self.entries[i].1, value)),
            Err(i) => {
                self.entries.insert(i, (key, value));
                None
            }
        }
    }

    pub fn get(&self, key: &str) -> Option<&Value> {
        self.entries
            .binary_search_by(|(k, _)| k.as_ref().cmp(key))
            .ok()
            .map(|i| &self.entries[i].1)
    }

    /// Removes a key; returns its value.
    pub fn remove(&mut self, key: &str) -> Option<Value> {
        self.entries
            .binary_search_by(|(k, _)| k.as_ref().cmp(key))
            .ok()
            .map(|i| self.entries.remove(i).1)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Value)> {
        self.entries.iter().map(|(k, v)| (k.as_ref(), v))
    }

    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(|(k, _)| k.as_ref())
    }

    pub fn values(&self) -> impl Iterator<Item = &Value> {
        self.entries.iter().map(|(_, v)| v)
    }

    pub fn values_mut(&mut self) -> impl Iterator<Item = &mut Value> {
        self.entries.iter_mut().map(|(_, v)| v)
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

impl<K: Into<Key>> FromIterator<(K, Value)> for Map {
    /// Later entries win over earlier ones with the same key, as with `BTreeMap`.
    fn from_iter<I: IntoIterator<Item = (K, Value)>>(iter: I) -> Map {
        let mut entries: Vec<(Key, Value)> = iter.into_iter().map(|(k, v)| (k.into(), v)).collect();
        // A stable sort keeps equal keys in insertion order; keep the last of each run.
        entries.sort_by(|a, b| a.0.cmp(&b.0));
        let mut out: Vec<(Key, Value)> = Vec::with_capacity(entries.len());
        for (k, v) in entries {
            match out.last_mut() {
                Some(last) if last.0 == k => last.1 = v,
                _ => out.push((k, v)),
            }
        }
        Map { entries: out }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_and_last_wins() {
        let m: Map = [
            ("b".to_owned(), Value::Int(1)),
            ("a".to_owned(), Value::Int(2)),
            ("b".to_owned(), Value::Int(3)),
        ]
        .into_iter()
        .collect();
        assert_eq!(m.keys().collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(m.get("b"), Some(&Value::Int(3)));
        let mut m2 = Map::new();
        assert!(m2.insert("z", Value::Int(1)).is_none());
        assert!(m2.insert("m", Value::Int(2)).is_none());
        assert_eq!(m2.insert("z", Value::Int(4)), Some(Value::Int(1)));
        assert_eq!(m2.iter().map(|(k, _)| k).collect::<Vec<_>>(), ["m", "z"]);
    }
}
