//! [`RouteLabelsLayer`]: the outer client layer handing each request's labels to
//! [`PolarisLoadBalance`](crate::PolarisLoadBalance) (Volo's balancer sees only the callee
//! endpoint, never the request).

use std::sync::Arc;

use motore::layer::Layer;
use motore::service::Service;
use polaris_sdk::{Criteria, LbPolicy};
use volo::context::Context;
use volo_grpc::Request;
use volo_grpc::context::ClientContext;

use crate::balance::{BalanceSettings, RouteLabels};

/// Sets the hash key of one call for `ringHash` / `maglev` (a request extension:
/// `request.extensions_mut().insert(HashKey::new("user-42"))`).
#[derive(Clone, Debug)]
pub struct HashKey(pub Vec<u8>);

impl HashKey {
    /// A hash key from bytes or text.
    pub fn new(key: impl AsRef<[u8]>) -> HashKey {
        HashKey(key.as_ref().to_vec())
    }
}

/// Overrides the load balancer of one call (a request extension).
#[derive(Clone, Copy, Debug)]
pub struct CallLbPolicy(pub LbPolicy);

/// Puts a [`RouteLabels`] in the callee endpoint of every call: the bare method as `$path`
/// (the grpc-go convention), the request metadata as `$header.<key>` (unless turned off),
/// the [`HashKey`] / [`CallLbPolicy`] extensions, and the balancer's caller and destination
/// metadata. Made by [`PolarisLoadBalance::route_labels_layer`](crate::PolarisLoadBalance::route_labels_layer);
/// add it with `layer_outer`.
#[derive(Clone)]
pub struct RouteLabelsLayer {
    settings: Arc<BalanceSettings>,
}

impl RouteLabelsLayer {
    pub(crate) fn new(settings: Arc<BalanceSettings>) -> RouteLabelsLayer {
        RouteLabelsLayer { settings }
    }
}

impl<S> Layer<S> for RouteLabelsLayer {
    type Service = RouteLabelsService<S>;

    fn layer(self, inner: S) -> RouteLabelsService<S> {
        RouteLabelsService {
            inner,
            settings: self.settings,
        }
    }
}

/// The service of [`RouteLabelsLayer`].
#[derive(Clone)]
pub struct RouteLabelsService<S> {
    inner: S,
    settings: Arc<BalanceSettings>,
}

/// Headers of the gRPC protocol itself (and Volo's own), not application metadata.
pub(crate) fn is_protocol_header(name: &str) -> bool {
    matches!(
        name,
        "te" | "content-type" | "user-agent" | "rip" | "source-service" | "destination-service"
    ) || name.starts_with("grpc-")
        || name.starts_with(':')
}

impl BalanceSettings {
    /// The routing criteria of one call.
    fn criteria<T>(&self, method: &str, request: &Request<T>) -> Criteria {
        let mut criteria = Criteria {
            lb: request
                .extensions()
                .get::<CallLbPolicy>()
                .map(|p| p.0)
                .or(self.lb),
            hash_key: request.extensions().get::<HashKey>().map(|k| k.0.clone()),
            metadata: self.metadata.clone(),
            ..Criteria::default()
        };
        criteria.caller = self.caller.clone();
        criteria.request.path = Some(method.rsplit('/').next().unwrap_or(method).to_string());
        if self.route_headers {
            for (name, value) in request.metadata().headers() {
                let name = name.as_str();
                if is_protocol_header(name) {
                    continue;
                }
                if let Ok(value) = value.to_str() {
                    criteria
                        .request
                        .headers
                        .insert(name.to_string(), value.to_string());
                }
            }
        }
        criteria
    }
}

impl<S, T> Service<ClientContext, Request<T>> for RouteLabelsService<S>
where
    S: Service<ClientContext, Request<T>> + Send + Sync,
    T: Send + 'static,
{
    type Response = S::Response;
    type Error = S::Error;

    async fn call(
        &self,
        cx: &mut ClientContext,
        request: Request<T>,
    ) -> Result<S::Response, S::Error> {
        let criteria = self.settings.criteria(cx.rpc_info().method(), &request);
        cx.rpc_info_mut()
            .callee_mut()
            .insert(RouteLabels::new(criteria));
        self.inner.call(cx, request).await
    }
}
