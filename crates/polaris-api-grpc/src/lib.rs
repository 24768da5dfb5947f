//! The Polaris gRPC adapter for the naming port (8091): `PolarisGRPC` (registration,
//! deregistration, heartbeat, client reports, the `Discover` stream) and
//! `PolarisServiceContractGRPC`; and for the config port (8093): `PolarisConfigGRPC` (see
//! [`config`], served by [`serve_config_with`]). Errors travel as Polaris codes in the reply
//! body with gRPC status OK, as the official server does. On top of the official request/response `Discover`, a client
//! that sends the metadata `x-polaris-push: true` when it opens the stream also receives a new
//! `DiscoverResponse` whenever a resource it asked for changes (see [`push`]).

pub mod auth;
pub mod config;
mod contract;
mod convert;
mod discover;
#[doc(hidden)]
pub mod fuzzing;
mod limits;
mod metrics;
mod naming;
mod oversize;
pub mod push;
mod unary;

use std::future::Future;
use std::sync::Arc;

use polaris_config::ConfigCenter;
use polaris_discovery::Discovery;
use polaris_governance::Governance;
use polaris_health::Health;
use polaris_naming::Naming;
use polaris_proto::shared::PolarisGrpcServer;
use polaris_proto::v1::polaris_config_grpc_server::PolarisConfigGrpcServer;
use polaris_proto::v1::polaris_service_contract_grpc_server::PolarisServiceContractGrpcServer;

pub use config::ConfigGrpcOptions;
pub use limits::{GrpcLimits, WriteRateLayer};
pub use metrics::GrpcMetrics;
pub use push::PUSH_METADATA_KEY;

/// Largest message accepted or sent, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// Serves the naming gRPC services on `listener` (plain or TLS; a `TcpListener` serves plain
/// text) within `limits` (`GrpcLimits::unlimited` counts connections without limiting them)
/// until `shutdown` resolves.
#[allow(clippy::too_many_arguments)]
pub async fn serve_with(
    listener: impl Into<polaris_tls::Listener>,
    naming: Arc<Naming>,
    governance: Arc<Governance>,
    health: Arc<Health>,
    metrics: Arc<GrpcMetrics>,
    auth: Arc<polaris_auth::Auth>,
    limits: GrpcLimits,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    let subscriptions = limits.max_subscriptions_per_stream;
    let routes = naming_routes(naming, governance, health, metrics, auth, subscriptions);
    let routes = (routes, config::watch_route::WatchFirstLayer::default());
    serve_routes(listener.into(), limits, routes, shutdown).await
}

/// The naming port's services (`PolarisGRPC` with its message bounds and
/// `PolarisServiceContractGRPC`, each behind its auth guard): the one builder of what
/// [`serve_with`] serves and the fuzz harness calls in process.
fn naming_routes(
    naming: Arc<Naming>,
    governance: Arc<Governance>,
    health: Arc<Health>,
    metrics: Arc<GrpcMetrics>,
    auth: Arc<polaris_auth::Auth>,
    subscriptions: usize,
) -> tonic::service::Routes {
    let backends = Arc::new(Discovery {
        naming: naming.clone(),
        governance,
    });
    let hub = push::PushHub::start(&backends);
    let grpc = naming::PolarisService::new(backends, health, hub, metrics, subscriptions);
    tonic::service::Routes::new(
        PolarisGrpcServer::new(auth::Guarded::new(grpc, auth.clone()))
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES),
    )
    .add_service(PolarisServiceContractGrpcServer::new(auth::Guarded::new(
        contract::ContractService::new(naming),
        auth,
    )))
}

/// The config port's service (`PolarisConfigGRPC` with its message bounds, behind its auth
/// guard), for [`serve_config_with`] and the fuzz harness.
fn config_routes(
    service: config::ConfigService,
    auth: Arc<polaris_auth::Auth>,
) -> (tonic::service::Routes, config::watch_route::WatchFirstLayer) {
    let guarded = Arc::new(auth::Guarded::new(service, auth));
    let routes = tonic::service::Routes::new(
        PolarisConfigGrpcServer::from_arc(guarded.clone())
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES),
    );
    // Parked long polls are answered in front of the router (`config/watch_route.rs`).
    (routes, config::watch_route::WatchFirstLayer::new(guarded))
}

/// Serves `routes` on `listener` behind the layers of every gRPC port (oversize replies,
/// write rates) within `limits`, until `shutdown` resolves.
async fn serve_routes(
    listener: polaris_tls::Listener,
    limits: GrpcLimits,
    (routes, first): (tonic::service::Routes, config::watch_route::WatchFirstLayer),
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    tonic::transport::Server::builder()
        .max_concurrent_streams(limits.max_concurrent_streams)
        .layer(oversize::layer())
        .layer(first)
        .layer(limits.write_layer())
        .add_routes(routes)
        .serve_with_incoming_shutdown(limits.incoming(listener), shutdown)
        .await
}

/// Serves `PolarisConfigGRPC` (the config port, 8093) on `listener` with `options` (limits,
/// the watch timeout) until `shutdown` resolves.
pub async fn serve_config_with(
    listener: impl Into<polaris_tls::Listener>,
    config: Arc<ConfigCenter>,
    metrics: Arc<GrpcMetrics>,
    options: ConfigGrpcOptions,
    auth: Arc<polaris_auth::Auth>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let limits = options.limits.clone();
    let service = config::ConfigService::new(config, metrics, options, stop_rx);
    let shutdown = async move {
        shutdown.await;
        // Parked long polls answer "no change" now instead of holding the shutdown.
        let _ = stop_tx.send(true);
    };
    serve_routes(
        listener.into(),
        limits,
        config_routes(service, auth),
        shutdown,
    )
    .await
}

#[cfg(test)]
mod tests;
