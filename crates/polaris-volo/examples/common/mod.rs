//! Shared bits of the examples (and of the tests, which include this file): the Polaris
//! client, logs and the console HTTP helper (from `polaris_testkit::example`, shared with the
//! SDK and polaris-tonic examples), the Echo
//! service over `polaris_testkit::echo::EchoState`, a volo-grpc Echo client through Polaris,
//! and the serve function the providers of `polaris_testkit::example` are spawned with.

#![allow(dead_code, unused_imports)]

pub use polaris_testkit::echo::EchoState;
pub use polaris_testkit::example::{
    BREAKER_SLEEP_WINDOW, breaker_example, breaker_rounds, finish, framework_client as client,
    http, init_logs, limited_provider, routing_providers,
};
use polaris_testkit::suite::Serving;
use polaris_volo::echo::{
    Echo, EchoClient, EchoClientBuilder, EchoRequest, EchoResponse, EchoServer,
};
use polaris_volo::{
    CircuitBreakerLayer, PolarisDiscover, PolarisLoadBalance, PolarisServer, ServeVolo,
};
use volo_grpc::server::{Server, ServiceBuilder};
use volo_grpc::{Request, Response, Status};

/// Echo answering with the request's text and the address that served it; fails with
/// `UNAVAILABLE` while failing.
pub struct EchoService(pub EchoState);

impl Echo for EchoService {
    async fn echo(&self, request: Request<EchoRequest>) -> Result<Response<EchoResponse>, Status> {
        let value = self.0.answer(request.into_inner().value.to_string()).await;
        let value = value.map_err(Status::unavailable)?.into();
        let served_by = self.0.address.clone().into();
        Ok(Response::new(EchoResponse { value, served_by }))
    }
}

/// A volo-grpc Echo client of `service` through Polaris: discovery, routing (with the
/// request's labels), load balancing and circuit breaking.
pub fn echo_client(
    client: &polaris_sdk::Client,
    service: &str,
    balance: PolarisLoadBalance,
) -> EchoClient {
    let discover = PolarisDiscover::new(client);
    EchoClientBuilder::new(service)
        .layer_outer(balance.route_labels_layer())
        .layer_inner(CircuitBreakerLayer::new(&discover))
        .discover(discover)
        .load_balance(balance)
        .build()
}

/// Spawns a volo-grpc server as `serving` says, registered through `polaris`.
pub fn serve_echo(polaris: PolarisServer, serving: Serving) {
    let service = ServiceBuilder::new(EchoServer::new(EchoService(serving.echo))).build();
    let (listener, polaris) = (serving.listener, polaris.shutdown_on(serving.stop));
    if serving.limited {
        let server = Server::new()
            .layer_front(polaris.rate_limit_layer())
            .add_service(service);
        tokio::spawn(polaris.serve_volo(listener, |incoming, shutdown| {
            server.run_with_shutdown(incoming, shutdown)
        }));
    } else {
        let server = Server::new().add_service(service);
        tokio::spawn(polaris.serve_volo(listener, |incoming, shutdown| {
            server.run_with_shutdown(incoming, shutdown)
        }));
    }
}
