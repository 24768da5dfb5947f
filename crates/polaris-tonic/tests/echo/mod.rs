//! Echo providers served in the test process and registered through `PolarisServer`.

#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use polaris_sdk::{Client, Settings};
use polaris_tonic::echo::echo_server::{Echo, EchoServer};
use polaris_tonic::echo::{EchoRequest, EchoResponse};
use polaris_tonic::{ChannelBuilder, PolarisChannel, PolarisServer, ServeTonic};
use tonic::{Request, Response, Status};

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

/// A channel builder for `service` in `default`.
pub fn consumer_channel(client: &Client, service: &str) -> ChannelBuilder {
    PolarisChannel::builder(client.clone(), service)
}

/// The instance that served an answer.
pub fn served_by(answer: &Response<EchoResponse>) -> &str {
    &answer.get_ref().served_by
}

/// Echo: answers with the request text and its own address; `slow` takes 300 ms; fails
/// with `UNAVAILABLE` while failing.
#[derive(Clone)]
struct EchoImpl {
    address: String,
    failing: Arc<AtomicBool>,
}

#[tonic::async_trait]
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
            served_by: self.address.clone(),
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
        let polaris = PolarisServer::builder(client.clone())
            .service_name(service)
            .metadata(metadata.iter().map(|(k, v)| (k.to_string(), v.to_string())))
            .graceful(Duration::from_millis(200), Duration::from_secs(5));
        let (registered_tx, registered_rx) = tokio::sync::oneshot::channel();
        let polaris = polaris.on_registered(move |_, _| {
            let _ = registered_tx.send(());
        });
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let signal = async move {
            let _ = stopped.await;
        };
        if limited {
            let layer = polaris.rate_limit_layer();
            let router = tonic::transport::Server::builder()
                .layer(layer)
                .add_service(EchoServer::new(echo));
            tokio::spawn(polaris.serve_tonic(listener, signal, |incoming, shutdown| {
                router.serve_with_incoming_shutdown(incoming, shutdown)
            }));
        } else {
            let router = tonic::transport::Server::builder().add_service(EchoServer::new(echo));
            tokio::spawn(polaris.serve_tonic(listener, signal, |incoming, shutdown| {
                router.serve_with_incoming_shutdown(incoming, shutdown)
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
