//! Shared bits of the examples: the Polaris client, logs and the console HTTP helper (from
//! `polaris_testkit::example`, shared with the SDK and polaris-tonic examples), the Echo
//! service, a volo-grpc Echo client through Polaris, and a provider.

#![allow(dead_code, unused_imports)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

pub use polaris_testkit::example::{framework_client as client, http, init_logs};
use polaris_volo::echo::{Echo, EchoClient, EchoClientBuilder, EchoRequest, EchoResponse};
use polaris_volo::{CircuitBreakerLayer, PolarisDiscover, PolarisLoadBalance};
use volo_grpc::{Request, Response, Status};

/// Echo answering with the request's text and the address that served it; fails with
/// `UNAVAILABLE` while `failing` is set.
#[derive(Clone, Default)]
pub struct EchoService {
    pub served_by: String,
    pub failing: Arc<AtomicBool>,
}

impl Echo for EchoService {
    async fn echo(&self, request: Request<EchoRequest>) -> Result<Response<EchoResponse>, Status> {
        if self.failing.load(Ordering::Relaxed) {
            return Err(Status::unavailable(format!(
                "{} is failing",
                self.served_by
            )));
        }
        Ok(Response::new(EchoResponse {
            value: request.into_inner().value,
            served_by: self.served_by.clone().into(),
        }))
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

/// Serves `echo` on a free port of `host` and registers it as an instance of `service`
/// with `metadata` (behind the Polaris rate-limit layer when `limited`); returns once it is
/// registered. Dropping the returned sender deregisters and stops it.
pub async fn spawn_provider(
    client: &polaris_sdk::Client,
    service: &str,
    metadata: &[(&str, &str)],
    echo: EchoService,
    limited: bool,
) -> Result<tokio::sync::oneshot::Sender<()>, polaris_volo::BoxError> {
    use polaris_volo::echo::EchoServer;
    use polaris_volo::{PolarisServer, ServeVolo};
    use volo_grpc::server::{Server, ServiceBuilder};

    let host = polaris_volo::local_host(client).await;
    let listener = tokio::net::TcpListener::bind((host, 0)).await?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (up, is_up) = tokio::sync::oneshot::channel();
    let polaris = PolarisServer::builder(client.clone())
        .service_name(service)
        .metadata(metadata.iter().map(|(k, v)| (k.to_string(), v.to_string())))
        .graceful(
            std::time::Duration::from_millis(200),
            std::time::Duration::from_secs(5),
        )
        .on_registered(move |_, _| {
            let _ = up.send(());
        });
    let signal = async move { drop(stopped.await) };
    let service = ServiceBuilder::new(EchoServer::new(echo)).build();
    if limited {
        let server = Server::new()
            .layer_front(polaris.rate_limit_layer())
            .add_service(service);
        tokio::spawn(polaris.serve_volo(listener, signal, |incoming, shutdown| {
            server.run_with_shutdown(incoming, shutdown)
        }));
    } else {
        let server = Server::new().add_service(service);
        tokio::spawn(polaris.serve_volo(listener, signal, |incoming, shutdown| {
            server.run_with_shutdown(incoming, shutdown)
        }));
    }
    is_up.await?;
    Ok(stop)
}
