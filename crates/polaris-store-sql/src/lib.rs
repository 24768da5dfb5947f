//! The shared SQL store, the groundwork of cluster mode: [`SqlStore`] implements
//! [`polaris_store::NamingStore`] on MySQL 8 / MariaDB >= 10.6 or PostgreSQL >= 13 through sqlx's
//! runtime queries (no compile-time macros, so building needs no database). Opening the store
//! creates the database when it is missing and the user may, then creates or migrates the schema
//! (recorded in `polaris_schema_version`). Each [`apply`](polaris_store::NamingStore::apply) is
//! one transaction acknowledged after COMMIT; it bumps the revision of every domain it touches in
//! `polaris_revision` and stamps each changed row's `seq` with it, so a change feed can read
//! "changed since revision R" in commit order (ADR 006). Deletes are soft (`flag = 1`).

mod cluster;
mod codec;
mod config;
mod dialect;
mod feed;
mod group;
mod hint;
mod open;
mod read;
mod revision;
mod schema;
mod write;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use async_trait::async_trait;
use polaris_store::feed::{ChangeFeed, DomainRevision, FeedBatch, FeedDomain};
use polaris_store::{
    Change, ConfigGroupKey, ConfigReleaseKey, Mutation, NamingStore, Precondition, StoreError,
    StoreResult,
};
use polaris_types::{
    ConfigFile, ConfigFileKey, ConfigGroup, ConfigRelease, ConfigTemplate, Instance, Millis,
    Namespace, ReleaseHistory, Rule, RuleKind, Service, ServiceContract, ServiceKey, Strategy,
    User, UserGroup,
};
use sqlx::AnyPool;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

pub use cluster::{ClusterReading, ClusterTables, Lease, NodeRow};
pub use dialect::Dialect;
pub use group::CommitHook;
pub use open::{OpenError, drop_database};
pub use schema::{Domain, SCHEMA_VERSION_TABLE};

use write::Statements;

/// Where the database is and how to pool connections, in the official `store.option.master`
/// terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqlOptions {
    /// `dbType`.
    pub dialect: Dialect,
    /// `dbAddr`: `host:port` (the port defaults to the engine's).
    pub addr: String,
    /// `dbName`.
    pub database: String,
    /// `dbUser`.
    pub user: String,
    /// `dbPwd`.
    pub password: String,
    /// `maxOpenConns`: most connections in the pool.
    pub max_open_conns: u32,
    /// `maxIdleConns`: connections kept open while idle (sqlx's `min_connections`).
    pub max_idle_conns: u32,
    /// `connMaxLifetime`: a connection older than this is closed and replaced.
    pub conn_max_lifetime: Option<Duration>,
    /// How long a write or read waits for a pooled connection before failing.
    pub acquire_timeout: Duration,
    /// How long a group commit may take before its writes fail (the database is then taken to
    /// be unreachable; a commit that did land reaches the caches through the change feed).
    pub write_timeout: Duration,
    /// Most `apply` requests committed in one transaction (group commit).
    pub max_batch: usize,
}

impl SqlOptions {
    /// Options for `database` on `addr` with the official pool defaults.
    pub fn new(dialect: Dialect, addr: impl Into<String>, database: impl Into<String>) -> Self {
        SqlOptions {
            dialect,
            addr: addr.into(),
            database: database.into(),
            user: match dialect {
                Dialect::MySql => "root".into(),
                Dialect::Postgres => "postgres".into(),
            },
            password: String::new(),
            max_open_conns: 32,
            max_idle_conns: 4,
            conn_max_lifetime: Some(Duration::from_secs(1800)),
            acquire_timeout: Duration::from_secs(1),
            write_timeout: Duration::from_secs(1),
            max_batch: 128,
        }
    }
}

