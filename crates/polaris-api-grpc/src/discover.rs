//! The `Discover` stream: one reply per request, in order; with push, more replies whenever a
//! subscribed resource changes. Full instance answers are encoded once per revision and the
//! same bytes are written to every stream ([`DiscoverReply::Encoded`]).

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Instant;

use polaris_discovery::EncodedAnswer;
use polaris_proto::shared::DiscoverReply;
use polaris_proto::v1;
use polaris_types::Code;
use prost::Message;
use tokio_stream::Stream;
use tonic::{Status, Streaming};

use crate::metrics::GrpcMetrics;
use crate::oversize;
use crate::push::{PushHub, StreamPush, SubKey};
use polaris_discovery::Discovery;

/// A reply and, when push is on, the subscription it starts or ends.
pub(crate) struct Answer {
    pub reply: DiscoverReply,
    pub subscription: Option<(SubKey, Subscription)>,
}

pub(crate) enum Subscription {
    /// Watch this request from the revision just sent.
    Watch(Box<v1::DiscoverRequest>),
    Cancel,
}

/// Answers a request: full instance answers come encoded and shared per revision.
fn encoded(hub: &PushHub, backends: &Discovery, request: &v1::DiscoverRequest) -> EncodedAnswer {
    backends.answer_encoded(request, hub.encoded_answers(), |response| {
        response.encode_to_vec().into()
    })
}

/// Answers a request and says what it means for push.
fn answer_with_push(
    backends: &Discovery,
    hub: &PushHub,
    request: v1::DiscoverRequest,
    push: bool,
) -> Answer {
    let key = if push { SubKey::of(&request) } else { None };
    let Some(key) = key else {
        return Answer {
            reply: DiscoverReply::Encoded(encoded(hub, backends, &request).bytes),
            subscription: None,
        };
    };
    if crate::push::is_cancel(&request) {
        let response = polaris_discovery::reply(
            &request,
            Code::ExecuteSuccess,
            Code::ExecuteSuccess.info().into(),
        );
        return Answer {
            reply: response.into(),
            subscription: Some((key, Subscription::Cancel)),
        };
    }
    let answer = encoded(hub, backends, &request);
    let subscription = match Code::from_value(answer.code) {
        Some(Code::ExecuteSuccess | Code::DataNoChange) => {
            let mut watched = request;
            if let Some(service) = watched.service.as_mut() {
                service.revision = answer.revision.as_deref().map(str::to_string);
            }
            Some((key, Subscription::Watch(Box::new(watched))))
        }
        _ => None,
    };
    Answer {
        reply: DiscoverReply::Encoded(answer.bytes),
        subscription,
    }
}

/// One Discover stream, as the reply stream hyper polls: each poll reads the next request
/// and answers it, else sends the next push. No task or channel of its own: a change costs
/// the hub a mark and a wake-up of the connection's stream task, which then writes the
/// shared bytes. While the client does not read, hyper stops polling, so requests wait in
/// HTTP/2 flow control and changes coalesce in the dirty marks.
pub(crate) struct DiscoverStream {
    backends: Arc<Discovery>,
    hub: Arc<PushHub>,
    metrics: Arc<GrpcMetrics>,
    inbound: Streaming<v1::DiscoverRequest>,
    /// `None` when the client did not ask for push.
    push: Option<StreamPush>,
    ended: bool,
}

impl DiscoverStream {
    pub(crate) fn new(
        backends: Arc<Discovery>,
        hub: Arc<PushHub>,
        metrics: Arc<GrpcMetrics>,
        inbound: Streaming<v1::DiscoverRequest>,
        push: bool,
        max_subscriptions: usize,
    ) -> DiscoverStream {
        metrics.discover_streams.inc();
        let push = push.then(|| {
            StreamPush::new(
                hub.clone(),
                backends.clone(),
                metrics.clone(),
                max_subscriptions,
            )
        });
        DiscoverStream {
            backends,
            hub,
            metrics,
            inbound,
            push,
            ended: false,
        }
    }
}

impl Stream for DiscoverStream {
    type Item = Result<DiscoverReply, Status>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        if this.ended {
            return Poll::Ready(None);
        }
        // Answers first, in request order; then pushes.
        match Pin::new(&mut this.inbound).poll_next(cx) {
            Poll::Ready(Some(Ok(request))) => {
                let started = Instant::now();
                let answer =
                    answer_with_push(&this.backends, &this.hub, request, this.push.is_some());
                let reply = match &mut this.push {
                    Some(push) => push.accept(answer),
                    None => answer.reply,
                };
                this.metrics.observe("Discover", started);
                return Poll::Ready(Some(Ok(reply)));
            }
            Poll::Ready(Some(Err(status))) => {
                tracing::debug!(target: "polaris_api_grpc", %status, "discover stream failed");
                // The stream ends with the reason, as grpc-go ends it, not with OK.
                this.ended = true;
                return Poll::Ready(Some(Err(oversize::renamed(status))));
            }
            Poll::Ready(None) => {
                this.ended = true;
                return Poll::Ready(None);
            }
            Poll::Pending => {}
        }
        match &mut this.push {
            Some(push) => push.poll_push(cx).map(|reply| Some(Ok(reply))),
            None => Poll::Pending,
        }
    }
}

impl Drop for DiscoverStream {
    fn drop(&mut self) {
        self.metrics.discover_streams.dec();
    }
}
