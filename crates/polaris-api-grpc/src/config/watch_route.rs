//! `WatchConfigFiles` answered in a route in front of tonic's generated server.
//!
//! A long poll may be parked for 30 s, and tens of thousands of them at once. Through tonic, a
//! parked call holds the generated unary future (about 1.8 KB, most of it copies of the
//! request's head), the per-method service future and two async-trait boxes. This route reads
//! the one request message itself, makes the same auth check and calls the same
//! [`ConfigService::watch`](super::ConfigService::watch), then writes the reply as one gRPC
//! frame and `grpc-status: 0`: what is parked is the watch's registration, its timer and the
//! peer's address. Failures a gRPC server answers with a status (a body that is not one
//! uncompressed message of at most the port's limit, or not a valid request) get the status
//! tonic would give.

use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use bytes::{Buf, BufMut, Bytes, BytesMut};
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderValue, Request, Response};
use http_body::Frame;
use http_body_util::{BodyExt, Limited, StreamBody};
use polaris_proto::v1;
use prost::Message;
use tonic::Status;

use super::ConfigService;
use crate::MAX_MESSAGE_BYTES;
use crate::auth::Guarded;

/// The method's path, as tonic's router would match it.
pub(crate) const PATH: &str = "/v1.PolarisConfigGRPC/WatchConfigFiles";

/// The route's service (cheap to clone: one `Arc`).
#[derive(Clone)]
pub(crate) struct WatchRoute {
    service: Arc<Guarded<ConfigService>>,
}

impl WatchRoute {
    pub(crate) fn new(service: Arc<Guarded<ConfigService>>) -> Self {
        WatchRoute { service }
    }
}

impl tower::Service<Request<Body>> for WatchRoute {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response<Body>, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        let service = self.service.clone();
        Box::pin(async move {
            let (parts, body) = request.into_parts();
            let message = match read_message(body).await {
                Ok(message) => message,
                Err(status) => return Ok(status.into_http()),
            };
            let head = tonic::Request::from_http(Request::from_parts(parts, ()));
            // Only the peer's address and the watch itself stay for the wait.
            let reply = match service.admit_watch(head) {
                Ok((peer, watches)) => watches.watch(&peer, message).await,
                Err(refusal) => *refusal,
            };
            Ok(grpc_reply(&reply))
        })
    }
}

/// The body's one message, as tonic's unary decoding accepts it.
async fn read_message(body: Body) -> Result<v1::ClientWatchConfigFileRequest, Status> {
    let limit = MAX_MESSAGE_BYTES + 5;
    let mut bytes = match Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(err) if err.is::<http_body_util::LengthLimitError>() => {
            return Err(Status::out_of_range(format!(
                "Error, decoded message length too large: larger than {MAX_MESSAGE_BYTES}"
            )));
        }
        Err(err) => return Err(Status::internal(format!("error reading a body: {err}"))),
    };
    if bytes.is_empty() {
        return Err(Status::internal("Missing request message."));
    }
    if bytes.len() < 5 {
        return Err(Status::internal(
            "protocol error: truncated gRPC frame header",
        ));
    }
    let compressed = bytes.get_u8();
    let len = bytes.get_u32() as usize;
    if compressed != 0 {
        return Err(Status::unimplemented(
            "Message compressed, compression support not enabled.",
        ));
    }
    if len != bytes.len() {
        return Err(Status::internal(
            "protocol error: the body is not exactly one gRPC message",
        ));
    }
    v1::ClientWatchConfigFileRequest::decode(bytes)
        .map_err(|err| Status::internal(format!("failed to decode Protobuf message: {err}")))
}

/// A unary gRPC reply: one uncompressed frame, then `grpc-status: 0` in the trailers.
fn grpc_reply(reply: &v1::ConfigClientResponse) -> Response<Body> {
    let len = reply.encoded_len();
    let mut frame = BytesMut::with_capacity(5 + len);
    frame.put_u8(0);
    frame.put_u32(u32::try_from(len).unwrap_or(u32::MAX));
    reply.encode_raw(&mut frame);
    let mut trailers = HeaderMap::new();
    trailers.insert("grpc-status", HeaderValue::from_static("0"));
    let frames = [
        Ok::<_, Infallible>(Frame::data(Bytes::from(frame))),
        Ok(Frame::trailers(trailers)),
    ];
    let mut response = Response::new(Body::new(StreamBody::new(tokio_stream::iter(frames))));
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/grpc"));
    response
}
