//! Rate limiting, as grpc-go-polaris' ratelimit example: `LimitEchoServerTonic` served behind
//! the Polaris rate-limit layer, a rule allowing 5 calls per 10 s, and ten calls: the last
//! five answered RESOURCE_EXHAUSTED. Run: `cargo run -p polaris-tonic --example rate_limiting`.

#[path = "common/mod.rs"]
mod common;

use std::time::Duration;

use polaris_tonic::PolarisChannel;
use polaris_tonic::echo::{EchoRequest, echo_client::EchoClient};

const SERVICE: &str = "LimitEchoServerTonic";

#[tokio::main]
async fn main() -> Result<(), polaris_tonic::BoxError> {
    common::init_logs();
    let client = common::client().await?;
    let (_, stop) = common::spawn_provider(&client, SERVICE, &[], "limited", true).await?;
    let rule = polaris_testkit::fixtures::local_limit(SERVICE, "five-per-10s", 5, "10s");
    println!(
        "create rate-limit rule: {}",
        common::http("POST", "/naming/v1/ratelimits", &rule)["code"]
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut echo = EchoClient::new(PolarisChannel::builder(client.clone(), SERVICE).build());
    for i in 1..=10 {
        match echo
            .echo(EchoRequest {
                value: format!("call {i}"),
            })
            .await
        {
            Ok(answer) => println!("call {i}: ok ({})", answer.into_inner().value),
            Err(status) => println!("call {i}: {:?} {}", status.code(), status.message()),
        }
    }
    drop(stop);
    tokio::time::sleep(Duration::from_millis(500)).await;
    client.shutdown().await;
    Ok(())
}
