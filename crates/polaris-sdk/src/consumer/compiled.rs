//! Structures compiled from a cached snapshot (routing rules, lanes, limiters), rebuilt only
//! when the snapshot they came from is replaced.

use std::sync::Arc;

use arc_swap::{ArcSwap, ArcSwapOption};
use parking_lot::Mutex;

use super::cache::{FastMap, ServiceKey, Snapshot};

struct Compiled<T> {
    source: Arc<Snapshot>,
    value: Arc<T>,
}

type Slot<T> = Arc<ArcSwapOption<Compiled<T>>>;

/// Per service: the value compiled from the newest snapshot seen.
pub(crate) struct CompiledCache<T> {
    slots: ArcSwap<FastMap<ServiceKey, Slot<T>>>,
    insert: Mutex<()>,
}

impl<T> Default for CompiledCache<T> {
    fn default() -> Self {
        CompiledCache {
            slots: ArcSwap::default(),
            insert: Mutex::new(()),
        }
    }
}

impl<T> CompiledCache<T> {
    /// The value for `snapshot`, compiled by `compile` unless the cached one came from it.
    pub(crate) fn get(
        &self,
        service: &ServiceKey,
        snapshot: &Arc<Snapshot>,
        compile: impl FnOnce(&Snapshot) -> T,
    ) -> Arc<T> {
        let slot = self.slot(service);
        if let Some(cached) = slot.load().as_ref()
            && Arc::ptr_eq(&cached.source, snapshot)
        {
            return cached.value.clone();
        }
        let value = Arc::new(compile(snapshot));
        slot.store(Some(Arc::new(Compiled {
            source: snapshot.clone(),
            value: value.clone(),
        })));
        value
    }

    fn slot(&self, service: &ServiceKey) -> Slot<T> {
        if let Some(slot) = self.slots.load().get(service) {
            return slot.clone();
        }
        let _guard = self.insert.lock();
        if let Some(slot) = self.slots.load().get(service) {
            return slot.clone();
        }
        let slot: Slot<T> = Arc::new(ArcSwapOption::empty());
        let mut map = FastMap::clone(&self.slots.load());
        map.insert(service.clone(), slot.clone());
        self.slots.store(Arc::new(map));
        slot
    }
}
