//! The write side: one OS thread owns every redb write transaction and group-commits whatever
//! requests are queued when it wakes up, so a storm of small registrations costs one fsync per
//! group instead of one per request.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use polaris_store::{Mutation, StoreError, StoreResult};
use polaris_types::Millis;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use redb::{Database, Durability, TableDefinition, WriteTransaction};
use tokio::sync::{mpsc, oneshot};

use crate::codec;

pub(crate) type RecordTable = TableDefinition<'static, &'static str, &'static [u8]>;
pub(crate) type TombstoneTable = TableDefinition<'static, &'static str, i64>;

pub(crate) const NAMESPACES: RecordTable = TableDefinition::new("namespaces");
pub(crate) const SERVICES: RecordTable = TableDefinition::new("services");
pub(crate) const INSTANCES: RecordTable = TableDefinition::new("instances");
pub(crate) const NAMESPACE_TOMBSTONES: TombstoneTable =
    TableDefinition::new("namespace_tombstones");
pub(crate) const SERVICE_TOMBSTONES: TombstoneTable = TableDefinition::new("service_tombstones");
pub(crate) const INSTANCE_TOMBSTONES: TombstoneTable = TableDefinition::new("instance_tombstones");
pub(crate) const RULES: RecordTable = TableDefinition::new("rules");
pub(crate) const RULE_TOMBSTONES: TombstoneTable = TableDefinition::new("rule_tombstones");
pub(crate) const CONFIG_GROUPS: RecordTable = TableDefinition::new("config_groups");
pub(crate) const CONFIG_GROUP_TOMBSTONES: TombstoneTable =
    TableDefinition::new("config_group_tombstones");
pub(crate) const CONFIG_FILES: RecordTable = TableDefinition::new("config_files");
pub(crate) const CONFIG_FILE_TOMBSTONES: TombstoneTable =
    TableDefinition::new("config_file_tombstones");
pub(crate) const CONFIG_RELEASES: RecordTable = TableDefinition::new("config_releases");
pub(crate) const CONFIG_RELEASE_TOMBSTONES: TombstoneTable =
    TableDefinition::new("config_release_tombstones");
pub(crate) const RELEASE_HISTORY: RecordTable = TableDefinition::new("release_history");
pub(crate) const CONFIG_TEMPLATES: RecordTable = TableDefinition::new("config_templates");
pub(crate) const SERVICE_CONTRACTS: RecordTable = TableDefinition::new("service_contracts");
pub(crate) const USERS: RecordTable = TableDefinition::new("users");
pub(crate) const USER_GROUPS: RecordTable = TableDefinition::new("user_groups");
pub(crate) const STRATEGIES: RecordTable = TableDefinition::new("auth_strategies");

/// Every (records, tombstones) pair, for table creation and purges.
const TOMBSTONE_TABLES: [TombstoneTable; 7] = [
    NAMESPACE_TOMBSTONES,
    SERVICE_TOMBSTONES,
    INSTANCE_TOMBSTONES,
    RULE_TOMBSTONES,
    CONFIG_GROUP_TOMBSTONES,
    CONFIG_FILE_TOMBSTONES,
    CONFIG_RELEASE_TOMBSTONES,
];

/// What a caller asks the writer thread to do.
pub(crate) enum Op {
    Apply(Vec<Mutation>),
    PurgeTombstones { before: Millis },
}

/// One queued request and where to send its outcome.
pub(crate) struct Request {
    pub(crate) op: Op,
    pub(crate) reply: oneshot::Sender<StoreResult<()>>,
}

/// Histograms the writer thread observes; cheap to clone (shared handles).
#[derive(Clone)]
pub(crate) struct Metrics {
    pub(crate) batch_size: Histogram,
    pub(crate) commit_seconds: Histogram,
}

impl Metrics {
    pub(crate) fn new() -> Self {
        Metrics {
            batch_size: Histogram::new(exponential_buckets(1.0, 2.0, 11)),
            commit_seconds: Histogram::new(exponential_buckets(0.0001, 2.0, 16)),
        }
    }
}

/// The state moved onto the writer thread.
pub(crate) struct Writer {
    pub(crate) db: Arc<Database>,
    pub(crate) rx: mpsc::Receiver<Request>,
    pub(crate) max_batch: usize,
    pub(crate) max_wait: Duration,
    pub(crate) metrics: Metrics,
    pub(crate) commits: Arc<AtomicU64>,
}

/// Creates every table so that read transactions never meet a missing one.
pub(crate) fn create_tables(db: &Database) -> Result<(), redb::Error> {
    let txn = db.begin_write()?;
    for table in [
        NAMESPACES,
        SERVICES,
        INSTANCES,
        RULES,
        CONFIG_GROUPS,
        CONFIG_FILES,
        CONFIG_RELEASES,
        RELEASE_HISTORY,
        CONFIG_TEMPLATES,
        SERVICE_CONTRACTS,
        USERS,
        USER_GROUPS,
        STRATEGIES,
    ] {
        txn.open_table(table)?;
    }
    for table in TOMBSTONE_TABLES {
        txn.open_table(table)?;
    }
    txn.commit()?;
    Ok(())
}

