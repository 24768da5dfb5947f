//! Consistent hashing on a ring of virtual nodes.

use std::sync::Arc;

use super::{Criteria, LoadBalancer, SnapshotCache};
use crate::Instance;
use crate::hash::{SplitMix, StableHasher};

/// Virtual nodes of an instance of weight 100 (the default weight).
pub const DEFAULT_VNODE_COUNT: u32 = 500;

/// Most points on one ring (16 MiB of points). Past it every instance's share is scaled
/// down alike, which keeps proportions but gives up the strict stability guarantee.
pub const MAX_RING_POINTS: u64 = 1 << 20;

/// Consistent hashing: each instance owns `vnode_count × weight / 100` points (at least one
/// when its weight is above 0) on a 64-bit ring, placed by hashing `host:port#i`; a key goes to
/// the first point at or after its hash. An instance's points depend only on itself, so when
/// one instance leaves only the keys it owned move. The ring is built once per set, with an
/// index by the top 16 bits of the hash, so a pick is a binary search over a handful of
/// points.
#[derive(Debug)]
pub struct RingHashBalancer {
    vnode_count: u32,
    ring: SnapshotCache<Ring>,
    rng: SplitMix,
}

const INDEX_BITS: u32 = 16;

/// The sorted points, their owners, and where each 16-bit hash prefix starts.
#[derive(Debug)]
struct Ring {
    hashes: Vec<u64>,
    owners: Vec<u32>,
    starts: Vec<u32>,
}

impl Ring {
    fn new(mut points: Vec<(u64, u32, u64)>) -> Ring {
        points.sort_unstable_by_key(|&(hash, _, tie)| (hash, tie));
        let hashes: Vec<u64> = points.iter().map(|p| p.0).collect();
        let owners = points.iter().map(|p| p.1).collect();
        let mut starts = Vec::with_capacity((1 << INDEX_BITS) + 1);
        let mut at = 0usize;
        for prefix in 0..=(1u64 << INDEX_BITS) {
            while at < hashes.len() && (hashes[at] >> (64 - INDEX_BITS)) < prefix {
                at += 1;
            }
            starts.push(at as u32);
        }
        Ring {
            hashes,
            owners,
            starts,
        }
    }

    /// The owner of the first point at or after `key`, wrapping around.
    fn owner(&self, key: u64) -> Option<u32> {
        let prefix = (key >> (64 - INDEX_BITS)) as usize;
        let low = *self.starts.get(prefix)? as usize;
        let high = *self.starts.get(prefix + 1)? as usize;
        let at = low + self.hashes.get(low..high)?.partition_point(|&h| h < key);
        self.owners.get(at).or_else(|| self.owners.first()).copied()
    }
}

impl RingHashBalancer {
    /// A balancer with `vnode_count` points per instance of weight 100 (0 means the default).
    pub fn new(vnode_count: u32) -> Self {
        RingHashBalancer {
            vnode_count: if vnode_count == 0 {
                DEFAULT_VNODE_COUNT
            } else {
                vnode_count
            },
            ring: SnapshotCache::default(),
            rng: SplitMix::from_entropy(),
        }
    }

    /// Points of each instance: `vnode_count × weight / 100`, at least 1 (0 for weight 0),
    /// scaled down together when the ring would exceed [`MAX_RING_POINTS`].
    fn points(&self, set: &[Arc<Instance>]) -> Vec<u64> {
        let mut points: Vec<u64> = set
            .iter()
            .map(|i| match i.weight {
                0 => 0,
                w => (u64::from(self.vnode_count) * u64::from(w) / 100).max(1),
            })
            .collect();
        let total: u64 = points.iter().sum();
        if total > MAX_RING_POINTS {
            for p in points.iter_mut().filter(|p| **p > 0) {
                *p = (u128::from(*p) * u128::from(MAX_RING_POINTS) / u128::from(total)).max(1)
                    as u64;
            }
        }
        points
    }

