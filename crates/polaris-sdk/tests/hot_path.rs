//! `get_one_instance` from a loaded cache allocates nothing, whatever the load balancer: counted
//! by a counting global allocator around many calls, against the real server.

use polaris_testkit as support;

use std::alloc::System;
use std::time::Duration;

use polaris_sdk::{Client, Criteria, InstanceSpec, LbPolicy, ServiceKey};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};
use support::{TestServer, eventually};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const INSTANCES: u32 = 200;
const CALLS: u32 = 20_000;

#[tokio::test(flavor = "current_thread")]
async fn get_one_instance_allocates_nothing_once_the_cache_is_loaded() {
    let server = TestServer::start();
    let client = Client::builder()
        .addresses([server.naming_addr()])
        .persist_dir(None)
        .build()
        .await
        .expect("client");
    let mut registrations = Vec::new();
    for i in 0..INSTANCES {
        let spec = InstanceSpec::new(
            "default",
            "hot",
            format!("10.0.{}.{}", i / 256, i % 256),
            80,
        )
        .ttl(Duration::from_secs(60));
        registrations.push(client.provider().register(spec).await.expect("register"));
    }
    let key = ServiceKey::new("default", "hot");
    eventually(
        "all instances cached",
        Duration::from_secs(15),
        async || {
            let all = client.consumer().get_all_instances(&key).await.ok()?;
            (all.instances.len() == INSTANCES as usize).then_some(())
        },
    )
    .await;
    for criteria in [
        Criteria::default(),
        Criteria::default().lb(LbPolicy::RoundRobin),
        Criteria::default()
            .lb(LbPolicy::RingHash)
            .hash_key("user-7"),
        Criteria::default().lb(LbPolicy::Maglev).hash_key("user-7"),
    ] {
        // The first calls build the balancer's tables and the router's memo; then nothing.
        for _ in 0..100 {
            client
                .consumer()
                .get_one_instance(&key, &criteria)
                .await
                .expect("pick");
        }
        let region = Region::new(GLOBAL);
        for _ in 0..CALLS {
            std::hint::black_box(
                client
                    .consumer()
                    .get_one_instance(&key, &criteria)
                    .await
                    .expect("pick"),
            );
        }
        let allocations = region.change().allocations;
        // The client's background tasks share the counter; they may allocate a little, the
        // calls themselves must not (one allocation per call would be 20,000).
        assert!(
            allocations < 50,
            "{allocations} allocations in {CALLS} calls with {criteria:?}"
        );
    }
    for registration in registrations {
        registration.deregister().await.expect("deregister");
    }
}
