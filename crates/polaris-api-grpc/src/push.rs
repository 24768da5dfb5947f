//! Server push on the `Discover` stream (seed 000, scheme 2).
//!
//! A client opts in by sending the gRPC metadata [`PUSH_METADATA_KEY`]`: true` when it opens the
//! stream. Every INSTANCE or SERVICES request it then sends is answered as usual and also
//! subscribes the stream to that resource: whenever the resource's revision moves past the one
//! last sent, the server sends a new `DiscoverResponse` unasked. A request whose `service.metadata`
//! holds `x-polaris-push: off` cancels the subscription to that resource (its reply is an empty
//! success); closing the stream cancels them all. Clients that do not opt in see exactly the
//! official request/response behaviour.
//!
//! Cost per stream is bounded: one reader and one writer task whatever the number of
//! subscriptions. One hub task turns registry events into "dirty" marks on the subscribed
//! streams; a stream's writer recomputes each dirty subscription once, so a slow client gets only
//! the newest revision of each resource (changes coalesce while it is not reading) and never
//! holds up other streams. The answer a push carries is built and encoded once per change and
//! resource ([`PushFrame`]); each stream writes the same bytes.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};

use parking_lot::{Mutex, RwLock};
use polaris_naming::RegistryEvent;
use polaris_proto::v1;
use polaris_proto::v1::discover_request::DiscoverRequestType;
use polaris_types::{Code, RuleKind, ServiceKey};
use tokio::sync::{Notify, broadcast, mpsc};
use tonic::Status;
use tonic::metadata::MetadataMap;

use polaris_discovery::{Discovery, SharedAnswers};
use polaris_proto::shared::DiscoverReply;

use crate::discover::{Answer, Subscription};
use crate::metrics::GrpcMetrics;

/// The metadata key a client sends with value `true` to receive pushes on its Discover stream.
pub const PUSH_METADATA_KEY: &str = "x-polaris-push";

/// True when the stream's metadata asks for push.
pub fn wants_push(metadata: &MetadataMap) -> bool {
    metadata
        .get(PUSH_METADATA_KEY)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| matches!(v.trim().to_ascii_lowercase().as_str(), "true" | "1" | "on"))
}

/// True when a request cancels its subscription.
pub(crate) fn is_cancel(request: &v1::DiscoverRequest) -> bool {
    request
        .service
        .as_ref()
        .and_then(|s| s.metadata.get(PUSH_METADATA_KEY))
        .is_some_and(|v| v.eq_ignore_ascii_case("off"))
}

/// A pushable resource: instances of one service, or the service list of a namespace ("" = all).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) enum SubKey {
    Instances(ServiceKey),
    Services(String),
    /// Rules of one kind for the service as asked (alias or not).
    Rules(RuleKind, ServiceKey),
}

impl SubKey {
    pub(crate) fn of(request: &v1::DiscoverRequest) -> Option<SubKey> {
        let service = request.service.clone().unwrap_or_default();
        let namespace = service.namespace.unwrap_or_default();
        match DiscoverRequestType::try_from(request.r#type).ok()? {
            DiscoverRequestType::Instance => {
                let namespace = if namespace.is_empty() {
                    polaris_types::DEFAULT_NAMESPACE.to_string()
                } else {
                    namespace
                };
                Some(SubKey::Instances(ServiceKey::new(
                    namespace,
                    service.name.unwrap_or_default(),
                )))
            }
            DiscoverRequestType::Services => Some(SubKey::Services(namespace)),
            other => {
                let kind = polaris_discovery::rule_kind(other)?;
                Some(SubKey::Rules(
                    kind,
                    ServiceKey::new(namespace, service.name.unwrap_or_default()),
                ))
            }
        }
    }
}

/// Which streams watch which resources.
pub struct PushHub {
    watchers: RwLock<HashMap<SubKey, HashMap<u64, Weak<StreamState>>>>,
    /// The full answer of each watched resource, built and encoded once per change and
    /// shared by every stream that pushes it.
    answers: Mutex<HashMap<SubKey, SharedAnswer>>,
    /// Encoded full instance answers per revision, for requests on every stream.
    encoded: SharedAnswers,
    next_id: AtomicU64,
}

/// A memoised answer and the change generation it was built in.
#[derive(Default)]
struct SharedAnswer {
    generation: u64,
    frame: Option<Arc<PushFrame>>,
}

/// An answer ready to push: its code and revision, and its protobuf encoding, which every
/// stream writes as is (a reference count and a copy, no conversion or encoding).
pub(crate) struct PushFrame {
    code: Option<u32>,
    revision: Option<String>,
    reply: DiscoverReply,
}

impl PushFrame {
    fn of(response: &v1::DiscoverResponse) -> PushFrame {
        PushFrame {
            code: response.code,
            revision: response.service.as_ref().and_then(|s| s.revision.clone()),
            reply: DiscoverReply::encode(response),
        }
    }
}