    fn build(&self, set: &[Arc<Instance>]) -> Ring {
        let points = self.points(set);
        let mut ring = Vec::with_capacity(points.iter().sum::<u64>() as usize);
        for (index, (instance, count)) in set.iter().zip(points).enumerate() {
            let mut base = StableHasher::with_seed(0);
            base.write(instance.host.as_bytes())
                .write(b":")
                .write(&instance.port.to_le_bytes())
                .write(b"#");
            let tie_break = base.finish();
            for point in 0..count {
                let mut hasher = base;
                let hash = hasher.write_u64(point).finish();
                ring.push((hash, index as u32, tie_break));
            }
        }
        Ring::new(ring)
    }
}

impl LoadBalancer for RingHashBalancer {
    fn name(&self) -> &'static str {
        "ringHash"
    }

    fn pick(&self, set: &Arc<[Arc<Instance>]>, criteria: &Criteria<'_>) -> Option<Arc<Instance>> {
        let key = criteria.key_hash().unwrap_or_else(|| self.rng.next_u64());
        let index = self
            .ring
            .with(set, |set| self.build(set), |ring| ring.owner(key))?;
        set.get(index as usize).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balance::test_support::{weighted, without};
    use proptest::prelude::*;

    #[test]
    fn same_key_same_instance_and_weight_zero_excluded() {
        let set = weighted(&[100, 0, 100, 100]);
        let balancer = RingHashBalancer::new(0);
        for key in 0..500u32 {
            let key = key.to_string();
            let first = balancer
                .pick(&set, &Criteria::with_hash_key(key.as_bytes()))
                .unwrap();
            let again = balancer
                .pick(&set, &Criteria::with_hash_key(key.as_bytes()))
                .unwrap();
            assert!(Arc::ptr_eq(&first, &again));
            assert_ne!(&*first.id, "ins-1");
        }
        assert!(
            balancer
                .pick(&weighted(&[0]), &Criteria::default())
                .is_none()
        );
    }

    #[test]
    fn indexed_lookup_equals_a_plain_binary_search() {
        let balancer = RingHashBalancer::new(50);
        let ring = balancer.build(&weighted(&[100, 200, 50, 100]));
        let rng = SplitMix::new(11);
        let probes = (0..10_000).map(|_| rng.next_u64()).chain([
            0,
            u64::MAX,
            ring.hashes[0],
            ring.hashes[ring.hashes.len() - 1],
        ]);
        for key in probes {
            let at = ring.hashes.partition_point(|&h| h < key);
            let expected = ring.owners.get(at).or(ring.owners.first()).copied();
            assert_eq!(ring.owner(key), expected, "key {key}");
        }
    }

    #[test]
    fn huge_weights_are_scaled_to_the_ring_limit() {
        let balancer = RingHashBalancer::new(0);
        let points = balancer.points(&weighted(&[10_000; 1000]));
        let total: u64 = points.iter().sum();
        assert!(total <= MAX_RING_POINTS, "{total}");
        assert!(points.iter().all(|p| *p == points[0] && *p > 0));
        assert_eq!(balancer.points(&weighted(&[100, 0, 300])), [500, 0, 1500]);
    }

    #[test]
    fn heavier_instances_own_more_keys() {
        let set = weighted(&[100, 300]);
        let balancer = RingHashBalancer::new(200);
        let heavy = (0..20_000u32)
            .filter(|key| {
                let key = key.to_string();
                let picked = balancer.pick(&set, &Criteria::with_hash_key(key.as_bytes()));
                picked.is_some_and(|p| &*p.id == "ins-1")
            })
            .count();
        // 75% expected; the ring's variance with 800 points is a few percent.
        assert!((13_500..16_500).contains(&heavy), "{heavy}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(16))]
        #[test]
        fn removing_one_instance_moves_only_its_keys(n in 2usize..30, removed in any::<prop::sample::Index>()) {
            let full = weighted(&vec![100; n]);
            let removed = removed.index(n);
            let rest = without(&full, removed);
            let balancer = RingHashBalancer::new(100);
            let after_balancer = RingHashBalancer::new(100);
            for key in 0..2000u32 {
                let key = key.to_string();
                let criteria = Criteria::with_hash_key(key.as_bytes());
                let before = balancer.pick(&full, &criteria).unwrap();
                let after = after_balancer.pick(&rest, &criteria).unwrap();
                if !Arc::ptr_eq(&before, &full[removed]) {
                    prop_assert!(Arc::ptr_eq(&before, &after), "key {} moved", key);
                }
            }
        }
    }
}
