//! [`CircuitBreakerLayer`]: the inner client layer (it sees the picked address) checking the
//! service and method breakers before a call and reporting each call's gRPC status and
//! latency to the service, method and instance breakers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use motore::layer::Layer;
use motore::service::Service;
use parking_lot::RwLock;
use polaris_sdk::{CallResult, Error, Instance, ServiceKey, code_text};
use volo::context::{Context, Endpoint};
use volo::net::Address;
use volo_grpc::context::ClientContext;
use volo_grpc::{Code, Request, Status};

use crate::balance::RouteLabels;
use crate::discover::{PolarisDiscover, socket_addr};
use crate::policy::CallDeadline;
use crate::route::current_labels;

/// The gRPC codes that count as failures for the circuit breaker: the callee or the network
/// failed (`UNKNOWN`, `DEADLINE_EXCEEDED`, `INTERNAL`, `UNAVAILABLE`, `DATA_LOSS`);
/// application answers (`NOT_FOUND`, `INVALID_ARGUMENT`...) are successes.
pub fn is_breaker_failure(code: i32) -> bool {
    matches!(code, 2 | 4 | 13 | 14 | 15)
}

/// Checks and feeds the Polaris circuit breakers around every call; add it with
/// `layer_inner` (below the balancer, where the callee address is known).
///
/// A call refused by an open service or method breaker fails with `UNAVAILABLE` without
/// being sent. The status reported is the one the call ended with before its response
/// stream is read (Trailers-Only answers, which is how servers answer failed unary calls);
/// a call dropped past its [`PolicyLayer`](crate::PolicyLayer) deadline is reported as
/// `DEADLINE_EXCEEDED`. A call that cannot reach its instance fails with `UNAVAILABLE`,
/// and the instance is avoided by
/// [`PolarisLoadBalance`](crate::PolarisLoadBalance) for 2 s.
#[derive(Clone)]
pub struct CircuitBreakerLayer {
    pub(crate) discover: PolarisDiscover,
    caller: Option<ServiceKey>,
    methods: Arc<RwLock<crate::FastSet<Arc<str>>>>,
}

/// How many distinct methods (gRPC paths, HTTP paths) a layer keeps interned; further ones
/// are copied per call.
const MAX_METHODS: usize = 1024;

impl CircuitBreakerLayer {
    /// Breakers of the services `discover` finds.
    pub fn new(discover: &PolarisDiscover) -> CircuitBreakerLayer {
        CircuitBreakerLayer {
            discover: discover.clone(),
            caller: None,
            methods: Arc::default(),
        }
    }

    /// The calling service, matched by breaker rules' sources.
    pub fn caller(mut self, namespace: &str, service: &str) -> Self {
        self.caller = Some(ServiceKey::new(namespace, service));
        self
    }

    /// The method as the breakers key it (interned: no copy per call).
    pub(crate) fn method(&self, name: &str) -> Arc<str> {
        if let Some(method) = self.methods.read().get(name) {
            return method.clone();
        }
        let method: Arc<str> = Arc::from(name);
        let mut methods = self.methods.write();
        if methods.len() < MAX_METHODS {
            methods.insert(method.clone());
        }
        method
    }

    /// Asks the service and method breakers; the refusal's message when one is open.
    pub(crate) fn admit(&self, service: &ServiceKey, method: &Arc<str>) -> Result<(), String> {
        match self
            .discover
            .shared
            .consumer
            .check(service, Some(method.clone()))
        {
            Ok(()) => Ok(()),
            Err(Error::CircuitOpen(why)) => Err(format!("circuit open: {why}")),
            Err(e) => Err(e.to_string()),
        }
    }

    /// Starts the report of a call to the instance the balancer picked for `callee`.
    pub(crate) async fn begin(
        &self,
        service: ServiceKey,
        method: Arc<str>,
        callee: &Endpoint,
        deadline: Option<Instant>,
    ) -> (Report<'_>, Option<SocketAddr>) {
        let address = match callee.address {
            Some(Address::Ip(address)) => Some(address),
            _ => None,
        };
        let picked = current_labels(|l| l.picked().cloned())
            .flatten()
            .or_else(|| {
                callee
                    .get::<RouteLabels>()
                    .and_then(RouteLabels::picked)
                    .cloned()
            });
        let instance = match picked {
            Some(picked) => Some(picked),
            None => self.cached_instance(&service, address).await,
        };
        let report = Report {
            layer: self,
            service,
            method,
            instance,
            started: Instant::now(),
            deadline,
            done: false,
        };
        (report, address)
    }

