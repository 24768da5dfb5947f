//! Rule routing, as grpc-go-polaris' routing example: three Echo instances of
//! `RouteEchoServerVolo` labelled env=dev/pre/prod, a rule sending callers from
//! `RouteEchoConsumer` whose `uid` metadata is 1 to `dev` and 2 to `pre`, others anywhere.
//! Run: `cargo run -p polaris-volo --example routing`.

#[path = "common/mod.rs"]
mod common;

use std::time::Duration;

use polaris_volo::PolarisLoadBalance;
use polaris_volo::echo::EchoRequest;
use serde_json::json;

const SERVICE: &str = "RouteEchoServerVolo";

#[tokio::main]
async fn main() -> Result<(), polaris_volo::BoxError> {
    common::init_logs();
    let client = common::client().await?;
    let mut stops = Vec::new();
    for env in ["dev", "pre", "prod"] {
        let echo = common::EchoService {
            served_by: env.into(),
            ..Default::default()
        };
        stops.push(common::spawn_provider(&client, SERVICE, &[("env", env)], echo, false).await?);
    }
    let route = |uid: &str, env: &str| {
        json!({"name": format!("uid-{uid}"),
            "sources": [{"service": "RouteEchoConsumer", "namespace": "default", "arguments": [
                {"type": "HEADER", "key": "uid", "value": {"type": "EXACT", "value": uid}}]}],
            "destinations": [{"service": SERVICE, "namespace": "default", "weight": 100,
                "labels": {"env": {"type": "EXACT", "value": env}}}]})
    };
    let rule = json!([{
        "name": "route-by-uid-volo", "namespace": "default", "enable": true, "priority": 1,
        "routing_policy": "RulePolicy",
        "routing_config": {"@type": "type.googleapis.com/v2.RuleRoutingConfig",
            "rules": [route("1", "dev"), route("2", "pre")]}
    }]);
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
