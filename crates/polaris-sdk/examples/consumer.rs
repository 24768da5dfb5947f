//! A consumer: reads `default/echo` from the local cache, picks instances and follows changes.
//! Start the `provider` example first. Run: `cargo run -p polaris-sdk --example consumer`.

use polaris_testkit::example as common;

use std::time::Duration;

use polaris_sdk::{Criteria, LbPolicy, ServiceKey};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    common::init_logs();
    let client = common::client().await?;
    let echo = ServiceKey::new("default", "echo");
    let consumer = client.consumer();

    let all = consumer.get_all_instances(&echo).await?;
    println!(
        "{} instance(s) at revision {}",
        all.instances.len(),
        all.revision
    );
    for instance in all.instances.iter() {
        println!(
            "  {}:{} healthy={} weight={} {:?}",
            instance.host, instance.port, instance.healthy, instance.weight, instance.metadata
        );
    }
    let one = consumer
        .get_one_instance(&echo, &Criteria::default())
        .await?;
    println!("weighted random picked {}:{}", one.host, one.port);
    let sticky = Criteria::default()
        .lb(LbPolicy::RingHash)
        .hash_key("user-42");
    let one = consumer.get_one_instance(&echo, &sticky).await?;
    println!("ring hash for user-42 picked {}:{}", one.host, one.port);

    let mut watch = consumer.watch(&echo).await?;
    println!(
        "watching for 30 s (push active: {})...",
        consumer.push_active()
    );
    let deadline = tokio::time::sleep(Duration::from_secs(30));
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            changed = watch.changed() => {
                let list = changed?;
                println!("changed: {} instance(s), revision {}", list.instances.len(), list.revision);
            }
            _ = &mut deadline => break,
        }
    }
    Ok(())
}
