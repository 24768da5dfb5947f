//! The `Discover` stream: one reply per request, in order; with push, more replies whenever a
//! subscribed resource changes.

use std::sync::Arc;
use std::time::Instant;

use polaris_naming::Naming;
use polaris_proto::v1;
use polaris_proto::v1::discover_request::DiscoverRequestType;
use polaris_types::{Code, ServiceKey};
use tokio::sync::mpsc;
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Status, Streaming};

use crate::convert::{service, status};
use crate::metrics::GrpcMetrics;
use crate::push::{PushHub, StreamPush, SubKey};

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
pub(crate) fn answer(naming: &Naming, request: &v1::DiscoverRequest) -> v1::DiscoverResponse {
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
        // Types not served yet are echoed with an empty success, so SDKs waiting for them move on.
        _ => reply(
            request,
            Code::ExecuteSuccess,
            Code::ExecuteSuccess.info().into(),
        ),
    }
}

/// Answers a request and says what it means for push.
fn answer_with_push(naming: &Naming, request: v1::DiscoverRequest, push: bool) -> Answer {
    if !push {
        return Answer {
            response: answer(naming, &request),
            subscription: None,
        };
    }
    let Some(key) = SubKey::of(&request) else {
        return Answer {
            response: answer(naming, &request),
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
    let response = answer(naming, &request);
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
    naming: Arc<Naming>,
    hub: Arc<PushHub>,
    metrics: Arc<GrpcMetrics>,
    mut inbound: Streaming<v1::DiscoverRequest>,
    push: bool,
) -> impl Stream<Item = Result<v1::DiscoverResponse, Status>> {
    let (out_tx, out_rx) = mpsc::channel(OUTBOUND_CAPACITY);
    let (answers_tx, answers_rx) = mpsc::channel::<Answer>(PENDING_REPLIES);
    let reader_naming = naming.clone();
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
            let answer = answer_with_push(&reader_naming, request, push);
            reader_metrics.observe("Discover", started);
            if answers_tx.send(answer).await.is_err() {
                break;
            }
        }
    });
    let stream_push = StreamPush::new(hub, naming, metrics);
    tokio::spawn(stream_push.write(answers_rx, out_tx));
    ReceiverStream::new(out_rx)
}
