//! The config center: namespaces hold groups, groups hold files, and publishing a file makes an
//! immutable release with a per-file monotonic version and the hex MD5 of its content. A file
//! has at most one active normal release and one active gray release (seen only by clients whose
//! labels match). Every write is durable before it is visible; every publish wakes exactly the
//! watchers of that file through the [`WatchIndex`]. Reads come from an immutable snapshot.

pub mod client;
pub mod crypto;
mod follow;
mod releases;
mod snapshot;
mod watch;
mod writes;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;

use arc_swap::ArcSwap;
use polaris_store::NamingStore;
use polaris_types::{Code, ConfigFileKey, ConfigRelease, PolarisError, Result};
use tokio::sync::Mutex;

pub use snapshot::ConfigSnapshot;
pub use watch::{Watch, WatchIndex};
pub use writes::{FileSpec, GroupSpec, PublishSpec, TemplateSpec};

/// Longest file content, in characters (the official `config.contentMaxLength`).
pub const MAX_CONTENT_CHARS: usize = 20_000;
/// Formats a file may declare.
pub const FORMATS: [&str; 6] = ["text", "yaml", "xml", "json", "html", "properties"];
/// How long a watch is held without a change, officially.
pub const DEFAULT_WATCH_TIMEOUT: Duration = Duration::from_secs(30);
/// Files one watch may name unless configured otherwise (`config.maxWatchFiles`): each costs
/// an index entry for as long as the watch waits.
pub const DEFAULT_MAX_WATCH_FILES: usize = 2_000;

/// What a client asks for: a file and the version it holds.
#[derive(Clone, Debug)]
pub struct WatchedFile {
    pub key: ConfigFileKey,
    pub version: u64,
}

/// The config center service.
pub struct ConfigCenter {
    store: Arc<dyn NamingStore>,
    snapshot: ArcSwap<ConfigSnapshot>,
    writer: Mutex<()>,
    watchers: WatchIndex,
    next_id: AtomicU64,
    max_watch_files: AtomicUsize,
}

impl ConfigCenter {
    /// Loads groups, files, releases and history from the store.
    pub async fn open(store: Arc<dyn NamingStore>) -> Result<ConfigCenter> {
        let snapshot = ConfigSnapshot::load(&*store).await?;
        let next_id = snapshot.max_id() + 1;
        Ok(ConfigCenter {
            store,
            snapshot: ArcSwap::from_pointee(snapshot),
            writer: Mutex::new(()),
            watchers: WatchIndex::default(),
            next_id: AtomicU64::new(next_id),
            max_watch_files: AtomicUsize::new(DEFAULT_MAX_WATCH_FILES),
        })
    }

    /// Sets how many files one watch may name (at least 1); a larger watch is refused with
    /// `BatchSizeOverLimit` (400003).
    pub fn set_max_watch_files(&self, max: usize) {
        self.max_watch_files.store(max.max(1), Ordering::Relaxed);
    }

    /// The current state; cheap and never blocks.
    pub fn snapshot(&self) -> Arc<ConfigSnapshot> {
        self.snapshot.load_full()
    }

    /// The watcher index (for metrics and tests).
    pub fn watchers(&self) -> &WatchIndex {
        &self.watchers
    }

    fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// The release a client gets: the active gray release when the client's labels match it,
    /// else the active normal release. `NotFoundResource` when the file was never published;
    /// `Ok(None)` (DataNoChange) when the client already holds a newer version.
    pub fn client_release(
        &self,
        key: &ConfigFileKey,
        client_version: u64,
        labels: &[(String, String)],
    ) -> Result<Option<Arc<ConfigRelease>>> {
        let snapshot = self.snapshot();
        let Some(release) = snapshot.release_for(key, labels) else {
            return Err(PolarisError::new(
                Code::NotFoundResource,
                format!("no release of {key}"),
            ));
        };
        if client_version > release.version {
            return Ok(None);
        }
        Ok(Some(release))
    }

    /// The first watched file whose released version is newer than the client's.
    fn first_behind(
        &self,
        files: &[WatchedFile],
        labels: &[(String, String)],
    ) -> Option<Arc<ConfigRelease>> {
        let snapshot = self.snapshot();
        files.iter().find_map(|f| {
            snapshot
                .release_for(&f.key, labels)
                .filter(|r| r.version > f.version)
        })
    }

    /// A long poll: answers at once when a watched file is behind, else waits for a publish of
    /// one of them or for `timeout` (`None`: no change).
    pub async fn watch(
        &self,
        files: &[WatchedFile],
        labels: &[(String, String)],
        timeout: Duration,
    ) -> Result<Option<Arc<ConfigRelease>>> {
        if files.is_empty() {
            return Err(PolarisError::new(
                Code::InvalidWatchConfigFileFormat,
                "no file to watch",
            ));
        }
        let max = self.max_watch_files.load(Ordering::Relaxed);
        if files.len() > max {
            return Err(PolarisError::new(
                Code::BatchSizeOverLimit,
                format!("a watch may name at most {max} files, not {}", files.len()),
            ));
        }
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if let Some(behind) = self.first_behind(files, labels) {
                return Ok(Some(behind));
            }
            let registration = self
                .watchers
                .register(files.iter().map(|f| f.key.clone()).collect());
            // A publish between the check above and the registration is caught here.
            if let Some(behind) = self.first_behind(files, labels) {
                return Ok(Some(behind));
            }
            if tokio::time::timeout_at(deadline, registration.changed())
                .await
                .is_err()
            {
                return Ok(None);
            }
        }
    }
}

#[cfg(test)]
mod crypto_tests;
#[cfg(test)]
mod tests;