impl Writer {
    /// Runs until every sender is gone and the queue is drained.
    pub(crate) fn run(mut self) {
        // Only needed to wait for stragglers with a timeout when `max_wait` is set.
        let timer = if self.max_wait.is_zero() {
            None
        } else {
            match tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
            {
                Ok(runtime) => Some(runtime),
                Err(error) => {
                    tracing::warn!(%error, "no timer for group commit max_wait; batching naturally");
                    None
                }
            }
        };
        while let Some(first) = self.rx.blocking_recv() {
            let deadline = Instant::now() + self.max_wait;
            let mut group = vec![first];
            while group.len() < self.max_batch {
                match self.rx.try_recv() {
                    Ok(request) => group.push(request),
                    Err(mpsc::error::TryRecvError::Disconnected) => break,
                    Err(mpsc::error::TryRecvError::Empty) => {
                        let Some(timer) = &timer else { break };
                        let left = deadline.saturating_duration_since(Instant::now());
                        let next = async { tokio::time::timeout(left, self.rx.recv()).await };
                        match timer.block_on(next) {
                            Ok(Some(request)) => group.push(request),
                            _ => break,
                        }
                    }
                }
            }
            self.commit(group);
        }
        tracing::debug!("store writer thread stopped");
    }

    /// Applies the group in one durable transaction and answers every caller.
    fn commit(&self, group: Vec<Request>) {
        let started = Instant::now();
        let result = write_group(&self.db, &group);
        self.metrics
            .commit_seconds
            .observe(started.elapsed().as_secs_f64());
        self.metrics.batch_size.observe(group.len() as f64);
        match result {
            Ok(()) => {
                self.commits.fetch_add(1, Ordering::Relaxed);
                for request in group {
                    // A caller that gave up waiting does not matter: its writes are durable.
                    let _ = request.reply.send(Ok(()));
                }
            }
            Err(error) => {
                tracing::error!(%error, requests = group.len(), "store commit failed");
                let message = error.to_string();
                for request in group {
                    let _ = request
                        .reply
                        .send(Err(StoreError::Unavailable(message.clone())));
                }
            }
        }
    }
}

fn write_group(db: &Database, group: &[Request]) -> Result<(), redb::Error> {
    let mut txn = db.begin_write()?;
    txn.set_durability(Durability::Immediate)?;
    for request in group {
        match &request.op {
            Op::Apply(batch) => apply_batch(&txn, batch)?,
            Op::PurgeTombstones { before } => purge(&txn, *before)?,
        }
    }
    txn.commit()?;
    Ok(())
}

fn apply_batch(txn: &WriteTransaction, batch: &[Mutation]) -> Result<(), redb::Error> {
    let mut namespaces = txn.open_table(NAMESPACES)?;
    let mut services = txn.open_table(SERVICES)?;
    let mut instances = txn.open_table(INSTANCES)?;
    let mut namespace_tombs = txn.open_table(NAMESPACE_TOMBSTONES)?;
    let mut service_tombs = txn.open_table(SERVICE_TOMBSTONES)?;
    let mut instance_tombs = txn.open_table(INSTANCE_TOMBSTONES)?;
    let mut rules = txn.open_table(RULES)?;
    let mut rule_tombs = txn.open_table(RULE_TOMBSTONES)?;
    for mutation in batch {
        match mutation {
            Mutation::PutNamespace(ns) => {
                namespaces.insert(ns.name.as_str(), codec::encode_namespace(ns).as_slice())?;
                namespace_tombs.remove(ns.name.as_str())?;
            }
            Mutation::DeleteNamespace { name, mtime } => {
                namespaces.remove(name.as_str())?;
                namespace_tombs.insert(name.as_str(), *mtime)?;
            }
            Mutation::PutService(service) => {
                let key = codec::service_key(&service.key());
                services.insert(key.as_str(), codec::encode_service(service).as_slice())?;
                service_tombs.remove(key.as_str())?;
            }
            Mutation::DeleteService { key, mtime } => {
                let key = codec::service_key(key);
                services.remove(key.as_str())?;
                service_tombs.insert(key.as_str(), *mtime)?;
            }
            Mutation::PutInstance(instance) => {
                let id = instance.id.as_str();
                instances.insert(id, codec::encode_instance(instance).as_slice())?;
                instance_tombs.remove(id)?;
            }
            Mutation::DeleteInstance { id, mtime } => {
                instances.remove(id.as_str())?;
                instance_tombs.insert(id.as_str(), *mtime)?;
            }
            Mutation::PutRule(rule) => {
                let key = codec::rule_key(rule.kind, &rule.id);
                rules.insert(key.as_str(), codec::encode_rule(rule).as_slice())?;
                rule_tombs.remove(key.as_str())?;
            }
            Mutation::DeleteRule { kind, id, mtime } => {
                let key = codec::rule_key(*kind, id);
                rules.remove(key.as_str())?;
                rule_tombs.insert(key.as_str(), *mtime)?;
            }
            config => apply_config(txn, config)?,
        }
    }
    Ok(())
}

