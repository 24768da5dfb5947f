//! Heartbeat health checking. A heartbeat only records a timestamp in a [`BeatStore`] (memory
//! for one node; a shared store such as Redis for a cluster later). One checker task owns a
//! delay queue with one entry per healthy, checked instance, due when three TTLs will have passed
//! since its last beat; when an entry comes due without a newer beat the instance is marked
//! unhealthy, and all verdicts due together are written in one batch. The next heartbeat of an
//! unhealthy instance marks it healthy again. The checker follows the registry through its events
//! and re-reads the whole snapshot if it ever falls behind.

mod beats;
mod checker;

use std::sync::Arc;

use parking_lot::Mutex;
use polaris_naming::{InstanceSpec, Naming};
use polaris_types::{Code, Millis, PolarisError, Result};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use beats::{BeatError, BeatStore, MemoryBeats};

/// An instance turns unhealthy once this many TTLs pass without a heartbeat.
pub const EXPIRE_TTL_COUNT: i64 = 3;

/// Health-check switches from the server configuration.
#[derive(Clone, Debug)]
pub struct HealthOptions {
    /// `healthcheck.open`: when false, heartbeats are refused with `HealthCheckNotOpen`.
    pub open: bool,
    /// In a cluster, which instances this node judges (the others are judged by their owner;
    /// `None`: every instance, as on a single node).
    pub owner: Option<CheckOwner>,
}

impl Default for HealthOptions {
    fn default() -> Self {
        HealthOptions {
            open: true,
            owner: None,
        }
    }
}

/// Decides whether this node judges an instance id (a stable hash over the live nodes).
#[derive(Clone)]
pub struct CheckOwner(pub Arc<dyn Fn(&str) -> bool + Send + Sync>);

impl std::fmt::Debug for CheckOwner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CheckOwner")
    }
}

/// Milliseconds on a clock that follows tokio's (pausable) time, anchored to the wall clock at
/// start so that beat times stored elsewhere stay meaningful.
#[derive(Clone, Copy, Debug)]
pub struct Clock {
    start: Instant,
    start_millis: Millis,
}

impl Clock {
    pub fn new() -> Self {
        Clock {
            start: Instant::now(),
            start_millis: polaris_naming::now_millis(),
        }
    }

    pub fn now(&self) -> Millis {
        self.start_millis + self.start.elapsed().as_millis() as Millis
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new()
    }
}

/// The health-check service: accepts heartbeats and runs the checker task.
pub struct Health {
    naming: Arc<Naming>,
    beats: Arc<dyn BeatStore>,
    options: HealthOptions,
    clock: Clock,
    stop: watch::Sender<bool>,
    task: Mutex<Option<JoinHandle<()>>>,
}

impl Health {
    /// Starts the checker task (when checking is open) and returns the service.
    pub fn start(
        naming: Arc<Naming>,
        beats: Arc<dyn BeatStore>,
        options: HealthOptions,
    ) -> Arc<Health> {
        let clock = Clock::new();
        let (stop, stopped) = watch::channel(false);
        let task = options.open.then(|| {
            let checker = checker::Checker::new(
                naming.clone(),
                beats.clone(),
                clock,
                stopped,
                options.owner.clone(),
            );
            tokio::spawn(checker.run())
        });
        Arc::new(Health {
            naming,
            beats,
            options,
            clock,
            stop,
            task: Mutex::new(task),
        })
    }

    /// Accepts a heartbeat: records it and, for an unhealthy instance, marks it healthy again.
    pub async fn heartbeat(&self, spec: &InstanceSpec) -> Result<()> {
        if !self.options.open {
            return Err(Code::HealthCheckNotOpen.into());
        }
        let Some(instance) = self.naming.heartbeat_target(spec)? else {
            return Ok(());
        };
        self.beats
            .record(&instance.id, self.clock.now())
            .await
            .map_err(|e| PolarisError::new(Code::HeartbeatException, e.to_string()))?;
        if !instance.healthy {
            self.naming
                .set_health(&[(instance.id.clone(), true)])
                .await?;
        }
        Ok(())
    }

    /// When instance `id` last sent a heartbeat (Unix milliseconds), if it has since this
    /// process started.
    pub async fn last_beat(&self, id: &str) -> Result<Option<Millis>> {
        self.beats
            .last_beat(id)
            .await
            .map_err(|e| PolarisError::new(Code::HeartbeatException, e.to_string()))
    }

    /// Stops the checker task and waits for it, so no verdict is written after this returns.
    pub async fn stop(&self) {
        let _ = self.stop.send(true);
        let task = self.task.lock().take();
        if let Some(task) = task
            && let Err(err) = task.await
        {
            tracing::error!(target: "polaris_health", %err, "health checker task failed");
        }
    }
}

#[cfg(test)]
mod tests;
