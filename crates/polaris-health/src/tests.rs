//! The checker on paused time: tokio's clock only moves when every task is idle, so these tests
//! are exact and take no real time.

use std::sync::Arc;
use std::time::Duration;

use polaris_naming::{HealthCheckSpec, InstanceSpec, Naming, NamingOptions};
use polaris_store::memory::MemoryStore;
use polaris_types::Code;
use tokio::time::sleep;

use crate::{Health, HealthOptions, MemoryBeats};

async fn setup(open: bool) -> (Arc<Naming>, Arc<Health>) {
    let naming = Arc::new(
        Naming::open(Arc::new(MemoryStore::new()), NamingOptions::default())
            .await
            .unwrap(),
    );
    let health = Health::start(
        naming.clone(),
        Arc::new(MemoryBeats::default()),
        HealthOptions {
            open,
            ..HealthOptions::default()
        },
    );
    (naming, health)
}

fn checked(port: u32, ttl: u32) -> InstanceSpec {
    InstanceSpec {
        namespace: "default".into(),
        service: "svc".into(),
        host: "10.0.0.1".into(),
        port: Some(port),
        health_check: Some(HealthCheckSpec { ttl: Some(ttl) }),
        ..Default::default()
    }
}

fn healthy(naming: &Naming, spec: &InstanceSpec) -> bool {
    naming
        .snapshot()
        .instance(&spec.resolved_id())
        .expect("registered")
        .healthy
}

#[tokio::test(start_paused = true)]
async fn silence_for_three_ttls_makes_an_instance_unhealthy() {
    let (naming, _health) = setup(true).await;
    let spec = checked(1, 2);
    naming.register_instance(spec.clone()).await.unwrap();
    sleep(Duration::from_millis(5_900)).await;
    assert!(healthy(&naming, &spec), "still within 3 x 2 s");
    sleep(Duration::from_millis(200)).await;
    assert!(!healthy(&naming, &spec), "3 x 2 s passed without a beat");
}

#[tokio::test(start_paused = true)]
async fn regular_heartbeats_keep_an_instance_healthy_and_revive_it() {
    let (naming, health) = setup(true).await;
    let spec = checked(1, 1);
    naming.register_instance(spec.clone()).await.unwrap();
    for _ in 0..20 {
        sleep(Duration::from_millis(1_000)).await;
        health.heartbeat(&spec).await.unwrap();
    }
    assert!(healthy(&naming, &spec));
    sleep(Duration::from_millis(3_100)).await;
    assert!(!healthy(&naming, &spec));
    health.heartbeat(&spec).await.unwrap();
    assert!(healthy(&naming, &spec), "the next beat marks it healthy");
    sleep(Duration::from_millis(2_900)).await;
    assert!(healthy(&naming, &spec), "and the checker watches it again");
    sleep(Duration::from_millis(200)).await;
    assert!(!healthy(&naming, &spec));
}

#[tokio::test(start_paused = true)]
async fn many_instances_expire_together() {
    let (naming, _health) = setup(true).await;
    let specs: Vec<_> = (0..500).map(|port| checked(port, 1)).collect();
    for spec in &specs {
        naming.register_instance(spec.clone()).await.unwrap();
    }
    sleep(Duration::from_millis(3_100)).await;
    assert!(specs.iter().all(|s| !healthy(&naming, s)));
}

#[tokio::test(start_paused = true)]
async fn unchecked_and_removed_instances_are_left_alone() {
    let (naming, health) = setup(true).await;
    let mut plain = checked(1, 1);
    plain.health_check = None;
    naming.register_instance(plain.clone()).await.unwrap();
    let gone = checked(2, 1);
    naming.register_instance(gone.clone()).await.unwrap();
    naming.deregister_instance(&gone).await.unwrap();
    sleep(Duration::from_secs(10)).await;
    assert!(healthy(&naming, &plain));
    assert_eq!(
        health.heartbeat(&plain).await.unwrap_err().code,
        Code::HeartbeatOnDisabledIns
    );
    // Three beats for an unknown instance are tolerated, then it is not found.
    for _ in 0..3 {
        health.heartbeat(&gone).await.unwrap();
    }
    assert_eq!(
        health.heartbeat(&gone).await.unwrap_err().code,
        Code::NotFoundResource
    );
}

#[tokio::test(start_paused = true)]
async fn a_closed_checker_refuses_heartbeats_and_judges_nothing() {
    let (naming, health) = setup(false).await;
    let spec = checked(1, 1);
    naming.register_instance(spec.clone()).await.unwrap();
    assert_eq!(
        health.heartbeat(&spec).await.unwrap_err().code,
        Code::HealthCheckNotOpen
    );
    sleep(Duration::from_secs(10)).await;
    assert!(healthy(&naming, &spec));
    health.stop().await;
}
