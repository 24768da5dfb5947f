//! The Echo test provider's behaviour, whatever framework serves it, and the test client.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use polaris_sdk::lifecycle::ServerRegistration;
use polaris_sdk::{Client, ClientBuilder, Settings};
use tokio::sync::oneshot;

use crate::TestServer;

impl TestServer {
    /// A client builder for this server: both gRPC ports, no local persistence, a 2 s
    /// request timeout.
    pub fn client_builder(&self) -> ClientBuilder {
        Client::builder()
            .addresses([self.naming_addr()])
            .config_addresses([self.config_addr()])
            .persist_dir(None)
            .config_persist_dir(None)
            .timeout(Duration::from_secs(2))
    }
}

/// A client of the test server with a short breaker sleep window (2 s).
pub async fn client(server: &TestServer) -> Client {
    let mut settings = Settings::default();
    settings.consumer.circuit_breaker.sleep_window = Duration::from_secs(2);
    let builder = server.client_builder().settings(settings);
    builder.build().await.expect("client")
}

/// The registration of an instance of `default/<service>` with `metadata` (a 200 ms drain,
/// at most 5 s to stop) and what resolves once it is registered.
pub fn registration(
    client: &Client,
    service: &str,
    metadata: &[(&str, &str)],
) -> (ServerRegistration, oneshot::Receiver<()>) {
    let (registered_tx, registered_rx) = oneshot::channel();
    let polaris = ServerRegistration::builder(client.clone())
        .service_name(service)
        .metadata(metadata.iter().map(|(k, v)| (k.to_string(), v.to_string())))
        .graceful(Duration::from_millis(200), Duration::from_secs(5))
        .on_registered(move |_, _| {
            let _ = registered_tx.send(());
        });
    (polaris, registered_rx)
}

/// What an Echo instance does: answers with the request's text; `slow` takes 300 ms; fails
/// (`UNAVAILABLE` on the wire) while failing.
#[derive(Clone, Debug, Default)]
pub struct EchoState {
    /// `host:port` of the instance, sent back as `served_by`.
    pub address: String,
    failing: Arc<AtomicBool>,
}

impl EchoState {
    /// An instance at `address` that does not fail.
    pub fn new(address: impl Into<String>) -> EchoState {
        EchoState {
            address: address.into(),
            failing: Arc::default(),
        }
    }

    /// The answer's text for `value`, or the message of an `UNAVAILABLE` status.
    pub async fn answer(&self, value: String) -> Result<String, String> {
        if self.failing.load(Ordering::Relaxed) {
            return Err(format!("{} is failing on purpose", self.address));
        }
        if value == "slow" {
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        Ok(value)
    }

    /// Makes every call fail (or succeed again).
    pub fn set_failing(&self, failing: bool) {
        self.failing.store(failing, Ordering::Relaxed);
    }
}

/// A registered Echo instance served in the test process; stops (deregistering) when dropped.
pub struct Provider {
    state: EchoState,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

impl Provider {
    /// The handle of an instance that stops when `stop` is sent to or dropped.
    pub fn new(state: EchoState, stop: tokio::sync::oneshot::Sender<()>) -> Provider {
        Provider {
            state,
            stop: Some(stop),
        }
    }

    /// `host:port` of the instance.
    pub fn address(&self) -> &str {
        &self.state.address
    }

    /// Makes every call fail with `UNAVAILABLE` (or succeed again).
    pub fn set_failing(&self, failing: bool) {
        self.state.set_failing(failing);
    }
}

impl Drop for Provider {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
