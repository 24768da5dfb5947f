//! The Discover stream: one long-lived bidirectional stream per client that keeps every cached
//! resource current.
//!
//! The stream is opened with the gRPC metadata `x-polaris-push: true`. A server that honours it
//! sends a fresh answer whenever a subscribed resource changes; the worker recognises such an
//! answer because no request of its own is outstanding for that resource, and from then on stops
//! polling (apart from a slow safety refresh). Until then, and with servers that never push, it
//! polls every `serviceRefreshInterval`, sending the last revision so unchanged resources cost
//! one small `DataNoChange` answer. A broken stream is reopened with capped exponential back-off
//! and every subscription is re-sent with its revision; the cache keeps serving meanwhile.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use polaris_proto::v1;
use tokio::sync::{mpsc, watch};
use tokio_stream::wrappers::UnboundedReceiverStream;

use super::cache::{Applied, Entry, ResourceKind, ServiceKey, Snapshot};
use super::persist::Persist;
use crate::error::{Error, codes};
use crate::rpc::Rpc;

/// With push confirmed, resources are still re-validated every this many refresh intervals.
const SAFETY_REFRESH_TICKS: u32 = 30;
/// Back-off bounds between reconnect attempts.
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(2);

/// Options of the worker.
#[derive(Clone)]
pub(crate) struct EngineOptions {
    pub(crate) refresh: Duration,
    pub(crate) push: bool,
    pub(crate) protect_empty: bool,
}

/// Handle used by the cache to subscribe new entries.
#[derive(Clone)]
pub(crate) struct Engine {
    tx: mpsc::UnboundedSender<Arc<Entry>>,
    push_seen: watch::Receiver<bool>,
}

impl Engine {
    /// Starts the worker; it stops when `shutdown` flips or its sender is dropped.
    pub(crate) fn start(
        rpc: Rpc,
        options: EngineOptions,
        persist: Option<Persist>,
        shutdown: watch::Receiver<bool>,
    ) -> Engine {
        let (tx, rx) = mpsc::unbounded_channel();
        let (push_tx, push_seen) = watch::channel(false);
        let worker = Worker {
            rpc,
            options,
            persist,
            subs: HashMap::new(),
            push_tx,
        };
        tokio::spawn(worker.run(rx, shutdown));
        Engine { tx, push_seen }
    }

    /// Adds an entry to the stream's subscriptions.
    pub(crate) fn subscribe(&self, entry: Arc<Entry>) {
        let _ = self.tx.send(entry);
    }

    /// True once the server pushed an answer unasked on the current stream.
    pub(crate) fn push_active(&self) -> bool {
        *self.push_seen.borrow()
    }
}

struct Sub {
    entry: Arc<Entry>,
    /// Requests sent on the current stream and not answered yet.
    outstanding: u32,
    /// Revision last answered by the server (also set when an empty list was refused).
    revision: String,
}

struct Worker {
    rpc: Rpc,
    options: EngineOptions,
    persist: Option<Persist>,
    subs: HashMap<(ResourceKind, ServiceKey), Sub>,
    push_tx: watch::Sender<bool>,
}

enum Exit {
    Shutdown,
    Broken(Error),
}

impl Worker {
    async fn run(
        mut self,
        mut new_subs: mpsc::UnboundedReceiver<Arc<Entry>>,
        mut shutdown: watch::Receiver<bool>,
    ) {
        let mut backoff = BACKOFF_MIN;
        loop {
            let started = tokio::time::Instant::now();
            match self.session(&mut new_subs, &mut shutdown).await {
                Exit::Shutdown => return,
                Exit::Broken(error) => {
                    tracing::debug!(%error, "discover stream broken; reconnecting");
                    self.push_tx.send_replace(false);
                    for sub in self.subs.values_mut() {
                        sub.outstanding = 0;
                        if sub.entry.current().is_none() {
                            sub.entry.fail(error.clone());
                        }
                    }
                }
            }
            if started.elapsed() > BACKOFF_MAX * 4 {
                backoff = BACKOFF_MIN;
            }
            // Accept subscriptions while waiting, so first loads fail fast and fall back.
            let wait = tokio::time::sleep(backoff);
            tokio::pin!(wait);
            loop {
                tokio::select! {
                    _ = &mut wait => break,
                    entry = new_subs.recv() => match entry {
                        Some(entry) => {
                            entry.fail(Error::Transport("server unreachable".into()));
                            self.add(entry);
                        }
                        None => return,
                    },
                    _ = shutdown.changed() => return,
                }
            }
            backoff = (backoff * 2).min(BACKOFF_MAX);
        }
    }

    fn add(&mut self, entry: Arc<Entry>) -> (ResourceKind, ServiceKey) {
        let key = (entry.kind, entry.key.clone());
        let revision = entry.revision();
        self.subs.entry(key.clone()).or_insert(Sub {
            entry,
            outstanding: 0,
            revision,
        });
        key
    }

    fn request(&mut self, key: &(ResourceKind, ServiceKey)) -> Option<v1::DiscoverRequest> {
        let sub = self.subs.get_mut(key)?;
        sub.outstanding += 1;
        Some(v1::DiscoverRequest {
            r#type: key.0.request_type() as i32,
            service: Some(v1::Service {
                name: Some(key.1.name.to_string()),
                namespace: Some(key.1.namespace.to_string()),
                revision: Some(sub.revision.clone()),
                ..Default::default()
            }),
            ..Default::default()
        })
    }

