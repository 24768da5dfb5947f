//! Rule routing, as grpc-go-polaris' routing example: three Echo instances of
//! `RouteEchoServerTonic` labelled env=dev/pre/prod, a rule sending callers from
//! `RouteEchoConsumer` whose `uid` metadata is 1 to `dev` and 2 to `pre`, others anywhere.
//! Run: `cargo run -p polaris-tonic --example routing`.

#[path = "common/mod.rs"]
mod common;

use polaris_tonic::PolarisChannel;
use polaris_tonic::echo::{EchoRequest, echo_client::EchoClient};

const SERVICE: &str = "RouteEchoServerTonic";

#[tokio::main]
async fn main() -> Result<(), polaris_tonic::BoxError> {
    common::init_logs();
    let client = common::client().await?;
    let providers =
        common::routing_providers(&client, SERVICE, "route-by-uid", common::serve_echo).await?;
    let channel = PolarisChannel::builder(client.clone(), SERVICE)
        .caller("default", "RouteEchoConsumer")
        .build();
    let mut echo = EchoClient::new(channel);
    for uid in ["1", "2", "3", "1", "2", "3"] {
        let mut request = tonic::Request::new(EchoRequest {
            value: format!("uid {uid}"),
        });
        request.metadata_mut().insert("uid", uid.parse()?);
        let answer = echo.echo(request).await?.into_inner();
        println!("uid={uid} -> served by {}", answer.served_by);
    }
    common::finish(&client, providers).await;
    Ok(())
}
