//! In-process handles on both gRPC ports for the fuzz harness (`crates/polaris-fuzz`): the same
//! services, limits and layers [`crate::serve`] and [`crate::serve_config_with`] put behind a
//! socket, as one tower service that takes HTTP/2-shaped gRPC requests. Not a public API.

use std::convert::Infallible;
use std::sync::Arc;

use polaris_config::ConfigCenter;
use polaris_discovery::Discovery;
use polaris_governance::Governance;
use polaris_health::Health;
use polaris_naming::Naming;
use polaris_proto::shared::PolarisGrpcServer;
use polaris_proto::v1::polaris_config_grpc_server::PolarisConfigGrpcServer;
use polaris_proto::v1::polaris_service_contract_grpc_server::PolarisServiceContractGrpcServer;
use tonic::body::Body;
use tonic::codegen::http::{Request, Response};
use tower::ServiceBuilder;
use tower::util::BoxCloneSyncService;

use crate::{ConfigGrpcOptions, GrpcMetrics, MAX_MESSAGE_BYTES, auth, config, contract, naming};
use crate::{oversize, push};

/// A gRPC port as a service: requests in, replies (status in headers or trailers) out.
pub type GrpcPort = BoxCloneSyncService<Request<Body>, Response<Body>, Infallible>;

/// The naming port (`PolarisGRPC` and `PolarisServiceContractGRPC`), as [`crate::serve`] builds it.
pub fn naming_port(
    naming: Arc<Naming>,
    governance: Arc<Governance>,
    health: Arc<Health>,
    metrics: Arc<GrpcMetrics>,
    auth: Arc<polaris_auth::Auth>,
) -> GrpcPort {
    let backends = Arc::new(Discovery {
        naming: naming.clone(),
        governance,
    });
    let hub = push::PushHub::start(&backends);
    let subscriptions = polaris_limits::DEFAULT_MAX_SUBSCRIPTIONS_PER_STREAM;
    let grpc = naming::PolarisService::new(backends, health, hub, metrics, subscriptions);
    let routes = tonic::service::Routes::new(
        PolarisGrpcServer::new(auth::Guarded::new(grpc, auth.clone()))
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES),
    )
    .add_service(PolarisServiceContractGrpcServer::new(auth::Guarded::new(
        contract::ContractService::new(naming),
        auth,
    )));
    BoxCloneSyncService::new(
        ServiceBuilder::new()
            .layer(oversize::layer())
            .service(routes),
    )
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
    let routes = tonic::service::Routes::new(
        PolarisConfigGrpcServer::new(auth::Guarded::new(service, auth))
            .max_decoding_message_size(MAX_MESSAGE_BYTES)
            .max_encoding_message_size(MAX_MESSAGE_BYTES),
    );
    BoxCloneSyncService::new(
        ServiceBuilder::new()
            .layer(oversize::layer())
            .service(routes),
    )
}
