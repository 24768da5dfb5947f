//! Shared bits of the examples (and of the tests, which include this file): the Polaris
//! client, logs and the console HTTP helper (from `polaris_testkit::example`, shared with the
//! SDK and polaris-volo examples), the Echo service over `polaris_testkit::echo::EchoState`,
//! and the serve function the providers of `polaris_testkit::example` are spawned with.

#![allow(dead_code, unused_imports)]

pub use polaris_testkit::echo::EchoState;
pub use polaris_testkit::example::{
    BREAKER_SLEEP_WINDOW, breaker_example, breaker_rounds, finish, framework_client as client,
    http, init_logs, limited_provider, routing_providers,
};
use polaris_testkit::suite::Serving;
use polaris_tonic::echo::echo_server::{Echo, EchoServer};
use polaris_tonic::echo::{EchoRequest, EchoResponse};
use polaris_tonic::{PolarisServer, ServeTonic};
use tonic::{Request, Response, Status};

/// Echo answering with the request's text and the address that served it; fails with
/// `UNAVAILABLE` while failing.
pub struct EchoService(pub EchoState);

#[tonic::async_trait]
impl Echo for EchoService {
    async fn echo(&self, request: Request<EchoRequest>) -> Result<Response<EchoResponse>, Status> {
        let value = self.0.answer(request.into_inner().value).await;
        let value = value.map_err(Status::unavailable)?;
        let served_by = self.0.address.clone();
        Ok(Response::new(EchoResponse { value, served_by }))
    }
}

/// Spawns a tonic server as `serving` says, registered through `polaris`.
pub fn serve_echo(polaris: PolarisServer, serving: Serving) {
    let layer = serving.limited.then(|| polaris.rate_limit_layer());
    let router = tonic::transport::Server::builder()
        .layer(tower::util::option_layer(layer))
        .add_service(EchoServer::new(EchoService(serving.echo)));
    let polaris = polaris.shutdown_on(serving.stop);
    tokio::spawn(polaris.serve_tonic(serving.listener, |incoming, shutdown| {
        router.serve_with_incoming_shutdown(incoming, shutdown)
    }));
}
