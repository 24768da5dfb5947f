//! Circuit breaking, as grpc-go-polaris' circuitbreak example: two instances of
//! `BreakerEchoServerTonic`, one failing with UNAVAILABLE. After 10 consecutive errors the
//! default instance rule ejects it; once it heals, the sleep window (5 s here, from
//! `consumer.circuitBreaker.sleepWindow`) half-opens it and it serves again.
//! Run: `cargo run -p polaris-tonic --example circuit_breaking`.

#[path = "common/mod.rs"]
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use polaris_tonic::echo::echo_server::EchoServer;
use polaris_tonic::echo::{EchoRequest, echo_client::EchoClient};
use polaris_tonic::{PolarisChannel, PolarisServer, ServeTonic};

const SERVICE: &str = "BreakerEchoServerTonic";

#[tokio::main]
async fn main() -> Result<(), polaris_tonic::BoxError> {
    common::init_logs();
    let mut settings = common::client().await?.settings().clone();
    settings.consumer.circuit_breaker.sleep_window = Duration::from_secs(5);
    let client = polaris_sdk::Client::builder()
        .settings(settings)
        .build()
        .await?;
    let host = polaris_tonic::local_host(&client).await;
    let failing = Arc::new(AtomicBool::new(true));
    let mut stops = Vec::new();
    for (name, flag) in [("bad", failing.clone()), ("good", Arc::default())] {
        let listener = tokio::net::TcpListener::bind((host, 0)).await?;
        let echo = common::EchoService {
            served_by: name.into(),
            failing: flag,
        };
        let router = tonic::transport::Server::builder().add_service(EchoServer::new(echo));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (up, is_up) = tokio::sync::oneshot::channel();
        let polaris = PolarisServer::builder(client.clone())
            .service_name(SERVICE)
            .graceful(Duration::from_millis(200), Duration::from_secs(5))
            .on_registered(move |_, _| {
                let _ = up.send(());
            });
        tokio::spawn(polaris.serve_tonic(
            listener,
            async move { drop(stopped.await) },
            |incoming, shutdown| router.serve_with_incoming_shutdown(incoming, shutdown),
        ));
        is_up.await?;
        stops.push(stop);
    }
    let channel = PolarisChannel::builder(client.clone(), SERVICE)
        .load_balancer(polaris_sdk::LbPolicy::RoundRobin)
        .build();
    let echo = EchoClient::new(channel);
    let round = |label: &'static str| {
        let mut echo = echo.clone();
        async move {
            let mut seen = Vec::new();
            for _ in 0..20 {
                seen.push(match echo.echo(EchoRequest { value: "x".into() }).await {
                    Ok(answer) => answer.into_inner().served_by,
                    Err(status) => format!("{:?}", status.code()),
                });
            }
            println!("{label}: {}", seen.join(" "));
        }
    };
    round("while `bad` fails").await;
    round("after ejection   ").await;
    failing.store(false, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs(6)).await;
    round("after the window ").await;
    round("recovered        ").await;
    drop(stops);
    tokio::time::sleep(Duration::from_millis(500)).await;
    client.shutdown().await;
    Ok(())
}
