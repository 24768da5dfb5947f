//! Smooth weighted round robin, as nginx does it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;

use super::{Criteria, LoadBalancer, SnapshotCache};
use crate::Instance;

/// Largest `cycle length × instances` for which the whole cycle is computed up front.
const PRECOMPUTE_BUDGET: u64 = 4_000_000;
/// Longest cycle kept in memory.
const MAX_CYCLE: u64 = 1 << 16;

/// Smooth weighted round robin: each pick adds every instance's weight to its current
/// value, takes the largest and subtracts the total from it. Over one cycle of `total weight`
/// picks each instance is chosen exactly `weight` times, spread out rather than in bursts.
/// The state lives with the set it was built for, so a new set starts a fresh cycle.
///
/// The sequence repeats every `total weight / gcd(weights)` picks; when that cycle is short
/// enough it is computed once per set and a pick is one atomic increment and one lookup.
/// Otherwise each pick runs the algorithm over the whole set.
#[derive(Debug, Default)]
pub struct WeightedRoundRobinBalancer {
    state: SnapshotCache<Schedule>,
}

#[derive(Debug)]
enum Schedule {
    /// One full cycle of picks, and the position in it.
    Precomputed(Vec<u32>, AtomicU64),
    /// The current values, advanced on each pick.
    Live(Mutex<Vec<i64>>),
}

fn gcd(a: u64, b: u64) -> u64 {
    if b == 0 { a } else { gcd(b, a % b) }
}

/// One step of smooth weighted round robin over `current`.
fn step(set: &[Arc<Instance>], current: &mut [i64]) -> Option<usize> {
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
}

impl Schedule {
    fn build(set: &[Arc<Instance>]) -> Schedule {
        let weights = set.iter().map(|i| u64::from(i.weight)).filter(|w| *w > 0);
        let divisor = weights.clone().fold(0, gcd);
        let total: u64 = weights.sum();
        let cycle = total.checked_div(divisor).unwrap_or(0);
        let mut current = vec![0; set.len()];
        if (1..=MAX_CYCLE).contains(&cycle)
            && cycle.saturating_mul(set.len() as u64) <= PRECOMPUTE_BUDGET
        {
            let sequence = (0..cycle)
                .filter_map(|_| step(set, &mut current).map(|i| i as u32))
                .collect();
            Schedule::Precomputed(sequence, AtomicU64::new(0))
        } else {
            Schedule::Live(Mutex::new(current))
        }
    }

    fn next(&self, set: &[Arc<Instance>]) -> Option<usize> {
        match self {
            Schedule::Precomputed(sequence, position) => {
                let len = sequence.len() as u64;
                if len == 0 {
                    return None;
                }
                let at = position.fetch_add(1, Ordering::Relaxed) % len;
                sequence.get(at as usize).map(|i| *i as usize)
            }
            Schedule::Live(current) => step(set, &mut current.lock()),
        }
    }
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
        let index = self
            .state
            .with(set, Schedule::build, |schedule| schedule.next(set))?;
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
    fn live_and_precomputed_schedules_agree() {
        let set = weighted(&[7, 3, 0, 5, 1]);
        let mut precomputed = Schedule::build(&set);
        assert!(matches!(precomputed, Schedule::Precomputed(..)));
        let live = Schedule::Live(Mutex::new(vec![0; set.len()]));
        for _ in 0..100 {
            assert_eq!(precomputed.next(&set), live.next(&set));
        }
        if let Schedule::Precomputed(sequence, _) = &mut precomputed {
            assert_eq!(sequence.len(), 16, "cycle = total / gcd");
        }
        let coprime = weighted(&[1_000_003, 999_983]);
        assert!(
            matches!(Schedule::build(&coprime), Schedule::Live(_)),
            "cycle too long"
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
