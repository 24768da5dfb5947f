//! Who waits for which file. A publish wakes exactly the watchers of that file: no scan of all
//! watchers, and an idle long poll costs one small allocation plus an index entry per file.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use polaris_types::ConfigFileKey;
use tokio::sync::Notify;

/// Watchers per file, each under its own id so that leaving costs O(1) per file.
#[derive(Default)]
pub struct WatchIndex {
    waiters: Mutex<HashMap<ConfigFileKey, HashMap<u64, Arc<Notify>>>>,
    next_id: AtomicU64,
}

/// A registration that removes itself from the index when dropped.
pub struct Watch<'a> {
    index: &'a WatchIndex,
    id: u64,
    keys: Vec<ConfigFileKey>,
    notify: Arc<Notify>,
}

impl WatchIndex {
    /// Registers one waiter for all `keys`.
    pub fn register(&self, keys: Vec<ConfigFileKey>) -> Watch<'_> {
        let notify = Arc::new(Notify::new());
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut waiters = self.waiters.lock();
        for key in &keys {
            waiters
                .entry(key.clone())
                .or_default()
                .insert(id, notify.clone());
        }
        Watch {
            index: self,
            id,
            keys,
            notify,
        }
    }

    /// Wakes every waiter of `key`.
    pub fn wake(&self, key: &ConfigFileKey) {
        let woken = self.waiters.lock().remove(key);
        for notify in woken.into_iter().flat_map(HashMap::into_values) {
            notify.notify_one();
        }
    }

    /// Number of (file, waiter) registrations.
    pub fn len(&self) -> usize {
        self.waiters.lock().values().map(HashMap::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Watch<'_> {
    /// Resolves when one of the watched files is published (or was since registration).
    pub async fn changed(&self) {
        self.notify.notified().await;
    }
}

impl Drop for Watch<'_> {
    fn drop(&mut self) {
        let mut waiters = self.index.waiters.lock();
        for key in &self.keys {
            if let Some(list) = waiters.get_mut(key) {
                list.remove(&self.id);
                if list.is_empty() {
                    waiters.remove(key);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(name: &str) -> ConfigFileKey {
        ConfigFileKey::new("ns", "g", name)
    }

    #[tokio::test]
    async fn a_publish_wakes_only_its_watchers_and_registrations_clean_up() {
        let index = WatchIndex::default();
        let a = index.register(vec![key("a"), key("b")]);
        let c = index.register(vec![key("c")]);
        assert_eq!(index.len(), 3);
        index.wake(&key("b"));
        tokio::time::timeout(std::time::Duration::from_secs(1), a.changed())
            .await
            .expect("woken");
        let quiet = tokio::time::timeout(std::time::Duration::from_millis(20), c.changed()).await;
        assert!(quiet.is_err(), "other files' watchers sleep on");
        drop(a);
        drop(c);
        assert!(index.is_empty());
    }
}
