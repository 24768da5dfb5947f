//! Rate limiting, as grpc-go-polaris' ratelimit example: `LimitEchoServerTonic` served behind
//! the Polaris rate-limit layer, a rule allowing 5 calls per 10 s, and ten calls: the last
//! five answered RESOURCE_EXHAUSTED. Run: `cargo run -p polaris-tonic --example rate_limiting`.

#[path = "common/mod.rs"]
mod common;

use polaris_tonic::PolarisChannel;
use polaris_tonic::echo::{EchoRequest, echo_client::EchoClient};

const SERVICE: &str = "LimitEchoServerTonic";

#[tokio::main]
async fn main() -> Result<(), polaris_tonic::BoxError> {
    common::init_logs();
    let client = common::client().await?;
    let provider = common::limited_provider(&client, SERVICE, common::serve_echo).await?;
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
    common::finish(&client, provider).await;
    Ok(())
}
