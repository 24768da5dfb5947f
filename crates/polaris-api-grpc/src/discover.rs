//! The `Discover` stream: one reply per request, in order; with push, more replies whenever a
//! subscribed resource changes. Full instance answers are encoded once per revision and the
//! same bytes are written to every stream ([`DiscoverReply::Encoded`]).

use std::sync::Arc;
use std::time::Instant;

use polaris_discovery::EncodedAnswer;
use polaris_proto::shared::DiscoverReply;
use polaris_proto::v1;
use polaris_types::Code;
use prost::Message;
use tokio::sync::mpsc;
use tokio_stream::Stream;
use tokio_stream::wrappers::ReceiverStream;
use tonic::{Status, Streaming};

use crate::metrics::GrpcMetrics;
use crate::oversize;
use crate::push::{PushHub, StreamPush, SubKey};
use polaris_discovery::Discovery;

/// Replies buffered towards one client before its writer waits (and coalesces pushes).
const OUTBOUND_CAPACITY: usize = 16;
/// Requests answered but not yet written before the reader stops reading.
const PENDING_REPLIES: usize = 64;

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

/// Runs one Discover stream: a reader task answers requests in order, a writer task sends the
/// answers and, with push on, the changes of subscribed resources.
pub(crate) fn run_stream(
    backends: Arc<Discovery>,
    hub: Arc<PushHub>,
    metrics: Arc<GrpcMetrics>,
    mut inbound: Streaming<v1::DiscoverRequest>,
    push: bool,
    max_subscriptions: usize,
) -> impl Stream<Item = Result<DiscoverReply, Status>> {
    let (out_tx, out_rx) = mpsc::channel(OUTBOUND_CAPACITY);
    // Channel slots are allocated in blocks; boxing keeps a stream's idle cost to a few hundred
    // bytes instead of blocks of multi-kilobyte replies.
    let (answers_tx, answers_rx) = mpsc::channel::<Result<Box<Answer>, Status>>(PENDING_REPLIES);
    let reader_backends = backends.clone();
    let reader_metrics = metrics.clone();
    let reader_hub = hub.clone();
    tokio::spawn(async move {
        loop {
            let request = match inbound.message().await {
                Ok(Some(request)) => request,
                Ok(None) => break,
                Err(status) => {
                    tracing::debug!(target: "polaris_api_grpc", %status, "discover stream failed");
                    // The stream ends with the reason, as grpc-go ends it, not with OK.
                    let _ = answers_tx.send(Err(oversize::renamed(status))).await;
                    break;
                }
            };
            let started = Instant::now();
            let answer = answer_with_push(&reader_backends, &reader_hub, request, push);
            reader_metrics.observe("Discover", started);
            if answers_tx.send(Ok(Box::new(answer))).await.is_err() {
                break;
            }
        }
    });
    let stream_push = StreamPush::new(hub, backends, metrics, max_subscriptions);
    tokio::spawn(stream_push.write(answers_rx, out_tx));
    ReceiverStream::new(out_rx)
}
