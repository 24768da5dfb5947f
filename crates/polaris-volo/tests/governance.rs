//! polaris-volo against the real server binary: discovery with pushed changes, a dead
//! instance avoided and ejected, degradation; then `polaris_testkit::suite` (shared with
//! polaris-tonic): routing by labels, circuit breaking and recovery, rate limiting, and a
//! timeout changed in the config center.

mod echo;

use echo::{Volo, echo_client, echo_client_with, request};
use polaris_sdk::{LbPolicy, RpcPolicies, RpcPolicy, ServiceKey};
use polaris_testkit::TestServer;
use polaris_testkit::echo::client;
use polaris_testkit::suite::{DEADLINE, dead_instance, provider};
use polaris_volo::{PolarisDiscover, PolarisLoadBalance};
use volo::discovery::Discover;
use volo_grpc::Code;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discover_lists_instances_and_watch_delivers_pushed_changes() {
    let server = TestServer::start();
    let c = client(&server).await;
    let first = provider::<Volo>(&c, "watched-echo", &[("env", "prod")], false).await;
    let discover = PolarisDiscover::new(&c);
    let mut changes = discover.watch(None).expect("a change receiver");
    let endpoint = volo::context::Endpoint::new("watched-echo".into());
    let listed = discover.discover(&endpoint).await.expect("discovered");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].address.to_string(), first.address());
    assert_eq!(listed[0].tags.get("env").map(|v| v.as_ref()), Some("prod"));
    let second = provider::<Volo>(&c, "watched-echo", &[], false).await;
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
    let live = provider::<Volo>(&c, "failover-echo", &[], false).await;
    // A registered, heartbeating instance whose process is gone: nothing listens there.
    let _dead = dead_instance(&c, "failover-echo", 2).await;
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
async fn degradation_refuses_its_share_of_calls_before_sending_them() {
    let server = TestServer::start();
    let c = client(&server).await;
    let _provider = provider::<Volo>(&c, "degraded-echo", &[], false).await;
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

polaris_testkit::framework_suite!(echo::Volo);
