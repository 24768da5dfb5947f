//! Request bodies that can be sent again (for failover and retries) and response bodies that
//! report the call's outcome to the circuit breaker when the gRPC status arrives.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::{Bytes, BytesMut};
use http_body::{Body as HttpBody, Frame, SizeHint};
use tonic::Status;
use tonic::body::Body;

use crate::channel::BreakerReport;

/// A request body as the channel holds it between attempts.
pub(crate) enum Prepared {
    /// The whole body was ready at once (every unary and server-streaming call): it can be
    /// sent to another instance after a failure.
    Replayable(Bytes),
    /// The body is still being produced (client or bidirectional streaming): one attempt.
    Streaming(Option<Prefixed>),
    /// The body as the caller made it, when no second attempt is possible (not looked at).
    Once(Option<Body>),
}

impl Prepared {
    /// Takes every frame the body has ready now, without waiting: a body that ends before it
    /// would wait is replayable; one that would wait (a stream the caller is still feeding)
    /// is passed on unchanged after the frames already taken.
    pub(crate) async fn from_body(mut body: Body) -> Result<Prepared, Status> {
        std::future::poll_fn(|cx| Poll::Ready(Prepared::take(&mut body, cx))).await
    }

    /// [`from_body`](Self::from_body) within a poll: `body` is left empty once taken.
    pub(crate) fn take(body: &mut Body, cx: &mut Context<'_>) -> Result<Prepared, Status> {
        let mut first: Option<Bytes> = None;
        let mut more: Option<BytesMut> = None;
        loop {
            match Pin::new(&mut *body).poll_frame(cx) {
                Poll::Ready(None) => {
                    let bytes = match (first, more) {
                        (_, Some(joined)) => joined.freeze(),
                        (Some(one), None) => one,
                        (None, None) => Bytes::new(),
                    };
                    return Ok(Prepared::Replayable(bytes));
                }
                Poll::Ready(Some(Err(status))) => return Err(status),
                Poll::Ready(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => match (&mut first, &mut more) {
                        (None, None) => first = Some(data),
                        (Some(one), None) => {
                            let mut joined = BytesMut::from(&one[..]);
                            joined.extend_from_slice(&data);
                            more = Some(joined);
                        }
                        (_, Some(joined)) => joined.extend_from_slice(&data),
                    },
                    Err(trailers) => {
                        // Request trailers are unusual in gRPC: keep them, send once.
                        let prefix = more.map(BytesMut::freeze).or(first);
                        return Ok(Prepared::Streaming(Some(Prefixed {
                            prefix,
                            trailers: trailers.into_trailers().ok(),
                            rest: None,
                        })));
                    }
                },
                Poll::Pending => {
                    let prefix = more.map(BytesMut::freeze).or(first);
                    return Ok(Prepared::Streaming(Some(Prefixed {
                        prefix,
                        trailers: None,
                        rest: Some(std::mem::take(body)),
                    })));
                }
            }
        }
    }

    /// True when another attempt can be made with this body.
    pub(crate) fn replayable(&self) -> bool {
        matches!(self, Prepared::Replayable(_))
    }

    /// The body of the next attempt; `None` once a streaming body was sent.
    pub(crate) fn attempt(&mut self) -> Option<Body> {
        match self {
            Prepared::Replayable(bytes) => Some(Body::new(Prefixed::replay(bytes.clone()))),
            Prepared::Streaming(body) => body.take().map(Body::new),
            Prepared::Once(body) => body.take(),
        }
    }
}

/// Frames already taken from a body, then the rest of it.
pub(crate) struct Prefixed {
    prefix: Option<Bytes>,
    trailers: Option<http::HeaderMap>,
    rest: Option<Body>,
}

impl Prefixed {
    /// A replayed request body: its bytes in one frame (none when empty). Its size is not
    /// announced (like the encoding body tonic makes), so hyper adds no `content-length`
    /// header to the request.
    fn replay(bytes: Bytes) -> Prefixed {
        Prefixed {
            prefix: Some(bytes).filter(|b| !b.is_empty()),
            trailers: None,
            rest: None,
        }
    }
}