/// [`NamingStore`] on a shared SQL database.
pub struct SqlStore {
    pool: AnyPool,
    dialect: Dialect,
    sql: Arc<Statements>,
    /// `None` once closed: `apply` then fails with [`StoreError::Closed`].
    queue: Mutex<Option<mpsc::Sender<group::Request>>>,
    writer: Mutex<Option<JoinHandle<()>>>,
    closed: AtomicBool,
    /// Change-feed hints from the database's notification channel (PostgreSQL `NOTIFY`).
    hints: Option<hint::Hints>,
    /// Set once: told after every COMMIT which domains it touched.
    commit_hook: Arc<std::sync::OnceLock<group::CommitHook>>,
    /// What membership and the change-feed probe last read of the cluster tables.
    cluster_seen: Arc<cluster::ClusterSeen>,
    /// The change-feed probe that also reads the cluster tables.
    probe_with_cluster: Arc<str>,
}

/// Requests that may wait for the writer before `apply` callers are held back.
const QUEUE_SIZE: usize = 10_240;

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

fn unavailable(error: sqlx::Error) -> StoreError {
    StoreError::Unavailable(error.to_string())
}

impl SqlStore {
    /// Connects, creates the database when missing, and creates or migrates the schema.
    pub async fn open(options: &SqlOptions) -> Result<SqlStore, OpenError> {
        let pool = open::connect(options).await?;
        let sql = Arc::new(Statements::new(options.dialect));
        let (queue, requests) = mpsc::channel(QUEUE_SIZE);
        let commit_hook = Arc::new(std::sync::OnceLock::new());
        let writer = tokio::spawn(group::writer(
            pool.clone(),
            sql.clone(),
            requests,
            options.max_batch.max(1),
            options.write_timeout,
            commit_hook.clone(),
        ));
        let hints = match options.dialect {
            Dialect::Postgres => Some(hint::Hints::listen(open::pg_options(options)?)),
            Dialect::MySql => None,
        };
        Ok(SqlStore {
            pool,
            dialect: options.dialect,
            sql,
            queue: Mutex::new(Some(queue)),
            writer: Mutex::new(Some(writer)),
            closed: AtomicBool::new(false),
            hints,
            commit_hook,
            cluster_seen: Arc::default(),
            probe_with_cluster: options
                .dialect
                .sql(&cluster::probe_with_cluster(options.dialect)),
        })
    }

    /// The engine behind this store.
    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// `(domain, revision, purged_revision)` of every domain, as the database holds them.
    /// Once this node runs membership, a probe also reads the cluster tables whenever the
    /// latest reading of them has aged (see [`ClusterTables::reading`]).
    pub async fn revisions(&self) -> StoreResult<Vec<(Domain, i64, i64)>> {
        self.check_open()?;
        if !self.cluster_seen.due() {
            return revision::current(&self.pool).await;
        }
        let at = tokio::time::Instant::now();
        let rows = sqlx::query(sqlx::AssertSqlSafe(self.probe_with_cluster.clone()))
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        let (revisions, reading) = cluster::split_probe(&rows, at).map_err(unavailable)?;
        self.cluster_seen.keep(reading);
        Ok(revisions)
    }

    /// Sets the function told, after every COMMIT, which domains it touched (a change-feed
    /// hint publisher). Only the first call takes effect; returns whether it did.
    pub fn set_commit_hook(&self, hook: CommitHook) -> bool {
        self.commit_hook.set(hook).is_ok()
    }

    /// Membership and leader leases, on this store's pool.
    pub fn cluster(&self) -> ClusterTables {
        ClusterTables::new(self)
    }

    fn check_open(&self) -> StoreResult<()> {
        if self.closed.load(Ordering::SeqCst) {
            return Err(StoreError::Closed);
        }
        Ok(())
    }
}

#[async_trait]
impl NamingStore for SqlStore {
    async fn apply(&self, batch: Vec<Mutation>) -> StoreResult<()> {
        self.apply_checked(Vec::new(), batch).await
    }

    async fn apply_checked(
        &self,
        checks: Vec<Precondition>,
        batch: Vec<Mutation>,
    ) -> StoreResult<()> {
        let queue = lock(&self.queue).clone().ok_or(StoreError::Closed)?;
        let (done, answer) = oneshot::channel();
        queue
            .send(group::Request {
                batch,
                checks,
                done,
            })
            .await
            .map_err(|_| StoreError::Closed)?;
        answer.await.map_err(|_| StoreError::Closed)?
    }

