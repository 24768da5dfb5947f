//! The change-feed follower: one task per node that keeps the node's caches (naming, governance,
//! config, auth, contracts) in step with the shared store.
//!
//! Each round probes every domain's committed revision (one query), and for each domain that
//! moved asks the domain to catch up from the revision it holds; the domain reads the delta in
//! one snapshot and applies it through its own cache operations, the ones local writes use. A
//! round that fails leaves the held revisions where they were, so the next round reads the same
//! changes again: nothing is skipped, whatever the clocks or the errors. A domain held below
//! the store's purge watermark (its tombstones may be gone) is reloaded fully and the domain
//! drops what the store no longer lists. Rounds run every `poll` and at once on a hint (a
//! notification after another node's commit, or [`Follower::wake`]).

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use polaris_auth::Auth;
use polaris_config::ConfigCenter;
use polaris_governance::Governance;
use polaris_naming::Naming;
use polaris_store::NamingStore;
use polaris_store::feed::{ChangeFeed, DomainRevision, FeedDomain, catch_up};
use polaris_types::{Code, PolarisError, Result};
use tokio::sync::{Notify, broadcast};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// The domain services whose caches follow the store.
#[derive(Clone)]
pub struct Domains {
    pub naming: Arc<Naming>,
    pub governance: Arc<Governance>,
    pub config: Arc<ConfigCenter>,
    pub auth: Arc<Auth>,
}

/// How often the follower polls, and how closely hinted rounds may follow each other.
#[derive(Clone, Copy, Debug)]
pub struct FollowerOptions {
    /// The safety-net polling interval (hints make rounds happen sooner).
    pub poll: Duration,
    /// Least time between two rounds, so a burst of hints costs one read.
    pub min_gap: Duration,
}

impl Default for FollowerOptions {
    fn default() -> Self {
        FollowerOptions {
            poll: Duration::from_secs(1),
            min_gap: Duration::from_millis(10),
        }
    }
}

/// One domain's revisions: in the store and in this node's cache.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DomainState {
    pub store: i64,
    pub held: i64,
    pub purged: i64,
}

/// What the follower last saw, for readiness and the maintenance view.
#[derive(Clone, Debug, Default)]
pub struct FeedStatus {
    pub domains: BTreeMap<FeedDomain, DomainState>,
    /// When a round last ended with every domain caught up.
    pub caught_up_at: Option<Instant>,
    /// The error of the last round, if it failed.
    pub last_error: Option<String>,
    /// Rounds that completed, and full reloads after a purge.
    pub rounds: u64,
    pub reloads: u64,
}

impl FeedStatus {
    /// How long ago the node was last known to be caught up (`None`: never since start).
    pub fn lag(&self, now: Instant) -> Option<Duration> {
        self.caught_up_at
            .map(|at| now.saturating_duration_since(at))
    }
}

/// A running follower.
pub struct Follower {
    status: Arc<Mutex<FeedStatus>>,
    wake: Arc<Notify>,
    task: JoinHandle<()>,
}

impl Follower {
    /// Starts following from `start`, the revisions probed before the domains loaded (changes
    /// after them are read again and skipped where the caches already hold them).
    pub fn start(
        store: Arc<dyn NamingStore>,
        domains: Domains,
        start: Vec<DomainRevision>,
        options: FollowerOptions,
    ) -> Result<Follower> {
        let Some(feed) = store.change_feed() else {
            return Err(PolarisError::new(
                Code::StoreLayerException,
                "the store has no change feed",
            ));
        };
        let hints = feed.hints();
        let mut held = BTreeMap::new();
        let mut status = FeedStatus {
            caught_up_at: Some(Instant::now()),
            ..FeedStatus::default()
        };
        for rev in start {
            held.insert(rev.domain, rev.revision);
            status.domains.insert(
                rev.domain,
                DomainState {
                    store: rev.revision,
                    held: rev.revision,
                    purged: rev.purged,
                },
            );
        }
        let status = Arc::new(Mutex::new(status));
        let wake = Arc::new(Notify::new());
        let runner = Runner {
            store,
            domains,
            held,
            status: status.clone(),
        };
        let task = tokio::spawn(runner.run(options, hints, wake.clone()));
        Ok(Follower { status, wake, task })
    }

