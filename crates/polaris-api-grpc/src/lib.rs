//! The Polaris gRPC adapter for the naming port (8091): `PolarisGRPC` (registration,
//! deregistration, heartbeat, client reports, the `Discover` stream) and
//! `PolarisServiceContractGRPC`; and for the config port (8093): `PolarisConfigGRPC` (see
//! [`config`], served by [`serve_config`]). Errors travel as Polaris codes in the reply body with gRPC status
//! OK, as the official server does. On top of the official request/response `Discover`, a client
//! that sends the metadata `x-polaris-push: true` when it opens the stream also receives a new
//! `DiscoverResponse` whenever a resource it asked for changes (see [`push`]).

pub mod auth;
pub mod config;
mod contract;
mod convert;
mod discover;
mod metrics;
mod naming;
mod oversize;
pub mod push;

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
use tokio::net::TcpListener;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::TcpListenerStream;

pub use config::ConfigGrpcOptions;
pub use metrics::GrpcMetrics;
pub use push::PUSH_METADATA_KEY;

/// Largest message accepted or sent, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024 * 1024;

/// Serves the naming gRPC services on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: TcpListener,
    naming: Arc<Naming>,
    governance: Arc<Governance>,
    health: Arc<Health>,
    metrics: Arc<GrpcMetrics>,
    auth: Arc<polaris_auth::Auth>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    let backends = Arc::new(Discovery {
        naming: naming.clone(),
        governance,
    });
    let hub = push::PushHub::start(&backends);
    let grpc = naming::PolarisService::new(backends, health, hub, metrics);
    let contracts = contract::ContractService::new(naming.clone());
    tonic::transport::Server::builder()
        .layer(oversize::layer())
        .layer(auth::AuthLayer::new(auth))
        .add_service(
            PolarisGrpcServer::new(grpc)
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
        )
        .add_service(PolarisServiceContractGrpcServer::new(contracts))
        .serve_with_incoming_shutdown(nodelay_incoming(listener), shutdown)
        .await
}

/// Accepted sockets with TCP_NODELAY: sockets from our own listener do not get the builder's
/// setting, and Nagle plus delayed ACKs add tens of milliseconds to small replies.
fn nodelay_incoming(
    listener: TcpListener,
) -> impl tokio_stream::Stream<Item = std::io::Result<tokio::net::TcpStream>> {
    TcpListenerStream::new(listener).map(|accepted| {
        accepted.inspect(|stream| {
            if let Err(err) = stream.set_nodelay(true) {
                tracing::debug!(target: "polaris_api_grpc", %err, "cannot set TCP_NODELAY");
            }
        })
    })
}

/// Serves `PolarisConfigGRPC` (the config port, 8093) on `listener` until `shutdown` resolves.
pub async fn serve_config(
    listener: TcpListener,
    config: Arc<ConfigCenter>,
    metrics: Arc<GrpcMetrics>,
    auth: Arc<polaris_auth::Auth>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    serve_config_with(
        listener,
        config,
        metrics,
        ConfigGrpcOptions::default(),
        auth,
        shutdown,
    )
    .await
}

/// [`serve_config`] with explicit settings (a shorter watch timeout in tests).
pub async fn serve_config_with(
    listener: TcpListener,
    config: Arc<ConfigCenter>,
    metrics: Arc<GrpcMetrics>,
    options: ConfigGrpcOptions,
    auth: Arc<polaris_auth::Auth>,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let service = config::ConfigService::new(config, metrics, options, stop_rx);
    let shutdown = async move {
        shutdown.await;
        // Parked long polls answer "no change" now instead of holding the shutdown.
        let _ = stop_tx.send(true);
    };
    tonic::transport::Server::builder()
        .layer(oversize::layer())
        .layer(auth::AuthLayer::new(auth))
        .add_service(
            PolarisConfigGrpcServer::new(service)
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
        )
        .serve_with_incoming_shutdown(nodelay_incoming(listener), shutdown)
        .await
}

#[cfg(test)]
mod tests;
