//! Limits of the two gRPC ports: connections per listener and per client address (accepted
//! through `polaris-limits`), HTTP/2 streams per connection, subscriptions per Discover stream
//! (see [`crate::push`]), and the write rate per client address. A write over its client's rate
//! is answered as the official server answers it: the method's own reply message carrying
//! `IpRateLimit` (429002), gRPC status OK. Heartbeats, client reports and reads are never
//! rate-limited: a limited heartbeat would turn a healthy instance unhealthy, and reads are
//! bounded by the stream limits instead.

use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use polaris_limits::{
    ConnLimitOptions, ConnLimiter, DEFAULT_MAX_CONCURRENT_STREAMS,
    DEFAULT_MAX_SUBSCRIPTIONS_PER_STREAM, IpRateLimiter,
};
use polaris_types::{Code, PolarisError};
use tonic::body::Body;
use tonic::codegen::http::{Request, Response};
use tonic::transport::server::TcpConnectInfo;

use polaris_auth::{Access, Endpoint, Scope};
use polaris_proto::v1;

use crate::auth::{Refused, endpoint_of};

/// What one gRPC listener allows a client.
#[derive(Clone)]
pub struct GrpcLimits {
    /// Open connections, per listener and per client address.
    pub connections: Arc<ConnLimiter>,
    /// Write requests per second per client address; `None` for no limit.
    pub writes: Option<Arc<IpRateLimiter>>,
    /// HTTP/2 streams per connection (`SETTINGS_MAX_CONCURRENT_STREAMS`).
    pub max_concurrent_streams: u32,
    /// Subscriptions per Discover stream (naming port only).
    pub max_subscriptions_per_stream: usize,
}

impl std::fmt::Debug for GrpcLimits {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrpcLimits")
            .field("listener", &self.listener())
            .field("writes_limited", &self.writes.is_some())
            .field("max_concurrent_streams", &self.max_concurrent_streams)
            .field(
                "max_subscriptions_per_stream",
                &self.max_subscriptions_per_stream,
            )
            .finish()
    }
}

impl GrpcLimits {
    /// Defaults for the listener `name`: connections counted but not limited, no write rate.
    pub fn unlimited(name: &str) -> GrpcLimits {
        GrpcLimits {
            connections: ConnLimiter::new(
                name,
                ConnLimitOptions {
                    open: false,
                    ..ConnLimitOptions::default()
                },
            ),
            writes: None,
            max_concurrent_streams: DEFAULT_MAX_CONCURRENT_STREAMS,
            max_subscriptions_per_stream: DEFAULT_MAX_SUBSCRIPTIONS_PER_STREAM,
        }
    }

    /// The listener's name, as the metrics label it.
    pub fn listener(&self) -> &str {
        self.connections.listener()
    }

    /// The connections of `listener` (plain or TLS), through the connection limits, with their
    /// writes coalesced (HTTP/2 writes frame by frame otherwise).
    pub(crate) fn incoming(
        &self,
        listener: polaris_tls::Listener,
    ) -> impl tokio_stream::Stream<Item = std::io::Result<polaris_tls::Conn>> + Send + 'static {
        listener
            .admitting(self.connections.admission())
            .coalescing_writes()
            .into_incoming()
    }

    /// The layer that rate-limits writes.
    pub(crate) fn write_layer(&self) -> WriteRateLayer {
        WriteRateLayer {
            limiter: self.writes.clone(),
            listener: Arc::from(self.listener()),
        }
    }
}

/// The layer for `Server::builder().layer(..)`.
#[derive(Clone)]
pub struct WriteRateLayer {
    limiter: Option<Arc<IpRateLimiter>>,
    listener: Arc<str>,
}

impl<S> tower::Layer<S> for WriteRateLayer {
    type Service = WriteRate<S>;

    fn layer(&self, inner: S) -> WriteRate<S> {
        WriteRate {
            inner,
            limiter: self.limiter.clone(),
            listener: self.listener.clone(),
        }
    }
}

/// The service [`WriteRateLayer`] wraps around the gRPC router.
#[derive(Clone)]
pub struct WriteRate<S> {
    inner: S,
    limiter: Option<Arc<IpRateLimiter>>,
    listener: Arc<str>,
}

type BoxFuture<T, E> = Pin<Box<dyn std::future::Future<Output = Result<T, E>> + Send>>;

impl<S> tower::Service<Request<Body>> for WriteRate<S>
where
    S: tower::Service<Request<Body>, Response = Response<Body>> + Send + 'static,
    S::Future: Send + 'static,
{
    type Response = Response<Body>;
    type Error = S::Error;
    type Future = BoxFuture<Response<Body>, S::Error>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<Body>) -> Self::Future {
        if let Some(limiter) = &self.limiter
            && let Some(endpoint) = endpoint_of(request.uri().path())
            && endpoint.scope() == Scope::Client
            && endpoint.access() == Access::Write
            && let Some(peer) = request
                .extensions()
                .get::<TcpConnectInfo>()
                .and_then(TcpConnectInfo::remote_addr)
            && !limiter.allow(peer.ip(), &self.listener)
        {
            tracing::debug!(target: "polaris_api_grpc", %peer,
                path = request.uri().path(), "write refused: over the client's rate");
            let err = PolarisError::new(Code::IpRateLimit, "");
            return Box::pin(async move { Ok(refusal(endpoint, &err)) });
        }
        Box::pin(self.inner.call(request))
    }
}

/// A complete gRPC reply to a write refused before it was read: one message carrying the code
/// (the method's reply type), then an OK status.
fn refusal(endpoint: Endpoint, err: &PolarisError) -> Response<Body> {
    match endpoint {
        Endpoint::ClientCreateConfigFile
        | Endpoint::ClientUpdateConfigFile
        | Endpoint::ClientPublishConfigFile
        | Endpoint::ClientUpsertAndPublishConfigFile => {
            crate::unary::reply(&v1::ConfigClientResponse::refused(err))
        }
        _ => crate::unary::reply(&v1::Response::refused(err)),
    }
}
