//! The Polaris gRPC adapter for the naming port (8091): `PolarisGRPC` (registration,
//! deregistration, heartbeat, client reports, the `Discover` stream) and
//! `PolarisServiceContractGRPC`. Errors travel as Polaris codes in the reply body with gRPC status
//! OK, as the official server does. On top of the official request/response `Discover`, a client
//! that sends the metadata `x-polaris-push: true` when it opens the stream also receives a new
//! `DiscoverResponse` whenever a resource it asked for changes (see [`push`]).

mod contract;
mod convert;
mod discover;
mod metrics;
mod naming;
pub mod push;

use std::future::Future;
use std::sync::Arc;

use polaris_discovery::Discovery;
use polaris_governance::Governance;
use polaris_health::Health;
use polaris_naming::Naming;
use polaris_proto::v1::polaris_grpc_server::PolarisGrpcServer;
use polaris_proto::v1::polaris_service_contract_grpc_server::PolarisServiceContractGrpcServer;
use tokio::net::TcpListener;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::TcpListenerStream;

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
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), tonic::transport::Error> {
    let backends = Arc::new(Discovery {
        naming: naming.clone(),
        governance,
    });
    let hub = push::PushHub::start(&backends);
    let grpc = naming::PolarisService::new(backends, health, hub, metrics);
    let contracts = contract::ContractService::default();
    // Sockets from our own listener do not get the builder's TCP_NODELAY: set it per socket, or
    // Nagle plus delayed ACKs add tens of milliseconds to small replies.
    let incoming = TcpListenerStream::new(listener).map(|accepted| {
        accepted.inspect(|stream| {
            if let Err(err) = stream.set_nodelay(true) {
                tracing::debug!(target: "polaris_api_grpc", %err, "cannot set TCP_NODELAY");
            }
        })
    });
    tonic::transport::Server::builder()
        .add_service(
            PolarisGrpcServer::new(grpc)
                .max_decoding_message_size(MAX_MESSAGE_BYTES)
                .max_encoding_message_size(MAX_MESSAGE_BYTES),
        )
        .add_service(PolarisServiceContractGrpcServer::new(contracts))
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await
}

#[cfg(test)]
mod tests;
