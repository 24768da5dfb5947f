//! Echo providers served with volo-grpc in the test process and registered through
//! `PolarisServer`, and Echo clients through Polaris.

#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use polaris_sdk::{Client, RpcPolicies, Settings};
use polaris_volo::echo::{
    Echo, EchoClient, EchoClientBuilder, EchoRequest, EchoResponse, EchoServer,
};
use polaris_volo::{
    CircuitBreakerLayer, PolarisDiscover, PolarisLoadBalance, PolarisServer, PolicyLayer, ServeVolo,
};
use volo_grpc::server::{Server, ServiceBuilder};
use volo_grpc::{Request, Response, Status};

use crate::support::TestServer;

/// A client of the test server with a short breaker sleep window (2 s).
pub async fn client(server: &TestServer) -> Client {
    let mut settings = Settings::default();
    settings.consumer.circuit_breaker.sleep_window = Duration::from_secs(2);
    Client::builder()
        .settings(settings)
        .addresses([server.naming_addr()])
        .config_addresses([server.config_addr()])
        .persist_dir(None)
        .config_persist_dir(None)
        .timeout(Duration::from_secs(2))
        .build()
        .await
        .expect("client")
}

/// An Echo client of `service` through Polaris with every layer of the crate.
pub fn echo_client(client: &Client, service: &str, balance: PolarisLoadBalance) -> EchoClient {
    echo_client_with(client, service, balance, RpcPolicies::default())
}

/// [`echo_client`] with per-method policies.
pub fn echo_client_with(
    client: &Client,
    service: &str,
    balance: PolarisLoadBalance,
    policies: RpcPolicies,
) -> EchoClient {
    let discover = PolarisDiscover::new(client);
    EchoClientBuilder::new(service)
        .layer_outer(balance.route_labels_layer())
        .layer_outer(PolicyLayer::new(policies))
        .layer_inner(CircuitBreakerLayer::new(&discover))
        .discover(discover)
        .load_balance(balance)
        .build()
}

/// A request with `value`.
pub fn request(value: &str) -> EchoRequest {
    EchoRequest {
        value: value.to_string().into(),
    }
}

/// Echo: answers with the request text and its own address; `slow` takes 300 ms; fails
/// with `UNAVAILABLE` while failing.
#[derive(Clone)]
struct EchoImpl {
    address: String,
    failing: Arc<AtomicBool>,
}

impl Echo for EchoImpl {
    async fn echo(&self, request: Request<EchoRequest>) -> Result<Response<EchoResponse>, Status> {
        if self.failing.load(Ordering::Relaxed) {
            return Err(Status::unavailable("failing on purpose"));
        }
        let value = request.into_inner().value;
        if value == "slow" {
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        Ok(Response::new(EchoResponse {
            value,
            served_by: self.address.clone().into(),
        }))
    }
}

/// A registered Echo provider; stops (deregistering) when dropped.
pub struct Provider {
    address: String,
    failing: Arc<AtomicBool>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Provider {
    /// Serves and registers an instance of `service` with `metadata`.
    pub async fn start(client: &Client, service: &str, metadata: &[(&str, &str)]) -> Provider {
        Provider::spawn(client, service, metadata, false).await
    }

    /// Serves an instance of `service` behind the Polaris rate-limit layer.
    pub async fn start_limited(client: &Client, service: &str) -> Provider {
        Provider::spawn(client, service, &[], true).await
    }

    async fn spawn(
        client: &Client,
        service: &str,
        metadata: &[(&str, &str)],
        limited: bool,
    ) -> Provider {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap().to_string();
        let failing = Arc::new(AtomicBool::new(false));
        let echo = EchoImpl {
            address: address.clone(),
            failing: failing.clone(),
        };
        let (registered_tx, registered_rx) = tokio::sync::oneshot::channel();
        let polaris = PolarisServer::builder(client.clone())
            .service_name(service)
            .metadata(metadata.iter().map(|(k, v)| (k.to_string(), v.to_string())))
            .graceful(Duration::from_millis(200), Duration::from_secs(5))
            .on_registered(move |_, _| {
                let _ = registered_tx.send(());
            });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let signal = async move {
            let _ = stopped.await;
        };
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
        registered_rx.await.expect("registered");
        Provider {
            address,
            failing,
            stop: Some(stop),
        }
    }

    /// `host:port` of the instance.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Makes every call fail with `UNAVAILABLE` (or succeed again).
    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::Relaxed);
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
