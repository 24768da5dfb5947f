//! A volatile in-memory backend: the reference implementation of the contract for tests of the
//! layers above (it keeps nothing across processes, so the server never uses it).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;
use polaris_types::{
    ConfigFile, ConfigFileKey, ConfigGroup, ConfigRelease, ConfigTemplate, ContractKey, Instance,
    Millis, Namespace, ReleaseHistory, Rule, RuleKind, Service, ServiceContract, ServiceKey,
    Strategy, User, UserGroup,
};
use std::sync::Mutex;

use crate::{
    Change, ConfigGroupKey, ConfigReleaseKey, Mutation, NamingStore, StoreError, StoreResult,
};

/// Records and tombstones of one kind.
struct Table<K, T> {
    records: BTreeMap<K, T>,
    tombstones: BTreeMap<K, Millis>,
}

impl<K: Ord + Clone, T: Clone> Table<K, T> {
    fn new() -> Self {
        Table {
            records: BTreeMap::new(),
            tombstones: BTreeMap::new(),
        }
    }

    fn put(&mut self, key: K, value: T) {
        self.tombstones.remove(&key);
        self.records.insert(key, value);
    }

    fn delete(&mut self, key: K, mtime: Millis) {
        self.records.remove(&key);
        self.tombstones.insert(key, mtime);
    }

    fn since(&self, since: Millis, mtime: impl Fn(&T) -> Millis) -> Vec<Change<T, K>> {
        let upserts = self
            .records
            .values()
            .filter(|v| mtime(v) >= since)
            .cloned()
            .map(Change::Upsert);
        let deleted = self
            .tombstones
            .iter()
            .filter(|(_, m)| **m >= since)
            .map(|(key, mtime)| Change::Deleted {
                key: key.clone(),
                mtime: *mtime,
            });
        upserts.chain(deleted).collect()
    }

    fn purge(&mut self, before: Millis) {
        self.tombstones.retain(|_, mtime| *mtime >= before);
    }
}

struct Data {
    namespaces: Table<String, Namespace>,
    services: Table<ServiceKey, Service>,
    instances: Table<String, Instance>,
    rules: Table<(RuleKind, String), Rule>,
    config_groups: Table<ConfigGroupKey, ConfigGroup>,
    config_files: Table<ConfigFileKey, ConfigFile>,
    config_releases: Table<ConfigReleaseKey, ConfigRelease>,
    history: BTreeMap<u64, ReleaseHistory>,
    templates: BTreeMap<String, ConfigTemplate>,
    contracts: BTreeMap<ContractKey, ServiceContract>,
    users: BTreeMap<String, User>,
    groups: BTreeMap<String, UserGroup>,
    strategies: BTreeMap<String, Strategy>,
}

/// Shared contents, so that a "reopened" handle sees what an earlier one wrote.
#[derive(Clone)]
pub struct MemoryData(Arc<Mutex<Data>>);

impl Default for MemoryData {
    fn default() -> Self {
        MemoryData(Arc::new(Mutex::new(Data {
            namespaces: Table::new(),
            services: Table::new(),
            instances: Table::new(),
            rules: Table::new(),
            config_groups: Table::new(),
            config_files: Table::new(),
            config_releases: Table::new(),
            history: BTreeMap::new(),
            templates: BTreeMap::new(),
            contracts: BTreeMap::new(),
            users: BTreeMap::new(),
            groups: BTreeMap::new(),
            strategies: BTreeMap::new(),
        })))
    }
}

/// [`NamingStore`] in memory. `fail_writes` makes every `apply` fail, for fault tests.
#[derive(Default)]
pub struct MemoryStore {
    data: MemoryData,
    closed: AtomicBool,
    fail_writes: AtomicBool,
}

impl MemoryStore {
    /// A fresh, empty store.
    pub fn new() -> Self {
        MemoryStore::default()
    }

    /// A new handle on existing contents, as if the store were reopened.
    pub fn open(data: MemoryData) -> Self {
        MemoryStore {
            data,
            ..MemoryStore::default()
        }
    }

    /// The contents, to reopen them later.
    pub fn data(&self) -> MemoryData {
        self.data.clone()
    }

    /// Makes every later `apply` fail with `Unavailable` (or succeed again).
    pub fn fail_writes(&self, fail: bool) {
        self.fail_writes.store(fail, Ordering::SeqCst);
    }

    fn with<R>(&self, f: impl FnOnce(&mut Data) -> R) -> StoreResult<R> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(StoreError::Closed);
        }
        let mut data = self
            .data
            .0
            .lock()
            .map_err(|_| StoreError::Unavailable("poisoned".into()))?;
        Ok(f(&mut data))
    }
}

