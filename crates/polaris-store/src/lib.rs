//! The storage contract. Domain services write through [`NamingStore::apply`], which returns only
//! once the whole batch is durable, and read back with the `load_*` methods, which return every
//! record modified at or after a point in time, deletions included as tombstones. That shape lets
//! a single node load everything at start and lets several nodes sharing one SQL database poll for
//! what the others changed. Backends live in their own crates (`polaris-store-redb`, later
//! `polaris-store-sql`) and each runs [`conformance`], the one suite that defines the contract.

pub mod conformance;
pub mod feed;
pub mod memory;

use async_trait::async_trait;
use polaris_types::{
    ConfigFile, ConfigFileKey, ConfigGroup, ConfigRelease, ConfigTemplate, Instance, Millis,
    Namespace, ReleaseHistory, Rule, RuleKind, Service, ServiceContract, ServiceKey, Strategy,
    User, UserGroup,
};

/// Why a store operation failed. Every variant reaches clients as `StoreLayerException` through
/// the one `From<StoreError> for PolarisError` below (a conflict a domain expects is matched
/// before it converts).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend could not be reached or refused the operation.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// The backend holds data it cannot decode.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// The store was closed; no further writes are accepted.
    #[error("store is closed")]
    Closed,
    /// A [`Precondition`] did not hold when the batch was about to commit (another node won a
    /// race); nothing was written.
    #[error("precondition failed: {0}")]
    Conflict(String),
}

/// A condition a shared store checks inside the write's transaction, after it has serialised
/// the write with every other writer of the domain, so that two nodes racing get one winner.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Precondition {
    /// No live service or alias has this key.
    ServiceAbsent(ServiceKey),
    /// No live service or alias lives in this namespace.
    NamespaceEmpty(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The domain error of a failed store operation: `StoreLayerException` (500001) with the
/// reason as detail, logged once here (a client only sees the code).
impl From<StoreError> for polaris_types::PolarisError {
    fn from(err: StoreError) -> Self {
        tracing::error!(target: "polaris_store", error = %err, "store operation failed");
        polaris_types::PolarisError::new(polaris_types::Code::StoreLayerException, err.to_string())
    }
}

/// One write. A batch of mutations is applied atomically and in order.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Mutation {
    PutNamespace(Namespace),
    DeleteNamespace {
        name: String,
        mtime: Millis,
    },
    PutService(Service),
    DeleteService {
        key: ServiceKey,
        mtime: Millis,
    },
    PutInstance(Instance),
    DeleteInstance {
        id: String,
        mtime: Millis,
    },
    PutRule(Rule),
    DeleteRule {
        kind: RuleKind,
        id: String,
        mtime: Millis,
    },
    PutConfigGroup(ConfigGroup),
    DeleteConfigGroup {
        namespace: String,
        name: String,
        mtime: Millis,
    },
    PutConfigFile(ConfigFile),
    DeleteConfigFile {
        key: ConfigFileKey,
        mtime: Millis,
    },
    PutConfigRelease(ConfigRelease),
    DeleteConfigRelease {
        key: ConfigFileKey,
        name: String,
        mtime: Millis,
    },
    /// History is append-only; an entry with an existing id replaces it.
    AppendReleaseHistory(ReleaseHistory),
    /// Templates are keyed by name; a put replaces.
    PutConfigTemplate(ConfigTemplate),
    /// Contracts are keyed by [`ServiceContract::key`]; a put replaces.
    PutServiceContract(ServiceContract),
    /// Users, groups and strategies are keyed by id; a put replaces, a delete forgets.
    PutUser(User),
    DeleteUser {
        id: String,
    },
    PutUserGroup(UserGroup),
    DeleteUserGroup {
        id: String,
    },
    PutStrategy(Strategy),
    DeleteStrategy {
        id: String,
    },
}

/// Identifies a config group: (namespace, name).
pub type ConfigGroupKey = (String, String);

