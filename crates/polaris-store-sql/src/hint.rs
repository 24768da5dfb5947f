//! Change-feed hints over PostgreSQL `LISTEN`/`NOTIFY`. Every write transaction queues a
//! `pg_notify` per domain it bumps (see `write.rs`); PostgreSQL delivers it to every listening
//! session when, and only if, the transaction commits. One task per store listens and
//! rebroadcasts the domain names in process. Hints are only a way to wake followers early: a
//! lost one (listener reconnecting, lagging receiver) costs at most one polling interval.

use std::time::Duration;

use polaris_store::feed::FeedDomain;
use sqlx::postgres::{PgConnectOptions, PgListener, PgPoolOptions};
use tokio::sync::broadcast;
use tokio::task::JoinHandle;

use crate::write::HINT_CHANNEL;

/// How long the listener waits before it reconnects after an error.
const RECONNECT_DELAY: Duration = Duration::from_millis(500);

/// The listener task and the in-process fan-out of its hints.
pub(crate) struct Hints {
    sender: broadcast::Sender<FeedDomain>,
    task: JoinHandle<()>,
}

impl Hints {
    /// Starts listening on the store's database.
    pub fn listen(options: PgConnectOptions) -> Hints {
        let (sender, _) = broadcast::channel(256);
        let task = tokio::spawn(listen(options, sender.clone()));
        Hints { sender, task }
    }

    pub fn subscribe(&self) -> broadcast::Receiver<FeedDomain> {
        self.sender.subscribe()
    }

    pub fn stop(&self) {
        self.task.abort();
    }
}

impl Drop for Hints {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn listen(options: PgConnectOptions, sender: broadcast::Sender<FeedDomain>) {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .acquire_timeout(Duration::from_secs(2))
        .connect_lazy_with(options);
    loop {
        let mut listener = match PgListener::connect_with(&pool).await {
            Ok(listener) => listener,
            Err(err) => {
                tracing::debug!(target: "polaris_store", %err, "change-feed hint listener cannot connect");
                tokio::time::sleep(RECONNECT_DELAY).await;
                continue;
            }
        };
        if let Err(err) = listener.listen(HINT_CHANNEL).await {
            tracing::debug!(target: "polaris_store", %err, "cannot LISTEN for change-feed hints");
            tokio::time::sleep(RECONNECT_DELAY).await;
            continue;
        }
        loop {
            match listener.try_recv().await {
                Ok(Some(note)) => {
                    if let Some(domain) = FeedDomain::parse(note.payload()) {
                        let _ = sender.send(domain);
                    }
                }
                // The connection was lost (notifications meanwhile are gone): reconnect.
                Ok(None) => break,
                Err(err) => {
                    tracing::debug!(target: "polaris_store", %err, "change-feed hint listener failed");
                    break;
                }
            }
        }
        tokio::time::sleep(RECONNECT_DELAY).await;
    }
}
