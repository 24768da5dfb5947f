//! Serves Echo with volo-grpc on a free port, registers it as `EchoServerVolo` in namespace
//! `default` (heartbeats every 5 s), prints the port, and on Ctrl-C / SIGTERM deregisters,
//! drains and stops gracefully. Run: `cargo run -p polaris-volo --example quickstart_provider`.

#[path = "common/mod.rs"]
mod common;

use polaris_volo::echo::EchoServer;
use polaris_volo::{PolarisServer, ServeVolo};
use volo_grpc::server::{Server, ServiceBuilder};

#[tokio::main]
async fn main() -> Result<(), polaris_volo::BoxError> {
    common::init_logs();
    let client = common::client().await?;
    let host = polaris_volo::local_host(&client).await;
    let listener = tokio::net::TcpListener::bind((host, 0)).await?;
    let port = listener.local_addr()?.port();
    let echo = common::EchoState::new(format!("{host}:{port}"));
    let server = Server::new()
        .add_service(ServiceBuilder::new(EchoServer::new(common::EchoService(echo))).build());
    PolarisServer::builder(client.clone())
        .namespace("default")
        .service_name("EchoServerVolo")
        .on_registered(move |host, port| {
            println!("EchoServerVolo registered in namespace default at {host}:{port}");
            println!("port {port}");
        })
        .serve_volo(listener, |incoming, shutdown| {
            server.run_with_shutdown(incoming, shutdown)
        })
        .await?;
    client.shutdown().await;
    println!("deregistered and stopped");
    Ok(())
}
