//! gRPC request counts and latencies per method, and push activity.

use std::sync::Arc;
use std::time::Instant;

use polaris_limits::metrics::latency_histogram;
use polaris_limits::register_fields;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct MethodLabels {
    method: &'static str,
}

type LatencyFamily = Family<MethodLabels, Histogram, fn() -> Histogram>;

/// The naming gRPC adapter's metric families.
pub struct GrpcMetrics {
    requests: Family<MethodLabels, Counter>,
    latency: LatencyFamily,
    pub(crate) pushes: Counter,
    pub(crate) discover_streams: Gauge,
}

impl Default for GrpcMetrics {
    /// Families that are not registered anywhere (for tests).
    fn default() -> Self {
        GrpcMetrics {
            requests: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
            pushes: Counter::default(),
            discover_streams: Gauge::default(),
        }
    }
}

impl GrpcMetrics {
    /// Creates the families and registers them as `grpc_*`, `push_responses` and
    /// `discover_streams`.
    pub fn register(registry: &mut Registry) -> Arc<GrpcMetrics> {
        let metrics = GrpcMetrics::default();
        register_fields!(registry, metrics, {
            requests: "grpc_requests", "gRPC requests (unary calls and discover requests) by method";
            latency: "grpc_request_seconds", "gRPC handling latency by method";
            pushes: "push_responses", "Discover responses pushed unasked";
            discover_streams: "discover_streams", "Open Discover streams";
        });
        Arc::new(metrics)
    }

    /// Counts one request of `method` and records its latency from `started`.
    pub(crate) fn observe(&self, method: &'static str, started: Instant) {
        let labels = MethodLabels { method };
        self.requests.get_or_create(&labels).inc();
        self.latency
            .get_or_create(&labels)
            .observe(started.elapsed().as_secs_f64());
    }
}