/// Identifies a release: its file and its release name.
pub type ConfigReleaseKey = (ConfigFileKey, String);

/// A record as returned by an incremental load: either its current value or a tombstone.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change<T, K> {
    Upsert(T),
    Deleted { key: K, mtime: Millis },
}

impl<T, K> Change<T, K> {
    /// The value, for an upsert.
    pub fn upserted(self) -> Option<T> {
        match self {
            Change::Upsert(value) => Some(value),
            Change::Deleted { .. } => None,
        }
    }
}

/// Persistence of the registry (namespaces, services, instances), governance rules and the
/// config center (groups, files, releases, release history).
#[async_trait]
pub trait NamingStore: Send + Sync + 'static {
    /// Applies the mutations as one atomic, durable unit. When this returns `Ok`, every mutation
    /// survives a crash of the process or the machine.
    async fn apply(&self, batch: Vec<Mutation>) -> StoreResult<()>;

    /// Namespaces modified at or after `since` (pass 0 for all), tombstones included.
    async fn load_namespaces(&self, since: Millis) -> StoreResult<Vec<Change<Namespace, String>>>;

    /// Services and aliases modified at or after `since`, tombstones included.
    async fn load_services(&self, since: Millis) -> StoreResult<Vec<Change<Service, ServiceKey>>>;

    /// Instances modified at or after `since`, tombstones included.
    async fn load_instances(&self, since: Millis) -> StoreResult<Vec<Change<Instance, String>>>;

    /// Governance rules modified at or after `since`, tombstones included.
    async fn load_rules(&self, since: Millis)
    -> StoreResult<Vec<Change<Rule, (RuleKind, String)>>>;

    /// Config groups modified at or after `since`, tombstones included.
    async fn load_config_groups(
        &self,
        since: Millis,
    ) -> StoreResult<Vec<Change<ConfigGroup, ConfigGroupKey>>>;

    /// Config files modified at or after `since`, tombstones included.
    async fn load_config_files(
        &self,
        since: Millis,
    ) -> StoreResult<Vec<Change<ConfigFile, ConfigFileKey>>>;

    /// Config releases modified at or after `since`, tombstones included.
    async fn load_config_releases(
        &self,
        since: Millis,
    ) -> StoreResult<Vec<Change<ConfigRelease, ConfigReleaseKey>>>;

    /// Every config template.
    async fn load_config_templates(&self) -> StoreResult<Vec<ConfigTemplate>>;

    /// Every service contract.
    async fn load_service_contracts(&self) -> StoreResult<Vec<ServiceContract>>;

    /// Every user, in id order.
    async fn load_users(&self) -> StoreResult<Vec<User>>;

    /// Every user group, in id order.
    async fn load_user_groups(&self) -> StoreResult<Vec<UserGroup>>;

    /// Every auth strategy, in id order.
    async fn load_strategies(&self) -> StoreResult<Vec<Strategy>>;

    /// Release history entries created at or after `since`, in id order.
    async fn load_release_history(&self, since: Millis) -> StoreResult<Vec<ReleaseHistory>>;

    /// Forgets tombstones older than `before`.
    async fn purge_tombstones(&self, before: Millis) -> StoreResult<()>;

    /// Finishes writes already accepted, then refuses new ones and releases the backend.
    async fn close(&self) -> StoreResult<()>;

    /// Applies `batch` only when every precondition holds at commit, else fails with
    /// [`StoreError::Conflict`]. A single-node backend relies on the domain's own locks, which
    /// already checked them, and simply applies.
    async fn apply_checked(
        &self,
        checks: Vec<Precondition>,
        batch: Vec<Mutation>,
    ) -> StoreResult<()> {
        let _ = checks;
        self.apply(batch).await
    }

    /// The commit-ordered change feed, for backends that several nodes share.
    fn change_feed(&self) -> Option<&dyn feed::ChangeFeed> {
        None
    }
}
