//! The limit metrics, process-wide so that every adapter counts into the same families without
//! threading a handle through each constructor: `polaris_limit_refusals_total{limit, listener}`
//! (requests, connections, subscriptions and watches refused), `polaris_connections{listener}`
//! (open connections per listener) and `polaris_limit{limit, listener}` (the configured value of
//! each limit, so a dashboard can show how close clients come). [`register`] adds them to the
//! server's registry.
//!
//! The adapters' own families are registered the same way, through [`register_fields!`], and
//! their request latencies share one bucket layout ([`latency_histogram`]).

use std::sync::LazyLock;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

/// Registers fields of a struct of metric families in a registry, one line per field:
/// `field: "name", "help";`. Each is registered as a clone, a handle on the same family, so
/// what the struct counts is what `/metrics` shows.
///
/// ```
/// # use prometheus_client::{metrics::counter::Counter, registry::Registry};
/// # #[derive(Default)] struct Metrics { hits: Counter }
/// let (mut registry, metrics) = (Registry::default(), Metrics::default());
/// polaris_limits::register_fields!(&mut registry, metrics, {
///     hits: "hits", "Requests answered";
/// });
/// ```
#[macro_export]
macro_rules! register_fields {
    ($registry:expr, $metrics:expr, { $($field:ident: $name:literal, $help:literal;)+ }) => {{
        let (registry, metrics) = ($registry, &$metrics);
        $( registry.register($name, $help, metrics.$field.clone()); )+
    }};
}

/// The buckets of every request-latency histogram: 100 µs doubling up to about 3.3 s.
pub fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.0001, 2.0, 16))
}

/// What was limited.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum Limit {
    /// `maxConnPerHost`.
    ConnectionsPerHost,
    /// `maxConnLimit`.
    ConnectionsPerListener,
    /// The write rate of one client address (`plugin.ratelimit.option.ip-limit`).
    WriteRate,
    /// Subscriptions of one Discover stream.
    Subscriptions,
    /// Files of one config watch.
    WatchFiles,
    /// HTTP/2 streams per connection (a configured value only: the HTTP/2 layer refuses
    /// extra streams itself, uncounted).
    StreamsPerConnection,
}

impl Limit {
    /// The `limit` label.
    pub fn label(self) -> &'static str {
        match self {
            Limit::ConnectionsPerHost => "connections_per_host",
            Limit::ConnectionsPerListener => "connections_per_listener",
            Limit::WriteRate => "write_rate",
            Limit::Subscriptions => "subscriptions_per_stream",
            Limit::WatchFiles => "files_per_watch",
            Limit::StreamsPerConnection => "streams_per_connection",
        }
    }
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct LimitLabels {
    limit: &'static str,
    listener: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ListenerLabels {
    listener: String,
}

/// The families.
pub struct LimitMetrics {
    refusals: Family<LimitLabels, Counter>,
    connections: Family<ListenerLabels, Gauge>,
    configured: Family<LimitLabels, Gauge>,
}

static METRICS: LazyLock<LimitMetrics> = LazyLock::new(|| LimitMetrics {
    refusals: Family::default(),
    connections: Family::default(),
    configured: Family::default(),
});

/// The process-wide families.
pub fn metrics() -> &'static LimitMetrics {
    &METRICS
}

/// Registers the families in `registry` (they keep counting whether registered or not).
pub fn register(registry: &mut Registry) {
    register_fields!(registry, metrics(), {
        refusals: "limit_refusals", "Connections, requests, subscriptions and watches refused by a limit";
        connections: "connections", "Open connections per listener";
        configured: "limit", "Configured value of each limit per listener";
    });
}

impl LimitMetrics {
    /// Counts one refusal by `limit` on `listener`.
    pub fn refused(&self, limit: Limit, listener: &str) {
        self.refusals
            .get_or_create(&LimitLabels {
                limit: limit.label(),
                listener: listener.to_string(),
            })
            .inc();
    }

    /// Refusals counted so far by `limit` on `listener`.
    pub fn refusals(&self, limit: Limit, listener: &str) -> u64 {
        self.refusals
            .get_or_create(&LimitLabels {
                limit: limit.label(),
                listener: listener.to_string(),
            })
            .get()
    }

    /// The open-connections gauge of `listener`.
    pub fn connections(&self, listener: &str) -> Gauge {
        self.connections
            .get_or_create(&ListenerLabels {
                listener: listener.to_string(),
            })
            .clone()
    }

    /// Records the configured value of `limit` on `listener`.
    pub fn configure(&self, limit: Limit, listener: &str, value: u64) {
        self.configured
            .get_or_create(&LimitLabels {
                limit: limit.label(),
                listener: listener.to_string(),
            })
            .set(i64::try_from(value).unwrap_or(i64::MAX));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prometheus_client::encoding::text::encode;

    #[test]
    fn fields_are_registered_as_handles_on_the_families() {
        #[derive(Default)]
        struct Two {
            hits: Counter,
            open: Gauge,
        }
        let (mut registry, two) = (Registry::default(), Two::default());
        register_fields!(&mut registry, two, {
            hits: "hits", "Requests answered";
            open: "open", "Open streams";
        });
        two.hits.inc();
        two.open.set(3);
        let mut text = String::new();
        encode(&mut text, &registry).unwrap();
        assert!(text.contains("# HELP hits Requests answered"), "{text}");
        assert!(text.contains("hits_total 1"), "{text}");
        assert!(text.contains("# HELP open Open streams"), "{text}");
        assert!(text.contains("open 3"), "{text}");
    }
}
