//! Change-feed hints over Redis pub/sub, for engines without a notification channel of their
//! own (MySQL/MariaDB; PostgreSQL uses `NOTIFY`). After each COMMIT the store's commit hook
//! queues the touched domains; one task publishes them on `{prefix}feed`, and one task per node
//! subscribes and wakes the follower. A hint lost anywhere (Redis down, queue full) costs at most
//! one polling interval, never a change.

use std::sync::Arc;
use std::time::Duration;

use polaris_store::feed::FeedDomain;
use polaris_store_sql::SqlStore;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use tokio::sync::{Notify, mpsc};
use tokio::task::JoinHandle;
use tokio_stream::StreamExt;

use crate::redis_beats::RedisOptions;

const RETRY: Duration = Duration::from_millis(500);

/// The publisher and subscriber tasks.
pub struct RedisHints {
    tasks: Vec<JoinHandle<()>>,
}

impl RedisHints {
    /// Publishes this node's commits and wakes `follower` on every node's.
    pub fn start(
        options: &RedisOptions,
        store: &SqlStore,
        follower: Arc<Notify>,
    ) -> redis::RedisResult<RedisHints> {
        let client = redis::Client::open(options.url())?;
        let channel = format!("{}feed", options.prefix);
        let (queue, queued) = mpsc::channel::<FeedDomain>(1024);
        store.set_commit_hook(Box::new(move |domains| {
            for domain in domains {
                // A full queue means a publish is pending anyway.
                let _ = queue.try_send(*domain);
            }
        }));
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_millis(500)))
            .set_response_timeout(Some(Duration::from_millis(500)));
        let conn = ConnectionManager::new_lazy_with_config(client.clone(), config)?;
        let publisher = tokio::spawn(publish(conn, channel.clone(), queued));
        let subscriber = tokio::spawn(subscribe(client, channel, follower));
        Ok(RedisHints {
            tasks: vec![publisher, subscriber],
        })
    }

    pub fn stop(&self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Drop for RedisHints {
    fn drop(&mut self) {
        self.stop();
    }
}

async fn publish(
    mut conn: ConnectionManager,
    channel: String,
    mut queued: mpsc::Receiver<FeedDomain>,
) {
    let mut pending = Vec::new();
    while queued.recv_many(&mut pending, 64).await > 0 {
        pending.sort();
        pending.dedup();
        for domain in pending.drain(..) {
            let sent: redis::RedisResult<i64> = redis::cmd("PUBLISH")
                .arg(&channel)
                .arg(domain.as_str())
                .query_async(&mut conn)
                .await;
            if let Err(err) = sent {
                tracing::debug!(target: "polaris_cluster", %err, "cannot publish a change-feed hint");
            }
        }
    }
}

async fn subscribe(client: redis::Client, channel: String, follower: Arc<Notify>) {
    loop {
        let mut pubsub = match client.get_async_pubsub().await {
            Ok(pubsub) => pubsub,
            Err(err) => {
                tracing::debug!(target: "polaris_cluster", %err, "cannot subscribe to change-feed hints");
                tokio::time::sleep(RETRY).await;
                continue;
            }
        };
        if let Err(err) = pubsub.subscribe(&channel).await {
            tracing::debug!(target: "polaris_cluster", %err, "cannot subscribe to change-feed hints");
            tokio::time::sleep(RETRY).await;
            continue;
        }
        // Changes committed while unsubscribed are found by polling.
        follower.notify_one();
        let mut messages = pubsub.on_message();
        while messages.next().await.is_some() {
            follower.notify_one();
        }
        tokio::time::sleep(RETRY).await;
    }
}
