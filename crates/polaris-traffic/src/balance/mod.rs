//! Load balancers: pick one instance from a routed set, optionally by a per-call hash key.
//!
//! Every balancer caches what it derives from a set (cumulative weights, the smooth
//! round-robin state, the hash ring, the maglev table) keyed by the identity of the set's
//! `Arc` slice, one entry per live set (so one balancer can serve every service), and a pick
//! on a cached set allocates nothing. When the identity changes but the instances are the
//! same `Arc`s in the same order (a router rebuilt an equal list), the cached structure is
//! adopted after one pointer comparison per instance. Entries of sets nobody holds any more
//! are dropped once the cache has 64 entries.

mod maglev;
mod random;
mod ring_hash;
mod round_robin;

use std::sync::Arc;

use parking_lot::RwLock;

pub use maglev::{DEFAULT_MAGLEV_TABLE_SIZE, MAX_MAGLEV_TABLE_SIZE, MaglevBalancer};
pub use random::WeightedRandomBalancer;
pub use ring_hash::{DEFAULT_VNODE_COUNT, MAX_RING_POINTS, RingHashBalancer};
pub use round_robin::WeightedRoundRobinBalancer;

use crate::Instance;
use crate::hash::hash_bytes;

/// What a caller passes with each pick.
#[derive(Debug, Clone, Copy, Default)]
pub struct Criteria<'a> {
    /// The hash key of consistent-hash balancers (user id, session...). Ignored by weighted
    /// random and round robin; without it the hash balancers pick at random.
    pub hash_key: Option<&'a [u8]>,
}

impl<'a> Criteria<'a> {
    /// Criteria carrying a hash key.
    pub fn with_hash_key(key: &'a [u8]) -> Self {
        Criteria {
            hash_key: Some(key),
        }
    }

    /// The 64-bit stable hash of the key, if any.
    pub(crate) fn key_hash(&self) -> Option<u64> {
        self.hash_key.map(hash_bytes)
    }
}

/// A load balancer.
pub trait LoadBalancer: Send + Sync {
    /// The official plugin name (`weightedRandom`, `roundRobin`, `ringHash`, `maglev`).
    fn name(&self) -> &'static str;

    /// Picks one instance with weight above 0, `None` when there is none.
    fn pick(&self, set: &Arc<[Arc<Instance>]>, criteria: &Criteria<'_>) -> Option<Arc<Instance>>;
}

/// The balancer named by the official plugin name (`weightedRandom`, `roundRobin`,
/// `ringHash`, `maglev`), with default settings; `None` for an unknown name.
pub fn balancer_by_name(name: &str) -> Option<Arc<dyn LoadBalancer>> {
    Some(match name {
        "weightedRandom" => Arc::new(WeightedRandomBalancer::new()),
        "roundRobin" | "weightedRoundRobin" => Arc::new(WeightedRoundRobinBalancer::new()),
        "ringHash" => Arc::new(RingHashBalancer::new(DEFAULT_VNODE_COUNT)),
        "maglev" => Arc::new(MaglevBalancer::new(DEFAULT_MAGLEV_TABLE_SIZE)),
        _ => return None,
    })
}

/// Sets whose derived structures a balancer keeps; past it, entries of sets nobody else
/// holds any more are dropped (and if all are still held, everything is).
const SNAPSHOT_CAPACITY: usize = 64;

/// One derived structure and the set it was derived from.
#[derive(Debug)]
struct Derived<T> {
    source: Arc<[Arc<Instance>]>,
    value: Arc<T>,
}

/// Structures derived from instance sets, keyed by the identity of the set's slice. One
/// balancer serves many services, so it keeps one entry per live set.
#[derive(Debug)]
pub(crate) struct SnapshotCache<T> {
    entries: RwLock<crate::FastMap<usize, Derived<T>>>,
}

impl<T> Default for SnapshotCache<T> {
    fn default() -> Self {
        SnapshotCache {
            entries: RwLock::default(),
        }
    }
}

fn same_instances(a: &[Arc<Instance>], b: &[Arc<Instance>]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| Arc::ptr_eq(x, y))
}

