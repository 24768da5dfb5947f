//! Rule routing, as grpc-go-polaris' routing example: three Echo instances of
//! `RouteEchoServerTonic` labelled env=dev/pre/prod, a rule sending callers from
//! `RouteEchoConsumer` whose `uid` metadata is 1 to `dev` and 2 to `pre`, others anywhere.
//! Run: `cargo run -p polaris-tonic --example routing`.

#[path = "common/mod.rs"]
mod common;

use std::time::Duration;

use polaris_tonic::echo::echo_server::EchoServer;
use polaris_tonic::echo::{EchoRequest, echo_client::EchoClient};
use polaris_tonic::{PolarisChannel, PolarisServer, ServeTonic};
use serde_json::json;

const SERVICE: &str = "RouteEchoServerTonic";

#[tokio::main]
async fn main() -> Result<(), polaris_tonic::BoxError> {
    common::init_logs();
    let client = common::client().await?;
    let host = polaris_tonic::local_host(&client).await;
    let mut stops = Vec::new();
    for env in ["dev", "pre", "prod"] {
        let listener = tokio::net::TcpListener::bind((host, 0)).await?;
        let echo = common::EchoService {
            served_by: format!("{env}@{}", listener.local_addr()?),
            ..Default::default()
        };
        let router = tonic::transport::Server::builder().add_service(EchoServer::new(echo));
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (up, is_up) = tokio::sync::oneshot::channel();
        let polaris = PolarisServer::builder(client.clone())
            .service_name(SERVICE)
            .metadata([("env", env)])
            .graceful(Duration::from_millis(200), Duration::from_secs(5))
            .on_registered(move |_, _| {
                let _ = up.send(());
            });
        tokio::spawn(polaris.serve_tonic(
            listener,
            async move { drop(stopped.await) },
            |incoming, shutdown| router.serve_with_incoming_shutdown(incoming, shutdown),
        ));
        is_up.await?;
        stops.push(stop);
    }
    let route = |uid: &str, env: &str| {
        json!({"name": format!("uid-{uid}"),
            "sources": [{"service": "RouteEchoConsumer", "namespace": "default", "arguments": [
                {"type": "HEADER", "key": "uid", "value": {"type": "EXACT", "value": uid}}]}],
            "destinations": [{"service": SERVICE, "namespace": "default", "weight": 100,
                "labels": {"env": {"type": "EXACT", "value": env}}}]})
    };
    let rule = json!([{
        "name": "route-by-uid", "namespace": "default", "enable": true, "priority": 1,
        "routing_policy": "RulePolicy",
        "routing_config": {"@type": "type.googleapis.com/v2.RuleRoutingConfig",
            "rules": [route("1", "dev"), route("2", "pre")]}
    }]);
    println!(
        "create routing rule: {}",
        common::http("POST", "/naming/v2/routings", &rule)["code"]
    );
    tokio::time::sleep(Duration::from_millis(500)).await;

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
    drop(stops);
    tokio::time::sleep(Duration::from_millis(500)).await;
    client.shutdown().await;
    Ok(())
}
