//! The route-labels and breaker layers for volo-http clients (feature `http`): the same
//! [`PolarisDiscover`](crate::PolarisDiscover) and [`PolarisLoadBalance`](crate::PolarisLoadBalance)
//! serve both frameworks, since Volo's `Discover` and `LoadBalance` are shared.
//!
//! A request's routing labels are its HTTP method (`$method`), path (`$path`), query
//! (`$query.<key>`) and headers (`$header.<key>`, unless turned off); the breakers hear the
//! path as the method and the HTTP status as the code (5xx and unanswered calls fail).

use motore::service::Service;
use polaris_sdk::RequestContext;
use volo::context::Context;
use volo_http::context::ClientContext;
use volo_http::error::ClientError;
use volo_http::error::client::{ErrorKind, other_error};

use crate::balance::RouteLabels;
use crate::breaker::{CircuitBreakerService, is_connect_failure};
use crate::route::{RouteLabelsService, add_headers, with_labels};

/// Headers of HTTP itself (and those volo-http's own layers add), not routing labels.
fn is_http_protocol_header(name: &str) -> bool {
    matches!(
        name,
        "host"
            | "user-agent"
            | "content-length"
            | "transfer-encoding"
            | "connection"
            | "keep-alive"
            | "te"
            | "upgrade"
            | "accept-encoding"
    )
}

impl<S, B> Service<ClientContext, http::Request<B>> for RouteLabelsService<S>
where
    S: Service<ClientContext, http::Request<B>> + Send + Sync,
    B: Send,
{
    type Response = S::Response;
    type Error = S::Error;

    async fn call(
        &self,
        cx: &mut ClientContext,
        request: http::Request<B>,
    ) -> Result<S::Response, S::Error> {
        let (method, uri) = (request.method(), request.uri());
        let mut routed = self.requests.get(method, uri.path(), || RequestContext {
            method: Some(method.as_str().to_string()),
            path: Some(uri.path().to_string()),
            ..RequestContext::default()
        });
        if let Some(query) = uri.query().filter(|q| !q.is_empty()) {
            let labels = std::sync::Arc::make_mut(&mut routed);
            for pair in query.split('&').filter(|p| !p.is_empty()) {
                let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
                labels.query.insert(key.to_string(), value.to_string());
            }
        }
        if self.settings.route_headers {
            add_headers(&mut routed, request.headers(), is_http_protocol_header);
        }
        let criteria = self.settings.criteria(routed, request.extensions());
        with_labels(RouteLabels::new(criteria), self.inner.call(cx, request)).await
    }
}

/// The code a call without an answer is reported with.
const NO_ANSWER: i64 = -1;

impl<S, B, R> Service<ClientContext, http::Request<B>> for CircuitBreakerService<S>
where
    S: Service<ClientContext, http::Request<B>, Response = http::Response<R>, Error = ClientError>
        + Send
        + Sync,
    B: Send,
    R: Send,
{
    type Response = http::Response<R>;
    type Error = ClientError;

    async fn call(
        &self,
        cx: &mut ClientContext,
        request: http::Request<B>,
    ) -> Result<http::Response<R>, ClientError> {
        let layer = &*self.shared;
        let service = layer.discover.service_key(cx.rpc_info().callee());
        let method = layer.method(request.uri().path());
        if let Err(why) = layer.admit(&service, &method) {
            return Err(other_error(why));
        }
        let (mut report, address) = layer
            .begin(service, method, cx.rpc_info().callee(), None)
            .await;
        let result = self.inner.call(cx, request).await;
        let failed = match &result {
            Err(error) => *error.kind() == ErrorKind::Connect || is_connect_failure(error),
            Ok(_) => false,
        };
        layer.connected(address, failed);
        match &result {
            Ok(response) => {
                let status = response.status().as_u16();
                report.send(i64::from(status), status >= 500);
            }
            Err(_) => report.send(NO_ANSWER, true),
        }
        result
    }
}
