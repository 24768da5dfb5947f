//! Routing rules, rate limits and circuit breaking against the real server binary.

use polaris_testkit as support;

use std::time::Duration;

use polaris_sdk::{CallResult, Client, Criteria, Error, InstanceSpec, Quota, ServiceKey};
use serde_json::json;
use support::{TestServer, eventually};

const DEADLINE: Duration = Duration::from_secs(15);

async fn client(server: &TestServer) -> Client {
    let builder = server.client_builder();
    let builder = builder.refresh_interval(Duration::from_millis(200));
    builder.build().await.expect("client")
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
    let rule = polaris_testkit::fixtures::vip_to_gray("orders");
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

/// A tiny HTTP server answering `GET /health` with 200 or 503 as `healthy` says.
async fn health_server(healthy: std::sync::Arc<std::sync::atomic::AtomicBool>) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut socket, _)) = listener.accept().await {
            let healthy = healthy.clone();
            tokio::spawn(async move {
                let mut buf = [0u8; 1024];
                let _ = socket.read(&mut buf).await;
                let status = if healthy.load(std::sync::atomic::Ordering::SeqCst) {
                    "200 OK"
                } else {
                    "503 Service Unavailable"
                };
                let reply = format!("HTTP/1.1 {status}\r\ncontent-length: 0\r\n\r\n");
                let _ = socket.write_all(reply.as_bytes()).await;
            });
        }
    });
    port
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fault_detection_probes_open_and_close_instance_breakers() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let server = TestServer::start();
    let c = client(&server).await;
    let healthy = Arc::new(AtomicBool::new(false));
    let probed_port = health_server(healthy.clone()).await;
    let _probed = c
        .provider()
        .register(spec("probed", u32::from(probed_port), "prod"))
        .await
        .unwrap();
    let _other = c
        .provider()
        .register(spec("probed", 1, "prod"))
        .await
        .unwrap();

    let breaker = json!([{
        "name": "probe-instances", "enable": true, "level": "INSTANCE",
        "rule_matcher": {
            "source": {"service": "*", "namespace": "*"},
            "destination": {"service": "probed", "namespace": "default"}
        },
        "trigger_condition": [{"trigger_type": "CONSECUTIVE_ERROR", "error_count": 2}],
        "recoverCondition": {"sleep_window": 1, "consecutiveSuccess": 1},
        "faultDetectConfig": {"enable": true}
    }]);
    let created = server.post("/naming/v1/circuitbreaker/rules", &breaker);
    assert_eq!(created["code"], 200_000, "{created}");
    let detector = json!([{
        "name": "health", "interval": 1, "timeout": 500, "protocol": "HTTP",
        "target_service": {"service": "probed", "namespace": "default"},
        "http_config": {"method": "GET", "url": "/health"}
    }]);
    let created = server.post("/naming/v1/faultdetectors", &detector);
    assert_eq!(created["code"], 200_000, "{created}");

    let service = ServiceKey::new("default", "probed");
    let rules = eventually("breaker rules cached", DEADLINE, async || {
        let rules = c
            .consumer()
            .get_rules(polaris_sdk::ResourceKind::CircuitBreaker, &service)
            .await
            .ok()?;
        rules
            .response
            .circuit_breaker
            .as_ref()
            .is_some_and(|cb| !cb.rules.is_empty())
            .then_some(rules)
    })
    .await;
    assert!(!rules.revision.is_empty());
    let instance = eventually("instances", DEADLINE, async || {
        let all = c.consumer().get_all_instances(&service).await.ok()?;
        all.instances
            .iter()
            .find(|i| i.port == u32::from(probed_port))
            .cloned()
    })
    .await;
    // One failed call creates the instance breaker; from then on probes drive it.
    c.consumer().report(
        &CallResult::failure(service.clone(), "503", Duration::from_millis(1)).instance(instance),
    );
    let picks_probed = async || {
        let mut hits = 0;
        for _ in 0..40 {
            let one = c
                .consumer()
                .get_one_instance(&service, &Criteria::default())
                .await
                .ok()?;
            hits += usize::from(one.port == u32::from(probed_port));
        }
        Some(hits)
    };
    eventually(
        "failing probes open the breaker",
        Duration::from_secs(20),
        async || (picks_probed().await? == 0).then_some(()),
    )
    .await;
    healthy.store(true, Ordering::SeqCst);
    eventually(
        "passing probes close it again",
        Duration::from_secs(20),
        async || (picks_probed().await? > 0).then_some(()),
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nearby_routing_prefers_the_callers_zone() {
    let server = TestServer::start();
    let c = Client::builder()
        .addresses([server.naming_addr()])
        .persist_dir(None)
        .location("south", "z1", "c1")
        .build()
        .await
        .unwrap();
    let near = spec("zoned", 1, "prod").location("south", "z1", "c9");
    let far = spec("zoned", 2, "prod").location("south", "z2", "c1");
    let _near = c.provider().register(near).await.unwrap();
    let _far = c.provider().register(far).await.unwrap();
    let service = ServiceKey::new("default", "zoned");
    eventually("both instances", DEADLINE, async || {
        let all = c.consumer().get_all_instances(&service).await.ok()?;
        (all.instances.len() == 2).then_some(())
    })
    .await;
    for _ in 0..30 {
        let one = c
            .consumer()
            .get_one_instance(&service, &Criteria::default())
            .await
            .unwrap();
        assert_eq!(one.port, 1, "same zone as the client");
        let elsewhere = Criteria::default().caller_location("south", "z2", "c7");
        let one = c
            .consumer()
            .get_one_instance(&service, &elsewhere)
            .await
            .unwrap();
        assert_eq!(one.port, 2, "same zone as the call's location");
    }
}
