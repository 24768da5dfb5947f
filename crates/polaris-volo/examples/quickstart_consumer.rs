//! Calls `EchoServerVolo` through Polaris (discovery, routing, load balancing, circuit
//! breaking) and prints the echoed text. Run:
//! `cargo run -p polaris-volo --example quickstart_consumer -- hello`.

#[path = "common/mod.rs"]
mod common;

use polaris_volo::PolarisLoadBalance;
use polaris_volo::echo::EchoRequest;

#[tokio::main]
async fn main() -> Result<(), polaris_volo::BoxError> {
    let text = std::env::args().skip(1).collect::<Vec<_>>().join(" ");
    let client = common::client().await?;
    let echo = common::echo_client(&client, "EchoServerVolo", PolarisLoadBalance::new());
    let answer = echo.echo(EchoRequest { value: text.into() }).await?;
    println!("{}", answer.into_inner().value);
    client.shutdown().await;
    Ok(())
}
