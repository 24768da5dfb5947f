//! Config watch: publishes `default/app/app.yaml`, then follows it as a typed value while a
//! few new releases are published. Run: `cargo run -p polaris-sdk --example config_watch`.

use polaris_testkit::example as common;

use std::time::Duration;

use polaris_sdk::Format;
use serde::Deserialize;
use serde_json::json;
use tokio_stream::StreamExt;

#[derive(Debug, Deserialize)]
#[allow(dead_code)]
struct AppConfig {
    greeting: String,
    replicas: u32,
}

fn publish(replicas: u32) {
    let body = json!({
        "namespace": "default", "group": "app", "file_name": "app.yaml", "format": "yaml",
        "content": format!("greeting: hello\nreplicas: {replicas}\n"),
    });
    let answer = common::http("POST", "/config/v1/configfiles/createandpub", &body);
    println!("published replicas={replicas}: {}", answer["code"]);
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    common::init_logs();
    let client = common::client().await?;
    publish(1);
    let file = client
        .config()
        .get_file("default", "app", "app.yaml")
        .await?;
    println!("version {} content:\n{}", file.version, file.content);

    let watch = client
        .config()
        .watch_file("default", "app", "app.yaml")
        .await?;
    let mut values = watch.into_typed::<AppConfig>(Format::Yaml);
    tokio::spawn(async {
        for replicas in 2..=4 {
            tokio::time::sleep(Duration::from_secs(1)).await;
            tokio::task::spawn_blocking(move || publish(replicas))
                .await
                .ok();
        }
    });
    let mut seen = 0;
    while let Some(value) = tokio::time::timeout(Duration::from_secs(10), values.next()).await? {
        println!("config now: {:?}", value?);
        seen += 1;
        if seen == 4 {
            break;
        }
    }
    Ok(())
}
