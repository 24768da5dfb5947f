//! A provider: listens on a TCP port, registers it as `default/echo`, heartbeats until Ctrl-C,
//! then deregisters. Run: `cargo run -p polaris-sdk --example provider`.

use polaris_testkit::example as common;

use std::time::Duration;

use polaris_sdk::{InstanceSpec, shutdown_signal};
use tokio::io::AsyncWriteExt;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    common::init_logs();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let port = listener.local_addr()?.port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let _ = socket
                .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 5\r\n\r\nhello")
                .await;
        }
    });

    let client = common::client().await?;
    let spec = InstanceSpec::new("default", "echo", "127.0.0.1", u32::from(port))
        .protocol("http")
        .version("1.0.0")
        .metadata([("env", "dev")])
        .ttl(Duration::from_secs(5));
    let registration = client.provider().register(spec).await?;
    println!(
        "registered default/echo 127.0.0.1:{port} as {}; Ctrl-C to stop",
        registration.instance_id()
    );

    shutdown_signal().await;
    registration.deregister().await?;
    client.shutdown().await;
    println!("deregistered");
    Ok(())
}
