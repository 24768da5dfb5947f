//! The embedded single-node store: [`RedbStore`] implements [`NamingStore`] on one redb file,
//! `<data dir>/polaris.redb`. Writes go through a dedicated writer thread that group-commits every
//! request already queued into one durable (`Durability::Immediate`) write transaction and only
//! then acknowledges the callers, so bursts of small registrations share one fsync. Reads run on
//! tokio's blocking pool in MVCC read transactions that never wait for the writer. Records are
//! stored as a format-version byte followed by JSON of private serde mirrors of the domain types;
//! deletions leave tombstones (key → mtime) so incremental loads can report them.

mod auth_codec;
mod codec;
mod config_codec;
mod contract_codec;
mod writer;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use async_trait::async_trait;
use polaris_store::{Change, Mutation, NamingStore, StoreError, StoreResult};
use polaris_store::{ConfigGroupKey, ConfigReleaseKey};
use polaris_types::{
    ConfigFile, ConfigFileKey, ConfigGroup, ConfigRelease, ConfigTemplate, Instance, Millis,
    Namespace, ReleaseHistory, Rule, RuleKind, Service, ServiceContract, ServiceKey, Strategy,
    User, UserGroup,
};
use prometheus_client::registry::Registry;
use redb::{Database, DatabaseError, ReadableDatabase, ReadableTable};
use tokio::sync::{mpsc, oneshot};

use writer::{Metrics, Op, RecordTable, Request, TombstoneTable, Writer};

/// redb's page cache.
const REDB_CACHE_BYTES: usize = 16 * 1024 * 1024;

/// Name of the database file inside the data directory.
pub const DB_FILE_NAME: &str = "polaris.redb";

/// Tuning of the writer thread's group commit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GroupCommitOptions {
    /// Requests that may wait for the writer before `apply` callers are held back.
    pub queue_size: usize,
    /// Most requests committed in one write transaction.
    pub max_batch: usize,
    /// How long the writer waits for more requests after the first one of a group. Zero (the
    /// default) commits whatever is queued at once: batches then grow naturally with load.
    pub max_wait: Duration,
}

impl Default for GroupCommitOptions {
    fn default() -> Self {
        GroupCommitOptions {
            queue_size: 10_240,
            max_batch: 128,
            max_wait: Duration::ZERO,
        }
    }
}

/// Why [`RedbStore::open`] failed.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// Another process (or another store in this process) holds the database file.
    #[error("data directory {} is already used by another polaris-server process", dir.display())]
    AlreadyInUse { dir: PathBuf },
    #[error("cannot create data directory {}: {source}", dir.display())]
    CreateDir {
        dir: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot open database {}: {source}", path.display())]
    Database { path: PathBuf, source: redb::Error },
    #[error("cannot start the store writer thread: {0}")]
    Thread(std::io::Error),
}

