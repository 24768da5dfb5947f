//! Per-call overhead of `PolarisChannel` against a plain tonic `Channel` to the same fixed
//! address: one Echo server in this process, registered in Polaris, called sequentially
//! through both channels in alternating rounds (same process, same server, same moment).
//! Prints wall time, process CPU and heap allocations per call for each, and the difference;
//! a second table for a channel with `failover(0)` (no second attempt possible, so the
//! request body is passed through instead of being kept for a resend).
//!
//! The calls go over an in-process transport by default (`BENCH_TRANSPORT=duplex`): both
//! channels connect through the same connector, which hands the Echo server one end of a
//! `tokio::io::duplex` pipe per connection (the Polaris channel through
//! `ChannelBuilder::connect_with`), so no kernel socket is on the call path and what differs
//! is the Polaris layer alone. `BENCH_TRANSPORT=tcp` calls the server's loopback TCP
//! listener instead (the listener is registered in Polaris either way).
//!
//! `BENCH_BREAKER=off` turns the circuit breaker off in both Polaris channels (to split the
//! added time); `BENCH_CONTROL=1` puts a second plain client in the Polaris client's place
//! (the A/A control: what it shows as added is the method's own bias).
//! `BENCH_ONLY=plain|polaris|once` makes only that client's calls after the warm-up (to
//! count instructions per call under `valgrind --tool=callgrind`, one run per client).
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
use tokio::io::DuplexStream;
use tokio::sync::mpsc::UnboundedSender;

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

/// Connects by handing the server one end of a new in-process pipe.
#[derive(Clone)]
struct Pipes(UnboundedSender<Result<DuplexStream, std::io::Error>>);

impl tower::Service<http::Uri> for Pipes {
    type Response = hyper_util::rt::TokioIo<DuplexStream>;
    type Error = std::io::Error;
    type Future = std::future::Ready<Result<Self::Response, std::io::Error>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: http::Uri) -> Self::Future {
        let (client, server) = tokio::io::duplex(64 * 1024);
        let sent = self
            .0
            .send(Ok(server))
            .map_err(|_| std::io::ErrorKind::BrokenPipe.into());
        std::future::ready(sent.map(|()| hyper_util::rt::TokioIo::new(client)))
    }
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
        })
        .shutdown_on(async move {
            let _ = stopped.await;
        });
    let serving = tokio::spawn(polaris.serve_tonic(listener, |incoming, shutdown| {
        router.serve_with_incoming_shutdown(incoming, shutdown)
    }));
    is_up.await?;

    let endpoint = tonic::transport::Endpoint::from_shared(format!("http://{address}"))?;
    let (mut polaris, mut once) = (
        PolarisChannel::builder(client.clone(), &service),
        PolarisChannel::builder(client.clone(), &service).failover(0),
    );
    if std::env::var("BENCH_BREAKER").is_ok_and(|b| b == "off") {
        // To split the added time: both Polaris channels without the circuit breaker.
        println!("circuit breaker: off");
        polaris = polaris.circuit_breaker(false);
        once = once.circuit_breaker(false);
    }
    let plain = if std::env::var("BENCH_TRANSPORT").is_ok_and(|t| t == "tcp") {
        println!("transport: loopback TCP");
        endpoint.connect().await?
    } else {
        println!("transport: in-process duplex pipes");
        let (pipes, incoming) = tokio::sync::mpsc::unbounded_channel();
        let incoming = tokio_stream::wrappers::UnboundedReceiverStream::new(incoming);
        let server = tonic::transport::Server::builder().add_service(EchoServer::new(
            common::EchoService(common::EchoState::new("bench")),
        ));
        tokio::spawn(server.serve_with_incoming(incoming));
        let pipes = Pipes(pipes);
        let connector = pipes.clone();
        polaris = polaris.connect_with(move |e| e.connect_with_connector_lazy(connector.clone()));
        let connector = pipes.clone();
        once = once.connect_with(move |e| e.connect_with_connector_lazy(connector.clone()));
        endpoint.connect_with_connector(pipes).await?
    };
    // The A/A control (`BENCH_CONTROL=1`): a second plain client (a handle of the same channel) in
    // the Polaris client's place; what it shows as "added" is the method's own bias.
    let control = std::env::var("BENCH_CONTROL").is_ok_and(|c| c == "1");
    let mut second = EchoClient::new(plain.clone());
    let mut plain = EchoClient::new(plain);
    let mut polaris = EchoClient::new(polaris.build());
    let mut once = EchoClient::new(once.build());
    // Warm up all three (connections, caches, rules).
    run(&mut plain, 1_000).await;
    run(&mut polaris, 1_000).await;
    run(&mut once, 1_000).await;

    if let Ok(only) = std::env::var("BENCH_ONLY") {
        // One client alone (for instruction counts: `valgrind --tool=callgrind`).
        let sample = match only.as_str() {
            "plain" => run(&mut plain, calls * rounds as u32).await,
            "polaris" => run(&mut polaris, calls * rounds as u32).await,
            _ => run(&mut once, calls * rounds as u32).await,
        };
        println!(
            "{only}: {:?} per call (wall ns, CPU ns, allocations)",
            sample.per_call()
        );
        let _ = stop.send(());
        client.shutdown().await;
        return Ok(());
    }
    let (mut a, mut b, mut c) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        a.push(run(&mut plain, calls).await);
        if control {
            b.push(run(&mut second, calls).await);
        } else {
            b.push(run(&mut polaris, calls).await);
        }
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
