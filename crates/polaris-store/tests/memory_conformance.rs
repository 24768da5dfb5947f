//! The in-memory backend runs the same conformance suite as every other backend.

use std::sync::Arc;

use async_trait::async_trait;
use polaris_store::NamingStore;
use polaris_store::conformance::StoreHarness;
use polaris_store::memory::{MemoryData, MemoryStore};

#[derive(Default)]
struct Memory(MemoryData);

#[async_trait]
impl StoreHarness for Memory {
    async fn open(&self) -> Arc<dyn NamingStore> {
        Arc::new(MemoryStore::open(self.0.clone()))
    }
}

polaris_store::naming_store_conformance!(Memory::default());
