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
