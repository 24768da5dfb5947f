//! Shared bits of the examples (and of the tests, which include this file): the Polaris
//! client, logs and the console HTTP helper (from `polaris_testkit::example`, shared with the
//! SDK and polaris-volo examples), the Echo service over `polaris_testkit::echo::EchoState`,
//! and a registered provider.

#![allow(dead_code, unused_imports)]

use std::future::Future;

pub use polaris_testkit::echo::EchoState;
pub use polaris_testkit::example::{
    framework_client as client, framework_client_with_sleep_window, http, init_logs,
};
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

/// Spawns a tonic server of `echo` on `listener`, registered through `polaris` (behind the
/// Polaris rate-limit layer when `limited`), until `stop` resolves.
pub fn serve_echo(
    polaris: PolarisServer,
    listener: tokio::net::TcpListener,
    echo: EchoState,
    limited: bool,
    stop: impl Future<Output = ()> + Send + 'static,
) {
    let layer = limited.then(|| polaris.rate_limit_layer());
    let router = tonic::transport::Server::builder()
        .layer(tower::util::option_layer(layer))
        .add_service(EchoServer::new(EchoService(echo)));
    tokio::spawn(polaris.serve_tonic(listener, stop, |incoming, shutdown| {
        router.serve_with_incoming_shutdown(incoming, shutdown)
    }));
}

/// Serves an Echo answering as `served_by` on a free port and registers it as an instance
/// of `service` with `metadata`; returns once it is registered, with its state (to make it
/// fail) and the sender whose drop deregisters and stops it.
pub async fn spawn_provider(
    client: &polaris_sdk::Client,
    service: &str,
    metadata: &[(&str, &str)],
    served_by: &str,
    limited: bool,
) -> Result<(EchoState, tokio::sync::oneshot::Sender<()>), polaris_tonic::BoxError> {
    let host = polaris_tonic::local_host(client).await;
    let listener = tokio::net::TcpListener::bind((host, 0)).await?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (polaris, registered) = polaris_testkit::echo::registration(client, service, metadata);
    let echo = EchoState::new(served_by);
    serve_echo(polaris, listener, echo.clone(), limited, async move {
        drop(stopped.await)
    });
    registered.await?;
    Ok((echo, stop))
}
