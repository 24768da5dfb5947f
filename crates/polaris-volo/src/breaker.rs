//! [`CircuitBreakerLayer`]: the inner client layer (it sees the picked address) checking the
//! service and method breakers before a call and reporting each call's gRPC status and
//! latency to the service, method and instance breakers.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Instant;

use motore::layer::Layer;
use motore::service::Service;
use polaris_sdk::{CallResult, Error, Instance, ServiceKey};
use volo::context::Context;
use volo::net::Address;
use volo_grpc::context::ClientContext;
use volo_grpc::{Code, Request, Status};

use crate::balance::RouteLabels;
use crate::discover::{PolarisDiscover, socket_addr};
use crate::policy::CallDeadline;

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
    discover: PolarisDiscover,
    caller: Option<ServiceKey>,
}

impl CircuitBreakerLayer {
    /// Breakers of the services `discover` finds.
    pub fn new(discover: &PolarisDiscover) -> CircuitBreakerLayer {
        CircuitBreakerLayer {
            discover: discover.clone(),
            caller: None,
        }
    }

    /// The calling service, matched by breaker rules' sources.
    pub fn caller(mut self, namespace: &str, service: &str) -> Self {
        self.caller = Some(ServiceKey::new(namespace, service));
        self
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
    inner: S,
    shared: Arc<CircuitBreakerLayer>,
}

/// Reports one call once: with its status, or when dropped unfinished past its deadline.
struct Report<'a> {
    layer: &'a CircuitBreakerLayer,
    service: ServiceKey,
    method: &'a str,
    instance: Option<Arc<Instance>>,
    started: Instant,
    deadline: Option<Instant>,
    done: bool,
}

impl Report<'_> {
    fn send(&mut self, code: i32) {
        self.done = true;
        let delay = self.started.elapsed();
        let service = self.service.clone();
        let mut result = if is_breaker_failure(code) {
            CallResult::failure(service, code.to_string(), delay)
        } else {
            let mut ok = CallResult::success(service, delay);
            ok.code = code.to_string();
            ok
        };
        result.method = Some(self.method.to_string());
        result.instance = self.instance.take();
        result.caller = self.layer.caller.clone();
        self.layer.discover.shared.consumer.report(&result);
    }
}

impl Drop for Report<'_> {
    fn drop(&mut self) {
        if !self.done && self.deadline.is_some_and(|d| Instant::now() >= d) {
            self.send(i32::from(Code::DeadlineExceeded));
        }
    }
}

/// Whether a call failed to reach the instance at all (connection refused, reset, timed out).
fn is_connect_failure(status: &Status) -> bool {
    use std::io::ErrorKind;
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(status);
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
        let method = cx.rpc_info().method().clone();
        match layer
            .discover
            .shared
            .consumer
            .check(&service, Some(method.as_str()))
        {
            Ok(()) => {}
            Err(Error::CircuitOpen(why)) => {
                return Err(Status::unavailable(format!("circuit open: {why}")));
            }
            Err(e) => return Err(Status::unavailable(e.to_string())),
        }
        let address = match cx.rpc_info().callee().address {
            Some(Address::Ip(address)) => Some(address),
            _ => None,
        };
        let picked = cx
            .rpc_info()
            .callee()
            .get::<RouteLabels>()
            .and_then(RouteLabels::picked)
            .cloned();
        let instance = match picked {
            Some(picked) => Some(picked),
            None => layer.cached_instance(&service, address).await,
        };
        let mut report = Report {
            layer,
            service,
            method: method.as_str(),
            instance,
            started: Instant::now(),
            deadline: cx.extensions.get::<CallDeadline>().map(|d| d.0),
            done: false,
        };
        let mut result = self.inner.call(cx, request).await;
        if let Some(address) = address {
            match &result {
                Err(status) if is_connect_failure(status) => {
                    tracing::debug!(%address, %status, "connection failed: instance avoided for 2 s");
                    layer.discover.shared.mark_down(address);
                    // As gRPC does: an instance that cannot be reached is UNAVAILABLE.
                    let message = format!("{address}: {}", status.message());
                    result = Err(Status::unavailable(message));
                }
                _ => layer.discover.shared.mark_up(&address),
            }
        }
        let code = match &result {
            Ok(_) => 0,
            Err(status) => i32::from(status.code()),
        };
        report.send(code);
        result
    }
}