    /// Marks `address` down after a connection failure, up after an answer.
    pub(crate) fn connected(&self, address: Option<SocketAddr>, failed: bool) {
        let Some(address) = address else { return };
        if failed {
            tracing::debug!(%address, "connection failed: instance avoided for 2 s");
            self.discover.shared.mark_down(address);
        } else {
            self.discover.shared.mark_up(&address);
        }
    }
}

impl<S> Layer<S> for CircuitBreakerLayer {
    type Service = CircuitBreakerService<S>;

    fn layer(self, inner: S) -> CircuitBreakerService<S> {
        CircuitBreakerService {
            inner,
            shared: Arc::new(self),
        }
    }
}

/// The service of [`CircuitBreakerLayer`].
#[derive(Clone)]
pub struct CircuitBreakerService<S> {
    pub(crate) inner: S,
    pub(crate) shared: Arc<CircuitBreakerLayer>,
}

/// Reports one call once: with its status, or when dropped unfinished past its deadline.
pub(crate) struct Report<'a> {
    layer: &'a CircuitBreakerLayer,
    service: ServiceKey,
    method: Arc<str>,
    instance: Option<Arc<Instance>>,
    started: Instant,
    deadline: Option<Instant>,
    done: bool,
}

impl Report<'_> {
    /// Reports the call's code (a gRPC code or an HTTP status), a failure or not.
    pub(crate) fn send(&mut self, code: i64, failure: bool) {
        self.done = true;
        let delay = self.started.elapsed();
        let service = self.service.clone();
        let mut result = if failure {
            CallResult::failure(service, code_text(code), delay)
        } else {
            let mut ok = CallResult::success(service, delay);
            ok.code = code_text(code);
            ok
        };
        result.method = Some(self.method.clone());
        result.instance = self.instance.take();
        result.caller = self.layer.caller.clone();
        self.layer.discover.shared.consumer.report(&result);
    }
}

impl Drop for Report<'_> {
    fn drop(&mut self) {
        if !self.done && self.deadline.is_some_and(|d| Instant::now() >= d) {
            self.send(i64::from(i32::from(Code::DeadlineExceeded)), true);
        }
    }
}

/// Whether a call failed to reach the instance at all (connection refused, reset, timed out).
pub(crate) fn is_connect_failure(error: &(dyn std::error::Error + 'static)) -> bool {
    use std::io::ErrorKind;
    let mut source = Some(error);
    while let Some(error) = source {
        if let Some(io) = error.downcast_ref::<std::io::Error>()
            && matches!(
                io.kind(),
                ErrorKind::ConnectionRefused
                    | ErrorKind::ConnectionReset
                    | ErrorKind::NotConnected
                    | ErrorKind::TimedOut
                    | ErrorKind::HostUnreachable
                    | ErrorKind::NetworkUnreachable
            )
        {
            return true;
        }
        source = error.source();
    }
    false
}

impl CircuitBreakerLayer {
    /// The cached instance of `service` at `address` (when no balancer left its pick).
    async fn cached_instance(
        &self,
        service: &ServiceKey,
        address: Option<SocketAddr>,
    ) -> Option<Arc<Instance>> {
        let address = address?;
        let all = self
            .discover
            .shared
            .consumer
            .get_all_instances(service)
            .await
            .ok()?;
        all.instances
            .iter()
            .find(|i| socket_addr(i) == Some(address))
            .cloned()
    }
}

impl<S, T> Service<ClientContext, Request<T>> for CircuitBreakerService<S>
where
    S: Service<ClientContext, Request<T>, Error = Status> + Send + Sync,
    T: Send + 'static,
{
    type Response = S::Response;
    type Error = Status;

    async fn call(
        &self,
        cx: &mut ClientContext,
        request: Request<T>,
    ) -> Result<S::Response, Status> {
        let layer = &*self.shared;
        let service = layer.discover.service_key(cx.rpc_info().callee());
        let method = layer.method(cx.rpc_info().method());
        layer
            .admit(&service, &method)
            .map_err(Status::unavailable)?;
        let deadline = cx.extensions.get::<CallDeadline>().map(|d| d.0);
        let (mut report, address) = layer
            .begin(service, method, cx.rpc_info().callee(), deadline)
            .await;
        let mut result = self.inner.call(cx, request).await;
        let failed = matches!(&result, Err(status) if is_connect_failure(status));
        layer.connected(address, failed);
        if let (true, Err(status), Some(address)) = (failed, &result, address) {
            // As gRPC does: an instance that cannot be reached is UNAVAILABLE.
            let message = format!("{address}: {}", status.message());
            result = Err(Status::unavailable(message));
        }
        let code = match &result {
            Ok(_) => 0,
            Err(status) => i32::from(status.code()),
        };
        report.send(i64::from(code), is_breaker_failure(code));
        result
    }
}
