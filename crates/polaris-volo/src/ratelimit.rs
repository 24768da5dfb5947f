//! A volo-grpc server layer enforcing the Polaris `RATE_LIMIT` rules of a service,
//! answering `RESOURCE_EXHAUSTED` past the limit (unary and streaming calls alike).

use std::net::SocketAddr;

use motore::layer::Layer;
use motore::service::Service;
use polaris_sdk::{Quota, ServerLimit};
use volo::context::Context;
use volo::net::Address;
use volo_grpc::context::ServerContext;
use volo_grpc::{Request, Status};

use crate::route::is_protocol_header;

/// Wraps a volo-grpc server's services with [`RateLimit`], enforcing the limit it holds (the
/// rules of the provider's own Polaris service): `Server::new().layer_front(RateLimitLayer(limit))`,
/// or [`ServeVolo::rate_limit_layer`](crate::ServeVolo::rate_limit_layer).
#[derive(Clone)]
pub struct RateLimitLayer(pub ServerLimit);

impl<S> Layer<S> for RateLimitLayer {
    type Service = RateLimit<S>;

    fn layer(self, inner: S) -> RateLimit<S> {
        RateLimit {
            inner,
            limit: self.0,
        }
    }
}

/// Asks the limiter before each call: the rule sees the full gRPC method (`$method`, e.g.
/// `/echo.Echo/Echo`), the request metadata (`$header.<key>`) and the caller's IP. Limited
/// calls are answered with `RESOURCE_EXHAUSTED` without reaching the service (the permit is
/// held until the handler's answer); when the limiter cannot decide (server unreachable, no
/// rules) the call goes through.
#[derive(Clone)]
pub struct RateLimit<S> {
    inner: S,
    limit: ServerLimit,
}

/// The caller's IP: the connection's peer as volo-grpc records it (`rip` metadata, or the
/// caller endpoint's address).
fn caller_ip<T>(cx: &ServerContext, request: &Request<T>) -> Option<String> {
    if let Some(Address::Ip(address)) = cx.rpc_info().caller().address() {
        return Some(address.ip().to_string());
    }
    let rip = request.metadata().get("rip")?.to_str().ok()?;
    rip.parse::<SocketAddr>().ok().map(|a| a.ip().to_string())
}

/// The quota request of one call.
fn quota_of<T>(limit: &ServerLimit, cx: &ServerContext, request: &Request<T>) -> Quota {
    let headers = request.metadata().headers().iter();
    let headers = headers.filter_map(|(name, value)| {
        let name = name.as_str();
        if is_protocol_header(name) {
            return None;
        }
        Some((name, value.to_str().ok()?))
    });
    let method = cx.rpc_info().method().as_str();
    limit.quota(method, headers, caller_ip(cx, request))
}

impl<S, T> Service<ServerContext, Request<T>> for RateLimit<S>
where
    S: Service<ServerContext, Request<T>> + Send + Sync,
    S::Error: From<Status>,
    T: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;

    async fn call(
        &self,
        cx: &mut ServerContext,
        request: Request<T>,
    ) -> Result<S::Response, S::Error> {
        let quota = quota_of(&self.limit, cx, &request);
        let permit = match self.limit.admit(&quota).await {
            Ok(permit) => permit,
            Err(refusal) => return Err(Status::resource_exhausted(refusal).into()),
        };
        let response = self.inner.call(cx, request).await;
        drop(permit);
        response
    }
}
