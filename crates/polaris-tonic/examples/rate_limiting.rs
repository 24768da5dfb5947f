//! Rate limiting, as grpc-go-polaris' ratelimit example: `LimitEchoServerTonic` served behind
//! the Polaris rate-limit layer, a rule allowing 5 calls per 10 s, and ten calls: the last
//! five answered RESOURCE_EXHAUSTED. Run: `cargo run -p polaris-tonic --example rate_limiting`.

#[path = "common/mod.rs"]
mod common;

use std::time::Duration;

use polaris_tonic::echo::echo_server::EchoServer;
use polaris_tonic::echo::{EchoRequest, echo_client::EchoClient};
use polaris_tonic::{PolarisChannel, PolarisServer, ServeTonic};
use serde_json::json;

const SERVICE: &str = "LimitEchoServerTonic";

#[tokio::main]
async fn main() -> Result<(), polaris_tonic::BoxError> {
    common::init_logs();
    let client = common::client().await?;
    let host = polaris_tonic::local_host(&client).await;
    let listener = tokio::net::TcpListener::bind((host, 0)).await?;
    let echo = common::EchoService {
        served_by: "limited".into(),
        ..Default::default()
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (up, is_up) = tokio::sync::oneshot::channel();
    let polaris = PolarisServer::builder(client.clone())
        .service_name(SERVICE)
        .graceful(Duration::from_millis(200), Duration::from_secs(5))
        .on_registered(move |_, _| {
            let _ = up.send(());
        });
    let router = tonic::transport::Server::builder()
        .layer(polaris.rate_limit_layer())
        .add_service(EchoServer::new(echo));
    tokio::spawn(polaris.serve_tonic(
        listener,
        async move { drop(stopped.await) },
        |incoming, shutdown| router.serve_with_incoming_shutdown(incoming, shutdown),
    ));
    is_up.await?;
    let rule = json!([{
        "service": SERVICE, "namespace": "default", "name": "five-per-10s", "priority": 1,
        "resource": "QPS", "type": "LOCAL",
        "amounts": [{"maxAmount": 5, "validDuration": "10s"}]
    }]);
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