impl PushHub {
    /// Creates the hub and its task, which follows registry and rule events for the server's
    /// lifetime.
    pub(crate) fn start(backends: &Discovery) -> Arc<PushHub> {
        let hub = Arc::new(PushHub {
            watchers: RwLock::new(HashMap::new()),
            answers: Mutex::new(HashMap::new()),
            encoded: SharedAnswers::new(),
            next_id: AtomicU64::new(1),
        });
        let events = backends.naming.cache().subscribe();
        let rules = backends.governance.subscribe();
        tokio::spawn(follow(Arc::downgrade(&hub), events, rules));
        hub
    }

    /// The encoded full instance answers shared by every stream's requests.
    pub(crate) fn encoded_answers(&self) -> &SharedAnswers {
        &self.encoded
    }

    /// Forgets the memoised answer of `key`: the resource changed.
    fn invalidate(&self, key: &SubKey) {
        if let Some(shared) = self.answers.lock().get_mut(key) {
            shared.generation += 1;
            shared.frame = None;
        }
    }

    /// The full answer for a resource, built by the first stream that needs it after a change
    /// and shared with the others. Answers that echo request details are not shared.
    fn shared_answer(
        &self,
        key: &SubKey,
        backends: &Discovery,
        request: &v1::DiscoverRequest,
    ) -> Arc<PushFrame> {
        let full_request = || {
            let mut full = request.clone();
            if let Some(service) = full.service.as_mut() {
                service.revision = None;
            }
            full
        };
        if matches!(key, SubKey::Services(_)) {
            return Arc::new(PushFrame::of(&backends.answer(&full_request())));
        }
        let generation = {
            let answers = self.answers.lock();
            match answers.get(key) {
                Some(SharedAnswer {
                    frame: Some(frame), ..
                }) => return frame.clone(),
                Some(shared) => shared.generation,
                None => 0,
            }
        };
        let frame = Arc::new(PushFrame::of(&backends.answer(&full_request())));
        let mut answers = self.answers.lock();
        let shared = answers.entry(key.clone()).or_default();
        // A change that happened while building makes this answer stale: do not keep it.
        if shared.generation == generation {
            shared.frame = Some(frame.clone());
        }
        frame
    }

    /// Marks every subscription whose key satisfies `pick`.
    fn mark_where(&self, pick: impl Fn(&SubKey) -> bool) {
        let watchers = self.watchers.read();
        for (key, streams) in watchers.iter().filter(|(key, _)| pick(key)) {
            self.invalidate(key);
            for stream in streams.values().filter_map(Weak::upgrade) {
                stream.mark(key.clone());
            }
        }
    }

    fn mark(&self, key: &SubKey) {
        let watchers = self.watchers.read();
        if let Some(streams) = watchers.get(key) {
            self.invalidate(key);
            for stream in streams.values().filter_map(Weak::upgrade) {
                stream.mark(key.clone());
            }
        }
    }

    fn mark_all(&self) {
        self.mark_where(|_| true);
    }

    fn watch(&self, key: SubKey, id: u64, stream: &Arc<StreamState>) {
        self.watchers
            .write()
            .entry(key)
            .or_default()
            .insert(id, Arc::downgrade(stream));
    }

    fn unwatch(&self, key: &SubKey, id: u64) {
        let mut watchers = self.watchers.write();
        if let Some(streams) = watchers.get_mut(key) {
            streams.remove(&id);
            if streams.is_empty() {
                watchers.remove(key);
                self.answers.lock().remove(key);
            }
        }
    }

    /// Number of (resource, stream) subscriptions.
    pub fn subscriptions(&self) -> usize {
        self.watchers.read().values().map(HashMap::len).sum()
    }
}

