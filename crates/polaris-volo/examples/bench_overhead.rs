//! Per-call overhead of a volo-grpc client through Polaris (`PolarisDiscover`,
//! `PolarisLoadBalance` with its route-labels layer, `CircuitBreakerLayer`) against a plain
//! volo-grpc client to the same fixed address: one Echo server in this process, registered
//! in Polaris, called sequentially through both clients in alternating rounds (same process,
//! same server, same moment). Prints wall time, process CPU and heap allocations per call
//! for each, and the difference.
//!
//! `BENCH_ONLY=plain|polaris` makes only that client's calls after the warm-up (to count
//! instructions per call under `valgrind --tool=callgrind`: user-space instructions, so the
//! kernel's TCP path, the noise of the timed runs, is left out).
//!
//! Run: `cargo run --release -p polaris-volo --example bench_overhead` (`POLARIS_ADDR` to
//! point elsewhere; `BENCH_CALLS` per round, 20,000; `BENCH_ROUNDS`, 5).

#[path = "common/mod.rs"]
mod common;

use std::alloc::System;
use std::time::Duration;

use polaris_testkit::bench::{Meter, Sample, calls_from_env, print_overhead, rounds_from_env};
use polaris_volo::PolarisLoadBalance;
use polaris_volo::echo::{EchoClient, EchoClientBuilder, EchoRequest};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

async fn run(echo: &EchoClient, calls: u32) -> Sample {
    let (region, meter) = (Region::new(GLOBAL), Meter::start());
    for _ in 0..calls {
        let answer = echo.echo(EchoRequest::default()).await;
        assert!(answer.is_ok(), "call failed: {:?}", answer.err());
    }
    meter.sample(region.change().allocations, calls)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), polaris_volo::BoxError> {
    let (calls, rounds) = (calls_from_env(20_000), rounds_from_env(5));
    let client = common::client().await?;
    let service = format!("BenchEchoVolo-{}", std::process::id());
    let stop = polaris_testkit::example::spawn_provider(
        &client,
        &service,
        &[],
        "bench",
        false,
        common::serve_echo,
    )
    .await?;
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

    if let Ok(only) = std::env::var("BENCH_ONLY") {
        // One client alone (for instruction counts: `valgrind --tool=callgrind`).
        let echo = if only == "plain" { &plain } else { &polaris };
        let sample = run(echo, calls * rounds as u32).await;
        println!(
            "{only}: {:?} per call (wall ns, CPU ns, allocations)",
            sample.per_call()
        );
        drop(stop);
        client.shutdown().await;
        return Ok(());
    }
    let (mut a, mut b) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        a.push(run(&plain, calls).await);
        b.push(run(&polaris, calls).await);
    }
    print_overhead(
        "client",
        rounds,
        calls,
        ("plain volo-grpc client (fixed address)", &a),
        ("volo-grpc client through Polaris", &b),
    );
    drop(stop);
    tokio::time::sleep(Duration::from_millis(300)).await;
    client.shutdown().await;
    Ok(())
}
