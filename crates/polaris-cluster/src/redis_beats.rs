//! Heartbeats in Redis (`healthcheck.checkers: [{name: heartbeatRedis, option: {kvAddr,
//! kvPasswd}}]`), shared by every node: a beat reaching any node is seen by the node that checks
//! the instance, and the truth survives a node's restart or a change of check owner.
//!
//! A beat is `SET {prefix}hb:{id} {unix_ms} PX {expiry}`; keys expire on their own (a few
//! expiry windows after the last beat), so Redis never keeps beats of instances long gone. No
//! beat touches the database. Commands share one multiplexed connection (the connection manager
//! pipelines concurrent requests and reconnects).
//!
//! **Outage guard.** While Redis cannot be reached every read fails, so the checker re-arms and
//! flips nothing. Beats sent meanwhile are lost (the clients got an error), so once Redis is
//! back a stored beat older than the recovery is reported as of the recovery time: every
//! instance gets one full expiry window to beat again before it can be judged.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use polaris_health::{BeatError, BeatStore};
use polaris_types::Millis;
use redis::AsyncCommands;
use redis::aio::{ConnectionManager, ConnectionManagerConfig};

/// Where Redis is, in the official option names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RedisOptions {
    /// `kvAddr`: `host:port`.
    pub addr: String,
    /// `kvUser` (Redis 6 ACL; empty: the default user).
    pub user: String,
    /// `kvPasswd`.
    pub password: String,
    /// Key prefix, so several clusters (or tests) can share one Redis.
    pub prefix: String,
}

impl RedisOptions {
    /// The connection URL.
    pub fn url(&self) -> String {
        if self.password.is_empty() && self.user.is_empty() {
            return format!("redis://{}/", self.addr);
        }
        format!(
            "redis://{}:{}@{}/",
            percent_encoded(&self.user),
            percent_encoded(&self.password),
            self.addr
        )
    }
}

/// Percent-encodes everything but URL-unreserved characters (user names and passwords).
fn percent_encoded(text: &str) -> String {
    let mut encoded = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            encoded.push(b as char);
        } else {
            encoded.push_str(&format!("%{b:02X}"));
        }
    }
    encoded
}

/// How long a stored beat lives: long past any check's window (#1432: keys without expiry grew
/// without bound).
const KEY_EXPIRY: Duration = Duration::from_secs(3 * 60 + 60);
/// Each command's deadline; a slower Redis counts as down.
const COMMAND_TIMEOUT: Duration = Duration::from_millis(500);

/// The state others may show (maintenance view, readiness).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct BeatStoreState {
    pub reachable: bool,
    /// Database-independent Unix ms when Redis was last seen coming back (0: never lost).
    pub recovered_at: Millis,
    pub errors: u64,
}

/// [`BeatStore`] on Redis.
pub struct RedisBeats {
    conn: ConnectionManager,
    prefix: String,
    reachable: AtomicBool,
    recovered_at: AtomicI64,
    errors: AtomicU64,
    /// Wall-clock ms now (tests may pass tokio's clock).
    now: Arc<dyn Fn() -> Millis + Send + Sync>,
}

impl RedisBeats {
    /// Connects lazily: the store works as soon as Redis answers, and reports errors until then.
    pub fn connect(
        options: &RedisOptions,
        now: Arc<dyn Fn() -> Millis + Send + Sync>,
    ) -> Result<RedisBeats, BeatError> {
        let client = redis::Client::open(options.url()).map_err(|e| BeatError(e.to_string()))?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(COMMAND_TIMEOUT))
            .set_response_timeout(Some(COMMAND_TIMEOUT))
            .set_number_of_retries(1)
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|e| BeatError(e.to_string()))?;
        Ok(RedisBeats {
            conn,
            prefix: options.prefix.clone(),
            reachable: AtomicBool::new(true),
            recovered_at: AtomicI64::new(0),
            errors: AtomicU64::new(0),
            now,
        })
    }

    fn key(&self, id: &str) -> String {
        format!("{}hb:{id}", self.prefix)
    }

    /// What the store last saw of Redis.
    pub fn state(&self) -> BeatStoreState {
        BeatStoreState {
            reachable: self.reachable.load(Ordering::Relaxed),
            recovered_at: self.recovered_at.load(Ordering::Relaxed),
            errors: self.errors.load(Ordering::Relaxed),
        }
    }

    /// Sends PING; updates reachability (readiness calls it).
    pub async fn ping(&self) -> bool {
        let mut conn = self.conn.clone();
        let pong: Result<String, _> =
            tokio::time::timeout(COMMAND_TIMEOUT, redis::cmd("PING").query_async(&mut conn))
                .await
                .map_err(|_| redis::RedisError::from((redis::ErrorKind::Io, "timed out")))
                .and_then(|r| r);
        self.outcome(pong).is_ok()
    }

    fn outcome<T>(&self, result: redis::RedisResult<T>) -> Result<T, BeatError> {
        match result {
            Ok(value) => {
                if !self.reachable.swap(true, Ordering::Relaxed) {
                    self.recovered_at.store((self.now)(), Ordering::Relaxed);
                    tracing::info!(target: "polaris_health", "Redis is reachable again; expiry checks wait one window");
                }
                Ok(value)
            }
            Err(err) => {
                self.errors.fetch_add(1, Ordering::Relaxed);
                if self.reachable.swap(false, Ordering::Relaxed) {
                    tracing::warn!(target: "polaris_health", %err, "Redis is unreachable; no instance is judged meanwhile");
                }
                Err(BeatError(err.to_string()))
            }
        }
    }

    async fn timed<T>(
        &self,
        call: impl std::future::Future<Output = redis::RedisResult<T>>,
    ) -> Result<T, BeatError> {
        let result = tokio::time::timeout(COMMAND_TIMEOUT, call)
            .await
            .unwrap_or_else(|_| Err((redis::ErrorKind::Io, "timed out").into()));
        self.outcome(result)
    }
}

#[async_trait]
impl BeatStore for RedisBeats {
    async fn record(&self, id: &str, at: Millis) -> Result<(), BeatError> {
        let mut conn = self.conn.clone();
        let key = self.key(id);
        let expiry = KEY_EXPIRY.as_millis() as u64;
        self.timed(async move { conn.pset_ex::<_, _, ()>(key, at, expiry).await })
            .await
    }

    async fn last_beat(&self, id: &str) -> Result<Option<Millis>, BeatError> {
        let mut conn = self.conn.clone();
        let key = self.key(id);
        let stored: Option<Millis> = self
            .timed(async move { conn.get::<_, Option<Millis>>(key).await })
            .await?;
        // After an outage nobody could beat: count from the recovery at the earliest.
        let recovered = self.recovered_at.load(Ordering::Relaxed);
        Ok(match stored {
            Some(at) => Some(at.max(recovered)),
            None if recovered > 0 => Some(recovered),
            None => None,
        })
    }

    async fn forget(&self, id: &str) -> Result<(), BeatError> {
        let mut conn = self.conn.clone();
        let key = self.key(id);
        self.timed(async move { conn.del::<_, ()>(key).await })
            .await
    }
}
