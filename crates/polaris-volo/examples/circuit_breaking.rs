//! Circuit breaking, as grpc-go-polaris' circuitbreak example: two instances of
//! `BreakerEchoServerVolo`, one failing with UNAVAILABLE. After 10 consecutive errors the
//! default instance rule ejects it; once it heals, the sleep window (5 s here, from
//! `consumer.circuitBreaker.sleepWindow`) half-opens it and it serves again.
//! Run: `cargo run -p polaris-volo --example circuit_breaking`.

#[path = "common/mod.rs"]
mod common;

use polaris_volo::PolarisLoadBalance;
use polaris_volo::echo::EchoRequest;

const SERVICE: &str = "BreakerEchoServerVolo";

#[tokio::main]
async fn main() -> Result<(), polaris_volo::BoxError> {
    let (client, bad, good) = common::breaker_example(SERVICE, common::serve_echo).await?;
    let balance = PolarisLoadBalance::new().load_balancer(polaris_sdk::LbPolicy::RoundRobin);
    let echo = common::echo_client(&client, SERVICE, balance);
    let call = || {
        let echo = echo.clone();
        async move {
            let answer = echo.echo(EchoRequest { value: "x".into() }).await;
            let served_by = answer.map(|a| a.into_inner().served_by.to_string());
            served_by.unwrap_or_else(|s| format!("{:?}", s.code()))
        }
    };
    common::breaker_rounds(&client, (bad, good), call).await;
    Ok(())
}
