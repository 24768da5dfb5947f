//! polaris-tonic against the real server binary: discovery and failover, routing by labels,
//! circuit breaking, rate limiting, and a timeout changed in the config center.

#[path = "../../polaris-sdk/tests/support/mod.rs"]
mod support;

mod echo;

use std::time::Duration;

use echo::{Provider, client, consumer_channel, served_by};
use polaris_sdk::{InstanceSpec, RpcPolicies, RpcPolicy, SuiteKeys};
use polaris_tonic::echo::{EchoRequest, echo_client::EchoClient};
use serde_json::json;
use support::{TestServer, eventually};
use tonic::Code;

const DEADLINE: Duration = Duration::from_secs(20);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_fail_over_from_a_dead_instance() {
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
    let mut echo = EchoClient::new(consumer_channel(&c, "failover-echo").build());
    eventually("both instances listed", DEADLINE, async || {
        let all = c
            .consumer()
            .get_all_instances(&polaris_sdk::ServiceKey::new("default", "failover-echo"))
            .await
            .ok()?;
        (all.instances.len() == 2).then_some(())
    })
    .await;
    for i in 0..30 {
        let answer = echo
            .echo(EchoRequest {
                value: format!("call {i}"),
            })
            .await
            .unwrap_or_else(|e| panic!("call {i} lost: {e}"));
        assert_eq!(answer.get_ref().value, format!("call {i}"));
        assert_eq!(answer.get_ref().served_by, live.address());
    }
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
    let channel = consumer_channel(&c, "route-echo")
        .caller("default", "web")
        .build();
    let mut echo = EchoClient::new(channel);
    let call = |user: &'static str| {
        let mut request = tonic::Request::new(EchoRequest { value: user.into() });
        request
            .metadata_mut()
            .insert("x-user", user.parse().unwrap());
        request
    };
    eventually("vip users routed to gray only", DEADLINE, async || {
        for _ in 0..20 {
            let answer = echo.clone().echo(call("vip-7")).await.ok()?;
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
    let mut echo = EchoClient::new(
        consumer_channel(&c, "shaky-echo")
            .load_balancer(polaris_sdk::LbPolicy::RoundRobin)
            .build(),
    );
    eventually("both instances serve", DEADLINE, async || {
        let all = c
            .consumer()
            .get_all_instances(&polaris_sdk::ServiceKey::new("default", "shaky-echo"))
            .await
            .ok()?;
        (all.instances.len() == 2).then_some(())
    })
    .await;
    // The default instance rule: 10 consecutive errors open the instance's breaker.
    let mut failures = 0;
    for _ in 0..40 {
        if let Err(status) = echo.echo(EchoRequest { value: "x".into() }).await {
            assert_eq!(status.code(), Code::Unavailable);
            failures += 1;
        }
    }
    assert!(
        failures >= 10,
        "the failing instance was called ({failures} failures)"
    );
    for _ in 0..30 {
        let answer = echo.echo(EchoRequest { value: "y".into() }).await;
        let answer = answer.expect("the ejected instance receives no calls");
        assert_eq!(answer.get_ref().served_by, good.address());
    }
    bad.set_failing(false);
    // After the sleep window (2 s here) half-open probes succeed and the breaker closes.
    eventually(
        "the recovered instance serves again",
        DEADLINE,
        async || {
            let answer = echo.echo(EchoRequest { value: "z".into() }).await.ok()?;
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
    let mut echo = EchoClient::new(consumer_channel(&c, "limited-echo").build());
    let refused = eventually("the limit applies", DEADLINE, async || {
        for _ in 0..10 {
            if let Err(status) = echo.echo(EchoRequest { value: "q".into() }).await {
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
    let _provider = Provider::start(&c, "timeout-echo", &[]).await;
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
    let mut echo = EchoClient::new(
        consumer_channel(&c, "timeout-echo")
            .policies(policies)
            .build(),
    );
    let slow = || EchoRequest {
        value: "slow".into(),
    };
    eventually(
        "the 3 s timeout lets a 300 ms call finish",
        DEADLINE,
        async || echo.echo(slow()).await.ok().map(drop),
    )
    .await;
    server.publish_file(
        &keys.group,
        &file,
        r#"{"Echo": {"rpc_timeout_ms": 100}}"#,
        false,
    );
    let status = eventually("the 100 ms timeout applies", DEADLINE, async || {
        echo.echo(slow()).await.err()
    })
    .await;
    assert_eq!(status.code(), Code::DeadlineExceeded, "{status:?}");
    // Fast calls still pass under the new timeout.
    let answer = echo
        .echo(EchoRequest {
            value: "fast".into(),
        })
        .await
        .unwrap();
    assert_eq!(served_by(&answer), _provider.address());
}
