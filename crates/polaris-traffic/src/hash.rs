//! A small, stable 64-bit hash (FNV-1a over the bytes, then a SplitMix64 finaliser) and a
//! SplitMix64 random source. Stable across processes and platforms, so a hash key maps to
//! the same instance in every client.

use std::sync::atomic::{AtomicU64, Ordering};

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0100_0000_01b3;
const GOLDEN_GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// Streaming stable hasher.
#[derive(Clone, Copy, Debug)]
pub(crate) struct StableHasher(u64);

impl StableHasher {
    /// A hasher with the given seed mixed in, so two seeds give independent hashes.
    pub(crate) fn with_seed(seed: u64) -> Self {
        StableHasher(FNV_OFFSET ^ mix(seed))
    }

    /// Feeds bytes.
    pub(crate) fn write(&mut self, bytes: &[u8]) -> &mut Self {
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(FNV_PRIME);
        }
        self
    }

    /// Feeds an integer as eight little-endian bytes.
    pub(crate) fn write_u64(&mut self, value: u64) -> &mut Self {
        self.write(&value.to_le_bytes())
    }

    /// The finished, well-mixed hash.
    pub(crate) fn finish(&self) -> u64 {
        mix(self.0)
    }
}

/// Hash of one byte string with seed 0.
pub(crate) fn hash_bytes(bytes: &[u8]) -> u64 {
    StableHasher::with_seed(0).write(bytes).finish()
}

/// The SplitMix64 finaliser: a bijection that spreads every input bit over the output.
pub(crate) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A lock-free SplitMix64 generator shared by every thread using one balancer.
#[derive(Debug)]
pub(crate) struct SplitMix(AtomicU64);

impl SplitMix {
    /// A generator with a fixed seed (tests) or a per-process one (`from_entropy`).
    pub(crate) fn new(seed: u64) -> Self {
        SplitMix(AtomicU64::new(seed))
    }

    /// A generator seeded from the standard library's per-process random hasher keys.
    pub(crate) fn from_entropy() -> Self {
        use std::hash::{BuildHasher, Hasher};
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u64(GOLDEN_GAMMA);
        SplitMix::new(hasher.finish())
    }

    /// The next 64 random bits.
    pub(crate) fn next_u64(&self) -> u64 {
        mix(self
            .0
            .fetch_add(GOLDEN_GAMMA, Ordering::Relaxed)
            .wrapping_add(GOLDEN_GAMMA))
    }

    /// A uniform value in `0..bound` (`bound > 0`), by multiply-shift.
    pub(crate) fn below(&self, bound: u64) -> u64 {
        ((u128::from(self.next_u64()) * u128::from(bound)) >> 64) as u64
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_is_stable_and_seed_dependent() {
        assert_eq!(hash_bytes(b"user-42"), hash_bytes(b"user-42"));
        assert_ne!(hash_bytes(b"user-42"), hash_bytes(b"user-43"));
        let a = StableHasher::with_seed(1).write(b"x").finish();
        let b = StableHasher::with_seed(2).write(b"x").finish();
        assert_ne!(a, b);
    }

    #[test]
    fn below_stays_in_bounds() {
        let rng = SplitMix::new(7);
        for bound in [1u64, 2, 3, 1000] {
            for _ in 0..1000 {
                assert!(rng.below(bound) < bound);
            }
        }
    }
}
