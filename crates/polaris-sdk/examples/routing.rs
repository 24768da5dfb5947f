//! Rule routing: two `default/orders` instances (env=gray, env=prod) and a rule sending callers
//! from `web` with header `x-user: vip-*` to gray. Run: `cargo run -p polaris-sdk --example routing`.

use polaris_testkit::example as common;

use std::time::Duration;

use polaris_sdk::{Criteria, InstanceSpec, ServiceKey};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    common::init_logs();
    let client = common::client().await?;
    let gray =
        InstanceSpec::new("default", "orders", "127.0.0.1", 18001).metadata([("env", "gray")]);
    let prod =
        InstanceSpec::new("default", "orders", "127.0.0.1", 18002).metadata([("env", "prod")]);
    let _gray = client.provider().register(gray).await?;
    let _prod = client.provider().register(prod).await?;

    // Callers from `web` whose `x-user` header matches `^vip-.*$` go to env=gray.
    let rule = polaris_testkit::fixtures::vip_to_gray("orders");
    println!(
        "create rule: {}",
        common::http("POST", "/naming/v2/routings", &rule)["code"]
    );
    tokio::time::sleep(Duration::from_secs(1)).await;

    let orders = ServiceKey::new("default", "orders");
    let web = ServiceKey::new("default", "web");
    for user in ["vip-1", "bob", "vip-2", "alice"] {
        let criteria = Criteria::default()
            .caller(web.clone())
            .header("x-user", user);
        let routed = client.consumer().get_instances(&orders, &criteria).await?;
        let one = client
            .consumer()
            .get_one_instance(&orders, &criteria)
            .await?;
        println!(
            "x-user={user:6} -> {} candidate(s), picked port {} (env={})",
            routed.instances.len(),
            one.port,
            one.metadata.get("env").map(String::as_str).unwrap_or("?")
        );
    }
    client.shutdown().await;
    Ok(())
}
