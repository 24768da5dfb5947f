//! A server layer enforcing the Polaris `RATE_LIMIT` rules of a service, answering
//! `RESOURCE_EXHAUSTED` past the limit (unary and streaming calls alike).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use polaris_sdk::{Quota, ServerLimit};
use tonic::Status;
use tonic::body::Body;
use tonic::transport::server::TcpConnectInfo;
use tower::{Layer, Service};

/// Wraps tonic services with [`RateLimit`], enforcing the limit it holds (the rules of the
/// provider's own Polaris service): `Server::builder().layer(RateLimitLayer(limit))`, or
/// [`ServeTonic::rate_limit_layer`](crate::ServeTonic::rate_limit_layer).
#[derive(Clone)]
pub struct RateLimitLayer(pub ServerLimit);

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimit<S>;

    fn layer(&self, inner: S) -> RateLimit<S> {
        RateLimit {
            inner,
            limit: self.0.clone(),
        }
    }
}

/// Asks the limiter before each call: the rule sees the full gRPC method (`$method`, e.g.
/// `/echo.Echo/Echo`), the request metadata (`$header.<key>`) and the caller's IP.
/// Limited calls are answered with `RESOURCE_EXHAUSTED` without reaching the service; when
/// the limiter cannot decide (server unreachable, no rules) the call goes through.
#[derive(Clone)]
pub struct RateLimit<S> {
    inner: S,
    limit: ServerLimit,
}

/// The quota request of one call.
fn quota_of<B>(limit: &ServerLimit, request: &http::Request<B>) -> Quota {
    let headers = request.headers().iter().filter_map(|(name, value)| {
        let name = name.as_str();
        if matches!(name, "te" | "content-type" | "user-agent") || name.starts_with("grpc-") {
            return None;
        }
        Some((name, value.to_str().ok()?))
    });
    let peer = request
        .extensions()
        .get::<TcpConnectInfo>()
        .and_then(TcpConnectInfo::remote_addr);
    limit.quota(
        request.uri().path(),
        headers,
        peer.map(|peer| peer.ip().to_string()),
    )
}

impl<S, B> Service<http::Request<B>> for RateLimit<S>
where
    S: Service<http::Request<B>, Response = http::Response<Body>> + Clone + Send + 'static,
    S::Future: Send + 'static,
    B: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        // The ready service handles this call; its clone waits for the next poll_ready.
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let limit = self.limit.clone();
        let quota = quota_of(&limit, &request);
        Box::pin(async move {
            let permit = match limit.admit(&quota).await {
                Ok(permit) => permit,
                Err(refusal) => return Ok(Status::resource_exhausted(refusal).into_http()),
            };
            let response = inner.call(request).await;
            drop(permit);
            response
        })
    }
}