    /// Asks for a round now (a hint from another channel, e.g. Redis pub/sub).
    pub fn wake(&self) {
        self.wake.notify_one();
    }

    /// The handle [`Follower::wake`] uses, for tasks that outlive a borrow of the follower.
    pub fn waker(&self) -> Arc<Notify> {
        self.wake.clone()
    }

    /// A copy of the current status.
    pub fn status(&self) -> FeedStatus {
        self.status.lock().clone()
    }

    /// Stops following.
    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Runner {
    store: Arc<dyn NamingStore>,
    domains: Domains,
    held: BTreeMap<FeedDomain, i64>,
    status: Arc<Mutex<FeedStatus>>,
}

async fn hint(hints: &mut Option<broadcast::Receiver<FeedDomain>>) {
    match hints {
        Some(rx) => match rx.recv().await {
            Ok(_) | Err(broadcast::error::RecvError::Lagged(_)) => {}
            Err(broadcast::error::RecvError::Closed) => {
                *hints = None;
            }
        },
        None => std::future::pending().await,
    }
}

impl Runner {
    async fn run(
        mut self,
        options: FollowerOptions,
        mut hints: Option<broadcast::Receiver<FeedDomain>>,
        wake: Arc<Notify>,
    ) {
        loop {
            tokio::select! {
                () = tokio::time::sleep(options.poll) => {}
                () = hint(&mut hints) => {}
                () = wake.notified() => {}
            }
            tokio::time::sleep(options.min_gap).await;
            // Hints that arrived meanwhile are answered by this round.
            if let Some(rx) = &mut hints {
                while rx.try_recv().is_ok() {}
            }
            let result = self.round().await;
            let mut status = self.status.lock();
            status.rounds += 1;
            match result {
                Ok(()) => status.last_error = None,
                Err(err) => {
                    tracing::warn!(target: "polaris_cluster", error = %err.detail, "change-feed round failed");
                    status.last_error = Some(err.detail);
                }
            }
        }
    }

    fn feed(&self) -> Result<&dyn ChangeFeed> {
        self.store.change_feed().ok_or_else(|| {
            PolarisError::new(Code::StoreLayerException, "the store has no change feed")
        })
    }

    async fn round(&mut self) -> Result<()> {
        let revisions = self
            .feed()?
            .revisions()
            .await
            .map_err(|e| PolarisError::new(Code::StoreLayerException, e.to_string()))?;
        let mut caught_up = true;
        for rev in revisions {
            let held = self.held.get(&rev.domain).copied().unwrap_or(0);
            self.record(rev, held);
            // Behind the purge (tombstones may be gone) or ahead of the store (a new database
            // under the same name): only a full reload is right.
            let reload = held < rev.purged || held > rev.revision;
            if held == rev.revision && !reload {
                continue;
            }
            let after = (!reload).then_some(held);
            let reached = self.catch_up(rev.domain, after).await?;
            if reload {
                tracing::info!(target: "polaris_cluster", domain = rev.domain.as_str(), held,
                    purged = rev.purged, reached, "reloaded a domain fully");
                self.status.lock().reloads += 1;
            }
            self.held.insert(rev.domain, reached);
            self.record(rev, reached);
            caught_up &= reached >= rev.revision;
        }
        if caught_up {
            self.status.lock().caught_up_at = Some(Instant::now());
        }
        Ok(())
    }

    fn record(&self, rev: DomainRevision, held: i64) {
        let mut status = self.status.lock();
        let entry = status.domains.entry(rev.domain).or_default();
        entry.store = entry.store.max(rev.revision);
        entry.purged = rev.purged;
        entry.held = held;
    }

    async fn catch_up(&self, domain: FeedDomain, after: Option<i64>) -> Result<i64> {
        let feed = self.feed()?;
        let d = &self.domains;
        Ok(match domain {
            FeedDomain::Naming | FeedDomain::Contracts => {
                d.naming.catch_up(feed, domain, after).await?.revision
            }
            FeedDomain::Governance => catch_up(&*d.governance, feed, after).await?.0,
            FeedDomain::Config => catch_up(&*d.config, feed, after).await?.0,
            FeedDomain::Auth => catch_up(&*d.auth, feed, after).await?.0,
        })
    }
}
