//! Per-call overhead of `PolarisChannel` against a plain tonic `Channel` to the same fixed
//! address: one Echo server in this process, registered in Polaris, called sequentially
//! through both channels in alternating rounds (same process, same server, same moment).
//! Prints wall time, process CPU and heap allocations per call for each, and the difference;
//! a second table for a channel with `failover(0)` (no second attempt possible, so the
//! request body is passed through instead of being kept for a resend).
//!
//! Run against a release server: `cargo run --release -p polaris-tonic --example
//! bench_overhead` (`POLARIS_ADDR` to point elsewhere; `BENCH_CALLS` per round, 20,000;
//! `BENCH_ROUNDS`, 5).

#[path = "common/mod.rs"]
mod common;

use std::alloc::System;
use std::time::Duration;

use polaris_testkit::bench::{Meter, Sample, calls_from_env, print_overhead, rounds_from_env};
use polaris_tonic::echo::echo_server::EchoServer;
use polaris_tonic::echo::{EchoRequest, echo_client::EchoClient};
use polaris_tonic::{PolarisChannel, PolarisServer, ServeTonic};
use stats_alloc::{INSTRUMENTED_SYSTEM, Region, StatsAlloc};

#[global_allocator]
static GLOBAL: &StatsAlloc<System> = &INSTRUMENTED_SYSTEM;

async fn run<T>(echo: &mut EchoClient<T>, calls: u32) -> Sample
where
    T: tonic::client::GrpcService<tonic::body::Body>,
    T::Error: Into<tonic::codegen::StdError>,
    T::ResponseBody: tonic::codegen::Body<Data = tonic::codegen::Bytes> + Send + 'static,
    <T::ResponseBody as tonic::codegen::Body>::Error: Into<tonic::codegen::StdError> + Send,
{
    let (region, meter) = (Region::new(GLOBAL), Meter::start());
    for _ in 0..calls {
        let answer = echo.echo(EchoRequest::default()).await;
        assert!(answer.is_ok(), "call failed: {:?}", answer.err());
    }
    meter.sample(region.change().allocations, calls)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), polaris_tonic::BoxError> {
    let (calls, rounds) = (calls_from_env(20_000), rounds_from_env(5));
    let client = common::client().await?;
    let service = format!("BenchEchoTonic-{}", std::process::id());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let address = listener.local_addr()?;
    let echo = common::EchoState::new("bench");
    let router =
        tonic::transport::Server::builder().add_service(EchoServer::new(common::EchoService(echo)));
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let (up, is_up) = tokio::sync::oneshot::channel();
    let polaris = PolarisServer::builder(client.clone())
        .service_name(&service)
        .graceful(Duration::ZERO, Duration::from_secs(5))
        .on_registered(move |_, _| {
            let _ = up.send(());
        });
    let serving = tokio::spawn(polaris.serve_tonic(
        listener,
        async move {
            let _ = stopped.await;
        },
        |incoming, shutdown| router.serve_with_incoming_shutdown(incoming, shutdown),
    ));
    is_up.await?;

    let plain = tonic::transport::Endpoint::from_shared(format!("http://{address}"))?
        .connect()
        .await?;
    let mut plain = EchoClient::new(plain);
    let mut polaris = EchoClient::new(PolarisChannel::builder(client.clone(), &service).build());
    let once = PolarisChannel::builder(client.clone(), &service).failover(0);
    let mut once = EchoClient::new(once.build());
    // Warm up all three (connections, caches, rules).
    run(&mut plain, 1_000).await;
    run(&mut polaris, 1_000).await;
    run(&mut once, 1_000).await;

    let (mut a, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        a.push(run(&mut plain, calls).await);
        b.push(run(&mut polaris, calls).await);
        c.push(run(&mut once, calls).await);
    }
    let plain = ("plain tonic Channel (fixed address)", &a[..]);
    print_overhead("channel", rounds, calls, plain, ("PolarisChannel", &b));
    println!();
    print_overhead(
        "channel",
        rounds,
        calls,
        plain,
        ("PolarisChannel, failover(0)", &c),
    );
    let _ = stop.send(());
    let _ = serving.await;
    client.shutdown().await;
    Ok(())
}
