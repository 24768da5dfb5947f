//! Where heartbeat timestamps live.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicI64, Ordering};

use async_trait::async_trait;
use parking_lot::RwLock;
use polaris_types::Millis;

/// A beat store could not be reached.
#[derive(Debug, thiserror::Error)]
#[error("heartbeat store failed: {0}")]
pub struct BeatError(pub String);

/// The last heartbeat time of each instance. Memory for one node, a shared store for a cluster.
#[async_trait]
pub trait BeatStore: Send + Sync + 'static {
    /// Records a heartbeat of `id` at `at`.
    async fn record(&self, id: &str, at: Millis) -> Result<(), BeatError>;
    /// The last recorded heartbeat of `id`.
    async fn last_beat(&self, id: &str) -> Result<Option<Millis>, BeatError>;
    /// Forgets `id` (its instance is gone).
    async fn forget(&self, id: &str) -> Result<(), BeatError>;
}

const SHARDS: usize = 32;

/// Beats in memory, sharded so that concurrent heartbeats rarely touch the same lock; a beat for
/// a known instance takes only a shared lock and an atomic store.
pub struct MemoryBeats {
    shards: Vec<RwLock<HashMap<String, AtomicI64>>>,
    hasher: RandomState,
}

impl Default for MemoryBeats {
    fn default() -> Self {
        MemoryBeats {
            shards: (0..SHARDS).map(|_| RwLock::new(HashMap::new())).collect(),
            hasher: RandomState::new(),
        }
    }
}

impl MemoryBeats {
    fn shard(&self, id: &str) -> &RwLock<HashMap<String, AtomicI64>> {
        &self.shards[self.hasher.hash_one(id) as usize % SHARDS]
    }

    /// Records a beat without going through the async trait.
    pub fn record_now(&self, id: &str, at: Millis) {
        let shard = self.shard(id);
        if let Some(slot) = shard.read().get(id) {
            slot.fetch_max(at, Ordering::Relaxed);
            return;
        }
        shard
            .write()
            .entry(id.to_string())
            .or_insert_with(|| AtomicI64::new(at))
            .fetch_max(at, Ordering::Relaxed);
    }
}

#[async_trait]
impl BeatStore for MemoryBeats {
    async fn record(&self, id: &str, at: Millis) -> Result<(), BeatError> {
        self.record_now(id, at);
        Ok(())
    }

    async fn last_beat(&self, id: &str) -> Result<Option<Millis>, BeatError> {
        Ok(self
            .shard(id)
            .read()
            .get(id)
            .map(|slot| slot.load(Ordering::Relaxed)))
    }

    async fn forget(&self, id: &str) -> Result<(), BeatError> {
        self.shard(id).write().remove(id);
        Ok(())
    }
}
