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

/// Bytes of bodies kept before the map is cleared, so that many distinct queries of large
/// services cannot make the cache hold more than this.
const MAX_BYTES: usize = 32 << 20;

/// Rendered bodies by key, each with the revision `R` it was rendered from.
pub struct Rendered<K, R> {
    entries: RwLock<Entries<K, R>>,
}

struct Entries<K, R> {
    map: HashMap<K, (R, Bytes)>,
    bytes: usize,
}

impl<K, R> Default for Rendered<K, R> {
    fn default() -> Self {
        Rendered {
            entries: RwLock::new(Entries {
                map: HashMap::new(),
                bytes: 0,
            }),
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
        let (revision, bytes) = entries.map.get(key)?;
        same(revision).then(|| bytes.clone())
    }

    /// Stores `bytes` as the body of `key` at `revision`.
    pub fn put(&self, key: K, revision: R, bytes: Bytes) {
        let mut entries = self.entries.write();
        let replaced = entries.map.get(&key).map(|(_, old)| old.len());
        let full = entries.map.len() >= MAX_ENTRIES && replaced.is_none();
        if full || entries.bytes - replaced.unwrap_or(0) + bytes.len() > MAX_BYTES {
            entries.map.clear();
            entries.bytes = 0;
        }
        entries.bytes += bytes.len();
        if let Some((_, old)) = entries.map.insert(key, (revision, bytes)) {
            entries.bytes -= old.len();
        }
    }

    /// Number of stored bodies.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.entries.read().map.len()
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

    #[test]
    fn the_map_is_cleared_before_it_holds_too_many_bytes() {
        let cache: Rendered<usize, ()> = Rendered::default();
        let body = Bytes::from(vec![b'x'; MAX_BYTES / 4]);
        for key in 0..4 {
            cache.put(key, (), body.clone());
        }
        assert_eq!(cache.len(), 4);
        cache.put(0, (), body.clone());
        assert_eq!(cache.len(), 4, "replacing an entry does not count it twice");
        cache.put(4, (), body);
        assert_eq!(cache.len(), 1);
        assert!(cache.get(&4, |_| true).is_some());
    }
}
