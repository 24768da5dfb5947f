//! In-process handles on both gRPC ports for the fuzz harness (`crates/polaris-fuzz`): the same
//! services, limits and layers [`crate::serve_with`] and [`crate::serve_config_with`] put behind a
//! socket, as one tower service that takes HTTP/2-shaped gRPC requests. Not a public API.

use std::convert::Infallible;
use std::sync::Arc;

use polaris_config::ConfigCenter;
use polaris_governance::Governance;
use polaris_health::Health;
use polaris_naming::Naming;
use tonic::body::Body;
use tonic::codegen::http::{Request, Response};
use tower::ServiceBuilder;
use tower::util::BoxCloneSyncService;

use crate::{ConfigGrpcOptions, GrpcMetrics, config, oversize};

/// A gRPC port as a service: requests in, replies (status in headers or trailers) out.
pub type GrpcPort = BoxCloneSyncService<Request<Body>, Response<Body>, Infallible>;

/// The naming port (`PolarisGRPC` and `PolarisServiceContractGRPC`), as [`crate::serve_with`] builds it.
pub fn naming_port(
    naming: Arc<Naming>,
    governance: Arc<Governance>,
    health: Arc<Health>,
    metrics: Arc<GrpcMetrics>,
    auth: Arc<polaris_auth::Auth>,
) -> GrpcPort {
    let subscriptions = polaris_limits::DEFAULT_MAX_SUBSCRIPTIONS_PER_STREAM;
    let routes = crate::naming_routes(naming, governance, health, metrics, auth, subscriptions);
    port((routes, config::watch_route::WatchFirstLayer::default()))
}

/// The config port (`PolarisConfigGRPC`), as [`crate::serve_config_with`] builds it.
pub fn config_port(
    center: Arc<ConfigCenter>,
    metrics: Arc<GrpcMetrics>,
    options: ConfigGrpcOptions,
    auth: Arc<polaris_auth::Auth>,
) -> GrpcPort {
    // The stop sender is dropped at once, so a watch that would park answers "no change" right
    // away, as on a stopping server: a fuzz input never waits for a long poll.
    let (_stop, stopping) = tokio::sync::watch::channel(false);
    let service = config::ConfigService::new(center, metrics, options, stopping);
    port(crate::config_routes(service, auth))
}

/// `routes` behind the layers of [`crate::serve_routes`] that see requests (oversize replies,
/// the config port's watch route; no write-rate limit, so that every input reaches the
/// handlers; auth guards are inside).
fn port(
    (routes, first): (tonic::service::Routes, config::watch_route::WatchFirstLayer),
) -> GrpcPort {
    BoxCloneSyncService::new(
        ServiceBuilder::new()
            .layer(oversize::layer())
            .layer(first)
            .service(BoxCloneSyncService::new(routes)),
    )
}
