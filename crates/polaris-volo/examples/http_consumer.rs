//! A volo-http client through Polaris: serves a small HTTP service (`GET /echo?text=..`
//! answering the text) on a free port, registers it as `EchoHttpVolo` in namespace
//! `default`, calls it at `http://EchoHttpVolo/echo` through `PolarisDiscover` and
//! `PolarisLoadBalance` (with the route-labels and breaker layers), prints the answer and
//! deregisters. Run: `cargo run -p polaris-volo --example http_consumer -- hello`.

#[path = "common/mod.rs"]
mod common;

use polaris_sdk::InstanceSpec;
use polaris_volo::{CircuitBreakerLayer, PolarisDiscover, PolarisLoadBalance};
use volo_http::body::BodyConversion;
use volo_http::server::Server;
use volo_http::server::route::{Router, get};

/// The `text` of a query string (`+` read as a space; no other decoding).
fn text_of(uri: &http::Uri) -> String {
    uri.query()
        .unwrap_or_default()
        .split('&')
        .find_map(|pair| pair.strip_prefix("text="))
        .unwrap_or_default()
        .replace('+', " ")
}

#[tokio::main]
async fn main() -> Result<(), polaris_volo::BoxError> {
    let text = std::env::args().skip(1).collect::<Vec<_>>().join(" ");
    let client = common::client().await?;

    let listener = tokio::net::TcpListener::bind("0.0.0.0:0").await?;
    let port = listener.local_addr()?.port();
    let app = Router::new().route("/echo", get(|uri: http::Uri| async move { text_of(&uri) }));
    let incoming = volo::net::incoming::DefaultIncoming::from(listener);
    let server = tokio::spawn(Server::new(app).run(incoming));
    let spec = InstanceSpec::new(
        "default",
        "EchoHttpVolo",
        polaris_volo::local_host(&client).await.to_string(),
        u32::from(port),
    )
    .protocol("http");
    let registration = client.provider().register(spec).await?;

    let discover = PolarisDiscover::new(&client);
    let balance = PolarisLoadBalance::new();
    let http = volo_http::Client::builder()
        .layer_outer(balance.route_labels_layer())
        .layer_inner(CircuitBreakerLayer::new(&discover))
        .discover(discover)
        .load_balance(balance)
        .build()?;
    let answer = http
        .get(format!(
            "http://EchoHttpVolo/echo?text={}",
            text.replace(' ', "+")
        ))
        .send()
        .await?
        .into_string()
        .await?;
    println!("{answer}");

    registration.deregister().await?;
    server.abort();
    client.shutdown().await;
    Ok(())
}
