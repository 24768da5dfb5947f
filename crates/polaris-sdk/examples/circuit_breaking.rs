//! Circuit breaking: report failures of one instance until its breaker opens, then see the
//! balancer avoid it. Run: `cargo run -p polaris-sdk --example circuit_breaking`.

use polaris_testkit::example as common;

use std::collections::BTreeMap;
use std::time::Duration;

use polaris_sdk::{CallResult, Criteria, InstanceSpec, ServiceKey};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    common::init_logs();
    let client = common::client().await?;
    let _a = client
        .provider()
        .register(InstanceSpec::new("default", "shaky", "127.0.0.1", 19001))
        .await?;
    let _b = client
        .provider()
        .register(InstanceSpec::new("default", "shaky", "127.0.0.1", 19002))
        .await?;
    let shaky = ServiceKey::new("default", "shaky");
    let consumer = client.consumer();
    let mut all = consumer.get_all_instances(&shaky).await?;
    while all.instances.len() < 2 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        all = consumer.get_all_instances(&shaky).await?;
    }
    let bad = all
        .instances
        .iter()
        .find(|i| i.port == 19001)
        .cloned()
        .expect("instance 19001");

    // The official default instance rule opens after 10 consecutive errors.
    for _ in 0..10 {
        consumer.check(&shaky, Some("/Say"))?;
        consumer.report(
            &CallResult::failure(shaky.clone(), "503", Duration::from_millis(20))
                .instance(bad.clone())
                .method("/Say"),
        );
    }
    let mut picks = BTreeMap::new();
    for _ in 0..100 {
        let one = consumer
            .get_one_instance(&shaky, &Criteria::default())
            .await?;
        *picks.entry(one.port).or_insert(0) += 1;
    }
    println!("after 10 failures of 19001, 100 picks went to {picks:?}");
    client.shutdown().await;
    Ok(())
}