impl HttpBody for Prefixed {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        if let Some(prefix) = self.prefix.take() {
            return Poll::Ready(Some(Ok(Frame::data(prefix))));
        }
        if let Some(trailers) = self.trailers.take() {
            return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
        }
        match self.rest.as_mut() {
            Some(rest) => Pin::new(rest).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.prefix.is_none()
            && self.trailers.is_none()
            && self.rest.as_ref().is_none_or(HttpBody::is_end_stream)
    }
}

/// The gRPC status code of a header map, if it has one.
pub(crate) fn grpc_status(headers: &http::HeaderMap) -> Option<i32> {
    // A typed name: looking up by `&str` parses and validates the name on every call.
    const GRPC_STATUS: http::HeaderName = http::HeaderName::from_static("grpc-status");
    headers
        .get(&GRPC_STATUS)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
}

/// A response body that reports the call's status (from the trailers, or `UNKNOWN` when the
/// stream fails) to the circuit breaker as it passes by.
pub struct ReportingBody {
    inner: Body,
    report: Option<(BreakerReport, Instant)>,
}

impl ReportingBody {
    pub(crate) fn new(inner: Body, reporter: Option<(BreakerReport, Instant)>) -> Self {
        ReportingBody {
            inner,
            report: reporter,
        }
    }

    /// Reports `code` now (a trailers-only answer), if not reported yet.
    pub(crate) fn finish(&mut self, code: i32) {
        if let Some((reporter, start)) = self.report.take() {
            reporter.report(code, start.elapsed());
        }
    }
}

impl HttpBody for ReportingBody {
    type Data = Bytes;
    type Error = Status;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Status>>> {
        let polled = Pin::new(&mut self.inner).poll_frame(cx);
        match &polled {
            Poll::Ready(Some(Ok(frame))) => {
                if let Some(trailers) = frame.trailers_ref() {
                    let code = grpc_status(trailers).unwrap_or(tonic::Code::Unknown as i32);
                    self.finish(code);
                }
            }
            Poll::Ready(Some(Err(status))) => self.finish(status.code() as i32),
            // A stream ending without trailers is a protocol error for gRPC.
            Poll::Ready(None) => self.finish(tonic::Code::Unknown as i32),
            Poll::Pending => {}
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::BodyExt as _;

    use super::*;

    #[tokio::test]
    async fn ready_bodies_are_replayable_and_pending_ones_stream() {
        let ready = Body::new(
            http_body_util::Full::new(Bytes::from_static(b"abc")).map_err(|e| match e {}),
        );
        let mut prepared = Prepared::from_body(ready).await.unwrap();
        assert!(prepared.replayable());
        for _ in 0..2 {
            let body = prepared.attempt().unwrap();
            assert_eq!(body.size_hint().exact(), None, "no content-length is added");
            let bytes = body.collect().await.unwrap().to_bytes();
            assert_eq!(&bytes[..], b"abc");
        }

        let (tx, rx) = tokio::sync::mpsc::channel::<Result<Frame<Bytes>, Status>>(2);
        tx.send(Ok(Frame::data(Bytes::from_static(b"one"))))
            .await
            .unwrap();
        let stream =
            http_body_util::StreamBody::new(tokio_stream::wrappers::ReceiverStream::new(rx));
        let mut prepared = Prepared::from_body(Body::new(stream)).await.unwrap();
        assert!(
            !prepared.replayable(),
            "a body still being fed is not buffered"
        );
        let body = prepared.attempt().unwrap();
        assert!(prepared.attempt().is_none(), "a stream is sent once");
        tx.send(Ok(Frame::data(Bytes::from_static(b"two"))))
            .await
            .unwrap();
        drop(tx);
        let bytes = body.collect().await.unwrap().to_bytes();
        assert_eq!(&bytes[..], b"onetwo");
    }
}
