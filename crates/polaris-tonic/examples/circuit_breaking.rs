//! Circuit breaking, as grpc-go-polaris' circuitbreak example: two instances of
//! `BreakerEchoServerTonic`, one failing with UNAVAILABLE. After 10 consecutive errors the
//! default instance rule ejects it; once it heals, the sleep window (5 s here, from
//! `consumer.circuitBreaker.sleepWindow`) half-opens it and it serves again.
//! Run: `cargo run -p polaris-tonic --example circuit_breaking`.

#[path = "common/mod.rs"]
mod common;

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
    let call = || {
        let mut echo = echo.clone();
        async move {
            let answer = echo.echo(EchoRequest { value: "x".into() }).await;
            answer.map_or_else(|s| format!("{:?}", s.code()), |a| a.into_inner().served_by)
        }
    };
    common::breaker_rounds(&client, (bad, good), call).await;
    Ok(())
}
