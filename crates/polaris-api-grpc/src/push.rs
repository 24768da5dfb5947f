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
//! Cost per stream is bounded and needs no task of its own: the reply stream that hyper polls
//! reads the requests and writes the pushes itself (see `discover.rs`). One hub task turns
//! registry events into "dirty" marks on the subscribed streams (a reference count pushed on a
//! short list and a wake-up of the stream); the stream, when polled, sends each dirty
//! subscription once, so a slow client gets only the newest revision of each resource (changes
//! coalesce while it is not reading) and never holds up other streams. The answer a push
//! carries is built and encoded once per change and resource ([`PushFrame`]); each stream
//! writes the same bytes.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::task::{Context, Poll, Waker};

use parking_lot::{Mutex, RwLock};
use polaris_naming::RegistryEvent;
use polaris_proto::v1;
use polaris_proto::v1::discover_request::DiscoverRequestType;
use polaris_types::{Code, RuleKind, ServiceKey};
use tokio::sync::broadcast;
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
    watchers: RwLock<HashMap<SubKey, Watched>>,
    /// Encoded full instance answers per revision, for requests on every stream.
    encoded: SharedAnswers,
    next_id: AtomicU64,
}

/// The streams that watch one resource.
struct Watched {
    resource: Arc<Resource>,
    streams: HashMap<u64, Weak<StreamState>>,
}

