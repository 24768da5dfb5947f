//! The checker task: a delay queue of healthy, checked instances, fed by registry events.

use std::collections::HashMap;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use polaris_naming::{Naming, RegistryEvent};
use polaris_types::Millis;
use tokio::sync::{broadcast, watch};
use tokio_util::time::DelayQueue;
use tokio_util::time::delay_queue::Key;

use crate::{BeatStore, CheckOwner, Clock, EXPIRE_TTL_COUNT};

pub(crate) struct Checker {
    naming: Arc<Naming>,
    beats: Arc<dyn BeatStore>,
    clock: Clock,
    queue: DelayQueue<String>,
    keys: HashMap<String, Key>,
    events: broadcast::Receiver<RegistryEvent>,
    stop: watch::Receiver<bool>,
    owner: Option<CheckOwner>,
}

enum Wake {
    Stop,
    Event(Result<RegistryEvent, broadcast::error::RecvError>),
    Due(String),
}

impl Checker {
    pub(crate) fn new(
        naming: Arc<Naming>,
        beats: Arc<dyn BeatStore>,
        clock: Clock,
        stop: watch::Receiver<bool>,
        owner: Option<CheckOwner>,
    ) -> Checker {
        let events = naming.cache().subscribe();
        Checker {
            naming,
            beats,
            clock,
            queue: DelayQueue::new(),
            keys: HashMap::new(),
            events,
            stop,
            owner,
        }
    }

    pub(crate) async fn run(mut self) {
        self.track_all().await;
        loop {
            let wake = tokio::select! {
                _ = self.stop.changed() => Wake::Stop,
                event = self.events.recv() => Wake::Event(event),
                Some(due) = std::future::poll_fn(|cx| self.queue.poll_expired(cx)) => Wake::Due(due.into_inner()),
            };
            match wake {
                Wake::Stop => break,
                Wake::Event(Ok(RegistryEvent::InstanceUpserted { id, .. })) => {
                    self.track(&id).await
                }
                Wake::Event(Ok(RegistryEvent::InstanceRemoved { id, .. })) => {
                    self.untrack(&id);
                    if let Err(err) = self.beats.forget(&id).await {
                        tracing::warn!(target: "polaris_health", %err, "cannot forget beats");
                    }
                }
                Wake::Event(Ok(_)) => {}
                Wake::Event(Err(broadcast::error::RecvError::Lagged(missed))) => {
                    tracing::warn!(target: "polaris_health", missed, "registry events missed; rescanning");
                    self.track_all().await;
                }
                Wake::Event(Err(broadcast::error::RecvError::Closed)) => break,
                Wake::Due(first) => self.check_due(first).await,
            }
        }
        tracing::info!(target: "polaris_health", "health checker stopped");
    }

    /// Arms every healthy, checked instance of the current snapshot.
    async fn track_all(&mut self) {
        let snapshot = self.naming.snapshot();
        let ids: Vec<String> = snapshot.instance_owner.keys().cloned().collect();
        for id in ids {
            self.track(&id).await;
        }
        for id in self.keys.keys().cloned().collect::<Vec<_>>() {
            if snapshot.instance(&id).is_none() {
                self.untrack(&id);
            }
        }
    }

    /// Arms (or re-arms) the instance's check at its last beat plus three TTLs. Unhealthy and
    /// unchecked instances are not tracked: the next heartbeat marks them healthy, and the
    /// resulting event arms them again.
    async fn track(&mut self, id: &str) {
        let snapshot = self.naming.snapshot();
        let ttl = match snapshot.instance(id) {
            Some(instance) if instance.healthy => match instance.health_check {
                Some(hc) => hc.ttl_secs,
                None => return self.untrack(id),
            },
            _ => return self.untrack(id),
        };
        let now = self.clock.now();
        let last = match self.beats.last_beat(id).await {
            Ok(Some(last)) => last,
            // A newly checked instance gets three TTLs from now to send its first beat.
            Ok(None) => {
                let _ = self.beats.record(id, now).await;
                now
            }
            Err(err) => {
                tracing::warn!(target: "polaris_health", %err, id, "cannot read beats; checking later");
                now
            }
        };
        self.arm(id, last + expiry_millis(ttl), now);
    }

    fn arm(&mut self, id: &str, due: Millis, now: Millis) {
        let delay = Duration::from_millis(due.saturating_sub(now).max(0) as u64);
        match self.keys.get(id) {
            Some(key) => self.queue.reset(key, delay),
            None => {
                let key = self.queue.insert(id.to_string(), delay);
                self.keys.insert(id.to_string(), key);
            }
        }
    }

    fn untrack(&mut self, id: &str) {
        if let Some(key) = self.keys.remove(id) {
            self.queue.remove(&key);
        }
    }

    /// Judges every entry that is due now and writes the unhealthy verdicts in one batch.
    async fn check_due(&mut self, first: String) {
        let mut due = vec![first];
        {
            let mut cx = Context::from_waker(Waker::noop());
            while let Poll::Ready(Some(expired)) = self.queue.poll_expired(&mut cx) {
                due.push(expired.into_inner());
            }
        }
        let now = self.clock.now();
        let snapshot = self.naming.snapshot();
        let mut verdicts = Vec::new();
        for id in due {
            self.keys.remove(&id);
            let Some(ttl) = snapshot
                .instance(&id)
                .filter(|i| i.healthy)
                .and_then(|i| i.health_check)
            else {
                continue;
            };
            // Another node judges it; look again a TTL later in case ownership moves here.
            if let Some(owner) = &self.owner
                && !(owner.0)(&id)
            {
                self.arm(&id, now + i64::from(ttl.ttl_secs) * 1000, now);
                continue;
            }
            let last = match self.beats.last_beat(&id).await {
                Ok(last) => last.unwrap_or(now),
                Err(err) => {
                    tracing::warn!(target: "polaris_health", %err, id, "cannot read beats; checking later");
                    self.arm(&id, now + expiry_millis(ttl.ttl_secs), now);
                    continue;
                }
            };
            let due_at = last + expiry_millis(ttl.ttl_secs);
            if now >= due_at {
                verdicts.push((id, false));
            } else {
                self.arm(&id, due_at, now);
            }
        }
        if verdicts.is_empty() {
            return;
        }
        match self.naming.set_health(&verdicts).await {
            Ok(changed) => {
                tracing::info!(target: "polaris_health", unhealthy = changed.len(), "instances missed their heartbeats")
            }
            Err(err) => {
                // Keep judging them: re-arm shortly so a transient store failure is retried.
                tracing::error!(target: "polaris_health", %err, "cannot write health verdicts");
                for (id, _) in verdicts {
                    self.arm(&id, now + 1000, now);
                }
            }
        }
    }
}

fn expiry_millis(ttl_secs: u32) -> Millis {
    EXPIRE_TTL_COUNT * i64::from(ttl_secs) * 1000
}
