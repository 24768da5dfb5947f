//! [`PolicyLayer`]: the outer client layer applying per-method timeouts and degradation from
//! [`RpcPolicies`] (fixed, or followed live from the config center in the Kitex config
//! suites' file naming).

use std::time::{Duration, Instant};

use motore::layer::Layer;
use motore::service::Service;
use polaris_sdk::RpcPolicies;
use volo::context::Context;
use volo_grpc::context::ClientContext;
use volo_grpc::{Request, Status};

/// When the current call times out under its [`PolicyLayer`] (a client-context extension,
/// read by [`CircuitBreakerLayer`](crate::CircuitBreakerLayer) to report timeouts).
#[derive(Clone, Copy, Debug)]
pub struct CallDeadline(pub Instant);

/// Applies the policies in force at each call: a method's `rpc_timeout` bounds the call
/// (answered `DEADLINE_EXCEEDED`, and sent to the server as `grpc-timeout`), and the
/// degradation percentage refuses that share of calls with `UNAVAILABLE` before they are
/// sent. Changes to the policies apply from the next call, without a restart.
///
/// Retry policies are not applied: Volo's gRPC client sends a request body once (it is a
/// stream). Volo's own `rpc_timeout` (unset unless given to the client builder) still
/// applies around this layer: leave it unset to let the config center decide.
#[derive(Clone)]
pub struct PolicyLayer {
    policies: RpcPolicies,
}

impl PolicyLayer {
    /// Applies `policies` (see [`RpcPolicies::watch`] to follow the config center).
    pub fn new(policies: RpcPolicies) -> PolicyLayer {
        PolicyLayer { policies }
    }
}

impl<S> Layer<S> for PolicyLayer {
    type Service = PolicyService<S>;

    fn layer(self, inner: S) -> PolicyService<S> {
        PolicyService {
            inner,
            policies: self.policies,
        }
    }
}

/// The service of [`PolicyLayer`].
#[derive(Clone)]
pub struct PolicyService<S> {
    inner: S,
    policies: RpcPolicies,
}

/// A `grpc-timeout` header value (milliseconds, rounded up, at most 8 digits).
fn grpc_timeout(timeout: Duration) -> String {
    let millis = timeout.as_micros().div_ceil(1000).min(99_999_999);
    format!("{millis}m")
}

impl<S, T> Service<ClientContext, Request<T>> for PolicyService<S>
where
    S: Service<ClientContext, Request<T>, Error = Status> + Send + Sync,
    T: Send + 'static,
{
    type Response = S::Response;
    type Error = Status;

    async fn call(
        &self,
        cx: &mut ClientContext,
        mut request: Request<T>,
    ) -> Result<S::Response, Status> {
        if self.policies.degrade_now() {
            return Err(Status::unavailable("refused by the degradation policy"));
        }
        let timeout = self.policies.load().timeout(cx.rpc_info().method());
        let Some(timeout) = timeout else {
            return self.inner.call(cx, request).await;
        };
        let deadline = Instant::now() + timeout;
        cx.extensions.insert(CallDeadline(deadline));
        if let Ok(value) = grpc_timeout(timeout).parse() {
            request.metadata_mut().insert("grpc-timeout", value);
        }
        match tokio::time::timeout_at(deadline.into(), self.inner.call(cx, request)).await {
            Ok(result) => result,
            Err(_) => Err(Status::deadline_exceeded(format!(
                "no answer within {timeout:?} (the method's rpc_timeout)"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_timeouts_are_whole_milliseconds_rounded_up() {
        assert_eq!(grpc_timeout(Duration::from_millis(100)), "100m");
        assert_eq!(grpc_timeout(Duration::from_micros(1500)), "2m");
        assert_eq!(grpc_timeout(Duration::from_secs(1_000_000)), "99999999m");
    }
}
