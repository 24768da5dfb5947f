//! The metadata of an instance, kept compact: a sorted boxed slice of interned pairs. An
//! instance usually has a handful of keys shared with its siblings (`env`, `protocol`,
//! `version`, ...), so a `BTreeMap` node (about 550 bytes for up to 11 pairs) and two strings
//! per pair cost far more than the pairs themselves; here one pair costs 32 bytes and its texts
//! are shared through [`Sym`].

use std::fmt;

use crate::{Metadata, Sym};

/// Key-value metadata in key order, each key once.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct InstanceMetadata {
    pairs: Box<[(Sym, Sym)]>,
}

impl InstanceMetadata {
    pub fn new() -> InstanceMetadata {
        InstanceMetadata::default()
    }

    pub fn len(&self) -> usize {
        self.pairs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pairs.is_empty()
    }

    fn position(&self, key: &str) -> Result<usize, usize> {
        self.pairs.binary_search_by(|(k, _)| k.as_str().cmp(key))
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        let at = self.position(key).ok()?;
        Some(self.pairs[at].1.as_str())
    }

    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_ok()
    }

    /// Sets `key` to `value`; the previous value, if any.
    pub fn insert(&mut self, key: impl Into<Sym>, value: impl Into<Sym>) -> Option<Sym> {
        let (key, value) = (key.into(), value.into());
        let mut pairs = std::mem::take(&mut self.pairs).into_vec();
        let previous = match pairs.binary_search_by(|(k, _)| k.cmp(&key)) {
            Ok(at) => Some(std::mem::replace(&mut pairs[at].1, value)),
            Err(at) => {
                pairs.insert(at, (key, value));
                None
            }
        };
        self.pairs = pairs.into_boxed_slice();
        previous
    }

    /// Removes `key`; its value, if it was there.
    pub fn remove(&mut self, key: &str) -> Option<Sym> {
        let at = self.position(key).ok()?;
        let mut pairs = std::mem::take(&mut self.pairs).into_vec();
        let (_, value) = pairs.remove(at);
        self.pairs = pairs.into_boxed_slice();
        Some(value)
    }

    /// The pairs in key order.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, &str)> + '_ {
        self.pairs.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }

    pub fn keys(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.pairs.iter().map(|(k, _)| k.as_str())
    }

    pub fn values(&self) -> impl ExactSizeIterator<Item = &str> + '_ {
        self.pairs.iter().map(|(_, v)| v.as_str())
    }

    /// The same pairs as an ordinary map of owned strings.
    pub fn to_map(&self) -> Metadata {
        self.iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }
}

impl<K: Into<Sym>, V: Into<Sym>> FromIterator<(K, V)> for InstanceMetadata {
    /// Pairs in any order; for a key given twice the last value wins, as in a map.
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> InstanceMetadata {
        let mut pairs: Vec<(Sym, Sym)> = iter
            .into_iter()
            .map(|(k, v)| (k.into(), v.into()))
            .collect();
        // A stable sort keeps the order of equal keys, so the last of each run is the last given.
        pairs.sort_by(|a, b| a.0.cmp(&b.0));
        let mut unique: Vec<(Sym, Sym)> = Vec::with_capacity(pairs.len());
        for pair in pairs {
            match unique.last_mut() {
                Some(last) if last.0 == pair.0 => *last = pair,
                _ => unique.push(pair),
            }
        }
        InstanceMetadata {
            pairs: unique.into_boxed_slice(),
        }
    }
}

impl<K: Into<Sym>, V: Into<Sym>, const N: usize> From<[(K, V); N]> for InstanceMetadata {
    fn from(pairs: [(K, V); N]) -> InstanceMetadata {
        pairs.into_iter().collect()
    }
}

impl std::ops::Index<&str> for InstanceMetadata {
    type Output = str;

    /// The value of `key`; panics when it is absent, as a map's index does.
    fn index(&self, key: &str) -> &str {
        match self.get(key) {
            Some(value) => value,
            None => panic!("no metadata key {key:?}"),
        }
    }
}

impl From<Metadata> for InstanceMetadata {
    fn from(map: Metadata) -> InstanceMetadata {
        map.into_iter().collect()
    }
}

impl From<&Metadata> for InstanceMetadata {
    fn from(map: &Metadata) -> InstanceMetadata {
        map.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect()
    }
}

impl<'a> IntoIterator for &'a InstanceMetadata {
    type Item = (&'a str, &'a str);
    type IntoIter =
        std::iter::Map<std::slice::Iter<'a, (Sym, Sym)>, fn(&'a (Sym, Sym)) -> (&'a str, &'a str)>;

    fn into_iter(self) -> Self::IntoIter {
        fn pair(p: &(Sym, Sym)) -> (&str, &str) {
            (p.0.as_str(), p.1.as_str())
        }
        self.pairs.iter().map(pair)
    }
}

impl fmt::Debug for InstanceMetadata {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn behaves_as_a_sorted_map() {
        let mut m: InstanceMetadata = [("zone", "a"), ("env", "prod"), ("zone", "b")]
            .into_iter()
            .collect();
        assert_eq!(
            m.iter().collect::<Vec<_>>(),
            [("env", "prod"), ("zone", "b")]
        );
        assert_eq!(m.insert("app", "shop"), None);
        assert_eq!(m.insert("env", "test").as_deref(), Some("prod"));
        assert_eq!(m.keys().collect::<Vec<_>>(), ["app", "env", "zone"]);
        assert_eq!(m.get("env"), Some("test"));
        assert!(!m.contains_key("missing"));
        assert_eq!(m.remove("app").as_deref(), Some("shop"));
        assert_eq!(m.len(), 2);
        let map = m.to_map();
        assert_eq!(InstanceMetadata::from(&map), m);
    }
}
