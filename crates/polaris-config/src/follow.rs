//! Following a shared store: groups, files, releases, history and templates other nodes
//! committed are swapped into the snapshot, and the watchers of every file whose releases
//! changed are woken, exactly as a local publish does. The writer lock is held from before the
//! feed is read until its rows are applied, so a stale row never overwrites a newer local write;
//! records equal to the cached ones are skipped.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;
use std::sync::atomic::Ordering;

use polaris_store::Mutation;
use polaris_store::feed::{FeedBatch, FeedDomain, FeedFollower};
use polaris_types::ConfigFileKey;

use crate::{ConfigCenter, ConfigSnapshot};

/// Keys a full reload listed, to drop what it did not.
#[derive(Default)]
struct Listed {
    groups: HashSet<(String, String)>,
    files: HashSet<ConfigFileKey>,
    releases: HashSet<(ConfigFileKey, String)>,
}

/// Puts `value` under `key` unless an equal value is there; true when it changed something.
fn put<K: Ord + Clone, V: PartialEq>(map: &mut imbl::OrdMap<K, Arc<V>>, key: K, value: V) -> bool {
    if map.get(&key).is_some_and(|old| **old == value) {
        return false;
    }
    map.insert(key, Arc::new(value));
    true
}

impl FeedFollower for ConfigCenter {
    const DOMAIN: FeedDomain = FeedDomain::Config;

    fn writer(&self) -> &tokio::sync::Mutex<()> {
        &self.writer
    }

    fn apply_batch(&self, batch: FeedBatch) -> usize {
        let mut next = ConfigSnapshot::clone(&self.snapshot.load());
        let mut woken = BTreeSet::new();
        let mut listed = Listed::default();
        let mut changed = 0usize;
        for mutation in batch.mutations {
            let hit = match mutation {
                Mutation::PutConfigGroup(g) => {
                    let key = (g.namespace.clone(), g.name.clone());
                    listed.groups.insert(key.clone());
                    put(&mut next.groups, key, g)
                }
                Mutation::DeleteConfigGroup {
                    namespace, name, ..
                } => next.groups.remove(&(namespace, name)).is_some(),
                Mutation::PutConfigFile(f) => {
                    listed.files.insert(f.key.clone());
                    put(&mut next.files, f.key.clone(), f)
                }
                Mutation::DeleteConfigFile { key, .. } => next.files.remove(&key).is_some(),
                Mutation::PutConfigRelease(r) => {
                    let key = (r.key.clone(), r.name.clone());
                    listed.releases.insert(key.clone());
                    let file = r.key.clone();
                    let hit = put(&mut next.releases, key, r);
                    if hit {
                        woken.insert(file);
                    }
                    hit
                }
                Mutation::DeleteConfigRelease { key, name, .. } => {
                    let hit = next.releases.remove(&(key.clone(), name)).is_some();
                    if hit {
                        woken.insert(key);
                    }
                    hit
                }
                Mutation::AppendReleaseHistory(h) => put(&mut next.history, h.id, h),
                Mutation::PutConfigTemplate(t) => put(&mut next.templates, t.name.clone(), t),
                _ => false,
            };
            changed += usize::from(hit);
        }
        if batch.full {
            changed += drop_unlisted(&mut next, &listed, &mut woken);
        }
        if changed > 0 {
            // Ids handed out here must stay above those other nodes already used.
            self.next_id.fetch_max(next.max_id() + 1, Ordering::Relaxed);
            self.snapshot.store(Arc::new(next));
            for key in &woken {
                self.watchers.wake(key);
            }
        }
        changed
    }
}

fn drop_unlisted(
    next: &mut ConfigSnapshot,
    listed: &Listed,
    woken: &mut BTreeSet<ConfigFileKey>,
) -> usize {
    let before = next.groups.len() + next.files.len() + next.releases.len();
    let groups: Vec<_> = next
        .groups
        .keys()
        .filter(|k| !listed.groups.contains(*k))
        .cloned()
        .collect();
    for key in groups {
        next.groups.remove(&key);
    }
    let files: Vec<_> = next
        .files
        .keys()
        .filter(|k| !listed.files.contains(*k))
        .cloned()
        .collect();
    for key in files {
        next.files.remove(&key);
    }
    let gone: Vec<_> = next
        .releases
        .keys()
        .filter(|k| !listed.releases.contains(*k))
        .cloned()
        .collect();
    for key in gone {
        next.releases.remove(&key);
        woken.insert(key.0);
    }
    before - (next.groups.len() + next.files.len() + next.releases.len())
}
