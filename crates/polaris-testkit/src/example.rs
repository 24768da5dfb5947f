//! The examples' set-up: where the server is, the Polaris client, logs, a tiny HTTP helper
//! for the console API, and the Echo providers (with their rules) of the framework examples,
//! served by the framework's own `serve` function.
//!
//! By default the examples talk to a server started with
//! `cargo run --release -p polaris-server -- start` (HTTP 8090, naming gRPC 8091, config gRPC
//! 8093 on 127.0.0.1). Override with `POLARIS_ADDR`, `POLARIS_CONFIG_ADDR`, `POLARIS_HTTP` and
//! `POLARIS_TOKEN`.

use std::time::Duration;

use polaris_sdk::lifecycle::BoxError;
use polaris_sdk::{Client, ServerRegistration};
use tokio::net::TcpListener;

use crate::echo::{EchoState, Provider, registration};
use crate::fixtures;
use crate::suite::{Serving, Stop};

/// How a framework example serves Echo: spawns a server as the [`Serving`] says, registered
/// through the registration (the examples' `common::serve_echo`).
pub type Serve = fn(ServerRegistration, Serving);

/// The naming gRPC address.
pub fn naming_addr() -> String {
    std::env::var("POLARIS_ADDR").unwrap_or_else(|_| "127.0.0.1:8091".into())
}

/// The config gRPC address.
pub fn config_addr() -> String {
    std::env::var("POLARIS_CONFIG_ADDR").unwrap_or_else(|_| "127.0.0.1:8093".into())
}

/// The HTTP API base URL.
pub fn http_base() -> String {
    std::env::var("POLARIS_HTTP").unwrap_or_else(|_| "http://127.0.0.1:8090".into())
}

/// The console token: `POLARIS_TOKEN`, else the default admin's (console calls are checked by
/// default, as officially).
pub fn console_token() -> String {
    std::env::var("POLARIS_TOKEN").unwrap_or_else(|_| crate::ADMIN_TOKEN.into())
}

/// The SDK examples' client, persisting under the system temp dir.
pub async fn client() -> polaris_sdk::Result<Client> {
    let backup = std::env::temp_dir().join("polaris-sdk-examples");
    Client::builder()
        .addresses([naming_addr()])
        .config_addresses([config_addr()])
        .persist_dir(Some(backup.join("naming")))
        .config_persist_dir(Some(backup.join("config")))
        .timeout(Duration::from_secs(3))
        .build()
        .await
}

/// The framework examples' client: `./polaris.yaml` when present (official keys), otherwise
/// `POLARIS_ADDR` or the README server's default address, with no local persistence.
pub async fn framework_client() -> polaris_sdk::Result<Client> {
    let file = std::path::Path::new("polaris.yaml");
    let builder = Client::builder();
    if file.is_file() {
        return builder.config_file(file).build().await;
    }
    builder
        .addresses([naming_addr()])
        .config_addresses([config_addr()])
        .persist_dir(None)
        .config_persist_dir(None)
        .timeout(Duration::from_secs(3))
        .build()
        .await
}

/// [`framework_client`] with the breakers' sleep window (`consumer.circuitBreaker.sleepWindow`)
/// set to `window`.
pub async fn framework_client_with_sleep_window(window: Duration) -> polaris_sdk::Result<Client> {
    let mut settings = framework_client().await?.settings().clone();
    settings.consumer.circuit_breaker.sleep_window = window;
    Client::builder().settings(settings).build().await
}

/// Sends a JSON body to the console HTTP API and returns the JSON answer.
pub fn http(method: &str, path: &str, body: &serde_json::Value) -> serde_json::Value {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(10)))
        .build()
        .into();
    let url = format!("{}{path}", http_base());
    let request = if method == "PUT" {
        agent.put(&url)
    } else {
        agent.post(&url)
    };
    match request
        .header("Content-Type", "application/json")
        .header("X-Polaris-Token", console_token())
        .send(body.to_string().as_bytes())
    {
        Ok(mut response) => {
            let text = response.body_mut().read_to_string().unwrap_or_default();
            serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text))
        }
        Err(e) => serde_json::Value::String(format!("HTTP error: {e}")),
    }
}

