//! Rate limiting: a local rule of 5 requests per second for `default/limited`, then a burst
//! of 20 requests. Run: `cargo run -p polaris-sdk --example rate_limiting`.

use polaris_testkit::example as common;

use std::time::Duration;

use polaris_sdk::{InstanceSpec, Quota, ServiceKey};
use serde_json::json;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    common::init_logs();
    let client = common::client().await?;
    let _reg = client
        .provider()
        .register(InstanceSpec::new("default", "limited", "127.0.0.1", 20001))
        .await?;
    let rule = json!([{
        "service": "limited", "namespace": "default", "name": "five-per-second", "priority": 1,
        "resource": "QPS", "type": "LOCAL",
        "amounts": [{"maxAmount": 5, "validDuration": "1s"}]
    }]);
    println!(
        "create rule: {}",
        common::http("POST", "/naming/v1/ratelimits", &rule)["code"]
    );
    tokio::time::sleep(Duration::from_secs(1)).await;

    let limited = ServiceKey::new("default", "limited");
    let (mut admitted, mut refused) = (0, 0);
    for _ in 0..20 {
        match client
            .limiter()
            .acquire(&Quota::new(limited.clone()).method("/Say"))
            .await
        {
            Ok(_permit) => admitted += 1,
            Err(e) => {
                refused += 1;
                if refused == 1 {
                    println!("first refusal: {e}");
                }
            }
        }
    }
    println!("burst of 20: {admitted} admitted, {refused} refused");
    client.shutdown().await;
    Ok(())
}
