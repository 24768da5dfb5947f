//! Load balancers: pick one instance from a routed set, optionally by a per-call hash key.
//!
//! Every balancer caches what it derives from a set (cumulative weights, the smooth
//! round-robin state, the hash ring, the maglev table) keyed by the identity of the set's
//! `Arc` slice, so a pick on an unchanged set allocates nothing. When the identity changes but
//! the instances are the same `Arc`s in the same order (a router rebuilt an equal list), the
//! cached structure is adopted after one pointer comparison per instance.

mod maglev;
mod random;
mod ring_hash;
mod round_robin;

use std::sync::Arc;

use arc_swap::ArcSwapOption;

pub use maglev::{DEFAULT_MAGLEV_TABLE_SIZE, MaglevBalancer};
pub use random::WeightedRandomBalancer;
pub use ring_hash::{DEFAULT_VNODE_COUNT, RingHashBalancer};
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

/// One derived structure and the set it was derived from.
#[derive(Debug)]
pub(crate) struct Derived<T> {
    source: Arc<[Arc<Instance>]>,
    value: Arc<T>,
}

/// A one-entry cache of a structure derived from an instance set.
#[derive(Debug)]
pub(crate) struct SnapshotCache<T> {
    slot: ArcSwapOption<Derived<T>>,
}

impl<T> Default for SnapshotCache<T> {
    fn default() -> Self {
        SnapshotCache {
            slot: ArcSwapOption::empty(),
        }
    }
}

fn same_instances(a: &[Arc<Instance>], b: &[Arc<Instance>]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| Arc::ptr_eq(x, y))
}

impl<T> SnapshotCache<T> {
    /// Runs `use_it` on the structure derived from `set`, building (and caching) it first when
    /// the cache holds another set.
    pub(crate) fn with<R>(
        &self,
        set: &Arc<[Arc<Instance>]>,
        build: impl FnOnce(&[Arc<Instance>]) -> T,
        use_it: impl FnOnce(&T) -> R,
    ) -> R {
        {
            let guard = self.slot.load();
            if let Some(derived) = guard.as_ref() {
                if Arc::ptr_eq(&derived.source, set) {
                    return use_it(&derived.value);
                }
            }
        }
        let value = match self.slot.load_full() {
            // Same instances under a new slice: keep the work, remember the new identity.
            Some(derived) if same_instances(&derived.source, set) => Arc::clone(&derived.value),
            _ => Arc::new(build(set)),
        };
        let derived = Arc::new(Derived {
            source: Arc::clone(set),
            value,
        });
        let result = use_it(&derived.value);
        self.slot.store(Some(derived));
        result
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    use std::sync::Arc;

    use crate::Instance;

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
        // Different instances: rebuilt.
        let other = test_support::weighted(&[1, 2, 3]);
        assert_eq!(cache.with(&other, build, |n| *n), 3);
        assert_eq!(builds.get(), 2);
    }
}