/// [`NamingStore`] on an embedded redb database with group commit.
pub struct RedbStore {
    /// `None` once closed: `apply` then fails with [`StoreError::Closed`].
    sender: Mutex<Option<mpsc::Sender<Request>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    /// `None` once closed; loads hold a clone only while they run.
    db: Mutex<Option<Arc<Database>>>,
    commits: Arc<AtomicU64>,
    metrics: Metrics,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn unavailable(error: impl Into<redb::Error>) -> StoreError {
    StoreError::Unavailable(error.into().to_string())
}

impl RedbStore {
    /// Creates `dir` if needed and opens (or creates) `dir/polaris.redb`. Blocking: call it from
    /// `spawn_blocking` or before the runtime gets busy.
    pub fn open(dir: &Path, opts: GroupCommitOptions) -> Result<RedbStore, OpenError> {
        std::fs::create_dir_all(dir).map_err(|source| OpenError::CreateDir {
            dir: dir.to_path_buf(),
            source,
        })?;
        let path = dir.join(DB_FILE_NAME);
        // Reads are served from the registry's own cache, so redb needs only a small page cache
        // (its 1 GiB default would keep every written page resident).
        let db = match Database::builder()
            .set_cache_size(REDB_CACHE_BYTES)
            .create(&path)
        {
            Ok(db) => Arc::new(db),
            Err(DatabaseError::DatabaseAlreadyOpen) => {
                return Err(OpenError::AlreadyInUse {
                    dir: dir.to_path_buf(),
                });
            }
            Err(error) => {
                return Err(OpenError::Database {
                    path,
                    source: error.into(),
                });
            }
        };
        writer::create_tables(&db).map_err(|source| OpenError::Database { path, source })?;
        let (sender, rx) = mpsc::channel(opts.queue_size.max(1));
        let commits = Arc::new(AtomicU64::new(0));
        let metrics = Metrics::new();
        let writer = Writer {
            db: Arc::clone(&db),
            rx,
            max_batch: opts.max_batch.max(1),
            max_wait: opts.max_wait,
            metrics: metrics.clone(),
            commits: Arc::clone(&commits),
        };
        let handle = std::thread::Builder::new()
            .name("polaris-store-writer".to_string())
            .spawn(move || writer.run())
            .map_err(OpenError::Thread)?;
        Ok(RedbStore {
            sender: Mutex::new(Some(sender)),
            writer: Mutex::new(Some(handle)),
            db: Mutex::new(Some(db)),
            commits,
            metrics,
        })
    }

    /// Registers `store_commit_batch_size` (requests per write transaction) and
    /// `store_commit_seconds` (duration of one group commit, fsync included).
    pub fn register_metrics(&self, registry: &mut Registry) {
        registry.register(
            "store_commit_batch_size",
            "Requests committed together in one redb write transaction",
            self.metrics.batch_size.clone(),
        );
        registry.register(
            "store_commit_seconds",
            "Duration of one redb group commit, fsync included",
            self.metrics.commit_seconds.clone(),
        );
    }

    /// Write transactions committed successfully since the store was opened.
    pub fn commit_count(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// Queues a request for the writer thread and waits for its durable outcome.
    async fn submit(&self, op: Op) -> StoreResult<()> {
        let Some(sender) = lock(&self.sender).clone() else {
            return Err(StoreError::Closed);
        };
        let (reply, outcome) = oneshot::channel();
        let sent = sender.send(Request { op, reply }).await;
        drop(sender);
        if sent.is_err() {
            // The writer is gone: closed on purpose, or stopped by a panic.
            return Err(if lock(&self.sender).is_some() {
                StoreError::Unavailable("store writer thread stopped".to_string())
            } else {
                StoreError::Closed
            });
        }
        outcome
            .await
            .map_err(|_| StoreError::Unavailable("store writer thread stopped".to_string()))?
    }

    /// Runs `read` on the blocking pool against the open database.
    async fn read<T: Send + 'static>(
        &self,
        read: impl FnOnce(&Database) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let Some(db) = lock(&self.db).clone() else {
            return Err(StoreError::Closed);
        };
        tokio::task::spawn_blocking(move || read(&db))
            .await
            .map_err(|e| StoreError::Unavailable(format!("store read task failed: {e}")))?
    }

    /// Every record of a table keyed by id, decoded, in key order.
    async fn load_all<T: Send + 'static>(
        &self,
        table: writer::RecordTable,
        decode: fn(&[u8]) -> StoreResult<T>,
    ) -> StoreResult<Vec<T>> {
        self.read(move |db| {
            let txn = db.begin_read().map_err(unavailable)?;
            let table = txn.open_table(table).map_err(unavailable)?;
            let mut records = Vec::new();
            for entry in table.iter().map_err(unavailable)? {
                let (_, value) = entry.map_err(unavailable)?;
                records.push(decode(value.value())?);
            }
            Ok(records)
        })
        .await
    }

    /// Stops accepting requests and hands back the writer thread, if still running.
    fn shut_down(&self) -> Option<JoinHandle<()>> {
        lock(&self.sender).take();
        lock(&self.writer).take()
    }
}

