//! Circuit breaking, as grpc-go-polaris' circuitbreak example: two instances of
//! `BreakerEchoServerVolo`, one failing with UNAVAILABLE. After 10 consecutive errors the
//! default instance rule ejects it; once it heals, the sleep window (5 s here, from
//! `consumer.circuitBreaker.sleepWindow`) half-opens it and it serves again.
//! Run: `cargo run -p polaris-volo --example circuit_breaking`.

#[path = "common/mod.rs"]
mod common;

use std::time::Duration;

use polaris_volo::PolarisLoadBalance;
use polaris_volo::echo::EchoRequest;

const SERVICE: &str = "BreakerEchoServerVolo";

#[tokio::main]
async fn main() -> Result<(), polaris_volo::BoxError> {
    let (client, bad, good) = common::breaker_example(SERVICE, common::serve_echo).await?;
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
    bad.set_failing(false);
    tokio::time::sleep(common::BREAKER_SLEEP_WINDOW + Duration::from_secs(1)).await;
    round("after the window ").await;
    round("recovered        ").await;
    common::finish(&client, (bad, good)).await;
    Ok(())
}
