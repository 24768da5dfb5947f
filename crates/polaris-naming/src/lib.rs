//! The service registry: namespaces, services, service aliases and instances. [`Naming`] applies
//! the official server's rules (validation, upsert registration, derived ids, refusal to delete
//! non-empty containers), keeps the service contracts SDKs report, writes every change durably
//! through a [`NamingStore`] before it acknowledges it, and then publishes it to the
//! [`NamingCache`], from which every read is served.
//! Nothing here knows a wire format; adapters translate requests into the specs of this crate.

mod cache;
mod contracts;
mod discover;
mod follow;
mod instances;
mod namespaces;
mod query;
mod services;

use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use polaris_store::{Mutation, NamingStore};
use polaris_types::{Code, Millis, PolarisError, Result};
use tokio::sync::{Mutex, RwLock};

pub use cache::{NamingCache, RegistryEvent, ServiceView, Snapshot};
pub use contracts::validate_contract_key;
pub use discover::{InstancesDiscovery, ServicesDiscovery};
pub use follow::Applied;
pub use instances::{HealthCheckSpec, InstanceFilter, InstanceSpec, LabelValues};
pub use namespaces::{NamespaceFilter, NamespaceSpec, NamespaceSummary};
pub use query::{Page, Paged, matches_pattern, matches_pattern_fuzzy};
pub use services::{AliasSpec, ServiceFilter, ServiceSpec};

/// Registry switches from the server configuration.
#[derive(Clone, Debug)]
pub struct NamingOptions {
    /// Create a missing service when an instance registers into it (`naming.autoCreate`).
    pub auto_create_service: bool,
    /// Create a missing namespace when a service is auto-created in it (`namespace.autoCreate`).
    pub auto_create_namespace: bool,
}

impl Default for NamingOptions {
    fn default() -> Self {
        NamingOptions {
            auto_create_service: true,
            auto_create_namespace: true,
        }
    }
}

const INSTANCE_LOCK_STRIPES: usize = 64;

/// The registry service. Cheap to share behind an `Arc`.
pub struct Naming {
    store: Arc<dyn NamingStore>,
    cache: NamingCache,
    options: NamingOptions,
    /// Instance writes hold it shared; namespace and service writes hold it exclusively, so a
    /// service cannot vanish between an instance's existence check and its write.
    structure: RwLock<()>,
    /// Serialises writes to the same instance id so the cache applies them in commit order.
    instance_locks: Vec<Mutex<()>>,
    unknown_beats: instances::UnknownBeats,
    contracts: parking_lot::RwLock<contracts::ContractMap>,
    contract_writes: Mutex<()>,
}

impl Naming {
    /// Loads everything from the store into a fresh cache, creating the `default` and `Polaris`
    /// namespaces on first start.
    pub async fn open(store: Arc<dyn NamingStore>, options: NamingOptions) -> Result<Naming> {
        let naming = Naming {
            store,
            cache: NamingCache::default(),
            options,
            structure: RwLock::new(()),
            instance_locks: (0..INSTANCE_LOCK_STRIPES).map(|_| Mutex::new(())).collect(),
            unknown_beats: Default::default(),
            contracts: Default::default(),
            contract_writes: Mutex::new(()),
        };
        naming.load_all().await?;
        naming.ensure_builtin_namespaces().await?;
        Ok(naming)
    }

    async fn load_all(&self) -> Result<()> {
        let namespaces = self
            .store
            .load_namespaces(0)
            .await
            .map_err(PolarisError::from)?;
        let services = self
            .store
            .load_services(0)
            .await
            .map_err(PolarisError::from)?;
        let instances = self
            .store
            .load_instances(0)
            .await
            .map_err(PolarisError::from)?;
        let mut orphans = 0usize;
        for ns in namespaces.into_iter().filter_map(|c| c.upserted()) {
            self.cache.put_namespace(ns);
        }
        for svc in services.into_iter().filter_map(|c| c.upserted()) {
            self.cache.put_service(svc);
        }
        for ins in instances.into_iter().filter_map(|c| c.upserted()) {
            if !self.cache.put_instance(ins) {
                orphans += 1;
            }
        }
        if orphans > 0 {
            tracing::warn!(
                orphans,
                "instances whose service is missing were not loaded"
            );
        }
        let contracts = self
            .store
            .load_service_contracts()
            .await
            .map_err(PolarisError::from)?;
        *self.contracts.write() = contracts
            .into_iter()
            .map(|c| (c.key(), Arc::new(c)))
            .collect();
        let snapshot = self.cache.snapshot();
        tracing::info!(
            namespaces = snapshot.namespaces.len(),
            services = snapshot.services.len(),
            instances = snapshot.instance_owner.len(),
            "registry loaded from store"
        );
        Ok(())
    }

    /// The read-optimised view every query is served from.
    pub fn cache(&self) -> &NamingCache {
        &self.cache
    }

    /// The current registry snapshot.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.cache.snapshot()
    }

    pub fn options(&self) -> &NamingOptions {
        &self.options
    }

    async fn write(&self, batch: Vec<Mutation>) -> Result<()> {
        self.store.apply(batch).await.map_err(PolarisError::from)
    }

    /// Writes `batch` if `checks` hold when it commits (another node may have won a race the
    /// cache could not see); a failed check is answered with `conflict` and `detail`.
    async fn write_checked(
        &self,
        checks: Vec<polaris_store::Precondition>,
        batch: Vec<Mutation>,
        conflict: Code,
        detail: String,
    ) -> Result<()> {
        match self.store.apply_checked(checks, batch).await {
            Err(polaris_store::StoreError::Conflict(_)) => Err(PolarisError::new(conflict, detail)),
            other => other.map_err(PolarisError::from),
        }
    }

    fn stripe_of(&self, id: &str) -> usize {
        let hash = id
            .bytes()
            .fold(0usize, |h, b| h.wrapping_mul(31).wrapping_add(b as usize));
        hash % INSTANCE_LOCK_STRIPES
    }

    fn instance_lock(&self, id: &str) -> &Mutex<()> {
        &self.instance_locks[self.stripe_of(id)]
    }

    /// Finishes accepted writes and closes the store.
    pub async fn close(&self) -> Result<()> {
        let _all = self.structure.write().await;
        self.store.close().await.map_err(PolarisError::from)
    }
}

/// Wall-clock time in Unix milliseconds.
pub fn now_millis() -> Millis {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as Millis)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests;
