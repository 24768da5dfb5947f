//! Maglev consistent hashing (Eisenbud et al., NSDI 2016).

use std::sync::Arc;

use super::{Criteria, LoadBalancer, SnapshotCache};
use crate::Instance;
use crate::hash::{SplitMix, StableHasher};

/// Default lookup-table size: a prime, as the algorithm requires.
pub const DEFAULT_MAGLEV_TABLE_SIZE: u32 = 65537;

/// Largest table size asked for (64 MiB of slots); larger requests are cut to it.
pub const MAX_MAGLEV_TABLE_SIZE: u32 = 1 << 24;

/// Maglev hashing: every instance has a preference permutation of the table slots
/// (`offset + j × skip mod M`, from two independent hashes of `host:port`), and the
/// instances take turns claiming their next free preferred slot until the table is full. An
/// instance of weight `w` takes `w / max weight` turns per round. A pick is one table lookup.
/// When an instance leaves, most slots of the others keep their owner. With more instances
/// than slots, some instances own none (use a larger table).
#[derive(Debug)]
pub struct MaglevBalancer {
    table_size: u32,
    table: SnapshotCache<Vec<u32>>,
    rng: SplitMix,
}

fn is_prime(n: u32) -> bool {
    n >= 2
        && (2u32..)
            .take_while(|d| u64::from(*d) * u64::from(*d) <= u64::from(n))
            .all(|d| !n.is_multiple_of(d))
}

impl MaglevBalancer {
    /// A balancer with a table of `table_size` slots; a size that is not a prime is raised to
    /// the next prime, 0 means the default 65537 and sizes above 2^24 are cut to it first.
    pub fn new(table_size: u32) -> Self {
        let mut size = if table_size == 0 {
            DEFAULT_MAGLEV_TABLE_SIZE
        } else {
            table_size.clamp(2, MAX_MAGLEV_TABLE_SIZE)
        };
        while !is_prime(size) {
            size += 1;
        }
        MaglevBalancer {
            table_size: size,
            table: SnapshotCache::default(),
            rng: SplitMix::from_entropy(),
        }
    }

    /// The table size in use (a prime).
    pub fn table_size(&self) -> u32 {
        self.table_size
    }

    fn build(&self, set: &[Arc<Instance>]) -> Vec<u32> {
        let size = u64::from(self.table_size);
        // (instance index, offset, skip, next permutation step, weight, slots claimed)
        let mut backends: Vec<(u32, u64, u64, u64, u64, u64)> = set
            .iter()
            .enumerate()
            .filter(|(_, instance)| instance.weight > 0)
            .map(|(index, instance)| {
                let mut hasher = StableHasher::with_seed(0);
                hasher
                    .write(instance.host.as_bytes())
                    .write(b":")
                    .write(&instance.port.to_le_bytes());
                let mut second = StableHasher::with_seed(0x6d61_676c_6576);
                second
                    .write(instance.host.as_bytes())
                    .write(b":")
                    .write(&instance.port.to_le_bytes());
                let offset = hasher.finish() % size;
                let skip = second.finish() % (size - 1) + 1;
                (index as u32, offset, skip, 0, u64::from(instance.weight), 0)
            })
            .collect();
        if backends.is_empty() {
            return Vec::new();
        }
        let max_weight = backends.iter().map(|b| b.4).max().unwrap_or(1);
        let mut table = vec![u32::MAX; self.table_size as usize];
        let mut filled = 0u64;
        let mut round = 0u64;
        while filled < size {
            round += 1;
            for backend in backends.iter_mut() {
                let (index, offset, skip, next, weight, claimed) = backend;
                // Weighted turns: after `round` rounds this backend is owed round × w / max.
                if round * *weight < (*claimed + 1) * max_weight {
                    continue;
                }
                loop {
                    let slot = ((*offset + *next * *skip) % size) as usize;
                    *next += 1;
                    if table[slot] == u32::MAX {
                        table[slot] = *index;
                        *claimed += 1;
                        filled += 1;
                        break;
                    }
                }
                if filled == size {
                    break;
                }
            }
        }
        table
    }
}

impl LoadBalancer for MaglevBalancer {
    fn name(&self) -> &'static str {
        "maglev"
    }

    fn pick(&self, set: &Arc<[Arc<Instance>]>, criteria: &Criteria<'_>) -> Option<Arc<Instance>> {
        let key = criteria.key_hash().unwrap_or_else(|| self.rng.next_u64());
        let index = self.table.with(
            set,
            |set| self.build(set),
            |table| {
                let len = table.len() as u64;
                (len > 0).then(|| table[(key % len) as usize])
            },
        )?;
        set.get(index as usize).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::balance::test_support::{weighted, without};
    use proptest::prelude::*;

    #[test]
    fn table_size_is_prime_and_slots_are_shared_by_weight() {
        assert_eq!(MaglevBalancer::new(0).table_size(), 65537);
        assert_eq!(MaglevBalancer::new(100).table_size(), 101);
        assert!(MaglevBalancer::new(u32::MAX).table_size() > MAX_MAGLEV_TABLE_SIZE);
        let balancer = MaglevBalancer::new(1009);
        let set = weighted(&[100, 100, 200, 0]);
        let table = balancer.build(&set);
        let count = |i: u32| table.iter().filter(|&&x| x == i).count();
        assert_eq!(table.len(), 1009);
        assert_eq!(count(3), 0, "weight 0 owns no slot");
        assert!((240..=265).contains(&count(0)), "{}", count(0));
        assert!((240..=265).contains(&count(1)), "{}", count(1));
        assert!((495..=520).contains(&count(2)), "{}", count(2));
        assert!(
            balancer
                .pick(&weighted(&[0]), &Criteria::default())
                .is_none()
        );
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(8))]
        #[test]
        fn removing_one_instance_keeps_most_keys(n in 10usize..40, removed in any::<prop::sample::Index>()) {
            let full = weighted(&vec![100; n]);
            let removed = removed.index(n);
            let rest = without(&full, removed);
            let before_balancer = MaglevBalancer::new(0);
            let after_balancer = MaglevBalancer::new(0);
            let (mut kept, mut others) = (0usize, 0usize);
            for key in 0..5000u32 {
                let key = key.to_string();
                let criteria = Criteria::with_hash_key(key.as_bytes());
                let before = before_balancer.pick(&full, &criteria).unwrap();
                let after = after_balancer.pick(&rest, &criteria).unwrap();
                prop_assert!(!Arc::ptr_eq(&after, &full[removed]));
                if !Arc::ptr_eq(&before, &full[removed]) {
                    others += 1;
                    kept += usize::from(Arc::ptr_eq(&before, &after));
                }
            }
            prop_assert!(kept * 100 >= others * 90, "kept {} of {}", kept, others);
        }
    }
}
