//! Routing rules, rate limits and circuit breaking against the real server binary.

mod support;

use std::time::Duration;

use polaris_sdk::{CallResult, Client, Criteria, Error, InstanceSpec, Quota, ServiceKey};
use serde_json::json;
use support::{TestServer, eventually};

const DEADLINE: Duration = Duration::from_secs(15);

async fn client(server: &TestServer) -> Client {
    Client::builder()
        .addresses([server.naming_addr()])
        .config_addresses([server.config_addr()])
        .persist_dir(None)
        .config_persist_dir(None)
        .timeout(Duration::from_secs(2))
        .refresh_interval(Duration::from_millis(200))
        .build()
        .await
        .expect("client")
}

fn spec(service: &str, port: u32, env: &str) -> InstanceSpec {
    InstanceSpec::new("default", service, "127.0.0.1", port).metadata([("env", env)])
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routing_rules_steer_matching_callers() {
    let server = TestServer::start();
    let c = client(&server).await;
    let _gray = c
        .provider()
        .register(spec("orders", 1, "gray"))
        .await
        .unwrap();
    let _prod = c
        .provider()
        .register(spec("orders", 2, "prod"))
        .await
        .unwrap();
    let rule = json!([{
        "name": "vip-to-gray", "namespace": "default", "enable": true, "priority": 1,
        "routing_policy": "RulePolicy",
        "routing_config": {
            "@type": "type.googleapis.com/v2.RuleRoutingConfig",
            "rules": [{
                "name": "r1",
                "sources": [{"service": "web", "namespace": "default", "arguments": [
                    {"type": "HEADER", "key": "x-user",
                     "value": {"type": "REGEX", "value": "^vip-.*$"}}]}],
                "destinations": [{"service": "orders", "namespace": "default", "weight": 100,
                    "labels": {"env": {"type": "EXACT", "value": "gray"}}}]
            }]
        }
    }]);
    let created = server.post("/naming/v2/routings", &rule);
    assert_eq!(created["code"], 200_000, "{created}");

    let orders = ServiceKey::new("default", "orders");
    let web = ServiceKey::new("default", "web");
    let vip = Criteria::default()
        .caller(web.clone())
        .header("x-user", "vip-7");
    eventually("vip callers routed to gray", DEADLINE, async || {
        for _ in 0..20 {
            let one = c.consumer().get_one_instance(&orders, &vip).await.ok()?;
            if one.port != 1 {
                return None;
            }
        }
        Some(())
    })
    .await;
    let routed = c.consumer().get_instances(&orders, &vip).await.unwrap();
    assert_eq!(routed.instances.len(), 1);
    // Other callers are not matched: failover `all` keeps both instances.
    let plain = Criteria::default().caller(web).header("x-user", "bob");
    let routed = c.consumer().get_instances(&orders, &plain).await.unwrap();
    assert_eq!(routed.instances.len(), 2);
    // Destination metadata narrows too.
    let prod = Criteria::default().metadata("env", "prod");
    let one = c.consumer().get_one_instance(&orders, &prod).await.unwrap();
    assert_eq!(one.port, 2);
    let rules = c
        .consumer()
        .get_rules(polaris_sdk::ResourceKind::Routing, &orders)
        .await
        .unwrap();
    assert!(rules.response.routing.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_reject_past_the_amount() {
    let server = TestServer::start();
    let c = client(&server).await;
    let _reg = c
        .provider()
        .register(spec("limited", 1, "prod"))
        .await
        .unwrap();
    let rule = json!([{
        "service": "limited", "namespace": "default", "name": "three", "priority": 1,
        "resource": "QPS", "type": "LOCAL",
        "amounts": [{"maxAmount": 3, "validDuration": "60s"}],
        "arguments": [{"type": "HEADER", "key": "tenant",
                       "value": {"type": "EXACT", "value": "acme"}}]
    }]);
    let created = server.post("/naming/v1/ratelimits", &rule);
    assert_eq!(created["code"], 200_000, "{created}");
    let service = ServiceKey::new("default", "limited");
    let acme = Quota::new(service.clone()).header("tenant", "acme");
    let mut admitted = 0;
    let refused = loop {
        match c.limiter().acquire(&acme).await {
            Ok(_permit) => admitted += 1,
            Err(e) => break e,
        }
        assert!(admitted <= 3, "the limit applies");
    };
    assert!(matches!(refused, Error::RateLimited(_)), "{refused}");
    assert_eq!(admitted, 3);
    // A changed rule reaches the client (push) and replaces the limiter.
    let id = created["responses"][0]["rateLimit"]["id"].clone();
    let mut changed = rule[0].clone();
    changed["id"] = id;
    changed["amounts"] = json!([{"maxAmount": 1000, "validDuration": "60s"}]);
    let updated = server.put("/naming/v1/ratelimits", &json!([changed]));
    assert_eq!(updated["code"], 200_000, "{updated}");
    eventually("raised limit applies", DEADLINE, async || {
        c.limiter().acquire(&acme).await.ok().map(drop)
    })
    .await;
    // Other tenants are not limited by this rule.
    let other = Quota::new(service).header("tenant", "globex");
    for _ in 0..10 {
        let _permit = c.limiter().acquire(&other).await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_instances_are_broken_out_of_rotation() {
    let server = TestServer::start();
    let c = client(&server).await;
    let _a = c
        .provider()
        .register(spec("shaky", 1, "prod"))
        .await
        .unwrap();
    let _b = c
        .provider()
        .register(spec("shaky", 2, "prod"))
        .await
        .unwrap();
    let service = ServiceKey::new("default", "shaky");
    let bad = eventually("both instances", DEADLINE, async || {
        let all = c.consumer().get_all_instances(&service).await.ok()?;
        all.instances
            .iter()
            .find(|i| i.port == 1)
            .cloned()
            .filter(|_| all.instances.len() == 2)
    })
    .await;
    // The official default instance rule: 10 consecutive errors open the breaker.
    for _ in 0..10 {
        c.consumer().report(
            &CallResult::failure(service.clone(), "503", Duration::from_millis(5))
                .instance(bad.clone())
                .method("/Echo"),
        );
    }
    for _ in 0..50 {
        let one = c
            .consumer()
            .get_one_instance(&service, &Criteria::default())
            .await
            .unwrap();
        assert_eq!(one.port, 2, "the broken instance receives no traffic");
    }
    // No service-level rule: the service itself stays callable.
    c.consumer().check(&service, Some("/Echo")).unwrap();
}