/// The hub task: turns registry and rule events into dirty marks until the hub is gone.
async fn follow(
    hub: Weak<PushHub>,
    mut events: broadcast::Receiver<RegistryEvent>,
    mut rules: broadcast::Receiver<RuleKind>,
) {
    loop {
        tokio::select! {
            event = events.recv() => {
                let Some(hub) = hub.upgrade() else { return };
                match event {
                    Ok(RegistryEvent::ServiceChanged(key) | RegistryEvent::ServiceRemoved(key)) => {
                        hub.mark(&SubKey::Services(key.namespace.clone()));
                        hub.mark(&SubKey::Services(String::new()));
                        hub.mark(&SubKey::Instances(key));
                    }
                    Ok(_) => {}
                    Err(broadcast::error::RecvError::Lagged(_)) => hub.mark_all(),
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
            changed = rules.recv() => {
                let Some(hub) = hub.upgrade() else { return };
                match changed {
                    // A rule may name services by wildcard: re-check every subscription of the kind.
                    Ok(kind) => hub.mark_where(|key| matches!(key, SubKey::Rules(k, _) if *k == kind)),
                    Err(broadcast::error::RecvError::Lagged(_)) => hub.mark_all(),
                    Err(broadcast::error::RecvError::Closed) => return,
                }
            }
        }
    }
}

/// What the hub can touch of one stream.
pub(crate) struct StreamState {
    dirty: Mutex<HashSet<SubKey>>,
    notify: Notify,
}

impl StreamState {
    fn mark(&self, key: SubKey) {
        self.dirty.lock().insert(key);
        self.notify.notify_one();
    }
}

/// The writer side of one stream.
pub(crate) struct StreamPush {
    hub: Arc<PushHub>,
    backends: Arc<Discovery>,
    metrics: Arc<GrpcMetrics>,
    id: u64,
    state: Arc<StreamState>,
    /// Each subscription with the request to replay, carrying the revision last sent.
    subs: HashMap<SubKey, v1::DiscoverRequest>,
    /// Most subscriptions the stream may hold; a request for one more is refused.
    max_subs: usize,
}

/// Replies towards one client. Pushes are the hub's frames, encoded once for every stream, so
/// a client that does not read holds shared bytes, not copies.
pub(crate) type Outbound = mpsc::Sender<Result<DiscoverReply, Status>>;

impl StreamPush {
    pub(crate) fn new(
        hub: Arc<PushHub>,
        backends: Arc<Discovery>,
        metrics: Arc<GrpcMetrics>,
        max_subs: usize,
    ) -> StreamPush {
        let id = hub.next_id.fetch_add(1, Ordering::Relaxed);
        let state = Arc::new(StreamState {
            dirty: Mutex::new(HashSet::new()),
            notify: Notify::new(),
        });
        StreamPush {
            hub,
            backends,
            metrics,
            id,
            state,
            subs: HashMap::new(),
            max_subs,
        }
    }

    /// The reply to send and the subscription to start: a request that would take the stream
    /// past its subscription limit is answered `BatchSizeOverLimit` (400003) and subscribes
    /// nothing; the stream and its other subscriptions carry on.
    fn within_limit(
        &self,
        reply: DiscoverReply,
        subscription: Option<(SubKey, Subscription)>,
    ) -> (DiscoverReply, Option<(SubKey, Subscription)>) {
        match &subscription {
            Some((key, Subscription::Watch(request)))
                if self.subs.len() >= self.max_subs && !self.subs.contains_key(key) =>
            {
                polaris_limits::metrics()
                    .refused(polaris_limits::Limit::Subscriptions, "service-grpc");
                let info = format!(
                    "{}: a Discover stream may subscribe to at most {} resources",
                    Code::BatchSizeOverLimit.info(),
                    self.max_subs
                );
                let refused = polaris_discovery::reply(request, Code::BatchSizeOverLimit, info);
                (refused.into(), None)
            }
            _ => (reply, subscription),
        }
    }

    /// Sends answers in order and pushes changes until the client or the reader goes away; a
    /// failure of the request stream, after the answers before it, ends the stream with it.
    pub(crate) async fn write(
        mut self,
        mut answers: mpsc::Receiver<Result<Box<Answer>, Status>>,
        out: Outbound,
    ) {
        self.metrics.discover_streams.inc();
        loop {
            tokio::select! {
                biased;
                answer = answers.recv() => {
                    let answer = match answer {
                        Some(Ok(answer)) => answer,
                        Some(Err(failure)) => {
                            let _ = out.send(Err(failure)).await;
                            break;
                        }
                        None => break,
                    };
                    let Answer { reply, subscription } = *answer;
                    let (reply, subscription) = self.within_limit(reply, subscription);
                    if out.send(Ok(reply)).await.is_err() {
                        break;
                    }
                    match subscription {
                        Some((key, Subscription::Watch(request))) => {
                            self.hub.watch(key.clone(), self.id, &self.state);
                            self.subs.insert(key.clone(), *request);
                            // A change between answering and subscribing must not be missed.
                            self.state.mark(key);
                        }
                        Some((key, Subscription::Cancel)) => {
                            self.hub.unwatch(&key, self.id);
                            self.subs.remove(&key);
                        }
                        None => {}
                    }
                }
                () = self.state.notify.notified() => {
                    if !self.push_dirty(&out).await {
                        break;
                    }
                }
            }
        }
        for key in self.subs.keys() {
            self.hub.unwatch(key, self.id);
        }
        self.metrics.discover_streams.dec();
    }

    /// Sends the newest state of every dirty subscription whose revision moved; false when the
    /// client is gone.
    async fn push_dirty(&mut self, out: &Outbound) -> bool {
        let dirty: Vec<SubKey> = self.state.dirty.lock().drain().collect();
        for key in dirty {
            let Some(request) = self.subs.get_mut(&key) else {
                continue;
            };
            let frame = self.hub.shared_answer(&key, &self.backends, request);
            if frame.code != Some(Code::ExecuteSuccess.value()) {
                continue;
            }
            let service = request.service.get_or_insert_with(Default::default);
            // Only a revision the client has not seen is worth a message.
            if service.revision.as_deref().unwrap_or_default()
                == frame.revision.as_deref().unwrap_or_default()
            {
                continue;
            }
            service.revision.clone_from(&frame.revision);
            if out.send(Ok(frame.reply.clone())).await.is_err() {
                return false;
            }
            self.metrics.pushes.inc();
        }
        true
    }
}
