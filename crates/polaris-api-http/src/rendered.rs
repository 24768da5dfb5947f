//! Answer bodies rendered once per revision of what they show and then shared between requests:
//! the console instance list of one service (per service revision) and a client's
//! `GetConfigFile` (per release). The domain's snapshots tell the current revision cheaply; a
//! request whose key and revision match an entry gets the stored bytes without building or
//! serialising anything.

use std::collections::HashMap;
use std::hash::Hash;

use axum::body::Bytes;
use parking_lot::RwLock;

/// Entries kept before the map is cleared (a crude bound: keys are client-chosen).
const MAX_ENTRIES: usize = 16_384;

/// Rendered bodies by key, each with the revision `R` it was rendered from.
pub struct Rendered<K, R> {
    entries: RwLock<HashMap<K, (R, Bytes)>>,
}

impl<K, R> Default for Rendered<K, R> {
    fn default() -> Self {
        Rendered {
            entries: RwLock::new(HashMap::new()),
        }
    }
}

impl<K: Eq + Hash, R> Rendered<K, R> {
    /// The body stored for `key`, when it was rendered from a revision `same` accepts.
    pub fn get<Q>(&self, key: &Q, same: impl FnOnce(&R) -> bool) -> Option<Bytes>
    where
        K: std::borrow::Borrow<Q>,
        Q: Eq + Hash + ?Sized,
    {
        let entries = self.entries.read();
        let (revision, bytes) = entries.get(key)?;
        same(revision).then(|| bytes.clone())
    }

    /// Stores `bytes` as the body of `key` at `revision`.
    pub fn put(&self, key: K, revision: R, bytes: Bytes) {
        let mut entries = self.entries.write();
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(&key) {
            entries.clear();
        }
        entries.insert(key, (revision, bytes));
    }

    /// Number of stored bodies.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.read().len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_body_is_served_only_for_the_revision_it_was_rendered_from() {
        let cache: Rendered<String, u64> = Rendered::default();
        assert_eq!(cache.get("a", |_| true), None);
        cache.put("a".into(), 1, Bytes::from_static(b"one"));
        assert_eq!(cache.get("a", |r| *r == 1).as_deref(), Some(&b"one"[..]));
        assert_eq!(cache.get("a", |r| *r == 2), None);
        cache.put("a".into(), 2, Bytes::from_static(b"two"));
        assert_eq!(cache.get("a", |r| *r == 2).as_deref(), Some(&b"two"[..]));
        assert_eq!(cache.len(), 1);
    }

    #[test]
    fn the_map_is_cleared_when_full() {
        let cache: Rendered<usize, ()> = Rendered::default();
        for key in 0..=MAX_ENTRIES {
            cache.put(key, (), Bytes::new());
        }
        assert_eq!(cache.len(), 1);
        assert!(cache.get(&MAX_ENTRIES, |_| true).is_some());
    }
}
