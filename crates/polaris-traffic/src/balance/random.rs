//! Weighted random: the default balancer.

use std::sync::Arc;

use super::{Criteria, LoadBalancer, SnapshotCache};
use crate::Instance;
use crate::hash::SplitMix;

/// Picks an instance with probability proportional to its weight. The cumulative weights
/// are computed once per set; a pick is one random number and a binary search.
#[derive(Debug)]
pub struct WeightedRandomBalancer {
    rng: SplitMix,
    cumulative: SnapshotCache<Vec<u64>>,
}

impl Default for WeightedRandomBalancer {
    fn default() -> Self {
        Self::new()
    }
}

impl WeightedRandomBalancer {
    /// A balancer seeded from process entropy.
    pub fn new() -> Self {
        Self::with_seed(SplitMix::from_entropy().next_u64())
    }

    /// A balancer with a fixed seed, for reproducible sequences.
    pub fn with_seed(seed: u64) -> Self {
        WeightedRandomBalancer {
            rng: SplitMix::new(seed),
            cumulative: SnapshotCache::default(),
        }
    }
}

fn cumulative_weights(set: &[Arc<Instance>]) -> Vec<u64> {
    let mut total = 0u64;
    set.iter()
        .map(|instance| {
            total += u64::from(instance.weight);
            total
        })
        .collect()
}

impl LoadBalancer for WeightedRandomBalancer {
    fn name(&self) -> &'static str {
        "weightedRandom"
    }

    fn pick(&self, set: &Arc<[Arc<Instance>]>, _criteria: &Criteria<'_>) -> Option<Arc<Instance>> {
        let index = self
            .cumulative
            .with(set, cumulative_weights, |cumulative| {
                let total = *cumulative.last()?;
                if total == 0 {
                    return None;
                }
                let point = self.rng.below(total);
                Some(cumulative.partition_point(|&c| c <= point))
            })?;
        set.get(index).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balance::test_support::weighted;
    use proptest::prelude::*;

    #[test]
    fn zero_weights_are_never_picked_and_empty_sets_give_none() {
        let balancer = WeightedRandomBalancer::with_seed(1);
        let set = weighted(&[0, 5, 0]);
        for _ in 0..1000 {
            let picked = balancer.pick(&set, &Criteria::default()).unwrap();
            assert_eq!(&*picked.id, "ins-1");
        }
        assert!(
            balancer
                .pick(&weighted(&[0, 0]), &Criteria::default())
                .is_none()
        );
        assert!(
            balancer
                .pick(&weighted(&[]), &Criteria::default())
                .is_none()
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(8))]
        #[test]
        fn shares_follow_weights(weights in proptest::collection::vec(0u32..200, 2..8), seed in any::<u64>()) {
            let total: u64 = weights.iter().map(|w| u64::from(*w)).sum();
            prop_assume!(total > 0);
            let set = weighted(&weights);
            let balancer = WeightedRandomBalancer::with_seed(seed);
            let picks = 100_000usize;
            let mut counts = vec![0usize; weights.len()];
            for _ in 0..picks {
                let picked = balancer.pick(&set, &Criteria::default()).unwrap();
                let index = set.iter().position(|i| Arc::ptr_eq(i, &picked)).unwrap();
                counts[index] += 1;
            }
            for (count, weight) in counts.iter().zip(&weights) {
                let share = *count as f64 / picks as f64;
                let expected = f64::from(*weight) / total as f64;
                prop_assert!((share - expected).abs() <= 0.02, "share {share} expected {expected}");
                if *weight == 0 {
                    prop_assert_eq!(*count, 0);
                }
            }
        }
    }
}
