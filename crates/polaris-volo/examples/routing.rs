//! Rule routing, as grpc-go-polaris' routing example: three Echo instances of
//! `RouteEchoServerVolo` labelled env=dev/pre/prod, a rule sending callers from
//! `RouteEchoConsumer` whose `uid` metadata is 1 to `dev` and 2 to `pre`, others anywhere.
//! Run: `cargo run -p polaris-volo --example routing`.

#[path = "common/mod.rs"]
mod common;

use std::time::Duration;

use polaris_volo::PolarisLoadBalance;
use polaris_volo::echo::EchoRequest;

const SERVICE: &str = "RouteEchoServerVolo";

#[tokio::main]
async fn main() -> Result<(), polaris_volo::BoxError> {
    common::init_logs();
    let client = common::client().await?;
    let mut stops = Vec::new();
    for env in ["dev", "pre", "prod"] {
        let (_, stop) =
            common::spawn_provider(&client, SERVICE, &[("env", env)], env, false).await?;
        stops.push(stop);
    }
    let rule = polaris_testkit::fixtures::route_by_uid(SERVICE, "route-by-uid-volo");
    println!(
        "create routing rule: {}",
        common::http("POST", "/naming/v2/routings", &rule)["code"]
    );
    tokio::time::sleep(Duration::from_millis(500)).await;

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
    drop(stops);
    tokio::time::sleep(Duration::from_millis(500)).await;
    client.shutdown().await;
    Ok(())
}
