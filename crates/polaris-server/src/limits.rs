//! The limits of the configuration turned into what each listener enforces: one connection
//! limiter per listener, one write-rate limiter shared by every listener that takes writes (a
//! client address has one bucket whichever port it writes through), and the configured values
//! exported as the `polaris_limit` gauge.

use std::sync::Arc;

use polaris_api_grpc::GrpcLimits;
use polaris_limits::{ConnLimiter, IpRateLimiter, Limit, metrics};

use crate::config::LimitsConfig;

/// The limiters of one server.
pub struct ServerLimits {
    config: LimitsConfig,
    writes: Option<Arc<IpRateLimiter>>,
}

impl ServerLimits {
    /// The limiters `config` describes.
    pub fn new(config: &LimitsConfig) -> ServerLimits {
        let writes = IpRateLimiter::new(&config.ip_rate);
        if writes.is_some() {
            let rate = &config.ip_rate;
            tracing::info!(target: "polaris_limits", bucket = rate.bucket, rate = rate.rate,
                "write rate limited per client address");
            // One bucket per address across the HTTP and both gRPC ports.
            metrics().configure(Limit::WriteRate, "all", u64::from(rate.rate));
        }
        ServerLimits {
            config: config.clone(),
            writes,
        }
    }

    /// The write-rate limiter, if writes are limited.
    pub fn writes(&self) -> Option<Arc<IpRateLimiter>> {
        self.writes.clone()
    }

    /// Files one config watch may name.
    pub fn max_watch_files(&self) -> usize {
        self.config.max_watch_files
    }

    /// The connection limiter of the listener `name` (one per call: call once per listener).
    pub fn connections(&self, name: &str) -> Arc<ConnLimiter> {
        let conn = self.config.listener(name).conn;
        if conn.open {
            let m = metrics();
            m.configure(
                Limit::ConnectionsPerHost,
                name,
                conn.max_conn_per_host as u64,
            );
            m.configure(
                Limit::ConnectionsPerListener,
                name,
                conn.max_conn_limit as u64,
            );
        }
        ConnLimiter::new(name, conn)
    }

    /// Everything the gRPC listener `name` enforces.
    pub fn grpc(&self, name: &str) -> GrpcLimits {
        let listener = self.config.listener(name);
        let m = metrics();
        m.configure(
            Limit::StreamsPerConnection,
            name,
            u64::from(listener.max_concurrent_streams),
        );
        if name == "service-grpc" {
            m.configure(
                Limit::Subscriptions,
                name,
                listener.max_subscriptions_per_stream as u64,
            );
        } else {
            m.configure(Limit::WatchFiles, name, self.config.max_watch_files as u64);
        }
        GrpcLimits {
            connections: self.connections(name),
            writes: self.writes.clone(),
            max_concurrent_streams: listener.max_concurrent_streams,
            max_subscriptions_per_stream: listener.max_subscriptions_per_stream,
        }
    }

    /// The xDS limits and connection limiter.
    pub fn xds(&self) -> (polaris_xds::Limits, Arc<ConnLimiter>) {
        let name = "xds-v3";
        let streams = self.config.listener(name).max_concurrent_streams;
        metrics().configure(Limit::StreamsPerConnection, name, u64::from(streams));
        let limits = polaris_xds::Limits {
            max_streams_per_connection: streams,
            ..polaris_xds::Limits::default()
        };
        (limits, self.connections(name))
    }
}
