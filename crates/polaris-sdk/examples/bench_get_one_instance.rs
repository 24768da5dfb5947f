//! Measures the consumer hot path and push latency against a running server:
//!
//! 1. registers 1,000 instances of `default/bench-svc` (TTL 60 s), loads them into the cache
//!    and times `get_one_instance` (weighted random, then ring hash with a per-call key);
//! 2. registers 200 more instances one by one and times registration -> watch notification,
//!    on that service and on a small one.
//!
//! Run against a release server: `cargo run --release -p polaris-sdk --example
//! bench_get_one_instance` (`POLARIS_ADDR` to point elsewhere).

use polaris_testkit::example as common;

use std::time::{Duration, Instant};

use polaris_sdk::{Criteria, InstanceSpec, LbPolicy, ServiceKey};

const INSTANCES: u32 = 1_000;
const LATENCY_SAMPLES: u32 = 200;
const CALLS: u32 = 1_000_000;

fn spec(service: &str, i: u32) -> InstanceSpec {
    InstanceSpec::new(
        "default",
        service,
        format!("10.{}.{}.{}", i / 65536, (i / 256) % 256, i % 256),
        8080,
    )
    .ttl(Duration::from_secs(60))
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let client = common::client().await?;
    let service = format!("bench-svc-{}", std::process::id());
    let key = ServiceKey::new("default", &service);

    let started = Instant::now();
    let mut registrations = Vec::with_capacity(INSTANCES as usize);
    for chunk in (0..INSTANCES).collect::<Vec<_>>().chunks(50) {
        let batch = chunk.iter().map(|i| {
            let provider = client.provider();
            let spec = spec(&service, *i);
            async move { provider.register(spec).await }
        });
        for r in futures_join(batch).await {
            registrations.push(r?);
        }
    }
    println!(
        "registered {INSTANCES} instances in {:?}",
        started.elapsed()
    );
    let mut all = client.consumer().get_all_instances(&key).await?;
    while all.instances.len() < INSTANCES as usize {
        tokio::time::sleep(Duration::from_millis(50)).await;
        all = client.consumer().get_all_instances(&key).await?;
    }

    for (name, criteria) in [
        ("weightedRandom", Criteria::default()),
        (
            "ringHash+key",
            Criteria::default()
                .lb(LbPolicy::RingHash)
                .hash_key("user-42"),
        ),
    ] {
        for _ in 0..10_000 {
            client.consumer().get_one_instance(&key, &criteria).await?;
        }
        let t = Instant::now();
        for _ in 0..CALLS {
            std::hint::black_box(client.consumer().get_one_instance(&key, &criteria).await?);
        }
        let ns = t.elapsed().as_nanos() as f64 / f64::from(CALLS);
        println!("get_one_instance ({name}, {INSTANCES} instances): {ns:.0} ns/call");
    }

    let small_service = format!("{service}-small");
    let small = ServiceKey::new("default", &small_service);
    registrations.push(client.provider().register(spec(&small_service, 0)).await?);
    for (label, key, service, base) in [
        ("1,000-instance service", &key, &service, INSTANCES),
        ("small service", &small, &small_service, 1),
    ] {
        let mut watch = client.consumer().watch(key).await?;
        let mut latencies = Vec::with_capacity(LATENCY_SAMPLES as usize);
        for i in 0..LATENCY_SAMPLES {
            let want = base + i + 1;
            let t = Instant::now();
            registrations.push(client.provider().register(spec(service, base + i)).await?);
            loop {
                let list = tokio::time::timeout(Duration::from_secs(10), watch.changed()).await??;
                if list.instances.len() as u32 >= want {
                    break;
                }
            }
            latencies.push(t.elapsed());
        }
        latencies.sort();
        let pct = |p: usize| latencies[(latencies.len() * p / 100).min(latencies.len() - 1)];
        println!(
            "registration -> watch, {label} ({} samples, push active: {}): p50 {:?}, p90 {:?}, p99 {:?}, max {:?}",
            latencies.len(),
            client.consumer().push_active(),
            pct(50),
            pct(90),
            pct(99),
            latencies[latencies.len() - 1]
        );
    }

    let t = Instant::now();
    let n = registrations.len();
    for r in registrations {
        r.deregister().await?;
    }
    println!("deregistered {n} instances in {:?}", t.elapsed());
    client.shutdown().await;
    Ok(())
}

/// Runs the futures concurrently and collects their outputs in order.
async fn futures_join<F>(futures: impl Iterator<Item = F>) -> Vec<F::Output>
where
    F: std::future::Future + Send + 'static,
    F::Output: Send + 'static,
{
    let handles: Vec<_> = futures.map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.expect("task"));
    }
    out
}
