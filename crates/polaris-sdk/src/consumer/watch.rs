//! Receivers of cache changes.

use std::sync::Arc;

use polaris_traffic::ServiceInstances;
use tokio::sync::watch;
use tokio_stream::{Stream, StreamExt, wrappers::WatchStream};

use super::cache::{EntryState, Snapshot};
use crate::error::{Error, Result};

/// Follows one cached resource: [`changed`](ResourceWatch::changed) waits for the next
/// snapshot; intermediate ones may be skipped when changes come faster than they are read.
pub struct ResourceWatch {
    rx: watch::Receiver<EntryState>,
    last: Option<Arc<Snapshot>>,
}

impl ResourceWatch {
    pub(crate) fn new(mut rx: watch::Receiver<EntryState>) -> ResourceWatch {
        let last = rx.borrow_and_update().snapshot.clone();
        ResourceWatch { rx, last }
    }

    /// The newest snapshot (the one the watch was created with if nothing changed since).
    pub fn current(&self) -> Option<Arc<Snapshot>> {
        self.rx
            .borrow()
            .snapshot
            .clone()
            .or_else(|| self.last.clone())
    }

    /// Waits for a snapshot other than the last one returned; [`Error::Closed`] when the
    /// client is gone.
    pub async fn changed(&mut self) -> Result<Arc<Snapshot>> {
        loop {
            self.rx.changed().await.map_err(|_| Error::Closed)?;
            let snapshot = self.rx.borrow_and_update().snapshot.clone();
            if let Some(snapshot) = snapshot
                && !self
                    .last
                    .as_ref()
                    .is_some_and(|l| Arc::ptr_eq(l, &snapshot))
            {
                self.last = Some(snapshot.clone());
                return Ok(snapshot);
            }
        }
    }

    /// The changes as a `Stream` (starting with the current snapshot).
    pub fn into_stream(self) -> impl Stream<Item = Arc<Snapshot>> + Send + Unpin + 'static {
        let mut last: Option<Arc<Snapshot>> = None;
        WatchStream::new(self.rx).filter_map(move |state| {
            let snapshot = state.snapshot?;
            if last.as_ref().is_some_and(|l| Arc::ptr_eq(l, &snapshot)) {
                return None;
            }
            last = Some(snapshot.clone());
            Some(snapshot)
        })
    }
}

/// Follows a service's instance list.
pub struct ServiceWatch {
    inner: ResourceWatch,
}

impl ServiceWatch {
    pub(crate) fn new(rx: watch::Receiver<EntryState>) -> ServiceWatch {
        ServiceWatch {
            inner: ResourceWatch::new(rx),
        }
    }

    /// The newest instance list.
    pub fn current(&self) -> Arc<ServiceInstances> {
        self.inner
            .current()
            .map(|s| s.instances.clone())
            .unwrap_or_default()
    }

    /// Waits for the next instance list.
    pub async fn changed(&mut self) -> Result<Arc<ServiceInstances>> {
        Ok(self.inner.changed().await?.instances.clone())
    }

    /// The instance lists as a `Stream` (starting with the current one).
    pub fn into_stream(self) -> impl Stream<Item = Arc<ServiceInstances>> + Send + Unpin + 'static {
        self.inner.into_stream().map(|s| s.instances.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consumer::cache::{Cache, ResourceKind, ServiceKey};
    use polaris_proto::v1;

    fn snapshot(key: &ServiceKey, revision: &str, hosts: usize) -> Snapshot {
        let answer = v1::DiscoverResponse {
            code: Some(200_000),
            r#type: 1,
            service: Some(v1::Service {
                revision: Some(revision.into()),
                ..Default::default()
            }),
            instances: (0..hosts)
                .map(|i| v1::Instance {
                    host: Some(format!("10.0.0.{i}")),
                    port: Some(80),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        Snapshot::new(ResourceKind::Instances, key, answer, false)
    }

    #[tokio::test(start_paused = true)]
    async fn watches_see_each_new_snapshot_once() {
        let cache = Cache::default();
        let key = ServiceKey::new("default", "svc");
        let (entry, _) = cache.get_or_insert(ResourceKind::Instances, &key);
        entry.apply(snapshot(&key, "r1", 1), true);
        let mut watch = ServiceWatch::new(entry.subscribe());
        let stream = ServiceWatch::new(entry.subscribe()).into_stream();
        tokio::pin!(stream);
        assert_eq!(watch.current().revision, "r1");
        assert_eq!(stream.next().await.unwrap().revision, "r1");

        // A refresh failure wakes the channel but is not a new snapshot.
        entry.fail(Error::Timeout(std::time::Duration::from_secs(1)));
        let pending =
            tokio::time::timeout(std::time::Duration::from_secs(5), watch.changed()).await;
        assert!(pending.is_err(), "errors are not changes");

        entry.apply(snapshot(&key, "r2", 2), true);
        assert_eq!(watch.changed().await.unwrap().instances.len(), 2);
        assert_eq!(stream.next().await.unwrap().revision, "r2");
        entry.apply(snapshot(&key, "r3", 3), true);
        entry.apply(snapshot(&key, "r4", 4), true);
        // Changes faster than reads coalesce to the newest.
        assert_eq!(watch.changed().await.unwrap().revision, "r4");
    }
}
