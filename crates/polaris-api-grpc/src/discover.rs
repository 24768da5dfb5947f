//! The `Discover` stream: one reply per request, in order; with push, more replies whenever a
//! subscribed resource changes.

use std::sync::Arc;
use std::time::Instant;

use polaris_proto::v1;
use polaris_proto::v1::discover_request::DiscoverRequestType;
use polaris_types::{Code, RuleKind, ServiceKey};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::{Stream, StreamExt};
use tonic::{Status, Streaming};

use crate::Backends;
use crate::convert::{service, status};
use crate::metrics::GrpcMetrics;
use crate::push::{PushHub, StreamPush, SubKey};
use crate::rules;

/// Replies buffered towards one client before its writer waits (and coalesces pushes).
const OUTBOUND_CAPACITY: usize = 16;
/// Requests answered but not yet written before the reader stops reading.
const PENDING_REPLIES: usize = 64;

/// A reply and, when push is on, the subscription it starts or ends.
pub(crate) struct Answer {
    pub response: v1::DiscoverResponse,
    pub subscription: Option<(SubKey, Subscription)>,
}

pub(crate) enum Subscription {
    /// Watch this request from the revision just sent.
    Watch(Box<v1::DiscoverRequest>),
    Cancel,
}

fn echo_service(request: &v1::DiscoverRequest) -> Option<v1::Service> {
    request.service.as_ref().map(|s| v1::Service {
        name: s.name.clone(),
        namespace: s.namespace.clone(),
        revision: s.revision.clone(),
        ..Default::default()
    })
}

fn reply(request: &v1::DiscoverRequest, code: Code, info: String) -> v1::DiscoverResponse {
    v1::DiscoverResponse {
        code: Some(code.value()),
        info: Some(info),
        r#type: request.r#type,
        service: echo_service(request),
        ..Default::default()
    }
}

/// Answers one request from the current registry snapshot.
pub(crate) fn answer(backends: &Backends, request: &v1::DiscoverRequest) -> v1::DiscoverResponse {
    let naming = &backends.naming;
    let asked = request.service.clone().unwrap_or_default();
    let revision = asked.revision.clone().unwrap_or_default();
    match DiscoverRequestType::try_from(request.r#type) {
        Ok(DiscoverRequestType::Instance) => {
            let name = asked.name.clone().unwrap_or_default();
            let namespace = asked.namespace.clone().filter(|n| !n.is_empty());
            let key = ServiceKey::new(
                namespace.unwrap_or_else(|| polaris_types::DEFAULT_NAMESPACE.into()),
                name,
            );
            let found = match naming.discover_instances(&key, &revision) {
                Ok(found) => found,
                Err(err) => return reply(request, err.code, err.info()),
            };
            if found.unchanged {
                return reply(
                    request,
                    Code::DataNoChange,
                    Code::DataNoChange.info().into(),
                );
            }
            let mut asked_service = service(&found.view);
            asked_service.name = Some(key.name.clone());
            asked_service.namespace = Some(key.namespace.clone());
            let (code, info) = status(Code::ExecuteSuccess, Code::ExecuteSuccess.info());
            v1::DiscoverResponse {
                code,
                info,
                r#type: request.r#type,
                service: Some(asked_service),
                instances: found
                    .view
                    .instances
                    .values()
                    .map(|i| crate::convert::instance(i))
                    .collect(),
                alias_for: Some(service(&found.view)),
                ..Default::default()
            }
        }
        Ok(DiscoverRequestType::Services) => {
            let namespace = asked.namespace.clone().unwrap_or_default();
            let found = naming.discover_services(&namespace, &revision);
            if found.unchanged {
                return reply(
                    request,
                    Code::DataNoChange,
                    Code::DataNoChange.info().into(),
                );
            }
            let (code, info) = status(Code::ExecuteSuccess, Code::ExecuteSuccess.info());
            v1::DiscoverResponse {
                code,
                info,
                r#type: request.r#type,
                service: Some(v1::Service {
                    name: asked.name.clone(),
                    namespace: Some(namespace),
                    revision: Some(found.revision),
                    ..Default::default()
                }),
                services: found
                    .services
                    .iter()
                    .map(|s| v1::Service {
                        name: Some(s.name.clone()),
                        namespace: Some(s.namespace.clone()),
                        metadata: s
                            .metadata
                            .iter()
                            .map(|(k, v)| (k.clone(), v.clone()))
                            .collect(),
                        ..Default::default()
                    })
                    .collect(),
                ..Default::default()
            }
        }
        Ok(kind) => match rule_kind(kind) {
            Some(rule_kind) => answer_rules(backends, request, rule_kind),
            // Types not served yet are echoed with an empty success, so SDKs waiting for them
            // move on (the official server answers them with ROUTING, which strands them).
            None => reply(
                request,
                Code::ExecuteSuccess,
                Code::ExecuteSuccess.info().into(),
            ),
        },
        Err(_) => reply(
            request,
            Code::ExecuteSuccess,
            Code::ExecuteSuccess.info().into(),
        ),
    }
}

/// The rule kind a Discover type asks for.
pub(crate) fn rule_kind(kind: DiscoverRequestType) -> Option<RuleKind> {
    Some(match kind {
        DiscoverRequestType::Routing => RuleKind::Routing,
        DiscoverRequestType::RateLimit => RuleKind::RateLimit,
        DiscoverRequestType::CircuitBreaker => RuleKind::CircuitBreaker,
        DiscoverRequestType::FaultDetector => RuleKind::FaultDetector,
        DiscoverRequestType::Lane => RuleKind::Lane,
        _ => return None,
    })
}

