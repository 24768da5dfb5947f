//! Circuit breaking, as grpc-go-polaris' circuitbreak example: two instances of
//! `BreakerEchoServerVolo`, one failing with UNAVAILABLE. After 10 consecutive errors the
//! default instance rule ejects it; once it heals, the sleep window (5 s here, from
//! `consumer.circuitBreaker.sleepWindow`) half-opens it and it serves again.
//! Run: `cargo run -p polaris-volo --example circuit_breaking`.

#[path = "common/mod.rs"]
mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use polaris_volo::PolarisLoadBalance;
use polaris_volo::echo::EchoRequest;

const SERVICE: &str = "BreakerEchoServerVolo";

#[tokio::main]
async fn main() -> Result<(), polaris_volo::BoxError> {
    common::init_logs();
    let mut settings = common::client().await?.settings().clone();
    settings.consumer.circuit_breaker.sleep_window = Duration::from_secs(5);
    let client = polaris_sdk::Client::builder()
        .settings(settings)
        .build()
        .await?;
    let failing = Arc::new(AtomicBool::new(true));
    let mut stops = Vec::new();
    for (name, flag) in [("bad", failing.clone()), ("good", Arc::default())] {
        let echo = common::EchoService {
            served_by: name.into(),
            failing: flag,
        };
        stops.push(common::spawn_provider(&client, SERVICE, &[], echo, false).await?);
    }
    let balance = PolarisLoadBalance::new().load_balancer(polaris_sdk::LbPolicy::RoundRobin);
    let echo = common::echo_client(&client, SERVICE, balance);
    let round = |label: &'static str| {
        let echo = echo.clone();
        async move {
            let mut seen = Vec::new();
            for _ in 0..20 {
                let request = EchoRequest { value: "x".into() };
                seen.push(match echo.echo(request).await {
                    Ok(answer) => answer.into_inner().served_by.to_string(),
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