/// A watched resource: its key and its full answer, built and encoded once per change and
/// shared by every stream that pushes it. Dirty marks are references to it.
pub(crate) struct Resource {
    key: SubKey,
    answer: Mutex<SharedAnswer>,
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

impl Resource {
    /// Forgets the memoised answer: the resource changed.
    fn invalidate(&self) {
        let mut answer = self.answer.lock();
        answer.generation += 1;
        answer.frame = None;
    }
}

impl PushHub {
    /// Creates the hub and its task, which follows registry and rule events for the server's
    /// lifetime.
    pub(crate) fn start(backends: &Discovery) -> Arc<PushHub> {
        let hub = Arc::new(PushHub {
            watchers: RwLock::new(HashMap::new()),
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

    /// The full answer for a resource, built by the first stream that needs it after a change
    /// and shared with the others. Answers that echo request details are not shared.
    fn shared_answer(
        resource: &Resource,
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
        if matches!(resource.key, SubKey::Services(_)) {
            return Arc::new(PushFrame::of(&backends.answer(&full_request())));
        }
        let generation = {
            let answer = resource.answer.lock();
            if let Some(frame) = &answer.frame {
                return frame.clone();
            }
            answer.generation
        };
        let frame = Arc::new(PushFrame::of(&backends.answer(&full_request())));
        let mut answer = resource.answer.lock();
        // A change that happened while building makes this answer stale: do not keep it.
        if answer.generation == generation {
            answer.frame = Some(frame.clone());
        }
        frame
    }

    /// Marks every subscription whose key satisfies `pick`.
    fn mark_where(&self, pick: impl Fn(&SubKey) -> bool) {
        let watchers = self.watchers.read();
        for (_, watched) in watchers.iter().filter(|(key, _)| pick(key)) {
            watched.mark();
        }
    }

    fn mark(&self, key: &SubKey) {
        if let Some(watched) = self.watchers.read().get(key) {
            watched.mark();
        }
    }

    fn mark_all(&self) {
        self.mark_where(|_| true);
    }

    /// Subscribes a stream to `key`; the resource is what its dirty marks will name.
    fn watch(&self, key: SubKey, id: u64, stream: &Arc<StreamState>) -> Arc<Resource> {
        let mut watchers = self.watchers.write();
        let watched = watchers.entry(key).or_insert_with_key(|key| Watched {
            resource: Arc::new(Resource {
                key: key.clone(),
                answer: Mutex::default(),
            }),
            streams: HashMap::new(),
        });
        watched.streams.insert(id, Arc::downgrade(stream));
        watched.resource.clone()
    }

    fn unwatch(&self, key: &SubKey, id: u64) {
        let mut watchers = self.watchers.write();
        if let Some(watched) = watchers.get_mut(key) {
            watched.streams.remove(&id);
            if watched.streams.is_empty() {
                watchers.remove(key);
            }
        }
    }

    /// Number of (resource, stream) subscriptions.
    pub fn subscriptions(&self) -> usize {
        self.watchers.read().values().map(|w| w.streams.len()).sum()
    }
}

impl Watched {
    fn mark(&self) {
        self.resource.invalidate();
        for stream in self.streams.values().filter_map(Weak::upgrade) {
            stream.mark(&self.resource);
        }
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

/// What the hub can touch of one stream: the resources that changed since the stream last
/// looked, and the waker of the task that polls the stream.
pub(crate) struct StreamState {
    dirty: Mutex<Dirty>,
}

#[derive(Default)]
struct Dirty {
    resources: Vec<Arc<Resource>>,
    waker: Option<Waker>,
}

impl StreamState {
    fn mark(&self, resource: &Arc<Resource>) {
        let waker = {
            let mut dirty = self.dirty.lock();
            // At most one mark per resource: the list stays as short as the subscriptions.
            if !dirty.resources.iter().any(|r| Arc::ptr_eq(r, resource)) {
                dirty.resources.push(resource.clone());
            }
            dirty.waker.take()
        };
        if let Some(waker) = waker {
            waker.wake();
        }
    }

    /// Swaps the dirty resources into `into` (which must be empty), or keeps the waker and
    /// returns `Pending` when there are none.
    fn poll_dirty(&self, cx: &mut Context<'_>, into: &mut Vec<Arc<Resource>>) -> Poll<()> {
        let mut dirty = self.dirty.lock();
        if dirty.resources.is_empty() {
            match &dirty.waker {
                Some(waker) if waker.will_wake(cx.waker()) => {}
                _ => dirty.waker = Some(cx.waker().clone()),
            }
            return Poll::Pending;
        }
        std::mem::swap(&mut dirty.resources, into);
        Poll::Ready(())
    }
}

/// The push side of one stream: its subscriptions and what changed.
pub(crate) struct StreamPush {
    hub: Arc<PushHub>,
    backends: Arc<Discovery>,
    metrics: Arc<GrpcMetrics>,
    id: u64,
    state: Arc<StreamState>,
    /// Each subscription with the request to replay, carrying the revision last sent, and
    /// the resource its marks name.
    subs: HashMap<SubKey, (v1::DiscoverRequest, Arc<Resource>)>,
    /// Most subscriptions the stream may hold; a request for one more is refused.
    max_subs: usize,
    /// Dirty resources taken from the state and not yet looked at (kept for its capacity).
    dirty: Vec<Arc<Resource>>,
}

impl StreamPush {
    pub(crate) fn new(
        hub: Arc<PushHub>,
        backends: Arc<Discovery>,
        metrics: Arc<GrpcMetrics>,
        max_subs: usize,
    ) -> StreamPush {
        let id = hub.next_id.fetch_add(1, Ordering::Relaxed);
        let state = Arc::new(StreamState {
            dirty: Mutex::default(),
        });
        StreamPush {
            hub,
            backends,
            metrics,
            id,
            state,
            subs: HashMap::new(),
            max_subs,
            dirty: Vec::new(),
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

    /// Takes an answer to a request: starts or ends the subscription it carries and returns
    /// the reply to send.
    pub(crate) fn accept(&mut self, answer: Answer) -> DiscoverReply {
        let Answer {
            reply,
            subscription,
        } = answer;
        let (reply, subscription) = self.within_limit(reply, subscription);
        match subscription {
            Some((key, Subscription::Watch(request))) => {
                let resource = self.hub.watch(key.clone(), self.id, &self.state);
                self.subs.insert(key, (*request, resource.clone()));
                // A change between answering and subscribing must not be missed.
                self.state.mark(&resource);
            }
            Some((key, Subscription::Cancel)) => {
                self.hub.unwatch(&key, self.id);
                self.subs.remove(&key);
            }
            None => {}
        }
        reply
    }

    /// The next push: the newest answer of a dirty subscription whose revision moved.
    pub(crate) fn poll_push(&mut self, cx: &mut Context<'_>) -> Poll<DiscoverReply> {
        loop {
            while let Some(resource) = self.dirty.pop() {
                if let Some(reply) = self.frame_for(&resource) {
                    return Poll::Ready(reply);
                }
            }
            std::task::ready!(self.state.poll_dirty(cx, &mut self.dirty));
        }
    }

    fn frame_for(&mut self, resource: &Resource) -> Option<DiscoverReply> {
        let (request, subscribed) = self.subs.get_mut(&resource.key)?;
        // A mark left from an earlier subscription to the same key names a resource the hub
        // no longer keeps up to date.
        if !std::ptr::eq(Arc::as_ptr(subscribed), resource) {
            return None;
        }
        let frame = PushHub::shared_answer(resource, &self.backends, request);
        if frame.code != Some(Code::ExecuteSuccess.value()) {
            return None;
        }
        let service = request.service.get_or_insert_with(Default::default);
        // Only a revision the client has not seen is worth a message.
        if service.revision.as_deref().unwrap_or_default()
            == frame.revision.as_deref().unwrap_or_default()
        {
            return None;
        }
        service.revision.clone_from(&frame.revision);
        self.metrics.pushes.inc();
        Some(frame.reply.clone())
    }
}

impl Drop for StreamPush {
    fn drop(&mut self) {
        for key in self.subs.keys() {
            self.hub.unwatch(key, self.id);
        }
    }
}

#[cfg(test)]
#[path = "push_tests.rs"]
mod tests;
