//! Serves Echo on a free port, registers it as `EchoServerTonic` in namespace `default`
//! (heartbeats every 5 s), prints the port, and on Ctrl-C / SIGTERM deregisters, drains and
//! stops gracefully. Run: `cargo run -p polaris-tonic --example quickstart_provider`.

#[path = "common/mod.rs"]
mod common;

use polaris_tonic::echo::echo_server::EchoServer;
use polaris_tonic::{PolarisServer, ServeTonic};

#[tokio::main]
async fn main() -> Result<(), polaris_tonic::BoxError> {
    common::init_logs();
    let client = common::client().await?;
    let host = polaris_tonic::local_host(&client).await;
    let listener = tokio::net::TcpListener::bind((host, 0)).await?;
    let port = listener.local_addr()?.port();
    let echo = common::EchoState::new(format!("{host}:{port}"));
    let router =
        tonic::transport::Server::builder().add_service(EchoServer::new(common::EchoService(echo)));
    PolarisServer::builder(client.clone())
        .namespace("default")
        .service_name("EchoServerTonic")
        .on_registered(move |host, port| {
            println!("EchoServerTonic registered in namespace default at {host}:{port}");
            println!("port {port}");
        })
        .serve_tonic(listener, |incoming, shutdown| {
            router.serve_with_incoming_shutdown(incoming, shutdown)
        })
        .await?;
    client.shutdown().await;
    println!("deregistered and stopped");
    Ok(())
}