fn purge(txn: &WriteTransaction, before: Millis) -> Result<(), redb::Error> {
    for table in TOMBSTONE_TABLES {
        txn.open_table(table)?.retain(|_, mtime| mtime >= before)?;
    }
    Ok(())
}

/// Applies one config-center mutation.
fn apply_config(txn: &WriteTransaction, mutation: &Mutation) -> Result<(), redb::Error> {
    use crate::config_codec as cc;
    let put = |records: RecordTable, tombs: TombstoneTable, key: &str, bytes: Vec<u8>| {
        txn.open_table(records)?.insert(key, bytes.as_slice())?;
        txn.open_table(tombs)?.remove(key)?;
        Ok::<(), redb::Error>(())
    };
    let delete = |records: RecordTable, tombs: TombstoneTable, key: &str, mtime: Millis| {
        txn.open_table(records)?.remove(key)?;
        txn.open_table(tombs)?.insert(key, mtime)?;
        Ok::<(), redb::Error>(())
    };
    match mutation {
        Mutation::PutConfigGroup(g) => put(
            CONFIG_GROUPS,
            CONFIG_GROUP_TOMBSTONES,
            &cc::group_key(&g.namespace, &g.name),
            cc::encode_group(g),
        ),
        Mutation::DeleteConfigGroup {
            namespace,
            name,
            mtime,
        } => delete(
            CONFIG_GROUPS,
            CONFIG_GROUP_TOMBSTONES,
            &cc::group_key(namespace, name),
            *mtime,
        ),
        Mutation::PutConfigFile(f) => put(
            CONFIG_FILES,
            CONFIG_FILE_TOMBSTONES,
            &cc::file_key(&f.key),
            cc::encode_file(f),
        ),
        Mutation::DeleteConfigFile { key, mtime } => delete(
            CONFIG_FILES,
            CONFIG_FILE_TOMBSTONES,
            &cc::file_key(key),
            *mtime,
        ),
        Mutation::PutConfigRelease(r) => put(
            CONFIG_RELEASES,
            CONFIG_RELEASE_TOMBSTONES,
            &cc::release_key(&r.key, &r.name),
            cc::encode_release(r),
        ),
        Mutation::DeleteConfigRelease { key, name, mtime } => delete(
            CONFIG_RELEASES,
            CONFIG_RELEASE_TOMBSTONES,
            &cc::release_key(key, name),
            *mtime,
        ),
        Mutation::AppendReleaseHistory(h) => {
            let key = cc::history_key(h.id);
            txn.open_table(RELEASE_HISTORY)?
                .insert(key.as_str(), cc::encode_history(h).as_slice())?;
            Ok(())
        }
        Mutation::PutConfigTemplate(t) => {
            let bytes = cc::encode_template(t);
            txn.open_table(CONFIG_TEMPLATES)?
                .insert(t.name.as_str(), bytes.as_slice())?;
            Ok(())
        }
        Mutation::PutServiceContract(c) => {
            let (key, bytes) = crate::contract_codec::encode_contract(c);
            txn.open_table(SERVICE_CONTRACTS)?
                .insert(key.as_str(), bytes.as_slice())?;
            Ok(())
        }
        Mutation::PutUser(u) => {
            let bytes = crate::auth_codec::encode_user(u);
            txn.open_table(USERS)?
                .insert(u.id.as_str(), bytes.as_slice())?;
            Ok(())
        }
        Mutation::DeleteUser { id } => {
            txn.open_table(USERS)?.remove(id.as_str())?;
            Ok(())
        }
        Mutation::PutUserGroup(g) => {
            let bytes = crate::auth_codec::encode_group(g);
            txn.open_table(USER_GROUPS)?
                .insert(g.id.as_str(), bytes.as_slice())?;
            Ok(())
        }
        Mutation::DeleteUserGroup { id } => {
            txn.open_table(USER_GROUPS)?.remove(id.as_str())?;
            Ok(())
        }
        Mutation::PutStrategy(st) => {
            let bytes = crate::auth_codec::encode_strategy(st);
            txn.open_table(STRATEGIES)?
                .insert(st.id.as_str(), bytes.as_slice())?;
            Ok(())
        }
        Mutation::DeleteStrategy { id } => {
            txn.open_table(STRATEGIES)?.remove(id.as_str())?;
            Ok(())
        }
        // Registry and rule mutations are applied by `apply_batch` itself.
        _ => Ok(()),
    }
}
