//! polaris-volo against the real server binary: discovery with pushed changes, a dead
//! instance avoided and ejected, routing by labels, circuit breaking and recovery, rate
//! limiting, and a timeout changed in the config center.

#[path = "../../polaris-sdk/tests/support/mod.rs"]
mod support;

mod echo;

use std::time::Duration;

use echo::{Provider, client, echo_client, echo_client_with, request};
use polaris_sdk::{InstanceSpec, LbPolicy, RpcPolicies, RpcPolicy, ServiceKey, SuiteKeys};
use polaris_volo::{PolarisDiscover, PolarisLoadBalance};
use serde_json::json;
use support::{TestServer, eventually};
use volo::discovery::Discover;
use volo_grpc::Code;

const DEADLINE: Duration = Duration::from_secs(20);

async fn instance_count(c: &polaris_sdk::Client, service: &str) -> usize {
    let key = ServiceKey::new("default", service);
    c.consumer()
        .get_all_instances(&key)
        .await
        .map_or(0, |all| all.instances.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discover_lists_instances_and_watch_delivers_pushed_changes() {
    let server = TestServer::start();
    let c = client(&server).await;
    let first = Provider::start(&c, "watched-echo", &[("env", "prod")]).await;
    let discover = PolarisDiscover::new(&c);
    let mut changes = discover.watch(None).expect("a change receiver");
    let endpoint = volo::context::Endpoint::new("watched-echo".into());
    let listed = discover.discover(&endpoint).await.expect("discovered");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].address.to_string(), first.address());
    assert_eq!(listed[0].tags.get("env").map(|v| v.as_ref()), Some("prod"));
    let second = Provider::start(&c, "watched-echo", &[]).await;
    let change = tokio::time::timeout(DEADLINE, changes.recv())
        .await
        .expect("a change within the deadline")
        .expect("an open channel");
    assert_eq!(change.key, ServiceKey::new("default", "watched-echo"));
    assert_eq!(change.all.len(), 2);
    assert_eq!(change.added.len(), 1);
    assert_eq!(change.added[0].address.to_string(), second.address());
    drop(second);
    let change = tokio::time::timeout(DEADLINE, changes.recv())
        .await
        .expect("the removal within the deadline")
        .expect("an open channel");
    assert_eq!(change.removed.len(), 1);
    assert_eq!(change.all.len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dead_instance_is_avoided_after_its_first_refusal() {
    let server = TestServer::start();
    let c = client(&server).await;
    let live = Provider::start(&c, "failover-echo", &[]).await;
    // A registered, heartbeating instance whose process is gone: nothing listens there.
    let dead_port = support::free_port();
    let _dead = c
        .provider()
        .register(InstanceSpec::new(
            "default",
            "failover-echo",
            "127.0.0.1",
            u32::from(dead_port),
        ))
        .await
        .unwrap();
    eventually("both instances listed", DEADLINE, async || {
        (instance_count(&c, "failover-echo").await == 2).then_some(())
    })
    .await;
    let balance = PolarisLoadBalance::new().load_balancer(LbPolicy::RoundRobin);
    let echo = echo_client(&c, "failover-echo", balance);
    let mut refused = 0;
    for i in 0..30 {
        match echo.echo(request(&format!("call {i}"))).await {
            Ok(answer) => assert_eq!(answer.get_ref().served_by, live.address()),
            Err(status) => {
                assert_eq!(status.code(), Code::Unavailable, "{status:?}");
                refused += 1;
            }
        }
    }
    // Round robin sends every other call to the dead instance unless it is avoided: the
    // first refusal keeps it out for 2 s (a slow machine may see one more window).
    assert!(
        (1..=3).contains(&refused),
        "{refused} calls reached the dead instance"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routing_rules_steer_by_request_metadata() {
    let server = TestServer::start();
    let c = client(&server).await;
    let gray = Provider::start(&c, "route-echo", &[("env", "gray")]).await;
    let prod = Provider::start(&c, "route-echo", &[("env", "prod")]).await;
    let rule = json!([{
        "name": "vip-to-gray", "namespace": "default", "enable": true, "priority": 1,
        "routing_policy": "RulePolicy",
        "routing_config": {
            "@type": "type.googleapis.com/v2.RuleRoutingConfig",
            "rules": [{
                "name": "vip",
                "sources": [{"service": "web", "namespace": "default", "arguments": [
                    {"type": "HEADER", "key": "x-user",
                     "value": {"type": "REGEX", "value": "^vip-.*$"}}]}],
                "destinations": [{"service": "route-echo", "namespace": "default", "weight": 100,
                    "labels": {"env": {"type": "EXACT", "value": "gray"}}}]
            }]
        }
    }]);
    let created = server.post("/naming/v2/routings", &rule);
    assert_eq!(created["code"], 200_000, "{created}");
    let balance = PolarisLoadBalance::new().caller("default", "web");
    let echo = echo_client(&c, "route-echo", balance);
    let call = |user: &'static str| {
        let mut request = volo_grpc::Request::new(request(user));
        request
            .metadata_mut()
            .insert("x-user", user.parse().unwrap());
        request
    };
    eventually("vip users routed to gray only", DEADLINE, async || {
        for _ in 0..20 {
            let answer = echo.echo(call("vip-7")).await.ok()?;
            if answer.get_ref().served_by != gray.address() {
                return None;
            }
        }
        Some(())
    })
    .await;
    // Other users are not matched (failover `all`): both instances serve them.
    eventually("other users reach prod too", DEADLINE, async || {
        let answer = echo.echo(call("bob")).await.ok()?;
        (answer.get_ref().served_by == prod.address()).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_instances_are_ejected_and_recover_after_the_sleep_window() {
    let server = TestServer::start();
    let c = client(&server).await;
    let bad = Provider::start(&c, "shaky-echo", &[]).await;
    let good = Provider::start(&c, "shaky-echo", &[]).await;
    bad.set_failing(true);
    let balance = PolarisLoadBalance::new().load_balancer(LbPolicy::RoundRobin);
    let echo = echo_client(&c, "shaky-echo", balance);
    eventually("both instances serve", DEADLINE, async || {
        (instance_count(&c, "shaky-echo").await == 2).then_some(())
    })
    .await;
    // The default instance rule: 10 consecutive errors open the instance's breaker.
    let mut failures = 0;
    for _ in 0..40 {
        if let Err(status) = echo.echo(request("x")).await {
            assert_eq!(status.code(), Code::Unavailable, "{status:?}");
            failures += 1;
        }
    }
    assert!(
        failures >= 10,
        "the failing instance was called ({failures} failures)"
    );
    for _ in 0..30 {
        let answer = echo.echo(request("y")).await;
        let answer = answer.expect("the ejected instance receives no calls");
        assert_eq!(answer.get_ref().served_by, good.address());
    }
    bad.set_failing(false);
    // After the sleep window (2 s here) half-open probes succeed and the breaker closes.
    eventually(
        "the recovered instance serves again",
        DEADLINE,
        async || {
            let answer = echo.echo(request("z")).await.ok()?;
            (answer.get_ref().served_by == bad.address()).then_some(())
        },
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rate_limits_answer_resource_exhausted() {
    let server = TestServer::start();
    let c = client(&server).await;
    let _provider = Provider::start_limited(&c, "limited-echo").await;
    let rule = json!([{
        "service": "limited-echo", "namespace": "default", "name": "three", "priority": 1,
        "resource": "QPS", "type": "LOCAL",
        "amounts": [{"maxAmount": 3, "validDuration": "60s"}]
    }]);
    let created = server.post("/naming/v1/ratelimits", &rule);
    assert_eq!(created["code"], 200_000, "{created}");
    let echo = echo_client(&c, "limited-echo", PolarisLoadBalance::new());
    let refused = eventually("the limit applies", DEADLINE, async || {
        for _ in 0..10 {
            if let Err(status) = echo.echo(request("q")).await {
                return Some(status);
            }
        }
        None
    })
    .await;
    assert_eq!(refused.code(), Code::ResourceExhausted, "{refused:?}");
    assert!(refused.message().contains("rate limited"), "{refused:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_timeout_changed_in_the_config_center_applies_without_restart() {
    let server = TestServer::start();
    let c = client(&server).await;
    let provider = Provider::start(&c, "timeout-echo", &[]).await;
    let keys = SuiteKeys::new("web", "timeout-echo");
    let file = keys.file("rpc_timeout");
    server.publish_file(
        &keys.group,
        &file,
        r#"{"*": {"rpc_timeout_ms": 3000}}"#,
        false,
    );
    let policies = RpcPolicies::watch(
        &c,
        keys.clone(),
        RpcPolicy::default(),
        Duration::from_millis(200),
    );
    let echo = echo_client_with(&c, "timeout-echo", PolarisLoadBalance::new(), policies);
    eventually(
        "the 3 s timeout lets a 300 ms call finish",
        DEADLINE,
        async || echo.echo(request("slow")).await.ok().map(drop),
    )
    .await;
    server.publish_file(
        &keys.group,
        &file,
        r#"{"Echo": {"rpc_timeout_ms": 100}}"#,
        false,
    );
    let status = eventually("the 100 ms timeout applies", DEADLINE, async || {
        echo.echo(request("slow")).await.err()
    })
    .await;
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    // Fast calls still pass under the new timeout.
    let answer = echo.echo(request("fast")).await.unwrap();
    assert_eq!(answer.get_ref().served_by, provider.address());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn degradation_refuses_its_share_of_calls_before_sending_them() {
    let server = TestServer::start();
    let c = client(&server).await;
    let _provider = Provider::start(&c, "degraded-echo", &[]).await;
    let policies = RpcPolicies::fixed(RpcPolicy::default().with_degradation(50));
    let echo = echo_client_with(
        &c,
        "degraded-echo",
        PolarisLoadBalance::new(),
        policies.clone(),
    );
    let mut refused = 0;
    // Exactly `percentage` of every 100 calls are refused.
    for i in 0..100 {
        match echo.echo(request(&format!("d{i}"))).await {
            Ok(answer) => assert_eq!(answer.get_ref().value, format!("d{i}")),
            Err(status) => {
                assert_eq!(status.code(), Code::Unavailable, "{status:?}");
                assert!(status.message().contains("degradation"), "{status:?}");
                refused += 1;
            }
        }
    }
    assert_eq!(refused, 50, "half of the calls refused");
    // A new policy applies from the next call.
    policies.store(RpcPolicy::default());
    for i in 0..10 {
        echo.echo(request(&format!("n{i}")))
            .await
            .expect("no degradation");
    }
}
