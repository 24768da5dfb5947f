//! Per-call overhead of a volo-grpc client through Polaris (`PolarisDiscover`,
//! `PolarisLoadBalance` with its route-labels layer, `CircuitBreakerLayer`) against a plain
//! volo-grpc client to the same fixed address: one Echo server in this process, registered
//! in Polaris, called sequentially through both clients in alternating rounds (same process,
//! same server, same moment). Prints wall time, process CPU and heap allocations per call
//! for each, and the difference.
//!
//! Run: `cargo run --release -p polaris-volo --example bench_overhead` (`POLARIS_ADDR` to
//! point elsewhere; `BENCH_CALLS` per round, 20,000).

#[path = "common/mod.rs"]
mod common;

use std::alloc::System;
use std::time::{Duration, Instant};

use polaris_volo::PolarisLoadBalance;
use polaris_volo::echo::{EchoClient, EchoClientBuilder, EchoRequest};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

const ROUNDS: usize = 5;

/// User + system CPU time of this process so far.
fn cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 (1-based), i.e. 11 and 12 after the name.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

#[derive(Default, Clone, Copy)]
struct Sample {
    wall: Duration,
    cpu: Duration,
    allocations: usize,
    calls: u32,
}

impl Sample {
    fn per_call(&self) -> (f64, f64, f64) {
        let n = f64::from(self.calls);
        (
            self.wall.as_nanos() as f64 / n,
            self.cpu.as_nanos() as f64 / n,
            self.allocations as f64 / n,
        )
    }
}

async fn run(echo: &EchoClient, calls: u32) -> Sample {
    let region = Region::new(GLOBAL);
    let (wall, cpu) = (Instant::now(), cpu_time());
    for _ in 0..calls {
        let answer = echo
            .echo(EchoRequest {
                value: "bench".into(),
            })
            .await;
        assert!(answer.is_ok(), "call failed: {:?}", answer.err());
    }
    Sample {
        wall: wall.elapsed(),
        cpu: cpu_time().saturating_sub(cpu),
        allocations: region.change().allocations,
        calls,
    }
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), polaris_volo::BoxError> {
    let calls: u32 = std::env::var("BENCH_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20_000);
    let client = common::client().await?;
    let service = format!("BenchEchoVolo-{}", std::process::id());
    let echo = common::EchoService {
        served_by: "bench".into(),
        ..Default::default()
    };
    let stop = common::spawn_provider(&client, &service, &[], echo, false).await?;
    let address = client
        .consumer()
        .get_one_instance(
            &polaris_sdk::ServiceKey::new("default", &service),
            &Default::default(),
        )
        .await?;
    let address: std::net::SocketAddr = format!("{}:{}", address.host, address.port).parse()?;

    let plain = EchoClientBuilder::new(&service)
        .address(volo::net::Address::from(address))
        .build();
    let polaris = common::echo_client(&client, &service, PolarisLoadBalance::new());
    // Warm up both (connections, caches, rules).
    run(&plain, 1_000).await;
    run(&polaris, 1_000).await;

    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        a.push(run(&plain, calls).await);
        b.push(run(&polaris, calls).await);
    }
    let median = |samples: &[Sample], pick: fn(&(f64, f64, f64)) -> f64| {
        let mut values: Vec<f64> = samples.iter().map(|s| pick(&s.per_call())).collect();
        values.sort_by(f64::total_cmp);
        values[values.len() / 2]
    };
    println!("{ROUNDS} alternating rounds of {calls} sequential unary calls, medians per call:");
    println!("| client | wall ns/call | CPU ns/call | allocations/call |");
    println!("|---|---|---|---|");
    for (name, samples) in [
        ("plain volo-grpc client (fixed address)", &a),
        ("volo-grpc client through Polaris", &b),
    ] {
        println!(
            "| {name} | {:.0} | {:.0} | {:.1} |",
            median(samples, |s| s.0),
            median(samples, |s| s.1),
            median(samples, |s| s.2)
        );
    }
    println!(
        "| added by Polaris | {:+.0} | {:+.0} | {:+.1} |",
        median(&b, |s| s.0) - median(&a, |s| s.0),
        median(&b, |s| s.1) - median(&a, |s| s.1),
        median(&b, |s| s.2) - median(&a, |s| s.2)
    );
    drop(stop);
    tokio::time::sleep(Duration::from_millis(300)).await;
    client.shutdown().await;
    Ok(())
}
