//! Calls `EchoServerTonic` through Polaris (discovery, routing, load balancing, circuit
//! breaking) and prints the echoed text. Run:
//! `cargo run -p polaris-tonic --example quickstart_consumer -- hello`.

#[path = "common/mod.rs"]
mod common;

use polaris_tonic::PolarisChannel;
use polaris_tonic::echo::{EchoRequest, echo_client::EchoClient};

#[tokio::main]
async fn main() -> Result<(), polaris_tonic::BoxError> {
    let text = std::env::args().skip(1).collect::<Vec<_>>().join(" ");
    let client = common::client().await?;
    let channel = PolarisChannel::builder(client.clone(), "EchoServerTonic")
        .namespace("default")
        .build();
    let mut echo = EchoClient::new(channel);
    let answer = echo.echo(EchoRequest { value: text }).await?;
    println!("{}", answer.into_inner().value);
    client.shutdown().await;
    Ok(())
}
