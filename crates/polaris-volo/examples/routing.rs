//! Rule routing, as grpc-go-polaris' routing example: three Echo instances of
//! `RouteEchoServerVolo` labelled env=dev/pre/prod, a rule sending callers from
//! `RouteEchoConsumer` whose `uid` metadata is 1 to `dev` and 2 to `pre`, others anywhere.
//! Run: `cargo run -p polaris-volo --example routing`.

#[path = "common/mod.rs"]
mod common;

use polaris_volo::PolarisLoadBalance;
use polaris_volo::echo::EchoRequest;

const SERVICE: &str = "RouteEchoServerVolo";

#[tokio::main]
async fn main() -> Result<(), polaris_volo::BoxError> {
    common::init_logs();
    let client = common::client().await?;
    let providers =
        common::routing_providers(&client, SERVICE, "route-by-uid-volo", common::serve_echo)
            .await?;
    let balance = PolarisLoadBalance::new().caller("default", "RouteEchoConsumer");
    let echo = common::echo_client(&client, SERVICE, balance);
    for uid in ["1", "2", "3", "1", "2", "3"] {
        let mut request = volo_grpc::Request::new(EchoRequest {
            value: format!("uid {uid}").into(),
        });
        request.metadata_mut().insert("uid", uid.parse()?);
        let answer = echo.echo(request).await?.into_inner();
        println!("uid={uid} -> served by {}", answer.served_by);
    }
    common::finish(&client, providers).await;
    Ok(())
}
