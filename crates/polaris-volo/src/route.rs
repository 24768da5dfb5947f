//! [`RouteLabelsLayer`]: the outer client layer handing each request's labels to
//! [`PolarisLoadBalance`](crate::PolarisLoadBalance) (Volo's balancer sees only the callee
//! endpoint, never the request).

use std::sync::Arc;

use motore::layer::Layer;
use motore::service::Service;
use parking_lot::RwLock;
use polaris_sdk::{Criteria, LbPolicy, RequestContext};
use volo::context::Context;
use volo_grpc::Request;
use volo_grpc::context::ClientContext;

use crate::balance::{BalanceSettings, RouteLabels};

tokio::task_local! {
    /// The labels of the call in flight, from the route-labels layer to the balancer and the
    /// breaker layer below it (a task-local: no allocation, unlike an endpoint tag).
    static ROUTE: RouteLabels;
}

/// Runs `f` on the labels of the call in flight, if a route-labels layer set them.
pub(crate) fn current_labels<R>(f: impl FnOnce(&RouteLabels) -> R) -> Option<R> {
    ROUTE.try_with(f).ok()
}

/// Runs `call` with `labels` as the call's labels.
pub(crate) async fn with_labels<F: Future>(labels: RouteLabels, call: F) -> F::Output {
    ROUTE.scope(labels, call).await
}

/// How many distinct (method, path) pairs a layer keeps a routing request for; calls past
/// that build theirs per call.
const MAX_REQUESTS: usize = 1024;

/// The routing requests of one HTTP method, by path.
type ByPath = crate::FastMap<Arc<str>, Arc<RequestContext>>;

/// The routing request of each method and path seen (shared, so a call copies no text).
#[derive(Default)]
pub(crate) struct Requests {
    map: RwLock<crate::FastMap<http::Method, ByPath>>,
}

impl Requests {
    /// The request for `method` and `path`, made by `make` the first time.
    pub(crate) fn get(
        &self,
        method: &http::Method,
        path: &str,
        make: impl FnOnce() -> RequestContext,
    ) -> Arc<RequestContext> {
        if let Some(request) = self.map.read().get(method).and_then(|m| m.get(path)) {
            return request.clone();
        }
        let request = Arc::new(make());
        let mut map = self.map.write();
        if map.values().map(ByPath::len).sum::<usize>() < MAX_REQUESTS {
            map.entry(method.clone())
                .or_default()
                .insert(Arc::from(path), request.clone());
        }
        request
    }
}

/// Adds the headers `skip` does not reject to a routing request (`$header.<key>`); copies
/// the request only when there is one.
pub(crate) fn add_headers(
    request: &mut Arc<RequestContext>,
    headers: &http::HeaderMap,
    skip: fn(&str) -> bool,
) {
    for (name, value) in headers {
        let name = name.as_str();
        if skip(name) {
            continue;
        }
        if let Ok(value) = value.to_str() {
            Arc::make_mut(request)
                .headers
                .insert(name.to_string(), value.to_string());
        }
    }
}

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
    requests: Arc<Requests>,
}

impl RouteLabelsLayer {
    pub(crate) fn new(settings: Arc<BalanceSettings>) -> RouteLabelsLayer {
        RouteLabelsLayer {
            settings,
            requests: Arc::default(),
        }
    }
}

impl<S> Layer<S> for RouteLabelsLayer {
    type Service = RouteLabelsService<S>;

    fn layer(self, inner: S) -> RouteLabelsService<S> {
        RouteLabelsService {
            inner,
            settings: self.settings,
            requests: self.requests,
        }
    }
}

/// The service of [`RouteLabelsLayer`].
#[derive(Clone)]
pub struct RouteLabelsService<S> {
    pub(crate) inner: S,
    pub(crate) settings: Arc<BalanceSettings>,
    pub(crate) requests: Arc<Requests>,
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
    /// The routing criteria of one call: its routing request, and the balancer and hash key
    /// from the request's extensions.
    pub(crate) fn criteria(
        &self,
        request: Arc<RequestContext>,
        extensions: &http::Extensions,
    ) -> Criteria {
        Criteria {
            lb: extensions.get::<CallLbPolicy>().map(|p| p.0).or(self.lb),
            hash_key: extensions.get::<HashKey>().map(|k| k.0.clone()),
            metadata: self.metadata.clone(),
            caller: self.caller.clone(),
            request,
            ..Criteria::default()
        }
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
        let method = cx.rpc_info().method();
        let mut routed = self.requests.get(&http::Method::POST, method, || {
            let bare = method.rsplit('/').next().unwrap_or(method);
            RequestContext {
                path: Some(bare.to_string()),
                ..RequestContext::default()
            }
        });
        if self.settings.route_headers {
            add_headers(
                &mut routed,
                request.metadata().headers(),
                is_protocol_header,
            );
        }
        let criteria = self.settings.criteria(routed, request.extensions());
        with_labels(RouteLabels::new(criteria), self.inner.call(cx, request)).await
    }
}