/// Logs to stderr (stdout carries the examples' output), `RUST_LOG` controlled (info).
pub fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// Serves an Echo answering as `served_by` through `serve` on a free port of the local host
/// and registers it as an instance of `service` with `metadata`; returns once it is
/// registered.
pub async fn spawn_provider(
    client: &Client,
    service: &str,
    metadata: &[(&str, &str)],
    served_by: &str,
    limited: bool,
    serve: Serve,
) -> Result<Provider, BoxError> {
    let host = polaris_sdk::local_host(client).await;
    let listener = TcpListener::bind((host, 0)).await?;
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (polaris, registered) = registration(client, service, metadata);
    let echo = EchoState::new(served_by);
    let stopped: Stop = Box::pin(async move { drop(stopped.await) });
    let serving = Serving {
        listener,
        echo: echo.clone(),
        limited,
        stop: stopped,
    };
    serve(polaris, serving);
    registered.await?;
    Ok(Provider::new(echo, stop))
}

/// The routing examples' providers: three Echo instances of `service` labelled (and
/// answering as) env=dev/pre/prod, and the [`fixtures::route_by_uid`] rule named `rule`.
pub async fn routing_providers(
    client: &Client,
    service: &str,
    rule: &str,
    serve: Serve,
) -> Result<Vec<Provider>, BoxError> {
    let mut providers = Vec::new();
    for env in ["dev", "pre", "prod"] {
        providers.push(spawn_provider(client, service, &[("env", env)], env, false, serve).await?);
    }
    let rule = fixtures::route_by_uid(service, rule);
    println!(
        "create routing rule: {}",
        http("POST", "/naming/v2/routings", &rule)["code"]
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    Ok(providers)
}

/// The circuit-breaking examples' start: logs, a client whose breakers half-open after a
/// sleep window of [`BREAKER_SLEEP_WINDOW`], and two providers of `service`: `bad`, failing,
/// and `good`.
pub async fn breaker_example(
    service: &str,
    serve: Serve,
) -> Result<(Client, Provider, Provider), BoxError> {
    init_logs();
    let client = framework_client_with_sleep_window(BREAKER_SLEEP_WINDOW).await?;
    let bad = spawn_provider(&client, service, &[], "bad", false, serve).await?;
    bad.set_failing(true);
    let good = spawn_provider(&client, service, &[], "good", false, serve).await?;
    Ok((client, bad, good))
}

/// The rest of the circuit-breaking examples: rounds of 20 calls through `call` (each answers
/// who served it, or the status code), printed, while `bad` fails, after it is ejected, after it
/// healed and the sleep window passed, and once recovered; then [`finish`].
pub async fn breaker_rounds<F, Fut>(client: &Client, (bad, good): (Provider, Provider), call: F)
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = String>,
{
    let round = async |label: &str| {
        let mut seen = Vec::new();
        for _ in 0..20 {
            seen.push(call().await);
        }
        println!("{label}: {}", seen.join(" "));
    };
    round("while `bad` fails").await;
    round("after ejection   ").await;
    bad.set_failing(false);
    tokio::time::sleep(BREAKER_SLEEP_WINDOW + Duration::from_secs(1)).await;
    round("after the window ").await;
    round("recovered        ").await;
    finish(client, (bad, good)).await;
}

/// The breakers' sleep window of [`breaker_example`].
pub const BREAKER_SLEEP_WINDOW: Duration = Duration::from_secs(5);

/// The rate-limiting examples' provider: `limited`, behind the rate-limit layer, and a
/// [`fixtures::local_limit`] rule of 5 calls per 10 s.
pub async fn limited_provider(
    client: &Client,
    service: &str,
    serve: Serve,
) -> Result<Provider, BoxError> {
    let provider = spawn_provider(client, service, &[], "limited", true, serve).await?;
    let rule = fixtures::local_limit(service, "five-per-10s", 5, "10s");
    println!(
        "create rate-limit rule: {}",
        http("POST", "/naming/v1/ratelimits", &rule)["code"]
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    Ok(provider)
}

/// Ends an example: stops (deregistering) its `providers`, leaves them 500 ms, then shuts
/// the client down.
pub async fn finish<P>(client: &Client, providers: P) {
    drop(providers);
    tokio::time::sleep(Duration::from_millis(500)).await;
    client.shutdown().await;
}
