//! Circuit breaking, as grpc-go-polaris' circuitbreak example: two instances of
//! `BreakerEchoServerTonic`, one failing with UNAVAILABLE. After 10 consecutive errors the
//! default instance rule ejects it; once it heals, the sleep window (5 s here, from
//! `consumer.circuitBreaker.sleepWindow`) half-opens it and it serves again.
//! Run: `cargo run -p polaris-tonic --example circuit_breaking`.

#[path = "common/mod.rs"]
mod common;

use std::time::Duration;

use polaris_tonic::PolarisChannel;
use polaris_tonic::echo::{EchoRequest, echo_client::EchoClient};

const SERVICE: &str = "BreakerEchoServerTonic";

#[tokio::main]
async fn main() -> Result<(), polaris_tonic::BoxError> {
    let (client, bad, good) = common::breaker_example(SERVICE, common::serve_echo).await?;
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
    bad.set_failing(false);
    tokio::time::sleep(common::BREAKER_SLEEP_WINDOW + Duration::from_secs(1)).await;
    round("after the window ").await;
    round("recovered        ").await;
    common::finish(&client, (bad, good)).await;
    Ok(())
}
