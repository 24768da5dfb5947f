//! A server layer enforcing the Polaris `RATE_LIMIT` rules of a service, answering
//! `RESOURCE_EXHAUSTED` past the limit (unary and streaming calls alike).

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};

use polaris_sdk::{Error, Limiter, Quota, ServiceKey};
use tonic::Status;
use tonic::body::Body;
use tonic::transport::server::TcpConnectInfo;
use tower::{Layer, Service};

/// Wraps tonic services with [`RateLimit`]: `Server::builder().layer(RateLimitLayer::new(..))`.
#[derive(Clone)]
pub struct RateLimitLayer {
    limiter: Limiter,
    service: ServiceKey,
}

impl RateLimitLayer {
    /// Enforces the rules of `service` (the provider's own Polaris service).
    pub fn new(limiter: Limiter, service: ServiceKey) -> RateLimitLayer {
        RateLimitLayer { limiter, service }
    }
}

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimit<S>;

    fn layer(&self, inner: S) -> RateLimit<S> {
        RateLimit {
            inner,
            limiter: self.limiter.clone(),
            service: self.service.clone(),
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
    limiter: Limiter,
    service: ServiceKey,
}

/// The quota request of one call.
fn quota_of<B>(service: &ServiceKey, request: &http::Request<B>) -> Quota {
    let mut quota = Quota::new(service.clone()).method(request.uri().path());
    for (name, value) in request.headers() {
        let name = name.as_str();
        if matches!(name, "te" | "content-type" | "user-agent") || name.starts_with("grpc-") {
            continue;
        }
        if let Ok(value) = value.to_str() {
            quota = quota.header(name, value);
        }
    }
    if let Some(peer) = request
        .extensions()
        .get::<TcpConnectInfo>()
        .and_then(TcpConnectInfo::remote_addr)
    {
        quota = quota.caller_ip(peer.ip().to_string());
    }
    quota
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
        let limiter = self.limiter.clone();
        let quota = quota_of(&self.service, &request);
        Box::pin(async move {
            let permit = match limiter.acquire(&quota).await {
                Ok(permit) => permit,
                Err(Error::RateLimited(why)) => {
                    tracing::debug!(method = ?quota.request.method, %why, "rate limited");
                    return Ok(
                        Status::resource_exhausted(format!("rate limited: {why}")).into_http()
                    );
                }
                Err(e) => {
                    tracing::debug!(error = %e, "rate limiter unavailable: call admitted");
                    return inner.call(request).await;
                }
            };
            let response = inner.call(request).await;
            drop(permit);
            response
        })
    }
}
