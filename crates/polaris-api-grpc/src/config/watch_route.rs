//! `WatchConfigFiles` answered in front of tonic's router.
//!
//! A long poll may be parked for 30 s, and tens of thousands of them at once. Through tonic, a
//! parked call holds the router's future, the generated unary future (about 1.8 KB, most of it
//! copies of the request's head), the per-method service future and two async-trait boxes. A
//! layer of the config port just outside the write-rate limiter ([`WatchFirstLayer`]; only
//! the oversize-status renaming wraps it) takes this one method: it reads
//! the request message itself, makes the same auth check and calls the same
//! [`ConfigService::watch`](super::ConfigService::watch), then writes the reply as one gRPC
//! frame and `grpc-status: 0`, so what stays parked is the watch's registration, its timer
//! and the peer's address. Failures a gRPC server answers with a status (a body that is not
//! one uncompressed message of at most the port's limit, or not a valid request) get the
//! status tonic would give. Every other request passes through untouched. Whatever the port
//! adds inside tonic's router later (request compression, interceptors) must be added here
//! too (ADR 016).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Buf;
use http_body_util::{BodyExt, Limited};
use polaris_proto::v1;
use prost::Message;
use tonic::Status;
use tonic::body::Body;
use tonic::codegen::http::{Request, Response};

use super::ConfigService;
use crate::MAX_MESSAGE_BYTES;
use crate::auth::Guarded;

/// The method's path.
pub(crate) const PATH: &str = "/v1.PolarisConfigGRPC/WatchConfigFiles";

/// The layer for `Server::builder().layer(..)`; `None` (the naming port) passes everything.
#[derive(Clone, Default)]
pub(crate) struct WatchFirstLayer {
    service: Option<Arc<Guarded<ConfigService>>>,
}

impl WatchFirstLayer {
    pub(crate) fn new(service: Arc<Guarded<ConfigService>>) -> Self {
        WatchFirstLayer {
            service: Some(service),
        }
    }
}

impl<S> tower::Layer<S> for WatchFirstLayer {
    type Service = WatchFirst<S>;

    fn layer(&self, inner: S) -> WatchFirst<S> {
        WatchFirst {
            inner,
            service: self.service.clone(),
        }
    }
}

/// The service [`WatchFirstLayer`] wraps around the rest of the port.
#[derive(Clone)]
pub(crate) struct WatchFirst<S> {
    inner: S,
    service: Option<Arc<Guarded<ConfigService>>>,
}

type Parked = Pin<Box<dyn Future<Output = Response<Body>> + Send>>;

impl<S> tower::Service<Request<Body>> for WatchFirst<S>
where
    S: tower::Service<Request<Body>, Response = Response<Body>>,
    S::Future: Unpin,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = WatchFirstFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        match &self.service {
            Some(service) if request.uri().path() == PATH => {
                WatchFirstFuture::Parked(Box::pin(watch(service.clone(), request)))
            }
            _ => WatchFirstFuture::Inner(self.inner.call(request)),
        }
    }
}

/// A parked watch, or the future of the rest of the port (unboxed: its future already is).
pub(crate) enum WatchFirstFuture<F> {
    Parked(Parked),
    Inner(F),
}

impl<F, E> Future for WatchFirstFuture<F>
where
    F: Future<Output = Result<Response<Body>, E>> + Unpin,
{
    type Output = Result<Response<Body>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.get_mut() {
            WatchFirstFuture::Parked(parked) => parked.as_mut().poll(cx).map(Ok),
            WatchFirstFuture::Inner(inner) => Pin::new(inner).poll(cx),
        }
    }
}

async fn watch(service: Arc<Guarded<ConfigService>>, request: Request<Body>) -> Response<Body> {
    let (parts, body) = request.into_parts();
    let message = match read_message(body).await {
        Ok(message) => message,
        Err(status) => return status.into_http(),
    };
    let head = tonic::Request::from_http(Request::from_parts(parts, ()));
    // Only the peer's address and the watch itself stay for the wait.
    let reply = match service.admit_watch(head) {
        Ok((peer, watches)) => watches.watch(&peer, message).await,
        Err(refusal) => *refusal,
    };
    crate::unary::reply(&reply)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(flag: u8, message: &[u8]) -> Body {
        let mut body = vec![flag];
        body.extend_from_slice(&u32::try_from(message.len()).unwrap().to_be_bytes());
        body.extend_from_slice(message);
        bytes_body(body)
    }

    fn bytes_body(bytes: Vec<u8>) -> Body {
        Body::new(http_body_util::Full::new(bytes::Bytes::from(bytes)))
    }

    fn watch_request() -> v1::ClientWatchConfigFileRequest {
        v1::ClientWatchConfigFileRequest {
            watch_files: vec![v1::ClientConfigFileInfo {
                namespace: Some("default".into()),
                group: Some("app".into()),
                file_name: Some("a.yaml".into()),
                version: Some(3),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    #[tokio::test]
    async fn one_uncompressed_message_is_read() {
        let request = watch_request();
        let read = read_message(framed(0, &request.encode_to_vec())).await;
        assert_eq!(read.unwrap(), request);
    }

    #[tokio::test]
    async fn bodies_that_are_not_one_message_get_tonics_statuses() {
        let cases = [
            (Body::empty(), tonic::Code::Internal),
            (bytes_body(vec![0u8, 0, 0]), tonic::Code::Internal),
            (framed(1, b"\x0a\x00"), tonic::Code::Unimplemented),
            // The header announces more bytes than the body holds.
            (bytes_body(vec![0u8, 0, 0, 0, 9, 1]), tonic::Code::Internal),
            // Field 1 as a length-delimited field running past the end.
            (framed(0, b"\x0a\x05ab"), tonic::Code::Internal),
        ];
        for (body, code) in cases {
            let status = read_message(body).await.unwrap_err();
            assert_eq!(status.code(), code, "{status:?}");
        }
    }
}
