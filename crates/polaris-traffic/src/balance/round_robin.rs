//! Smooth weighted round robin, as nginx does it.

use std::sync::Arc;

use parking_lot::Mutex;

use super::{Criteria, LoadBalancer, SnapshotCache};
use crate::Instance;

/// Smooth weighted round robin: each pick adds every instance's weight to its current
/// value, takes the largest and subtracts the total from it. Over one cycle of `total weight`
/// picks each instance is chosen exactly `weight` times, spread out rather than in bursts.
/// The state lives with the set it was built for, so a new set starts a fresh cycle.
#[derive(Debug, Default)]
pub struct WeightedRoundRobinBalancer {
    state: SnapshotCache<Mutex<Vec<i64>>>,
}

impl WeightedRoundRobinBalancer {
    /// A balancer with no state yet.
    pub fn new() -> Self {
        Self::default()
    }
}

impl LoadBalancer for WeightedRoundRobinBalancer {
    fn name(&self) -> &'static str {
        "roundRobin"
    }

    fn pick(&self, set: &Arc<[Arc<Instance>]>, _criteria: &Criteria<'_>) -> Option<Arc<Instance>> {
        let index = self.state.with(
            set,
            |set| Mutex::new(vec![0; set.len()]),
            |current| {
                let mut current = current.lock();
                let mut total = 0i64;
                let mut best: Option<usize> = None;
                for (i, instance) in set.iter().enumerate() {
                    let weight = i64::from(instance.weight);
                    if weight == 0 {
                        continue;
                    }
                    current[i] += weight;
                    total += weight;
                    if best.is_none_or(|b| current[i] > current[b]) {
                        best = Some(i);
                    }
                }
                let best = best?;
                current[best] -= total;
                Some(best)
            },
        )?;
        set.get(index).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balance::test_support::weighted;
    use proptest::prelude::*;

    #[test]
    fn nginx_sequence_for_5_1_1() {
        let set = weighted(&[5, 1, 1]);
        let balancer = WeightedRoundRobinBalancer::new();
        let order: Vec<String> = (0..7)
            .map(|_| {
                balancer
                    .pick(&set, &Criteria::default())
                    .unwrap()
                    .id
                    .to_string()
            })
            .collect();
        // The sequence nginx documents for weights a=5, b=1, c=1: a a b a c a a.
        assert_eq!(
            order,
            [
                "ins-0", "ins-0", "ins-1", "ins-0", "ins-2", "ins-0", "ins-0"
            ]
        );
    }

    #[test]
    fn all_zero_gives_none() {
        let balancer = WeightedRoundRobinBalancer::new();
        assert!(
            balancer
                .pick(&weighted(&[0, 0]), &Criteria::default())
                .is_none()
        );
    }

    proptest! {
        #[test]
        fn one_cycle_gives_exact_proportions(weights in proptest::collection::vec(0u32..20, 1..10), cycles in 1usize..3) {
            let total: u32 = weights.iter().sum();
            prop_assume!(total > 0);
            let set = weighted(&weights);
            let balancer = WeightedRoundRobinBalancer::new();
            let mut counts = vec![0u32; weights.len()];
            for _ in 0..(total as usize * cycles) {
                let picked = balancer.pick(&set, &Criteria::default()).unwrap();
                counts[set.iter().position(|i| Arc::ptr_eq(i, &picked)).unwrap()] += 1;
            }
            let expected: Vec<u32> = weights.iter().map(|w| w * cycles as u32).collect();
            prop_assert_eq!(counts, expected);
        }
    }
}
