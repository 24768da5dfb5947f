//! Rate limiting, as grpc-go-polaris' ratelimit example: `LimitEchoServerVolo` served behind
//! the Polaris rate-limit layer, a rule allowing 5 calls per 10 s, and ten calls: the last
//! five answered RESOURCE_EXHAUSTED. Run: `cargo run -p polaris-volo --example rate_limiting`.

#[path = "common/mod.rs"]
mod common;

use polaris_volo::PolarisLoadBalance;
use polaris_volo::echo::EchoRequest;

const SERVICE: &str = "LimitEchoServerVolo";

#[tokio::main]
async fn main() -> Result<(), polaris_volo::BoxError> {
    common::init_logs();
    let client = common::client().await?;
    let provider = common::limited_provider(&client, SERVICE, common::serve_echo).await?;
    let echo = common::echo_client(&client, SERVICE, PolarisLoadBalance::new());
    for i in 1..=10 {
        let request = EchoRequest {
            value: format!("call {i}").into(),
        };
        match echo.echo(request).await {
            Ok(answer) => println!("call {i}: ok ({})", answer.into_inner().value),
            Err(status) => println!("call {i}: {:?} {}", status.code(), status.message()),
        }
    }
    common::finish(&client, provider).await;
    Ok(())
}