/// The address of a set's slice: its identity while the cache holds the `Arc`.
pub(crate) fn set_address(set: &Arc<[Arc<Instance>]>) -> usize {
    Arc::as_ptr(set).cast::<()>() as usize
}

impl<T> SnapshotCache<T> {
    /// Runs `use_it` on the structure derived from `set`, building (and caching) it first when
    /// the cache has none for it.
    pub(crate) fn with<R>(
        &self,
        set: &Arc<[Arc<Instance>]>,
        build: impl FnOnce(&[Arc<Instance>]) -> T,
        use_it: impl FnOnce(&T) -> R,
    ) -> R {
        let address = set_address(set);
        {
            let entries = self.entries.read();
            if let Some(derived) = entries.get(&address)
                && Arc::ptr_eq(&derived.source, set)
            {
                return use_it(&derived.value);
            }
        }
        // Same instances under another slice (a router rebuilt an equal list): share the work.
        let adopted = self
            .entries
            .read()
            .values()
            .find(|d| same_instances(&d.source, set))
            .map(|d| Arc::clone(&d.value));
        let value = adopted.unwrap_or_else(|| Arc::new(build(set)));
        let result = use_it(&value);
        let mut entries = self.entries.write();
        if entries.len() >= SNAPSHOT_CAPACITY {
            entries.retain(|_, d| Arc::strong_count(&d.source) > 1);
            if entries.len() >= SNAPSHOT_CAPACITY {
                entries.clear();
            }
        }
        entries.insert(
            address,
            Derived {
                source: Arc::clone(set),
                value,
            },
        );
        result
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    use std::sync::Arc;

    use crate::Instance;

    /// `set` without its instance at `index`.
    pub(crate) fn without(set: &[Arc<Instance>], index: usize) -> Arc<[Arc<Instance>]> {
        set.iter()
            .enumerate()
            .filter(|(i, _)| *i != index)
            .map(|(_, instance)| Arc::clone(instance))
            .collect()
    }

    /// Instances `10.0.0.<i>:8080` with the given weights, all healthy.
    pub(crate) fn weighted(weights: &[u32]) -> Arc<[Arc<Instance>]> {
        weights
            .iter()
            .enumerate()
            .map(|(i, w)| {
                Arc::new(Instance {
                    id: format!("ins-{i}").into(),
                    host: format!("10.0.{}.{}", i / 256, i % 256).into(),
                    port: 8080,
                    weight: *w,
                    healthy: true,
                    ..Default::default()
                })
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    #[test]
    fn cache_rebuilds_only_for_other_instances() {
        let cache: SnapshotCache<usize> = SnapshotCache::default();
        let builds = Cell::new(0);
        let build = |set: &[Arc<Instance>]| {
            builds.set(builds.get() + 1);
            set.len()
        };
        let set = test_support::weighted(&[1, 2, 3]);
        assert_eq!(cache.with(&set, build, |n| *n), 3);
        assert_eq!(cache.with(&set, build, |n| *n), 3);
        assert_eq!(builds.get(), 1);
        // The same instance Arcs in a new slice: adopted without rebuilding.
        let copy: Arc<[Arc<Instance>]> = set.iter().cloned().collect();
        assert_eq!(cache.with(&copy, build, |n| *n), 3);
        assert_eq!(builds.get(), 1);
        // Different instances: built once, and both sets stay cached.
        let other = test_support::weighted(&[1, 2]);
        assert_eq!(cache.with(&other, build, |n| *n), 2);
        assert_eq!(cache.with(&set, build, |n| *n), 3);
        assert_eq!(cache.with(&other, build, |n| *n), 2);
        assert_eq!(builds.get(), 2);
    }

    #[test]
    fn dropped_sets_are_evicted_past_capacity() {
        let cache: SnapshotCache<()> = SnapshotCache::default();
        let kept = test_support::weighted(&[1]);
        cache.with(&kept, |_| (), |_| ());
        for _ in 0..SNAPSHOT_CAPACITY * 2 {
            let transient = test_support::weighted(&[1]);
            cache.with(&transient, |_| (), |_| ());
        }
        let entries = cache.entries.read();
        assert!(entries.len() <= SNAPSHOT_CAPACITY);
        assert!(
            entries.contains_key(&set_address(&kept)),
            "a live set survives"
        );
    }
}
