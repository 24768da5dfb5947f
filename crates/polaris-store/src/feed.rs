//! The change feed: how a node learns what other nodes sharing its store have committed.
//!
//! A shared backend keeps one revision per [`FeedDomain`], bumped inside every write transaction
//! and stamped on each row it changes, so revisions appear in commit order without gaps. A
//! follower holds the revision it has applied per domain and asks for
//! [`ChangeFeed::changes_since`] that revision; the answer is read in one consistent snapshot and
//! comes back as the same [`Mutation`]s the local write path applies, so a domain has one way to
//! change its caches whoever made the change. Nothing here knows a wire protocol: entries are
//! keyed by resource and carry the revision they were read at.

use async_trait::async_trait;

use crate::{Mutation, StoreResult};

/// A group of records that share one revision counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum FeedDomain {
    /// Namespaces, services, aliases and instances.
    Naming,
    /// Routing, rate-limit, circuit-breaker, fault-detect and lane rules.
    Governance,
    /// Config groups, files, releases, release history and templates.
    Config,
    /// Users, user groups and strategies.
    Auth,
    /// Service contracts.
    Contracts,
}

impl FeedDomain {
    /// Every domain, in the order writers lock their revisions.
    pub const ALL: [FeedDomain; 5] = [
        FeedDomain::Naming,
        FeedDomain::Governance,
        FeedDomain::Config,
        FeedDomain::Auth,
        FeedDomain::Contracts,
    ];

    /// The domain's name (the key of its revision row).
    pub fn as_str(self) -> &'static str {
        match self {
            FeedDomain::Naming => "naming",
            FeedDomain::Governance => "governance",
            FeedDomain::Config => "config",
            FeedDomain::Auth => "auth",
            FeedDomain::Contracts => "contracts",
        }
    }

    /// The domain called `name`.
    pub fn parse(name: &str) -> Option<FeedDomain> {
        FeedDomain::ALL.into_iter().find(|d| d.as_str() == name)
    }
}

/// A domain's position in the store.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DomainRevision {
    pub domain: FeedDomain,
    /// The highest committed revision.
    pub revision: i64,
    /// The highest revision whose soft-deleted rows were purged: a follower behind it may have
    /// missed deletions and must reload the domain fully.
    pub purged: i64,
}

/// What changed in one domain, read in one snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedBatch {
    pub domain: FeedDomain,
    /// The revision the snapshot holds: every change up to it is in `mutations` (or, for a full
    /// load, reflected in the records it lists).
    pub revision: i64,
    /// True when `mutations` is every live record of the domain rather than a delta: records the
    /// follower holds that are not listed were deleted.
    pub full: bool,
    /// Puts for live records and deletes for tombstones, in revision order.
    pub mutations: Vec<Mutation>,
}

/// Read access to the commit-ordered revisions of a shared store.
#[async_trait]
pub trait ChangeFeed: Send + Sync {
    /// Every domain's committed revision and purge watermark.
    async fn revisions(&self) -> StoreResult<Vec<DomainRevision>>;

    /// Changes of `domain` committed after revision `after`, or every live record when `after`
    /// is `None`, read in one consistent snapshot.
    async fn changes_since(&self, domain: FeedDomain, after: Option<i64>)
    -> StoreResult<FeedBatch>;

    /// Wake-ups sent after commits (of any node), when the backend has a notification channel:
    /// each message names a domain that moved. Hints may be lost; followers still poll.
    fn hints(&self) -> Option<tokio::sync::broadcast::Receiver<FeedDomain>> {
        None
    }
}

/// A domain's in-memory cache that follows the feed. [`catch_up`] is the one way such a cache
/// reads it; the cache supplies only its writer lock and how a batch changes it.
pub trait FeedFollower: Sync {
    /// The domain whose changes the cache applies.
    const DOMAIN: FeedDomain;

    /// The lock every local write of the domain holds from before its commit until its
    /// snapshot is swapped.
    fn writer(&self) -> &tokio::sync::Mutex<()>;

    /// Applies one batch (a full load drops what it does not list); how many records changed.
    fn apply_batch(&self, batch: FeedBatch) -> usize;
}

/// Reads what `cache`'s domain committed after `after` (everything, when `None`) and applies
/// it. The writer lock is held from before the read until the rows are applied, so a stale row
/// never overwrites a newer local write. Returns the revision now held and how many records
/// changed.
pub async fn catch_up<F: FeedFollower>(
    cache: &F,
    feed: &dyn ChangeFeed,
    after: Option<i64>,
) -> StoreResult<(i64, usize)> {
    let _writer = cache.writer().lock().await;
    let batch = feed.changes_since(F::DOMAIN, after).await?;
    let revision = batch.revision;
    Ok((revision, cache.apply_batch(batch)))
}