    async fn load_namespaces(&self, since: Millis) -> StoreResult<Vec<Change<Namespace, String>>> {
        self.check_open()?;
        read::namespaces(self, since).await
    }

    async fn load_services(&self, since: Millis) -> StoreResult<Vec<Change<Service, ServiceKey>>> {
        self.check_open()?;
        read::services(self, since).await
    }

    async fn load_instances(&self, since: Millis) -> StoreResult<Vec<Change<Instance, String>>> {
        self.check_open()?;
        read::instances(self, since).await
    }

    async fn load_rules(
        &self,
        since: Millis,
    ) -> StoreResult<Vec<Change<Rule, (RuleKind, String)>>> {
        self.check_open()?;
        read::rules(self, since).await
    }

    async fn load_config_groups(
        &self,
        since: Millis,
    ) -> StoreResult<Vec<Change<ConfigGroup, ConfigGroupKey>>> {
        self.check_open()?;
        read::config_groups(self, since).await
    }

    async fn load_config_files(
        &self,
        since: Millis,
    ) -> StoreResult<Vec<Change<ConfigFile, ConfigFileKey>>> {
        self.check_open()?;
        read::config_files(self, since).await
    }

    async fn load_config_releases(
        &self,
        since: Millis,
    ) -> StoreResult<Vec<Change<ConfigRelease, ConfigReleaseKey>>> {
        self.check_open()?;
        read::config_releases(self, since).await
    }

    async fn load_config_templates(&self) -> StoreResult<Vec<ConfigTemplate>> {
        self.check_open()?;
        read::config_templates(self).await
    }

    async fn load_service_contracts(&self) -> StoreResult<Vec<ServiceContract>> {
        self.check_open()?;
        read::service_contracts(self).await
    }

    async fn load_users(&self) -> StoreResult<Vec<User>> {
        self.check_open()?;
        read::users(self).await
    }

    async fn load_user_groups(&self) -> StoreResult<Vec<UserGroup>> {
        self.check_open()?;
        read::user_groups(self).await
    }

    async fn load_strategies(&self) -> StoreResult<Vec<Strategy>> {
        self.check_open()?;
        read::strategies(self).await
    }

    async fn load_release_history(&self, since: Millis) -> StoreResult<Vec<ReleaseHistory>> {
        self.check_open()?;
        read::release_history(self, since).await
    }

    async fn purge_tombstones(&self, before: Millis) -> StoreResult<()> {
        self.check_open()?;
        write::purge(&self.pool, &self.sql, before).await
    }

    fn change_feed(&self) -> Option<&dyn ChangeFeed> {
        Some(self)
    }

    async fn close(&self) -> StoreResult<()> {
        self.closed.store(true, Ordering::SeqCst);
        if let Some(hints) = &self.hints {
            hints.stop();
        }
        // Dropping the only sender lets the writer drain what was accepted, then stop.
        drop(lock(&self.queue).take());
        let writer = lock(&self.writer).take();
        if let Some(writer) = writer {
            let _ = writer.await;
        }
        self.pool.close().await;
        Ok(())
    }
}

#[async_trait]
impl ChangeFeed for SqlStore {
    async fn revisions(&self) -> StoreResult<Vec<DomainRevision>> {
        Ok(SqlStore::revisions(self)
            .await?
            .into_iter()
            .map(|(domain, revision, purged)| DomainRevision {
                domain,
                revision,
                purged,
            })
            .collect())
    }

    async fn changes_since(
        &self,
        domain: FeedDomain,
        after: Option<i64>,
    ) -> StoreResult<FeedBatch> {
        self.check_open()?;
        feed::changes_since(self, domain, after).await
    }

    fn hints(&self) -> Option<tokio::sync::broadcast::Receiver<FeedDomain>> {
        self.hints.as_ref().map(hint::Hints::subscribe)
    }
}