impl Drop for RedbStore {
    /// Lets the writer finish queued work and waits for it, so the file lock is released when the
    /// store is gone (a reopen right after a drop then succeeds).
    fn drop(&mut self) {
        if self
            .shut_down()
            .is_some_and(|handle| handle.join().is_err())
        {
            tracing::error!("store writer thread panicked");
        }
    }
}

/// Upserts with `mtime >= since` from `records`, then tombstones with `mtime >= since`.
fn load<T, K>(
    db: &Database,
    (records, tombstones): (RecordTable, TombstoneTable),
    since: Millis,
    decode: fn(&[u8]) -> StoreResult<T>,
    mtime: fn(&T) -> Millis,
    parse_key: fn(&str) -> StoreResult<K>,
) -> StoreResult<Vec<Change<T, K>>> {
    let txn = db.begin_read().map_err(unavailable)?;
    let mut changes = Vec::new();
    for entry in txn
        .open_table(records)
        .map_err(unavailable)?
        .iter()
        .map_err(unavailable)?
    {
        let (_, value) = entry.map_err(unavailable)?;
        let record = decode(value.value())?;
        if mtime(&record) >= since {
            changes.push(Change::Upsert(record));
        }
    }
    for entry in txn
        .open_table(tombstones)
        .map_err(unavailable)?
        .iter()
        .map_err(unavailable)?
    {
        let (key, deleted_at) = entry.map_err(unavailable)?;
        if deleted_at.value() >= since {
            changes.push(Change::Deleted {
                key: parse_key(key.value())?,
                mtime: deleted_at.value(),
            });
        }
    }
    Ok(changes)
}

fn plain_key(key: &str) -> StoreResult<String> {
    Ok(key.to_string())
}

#[async_trait]
impl NamingStore for RedbStore {
    async fn apply(&self, batch: Vec<Mutation>) -> StoreResult<()> {
        self.submit(Op::Apply(batch)).await
    }

    async fn load_namespaces(&self, since: Millis) -> StoreResult<Vec<Change<Namespace, String>>> {
        let tables = (writer::NAMESPACES, writer::NAMESPACE_TOMBSTONES);
        self.read(move |db| {
            load(
                db,
                tables,
                since,
                codec::decode_namespace,
                |n| n.mtime,
                plain_key,
            )
        })
        .await
    }

    async fn load_services(&self, since: Millis) -> StoreResult<Vec<Change<Service, ServiceKey>>> {
        let tables = (writer::SERVICES, writer::SERVICE_TOMBSTONES);
        self.read(move |db| {
            load(
                db,
                tables,
                since,
                codec::decode_service,
                |s| s.mtime,
                codec::parse_service_key,
            )
        })
        .await
    }

    async fn load_instances(&self, since: Millis) -> StoreResult<Vec<Change<Instance, String>>> {
        let tables = (writer::INSTANCES, writer::INSTANCE_TOMBSTONES);
        self.read(move |db| {
            load(
                db,
                tables,
                since,
                codec::decode_instance,
                |i| i.mtime,
                plain_key,
            )
        })
        .await
    }

    async fn load_rules(
        &self,
        since: Millis,
    ) -> StoreResult<Vec<Change<Rule, (RuleKind, String)>>> {
        let tables = (writer::RULES, writer::RULE_TOMBSTONES);
        self.read(move |db| {
            load(
                db,
                tables,
                since,
                codec::decode_rule,
                |r| r.mtime,
                codec::parse_rule_key,
            )
        })
        .await
    }

    async fn load_config_groups(
        &self,
        since: Millis,
    ) -> StoreResult<Vec<Change<ConfigGroup, ConfigGroupKey>>> {
        let tables = (writer::CONFIG_GROUPS, writer::CONFIG_GROUP_TOMBSTONES);
        self.read(move |db| {
            load(
                db,
                tables,
                since,
                config_codec::decode_group,
                |g| g.mtime,
                config_codec::parse_group_key,
            )
        })
        .await
    }