#[async_trait]
impl NamingStore for MemoryStore {
    async fn apply(&self, batch: Vec<Mutation>) -> StoreResult<()> {
        if self.fail_writes.load(Ordering::SeqCst) {
            return Err(StoreError::Unavailable(
                "writes are failing on purpose".into(),
            ));
        }
        self.with(|data| {
            for mutation in batch {
                match mutation {
                    Mutation::PutNamespace(ns) => data.namespaces.put(ns.name.clone(), ns),
                    Mutation::DeleteNamespace { name, mtime } => {
                        data.namespaces.delete(name, mtime)
                    }
                    Mutation::PutService(svc) => data.services.put(svc.key(), svc),
                    Mutation::DeleteService { key, mtime } => data.services.delete(key, mtime),
                    Mutation::PutInstance(ins) => data.instances.put(ins.id.clone(), ins),
                    Mutation::DeleteInstance { id, mtime } => data.instances.delete(id, mtime),
                    Mutation::PutRule(rule) => data.rules.put((rule.kind, rule.id.clone()), rule),
                    Mutation::DeleteRule { kind, id, mtime } => {
                        data.rules.delete((kind, id), mtime)
                    }
                    Mutation::PutConfigGroup(g) => data
                        .config_groups
                        .put((g.namespace.clone(), g.name.clone()), g),
                    Mutation::DeleteConfigGroup {
                        namespace,
                        name,
                        mtime,
                    } => data.config_groups.delete((namespace, name), mtime),
                    Mutation::PutConfigFile(f) => data.config_files.put(f.key.clone(), f),
                    Mutation::DeleteConfigFile { key, mtime } => {
                        data.config_files.delete(key, mtime)
                    }
                    Mutation::PutConfigRelease(r) => {
                        data.config_releases.put((r.key.clone(), r.name.clone()), r)
                    }
                    Mutation::DeleteConfigRelease { key, name, mtime } => {
                        data.config_releases.delete((key, name), mtime)
                    }
                    Mutation::AppendReleaseHistory(h) => drop(data.history.insert(h.id, h)),
                    Mutation::PutConfigTemplate(t) => {
                        drop(data.templates.insert(t.name.clone(), t))
                    }
                    Mutation::PutServiceContract(c) => drop(data.contracts.insert(c.key(), c)),
                    Mutation::PutUser(u) => drop(data.users.insert(u.id.clone(), u)),
                    Mutation::DeleteUser { id } => drop(data.users.remove(&id)),
                    Mutation::PutUserGroup(g) => drop(data.groups.insert(g.id.clone(), g)),
                    Mutation::DeleteUserGroup { id } => drop(data.groups.remove(&id)),
                    Mutation::PutStrategy(st) => drop(data.strategies.insert(st.id.clone(), st)),
                    Mutation::DeleteStrategy { id } => drop(data.strategies.remove(&id)),
                }
            }
        })
    }

    async fn load_namespaces(&self, since: Millis) -> StoreResult<Vec<Change<Namespace, String>>> {
        self.with(|data| data.namespaces.since(since, |ns| ns.mtime))
    }

    async fn load_services(&self, since: Millis) -> StoreResult<Vec<Change<Service, ServiceKey>>> {
        self.with(|data| data.services.since(since, |svc| svc.mtime))
    }

    async fn load_instances(&self, since: Millis) -> StoreResult<Vec<Change<Instance, String>>> {
        self.with(|data| data.instances.since(since, |ins| ins.mtime))
    }

    async fn load_rules(
        &self,
        since: Millis,
    ) -> StoreResult<Vec<Change<Rule, (RuleKind, String)>>> {
        self.with(|data| data.rules.since(since, |rule| rule.mtime))
    }

    async fn load_config_groups(
        &self,
        since: Millis,
    ) -> StoreResult<Vec<Change<ConfigGroup, ConfigGroupKey>>> {
        self.with(|data| data.config_groups.since(since, |g| g.mtime))
    }

    async fn load_config_files(
        &self,
        since: Millis,
    ) -> StoreResult<Vec<Change<ConfigFile, ConfigFileKey>>> {
        self.with(|data| data.config_files.since(since, |f| f.mtime))
    }

    async fn load_config_releases(
        &self,
        since: Millis,
    ) -> StoreResult<Vec<Change<ConfigRelease, ConfigReleaseKey>>> {
        self.with(|data| data.config_releases.since(since, |r| r.mtime))
    }

    async fn load_config_templates(&self) -> StoreResult<Vec<ConfigTemplate>> {
        self.with(|data| data.templates.values().cloned().collect())
    }

    async fn load_service_contracts(&self) -> StoreResult<Vec<ServiceContract>> {
        self.with(|data| data.contracts.values().cloned().collect())
    }

    async fn load_users(&self) -> StoreResult<Vec<User>> {
        self.with(|data| data.users.values().cloned().collect())
    }

    async fn load_user_groups(&self) -> StoreResult<Vec<UserGroup>> {
        self.with(|data| data.groups.values().cloned().collect())
    }

    async fn load_strategies(&self) -> StoreResult<Vec<Strategy>> {
        self.with(|data| data.strategies.values().cloned().collect())
    }

    async fn load_release_history(&self, since: Millis) -> StoreResult<Vec<ReleaseHistory>> {
        self.with(|data| {
            data.history
                .values()
                .filter(|h| h.ctime >= since)
                .cloned()
                .collect()
        })
    }

    async fn purge_tombstones(&self, before: Millis) -> StoreResult<()> {
        self.with(|data| {
            data.namespaces.purge(before);
            data.services.purge(before);
            data.instances.purge(before);
            data.rules.purge(before);
            data.config_groups.purge(before);
            data.config_files.purge(before);
            data.config_releases.purge(before);
        })
    }

    async fn close(&self) -> StoreResult<()> {
        self.closed.store(true, Ordering::SeqCst);
        Ok(())
    }
}