    async fn session(
        &mut self,
        new_subs: &mut mpsc::UnboundedReceiver<Arc<Entry>>,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Exit {
        let (out, out_rx) = mpsc::unbounded_channel();
        let mut request = tonic::Request::new(UnboundedReceiverStream::new(out_rx));
        self.rpc.decorate(&mut request);
        if self.options.push {
            request.metadata_mut().insert(
                "x-polaris-push",
                tonic::metadata::MetadataValue::from_static("true"),
            );
        }
        let keys: Vec<_> = self.subs.keys().cloned().collect();
        for key in &keys {
            if let Some(r) = self.request(key) {
                let _ = out.send(r);
            }
        }
        let mut client = self.rpc.naming();
        let opened = tokio::select! {
            r = tokio::time::timeout(self.rpc.timeout, client.discover(request)) => r,
            _ = shutdown.changed() => return Exit::Shutdown,
        };
        let mut stream = match opened {
            Ok(Ok(response)) => response.into_inner(),
            Ok(Err(status)) => return Exit::Broken(status.into()),
            Err(_) => return Exit::Broken(Error::Timeout(self.rpc.timeout)),
        };
        let mut tick = tokio::time::interval(self.options.refresh);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        tick.reset();
        let mut ticks = 0u32;
        loop {
            tokio::select! {
                message = stream.message() => match message {
                    Ok(Some(answer)) => self.handle(answer),
                    Ok(None) => return Exit::Broken(Error::Transport("stream closed".into())),
                    Err(status) => return Exit::Broken(status.into()),
                },
                entry = new_subs.recv() => match entry {
                    Some(entry) => {
                        let key = self.add(entry);
                        if let Some(r) = self.request(&key) {
                            let _ = out.send(r);
                        }
                    }
                    None => return Exit::Shutdown,
                },
                _ = tick.tick() => {
                    ticks = ticks.wrapping_add(1);
                    let pushing = *self.push_tx.borrow();
                    let safety = ticks.is_multiple_of(SAFETY_REFRESH_TICKS);
                    let keys: Vec<_> = self.subs.keys().cloned().collect();
                    for key in &keys {
                        // With push, only resources never loaded (unknown services the server
                        // may not push for) keep being polled. One request in flight is enough.
                        let due = self.subs.get(key).is_some_and(|s| {
                            s.outstanding == 0
                                && (!pushing || safety || s.entry.current().is_none())
                        });
                        if due && let Some(r) = self.request(key) {
                            let _ = out.send(r);
                        }
                    }
                }
                _ = shutdown.changed() => return Exit::Shutdown,
            }
        }
    }

    /// The official server answers kinds it does not serve (lanes...) with 400004 and the
    /// wrong type (ROUTING): the refusal goes to the service's pending resources of kinds
    /// outside the classic five, never to the one the type names.
    fn unsupported(&mut self, key: &ServiceKey, info: String) {
        for ((kind, sub_key), sub) in self.subs.iter_mut() {
            let classic = matches!(
                kind,
                ResourceKind::Instances
                    | ResourceKind::Routing
                    | ResourceKind::RateLimit
                    | ResourceKind::CircuitBreaker
                    | ResourceKind::FaultDetector
            );
            if sub_key == key && !classic && sub.outstanding > 0 {
                sub.outstanding -= 1;
                sub.entry.fail(Error::Server {
                    code: codes::INVALID_DISCOVER_RESOURCE,
                    info: info.clone(),
                });
                return;
            }
        }
    }

    fn handle(&mut self, answer: v1::DiscoverResponse) {
        let Some(kind) = ResourceKind::from_response_type(answer.r#type) else {
            tracing::debug!(r#type = answer.r#type, "ignoring answer of unknown type");
            return;
        };
        let Some(service) = answer.service.as_ref() else {
            tracing::debug!("ignoring answer without service");
            return;
        };
        let key = ServiceKey::new(
            service.namespace.as_deref().unwrap_or_default(),
            service.name.as_deref().unwrap_or_default(),
        );
        if answer.code == Some(codes::INVALID_DISCOVER_RESOURCE) {
            self.unsupported(&key, answer.info.clone().unwrap_or_default());
            return;
        }
        let Some(sub) = self.subs.get_mut(&(kind, key.clone())) else {
            tracing::debug!(%key, ?kind, "ignoring answer for an unknown subscription");
            return;
        };
        if sub.outstanding == 0 {
            if !*self.push_tx.borrow() {
                tracing::debug!("server pushes: revision polling stops");
            }
            self.push_tx.send_replace(true);
        } else {
            sub.outstanding -= 1;
        }
        let code = answer.code.unwrap_or_default();
        match code {
            codes::OK => {
                let snapshot = Snapshot::new(kind, &key, answer, false);
                let revision = snapshot.revision.clone();
                let response = snapshot.response.clone();
                match sub.entry.apply(snapshot, self.options.protect_empty) {
                    Applied::Changed => {
                        tracing::debug!(%key, ?kind, %revision, "cache updated");
                        if let Some(persist) = &self.persist {
                            persist.save(kind, &key, &response);
                        }
                    }
                    Applied::Unchanged => {}
                    Applied::Protected => {
                        tracing::warn!(%key, %revision, "refusing an empty instance list (push-empty protection)");
                    }
                }
                sub.revision = revision;
            }
            codes::DATA_NO_CHANGE => {}
            _ => {
                let info = answer.info.clone().unwrap_or_default();
                tracing::debug!(%key, ?kind, code, %info, "discover answered an error");
                sub.entry.fail(Error::Server { code, info });
            }
        }
    }
}