    async fn load_config_files(
        &self,
        since: Millis,
    ) -> StoreResult<Vec<Change<ConfigFile, ConfigFileKey>>> {
        let tables = (writer::CONFIG_FILES, writer::CONFIG_FILE_TOMBSTONES);
        self.read(move |db| {
            load(
                db,
                tables,
                since,
                config_codec::decode_file,
                |f| f.mtime,
                config_codec::parse_file_key,
            )
        })
        .await
    }

    async fn load_config_releases(
        &self,
        since: Millis,
    ) -> StoreResult<Vec<Change<ConfigRelease, ConfigReleaseKey>>> {
        let tables = (writer::CONFIG_RELEASES, writer::CONFIG_RELEASE_TOMBSTONES);
        self.read(move |db| {
            load(
                db,
                tables,
                since,
                config_codec::decode_release,
                |r| r.mtime,
                config_codec::parse_release_key,
            )
        })
        .await
    }

    async fn load_service_contracts(&self) -> StoreResult<Vec<ServiceContract>> {
        self.read(move |db| {
            let txn = db.begin_read().map_err(unavailable)?;
            let table = txn
                .open_table(writer::SERVICE_CONTRACTS)
                .map_err(unavailable)?;
            let mut contracts = Vec::new();
            for entry in table.iter().map_err(unavailable)? {
                let (_, value) = entry.map_err(unavailable)?;
                contracts.push(contract_codec::decode_contract(value.value())?);
            }
            Ok(contracts)
        })
        .await
    }

    async fn load_users(&self) -> StoreResult<Vec<User>> {
        self.load_all(writer::USERS, auth_codec::decode_user).await
    }

    async fn load_user_groups(&self) -> StoreResult<Vec<UserGroup>> {
        self.load_all(writer::USER_GROUPS, auth_codec::decode_group)
            .await
    }

    async fn load_strategies(&self) -> StoreResult<Vec<Strategy>> {
        self.load_all(writer::STRATEGIES, auth_codec::decode_strategy)
            .await
    }

    async fn load_config_templates(&self) -> StoreResult<Vec<ConfigTemplate>> {
        self.read(move |db| {
            let txn = db.begin_read().map_err(unavailable)?;
            let table = txn
                .open_table(writer::CONFIG_TEMPLATES)
                .map_err(unavailable)?;
            let mut templates = Vec::new();
            for entry in table.iter().map_err(unavailable)? {
                let (_, value) = entry.map_err(unavailable)?;
                templates.push(config_codec::decode_template(value.value())?);
            }
            Ok(templates)
        })
        .await
    }

    async fn load_release_history(&self, since: Millis) -> StoreResult<Vec<ReleaseHistory>> {
        self.read(move |db| {
            let txn = db.begin_read().map_err(unavailable)?;
            let table = txn
                .open_table(writer::RELEASE_HISTORY)
                .map_err(unavailable)?;
            let mut entries = Vec::new();
            for entry in table.iter().map_err(unavailable)? {
                let (_, value) = entry.map_err(unavailable)?;
                let history = config_codec::decode_history(value.value())?;
                if history.ctime >= since {
                    entries.push(history);
                }
            }
            Ok(entries)
        })
        .await
    }

    async fn purge_tombstones(&self, before: Millis) -> StoreResult<()> {
        self.submit(Op::PurgeTombstones { before }).await
    }

    async fn close(&self) -> StoreResult<()> {
        let joined = match self.shut_down() {
            Some(handle) => tokio::task::spawn_blocking(move || handle.join().is_ok())
                .await
                .unwrap_or(false),
            None => true,
        };
        lock(&self.db).take();
        if joined {
            Ok(())
        } else {
            Err(StoreError::Unavailable(
                "store writer thread panicked".to_string(),
            ))
        }
    }
}

#[cfg(test)]
mod tests;