/// Answers a rule request: the rules that apply to the service (or to the service an alias
/// points to), `200001` when the client's revision is current.
fn answer_rules(
    backends: &Backends,
    request: &v1::DiscoverRequest,
    kind: RuleKind,
) -> v1::DiscoverResponse {
    let asked = request.service.clone().unwrap_or_default();
    let name = asked.name.clone().unwrap_or_default();
    let namespace = asked.namespace.clone().unwrap_or_default();
    if name.is_empty() {
        return reply(
            request,
            Code::InvalidServiceName,
            Code::InvalidServiceName.info().into(),
        );
    }
    if namespace.is_empty() {
        return reply(
            request,
            Code::InvalidNamespaceName,
            Code::InvalidNamespaceName.info().into(),
        );
    }
    let asked_key = ServiceKey::new(namespace, name);
    let snapshot = backends.naming.snapshot();
    let real = snapshot
        .service(&asked_key)
        .and_then(|v| v.service.reference.clone())
        .unwrap_or_else(|| asked_key.clone());
    let payload = rules::payload(&backends.governance, kind, &asked_key, &real);
    let client_revision = asked.revision.clone().unwrap_or_default();
    // No applicable rule means an empty success (routing always has a revision); circuit
    // breakers and lanes report "no change" only for a non-empty client revision.
    let needs_revision = matches!(kind, RuleKind::CircuitBreaker | RuleKind::Lane);
    let unchanged = !payload.revision.is_empty()
        && client_revision == payload.revision
        && !(needs_revision && client_revision.is_empty());
    if unchanged {
        return reply(
            request,
            Code::DataNoChange,
            Code::DataNoChange.info().into(),
        );
    }
    let (code, info) = status(Code::ExecuteSuccess, Code::ExecuteSuccess.info());
    let mut response = v1::DiscoverResponse {
        code,
        info,
        r#type: request.r#type,
        service: Some(v1::Service {
            name: Some(asked_key.name.clone()),
            namespace: Some(asked_key.namespace.clone()),
            revision: Some(payload.revision.clone()),
            ..Default::default()
        }),
        alias_for: Some(v1::Service {
            name: Some(real.name.clone()),
            namespace: Some(real.namespace.clone()),
            ..Default::default()
        }),
        ..Default::default()
    };
    (payload.fill)(&mut response);
    response
}

/// Answers a request and says what it means for push.
fn answer_with_push(backends: &Backends, request: v1::DiscoverRequest, push: bool) -> Answer {
    if !push {
        return Answer {
            response: answer(backends, &request),
            subscription: None,
        };
    }
    let Some(key) = SubKey::of(&request) else {
        return Answer {
            response: answer(backends, &request),
            subscription: None,
        };
    };
    if crate::push::is_cancel(&request) {
        let response = reply(
            &request,
            Code::ExecuteSuccess,
            Code::ExecuteSuccess.info().into(),
        );
        return Answer {
            response,
            subscription: Some((key, Subscription::Cancel)),
        };
    }
    let response = answer(backends, &request);
    let code = response.code.and_then(Code::from_value);
    let subscription = match code {
        Some(Code::ExecuteSuccess | Code::DataNoChange) => {
            let mut watched = request;
            let sent = response.service.as_ref().and_then(|s| s.revision.clone());
            if let Some(service) = watched.service.as_mut() {
                service.revision = sent;
            }
            Some((key, Subscription::Watch(Box::new(watched))))
        }
        _ => None,
    };
    Answer {
        response,
        subscription,
    }
}

/// Runs one Discover stream: a reader task answers requests in order, a writer task sends the
/// answers and, with push on, the changes of subscribed resources.
pub(crate) fn run_stream(
    backends: Arc<Backends>,
    hub: Arc<PushHub>,
    metrics: Arc<GrpcMetrics>,
    mut inbound: Streaming<v1::DiscoverRequest>,
    push: bool,
) -> impl Stream<Item = Result<v1::DiscoverResponse, Status>> {
    let (out_tx, out_rx) = mpsc::channel(OUTBOUND_CAPACITY);
    // Channel slots are allocated in blocks; boxing keeps a stream's idle cost to a few hundred
    // bytes instead of blocks of multi-kilobyte replies.
    let (answers_tx, answers_rx) = mpsc::channel::<Box<Answer>>(PENDING_REPLIES);
    let reader_backends = backends.clone();
    let reader_metrics = metrics.clone();
    tokio::spawn(async move {
        loop {
            let request = match inbound.message().await {
                Ok(Some(request)) => request,
                Ok(None) => break,
                Err(status) => {
                    tracing::debug!(target: "polaris_api_grpc", %status, "discover stream ended");
                    break;
                }
            };
            let started = Instant::now();
            let answer = answer_with_push(&reader_backends, request, push);
            reader_metrics.observe("Discover", started);
            if answers_tx.send(Box::new(answer)).await.is_err() {
                break;
            }
        }
    });
    let stream_push = StreamPush::new(hub, backends, metrics);
    tokio::spawn(stream_push.write(answers_rx, out_tx));
    ReceiverStream::new(out_rx)
        .map(|reply: Result<Box<v1::DiscoverResponse>, Status>| reply.map(|boxed| *boxed))
}
