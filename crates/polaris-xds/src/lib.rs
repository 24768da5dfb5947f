//! The xDS v3 adapter of polaris-rs (port 15010): Envoy sidecars and proxyless gRPC clients get
//! clusters, endpoints, routes and listeners built from Polaris services, instances and
//! governance rules, with the names and shapes of the official server (`OUTBOUND|<ns>|<svc>`,
//! `OUTBOUND_15001`, `<svc>.<ns>_INBOUND_15006`, `polaris-outbound-router`, ...). Unlike the
//! official server, which rebuilds everything on a 5-second ticker, a builder task follows the
//! registry's and the rule service's change feeds and rebuilds only the services that changed
//! ([`builder`]); each stream sends a type again only when the resources it sees changed
//! ([`sotw`], [`delta`]). Wire types come from `envoy-types`; only this crate knows them.

pub mod build;
pub mod builder;
pub mod cache;
pub mod delta;
mod drive;
pub mod metrics;
pub mod node;
pub mod service;
pub mod sotw;
pub mod view;

#[cfg(test)]
mod tests;

use std::future::Future;
use std::sync::Arc;

use envoy_types::pb::envoy::service::cluster::v3::cluster_discovery_service_server::ClusterDiscoveryServiceServer;
use envoy_types::pb::envoy::service::discovery::v3::aggregated_discovery_service_server::AggregatedDiscoveryServiceServer;
use envoy_types::pb::envoy::service::endpoint::v3::endpoint_discovery_service_server::EndpointDiscoveryServiceServer;
use envoy_types::pb::envoy::service::listener::v3::listener_discovery_service_server::ListenerDiscoveryServiceServer;
use envoy_types::pb::envoy::service::route::v3::route_discovery_service_server::RouteDiscoveryServiceServer;
use polaris_governance::Governance;
use polaris_limits::ConnLimiter;
use polaris_naming::Naming;
use tokio::net::TcpListener;

pub use cache::XdsCache;
pub use metrics::XdsMetrics;
pub use service::XdsService;

/// Bounds on what one client may hold.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Resource names one stream may subscribe to per type.
    pub max_names_per_type: usize,
    /// Concurrent streams per HTTP/2 connection.
    pub max_streams_per_connection: u32,
    /// Largest message accepted or sent, in bytes.
    pub max_message_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_names_per_type: 10_000,
            max_streams_per_connection: polaris_limits::DEFAULT_MAX_CONCURRENT_STREAMS,
            max_message_bytes: 64 * 1024 * 1024,
        }
    }
}

/// Binds the xDS listener.
pub async fn bind(addr: std::net::SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await.map_err(|err| {
        std::io::Error::new(
            err.kind(),
            format!("cannot listen for xDS on {addr}: {err}"),
        )
    })
}

/// Starts the builder task and returns the cache it keeps current.
pub fn start(naming: Arc<Naming>, governance: Arc<Governance>) -> Arc<XdsCache> {
    let cache = Arc::new(XdsCache::new(builder::empty_namespace()));
    tokio::spawn(builder::run(cache.clone(), naming, governance));
    cache
}

/// Serves xDS on `listener` within `limits`, admitting connections through `connections`,
/// until `shutdown` resolves.
#[allow(clippy::too_many_arguments)]
pub async fn serve_with(
    listener: impl Into<polaris_tls::Listener>,
    naming: Arc<Naming>,
    governance: Arc<Governance>,
    auth: Arc<polaris_auth::Auth>,
    metrics: Arc<XdsMetrics>,
    limits: Limits,
    connections: Arc<ConnLimiter>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    let service = XdsService {
        cache: start(naming, governance),
        auth,
        limits,
        metrics,
    };
    let incoming = listener
        .into()
        .admitting(connections.admission())
        .coalescing_writes()
        .into_incoming();
    tonic::transport::Server::builder()
        .max_concurrent_streams(limits.max_streams_per_connection)
        .add_routes(routes(service))
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
}

/// ADS and the per-type CDS, EDS, LDS and RDS services over `service`, ADS with the message
/// bound of its limits: what [`serve_with`] serves, and what the fuzz harness calls in process.
pub fn routes(service: XdsService) -> tonic::service::Routes {
    let bytes = service.limits.max_message_bytes;
    tonic::service::Routes::new(
        AggregatedDiscoveryServiceServer::new(service.clone())
            .max_decoding_message_size(bytes)
            .max_encoding_message_size(bytes),
    )
    .add_service(ClusterDiscoveryServiceServer::new(service.clone()))
    .add_service(EndpointDiscoveryServiceServer::new(service.clone()))
    .add_service(ListenerDiscoveryServiceServer::new(service.clone()))
    .add_service(RouteDiscoveryServiceServer::new(service))
}
