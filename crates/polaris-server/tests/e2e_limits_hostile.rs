//! A hostile client beside a normal one, against the real binary. The normal client (its own
//! address, its own runtime thread) runs a fixed mix of Discover round trips, heartbeats and a
//! few registrations, first alone, then while hostile clients from other addresses open
//! thousands of Discover streams, flood writes over gRPC and HTTP, and subscribe streams they
//! never read to a service that keeps changing. Its p99 must stay within 3x of its p99 alone
//! (both printed), and the server's memory must level off while the never-reading streams
//! are pushed to.

mod limits_support;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use limits_support::{
    HttpConn, LimitServer, Limits, discover, instance, loopback, percentile, sample,
};
use polaris_proto::v1::polaris_grpc_client::PolarisGrpcClient;
use tokio::sync::mpsc;
use tokio_stream::StreamExt;
use tokio_stream::wrappers::ReceiverStream;
use tonic::Request;

const LIMITS: Limits = Limits {
    per_host: 64,
    bucket: 50,
    rate: 20,
    streams: 100,
    subscriptions: 1_000,
    watch_files: 100,
};

/// Operations of one measured run of the normal client.
const NORMAL_OPS: usize = 1_000;

/// Runs the normal client's mix on its own thread and runtime; returns its latencies.
fn normal_run(server_grpc: u16, round: u32) -> Vec<Duration> {
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let channel =
                tonic::transport::Endpoint::from_shared(format!("http://127.0.0.1:{server_grpc}"))
                    .unwrap()
                    .connect()
                    .await
                    .unwrap();
            let mut client = PolarisGrpcClient::new(channel);
            let (tx, rx) = mpsc::channel(1);
            let mut replies = client
                .discover(ReceiverStream::new(rx))
                .await
                .unwrap()
                .into_inner();
            let mut samples = Vec::with_capacity(NORMAL_OPS);
            for op in 0..NORMAL_OPS {
                let started = Instant::now();
                match op % 10 {
                    0 if op % 50 == 0 => {
                        let port = 10_000 + round * 100 + (op / 50) as u32;
                        let reply = client
                            .register_instance(instance("normal", "10.9.9.9", port))
                            .await
                            .unwrap()
                            .into_inner();
                        assert_eq!(reply.code, Some(200_000), "{reply:?}");
                    }
                    0..=6 => {
                        tx.send(discover("normal")).await.unwrap();
                        let reply = replies.next().await.unwrap().unwrap();
                        assert_eq!(reply.code, Some(200_000));
                    }
                    _ => {
                        client
                            .heartbeat(instance("normal", "10.9.9.9", 1))
                            .await
                            .unwrap();
                    }
                }
                samples.push(started.elapsed());
            }
            samples
        })
    })
    .join()
    .expect("normal client")
}

/// Connections and streams per connection of the stream hog: 20 x 150 (2,000 open, 1,000
/// held back by the per-connection limit), or `POLARIS_HOSTILE_STREAMS=<channels>x<streams>`.
fn stream_load() -> (usize, usize) {
    std::env::var("POLARIS_HOSTILE_STREAMS")
        .ok()
        .and_then(|v| {
            let (c, s) = v.split_once('x')?;
            Some((c.parse().ok()?, s.parse().ok()?))
        })
        .unwrap_or((20, 150))
}

/// The one-minute load average and the number of cores.
fn machine_load() -> (f64, f64) {
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap_or(0.0);
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    (load, cores)
}

/// [`normal_run`] without blocking this runtime, whose thread runs the hostile clients.
async fn normal(server_grpc: u16, round: u32) -> Vec<Duration> {
    tokio::task::spawn_blocking(move || normal_run(server_grpc, round))
        .await
        .expect("normal client")
}

/// The pace of one flood lane: 40 writes/s at most, no catching up after a slow reply. Ten
/// lanes send 400 writes/s against 60/s allowed to their three addresses: a debug build on a
/// shared machine has a fraction of a core, and a refused write is cheap, not free.
fn flood_tick() -> tokio::time::Interval {
    let mut tick = tokio::time::interval(Duration::from_millis(25));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    tick
}

/// One lane of the write flood: a write per [`flood_tick`] until `stop`, to ports
/// `lane * 100 + 1 ..= lane * 100 + 50` in turn, counting the writes the server refused.
async fn flood_lane(
    lane: u32,
    stop: Arc<AtomicBool>,
    refused: Arc<AtomicU64>,
    mut write: impl AsyncFnMut(u32) -> bool,
) {
    let mut n = 0;
    let mut tick = flood_tick();
    while !stop.load(Ordering::Relaxed) {
        tick.tick().await;
        n += 1;
        if write(lane * 100 + n % 50 + 1).await {
            refused.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn summary(samples: &mut [Duration]) -> (Duration, Duration) {
    (percentile(samples, 50.0), percentile(samples, 99.0))
}

/// Streams from `source`, `per_channel` on each of `channels` connections, each subscribing
/// (with push) to `service` and never reading a reply.
async fn idle_streams(
    server: &LimitServer,
    source: std::net::IpAddr,
    channels: usize,
    per_channel: usize,
    service: &str,
) -> Vec<Box<dyn std::any::Any + Send>> {
    let mut held: Vec<Box<dyn std::any::Any + Send>> = Vec::new();
    for _ in 0..channels {
        let channel = server.channel(server.grpc, source, true).await;
        for _ in 0..per_channel {
            let mut client = PolarisGrpcClient::new(channel.clone());
            let (tx, rx) = mpsc::channel(1);
            tx.send(discover(service)).await.unwrap();
            let mut request = Request::new(ReceiverStream::new(rx));
            request
                .metadata_mut()
                .insert("x-polaris-push", "true".parse().unwrap());
            // Streams over the connection's limit wait in the client; never awaited here.
            held.push(Box::new(tx));
            held.push(Box::new(tokio::spawn(async move {
                let replies = client.discover(request).await;
                // Hold the stream, never read it.
                std::future::pending::<()>().await;
                drop(replies);
            })));
        }
    }
    held
}

// One thread for every hostile client (so that together they use at most one core of the
// shared machine); the normal client has a thread of its own.
#[tokio::test(flavor = "current_thread")]
async fn a_hostile_client_leaves_a_normal_client_its_p99() {
    let server = LimitServer::start(&LIMITS).await;
    // A service worth pushing: 60 instances with some metadata, registered in batches so the
    // writer stays within its own rate.
    for port in 0..60 {
        // 20 writes per address: within its bucket.
        let mut writer = server.naming(loopback(20 + (port / 20) as u8)).await;
        let mut ins = instance("big", "10.5.5.5", port);
        ins.metadata.insert("blob".into(), "x".repeat(400));
        let reply = writer.register_instance(ins).await.unwrap().into_inner();
        assert_eq!(reply.code, Some(200_000), "{reply:?}");
    }
    let mut writer = server.naming(loopback(23)).await;
    writer
        .register_instance(instance("normal", "10.9.9.9", 1))
        .await
        .unwrap();

    // Warm-up, then the normal client alone.
    normal(server.grpc, 0).await;
    let cpu_before = server.cpu_seconds();
    let alone_started = Instant::now();
    let mut alone = normal(server.grpc, 1).await;
    let alone_wall = alone_started.elapsed();
    let alone_cpu = server.cpu_seconds() - cpu_before;
    let (alone_p50, alone_p99) = summary(&mut alone);

    // The hostile clients.
    let stop = Arc::new(AtomicBool::new(false));
    let refused = Arc::new(AtomicU64::new(0));
    let (channels, per_channel) = stream_load();
    let thousands = idle_streams(&server, loopback(30), channels, per_channel, "big").await;
    let never_read = idle_streams(&server, loopback(31), 4, 50, "big").await;
    let mut tasks = tokio::task::JoinSet::new();
    // The write flood: 4 lanes from each of two gRPC addresses and 2 keep-alive HTTP
    // connections from a third (see `flood_tick`).
    for flooder in 0..2u8 {
        let client = server.naming(loopback(40 + flooder)).await;
        for lane in 0..4u32 {
            let (stop, refused, mut client) = (stop.clone(), refused.clone(), client.clone());
            tasks.spawn(flood_lane(lane, stop, refused, async move |port| {
                let reply = client
                    .register_instance(instance("flood", "10.6.6.6", port))
                    .await
                    .unwrap()
                    .into_inner();
                reply.code == Some(429_002)
            }));
        }
    }
    let port_http = server.http;
    for lane in 0..2u32 {
        let mut conn = HttpConn::open(port_http, loopback(42)).await.unwrap();
        let (stop, refused) = (stop.clone(), refused.clone());
        tasks.spawn(flood_lane(lane, stop, refused, async move |port| {
            let body = format!(
                r#"{{"namespace":"default","service":"flood","host":"10.7.7.7","port":{port}}}"#
            );
            match conn.request("POST", "/v1/RegisterInstance", &body).await {
                Ok((status, _)) => status == 429,
                // The server may close a keep-alive connection: open another.
                Err(_) => {
                    conn = HttpConn::open(port_http, loopback(42)).await.unwrap();
                    false
                }
            }
        }));
    }
    {
        // Keeps changing the service every hostile stream watches, within its own rate.
        let (stop, mut writer) = (stop.clone(), writer.clone());
        tasks.spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(100));
            let mut n = 0u32;
            while !stop.load(Ordering::Relaxed) {
                tick.tick().await;
                n += 1;
                let ins = instance("big", "10.5.5.6", 1000 + n % 4);
                if n % 8 < 4 {
                    writer.register_instance(ins).await.unwrap();
                } else {
                    writer.deregister_instance(ins).await.unwrap();
                }
            }
        });
    }
    // Let the hostile load build, then measure the normal client under it.
    let rss_start = server.rss_kib();
    normal(server.grpc, 2).await;
    let cpu_before = server.cpu_seconds();
    let attacked_started = Instant::now();
    let mut attacked = normal(server.grpc, 3).await;
    let attacked_wall = attacked_started.elapsed();
    let attacked_cpu = server.cpu_seconds() - cpu_before;
    let rss_mid = server.rss_kib();
    normal(server.grpc, 4).await;
    let rss_end = server.rss_kib();
    let (attacked_p50, attacked_p99) = summary(&mut attacked);
    stop.store(true, Ordering::Relaxed);
    while tasks.join_next().await.is_some() {}

    let page = server.metrics().await;
    let pushes = sample(&page, "polaris_push_responses_total");
    let streams = sample(&page, "polaris_discover_streams");
    println!(
        "normal client alone: p50 {alone_p50:?} p99 {alone_p99:?}; beside the hostile clients: \
         p50 {attacked_p50:?} p99 {attacked_p99:?} ({NORMAL_OPS} ops each)"
    );
    println!(
        "server CPU: alone {alone_cpu:.2} s in {alone_wall:.2?} ({:.0} us per normal op), beside \
         the hostile clients {attacked_cpu:.2} s in {attacked_wall:.2?}",
        alone_cpu * 1e6 / NORMAL_OPS as f64
    );
    println!(
        "hostile: {streams} Discover streams open, {pushes} pushes, {} writes refused; server RSS \
         {rss_start} KiB -> {rss_mid} KiB -> {rss_end} KiB",
        refused.load(Ordering::Relaxed)
    );
    assert!(
        refused.load(Ordering::Relaxed) > 100,
        "the flood was refused"
    );
    let (channels, per_channel) = stream_load();
    let expected = channels * per_channel.min(LIMITS.streams as usize) + 200;
    assert!(
        streams >= expected as f64,
        "{expected} streams were open: {streams}"
    );
    // Generous for a shared 2-core machine, and a floor of 1 ms for timer noise. On a machine
    // whose run queue is already several times its cores (other builds), the server gets a
    // fraction of a core and any extra work shows in every client's latency: the figures are
    // printed, the bound is not asserted then.
    let (load, cores) = machine_load();
    let bound = alone_p99.max(Duration::from_millis(1)) * 3;
    if load <= 2.0 * cores {
        assert!(
            attacked_p99 <= bound,
            "normal client's p99 went from {alone_p99:?} to {attacked_p99:?} (bound {bound:?})"
        );
    } else {
        println!(
            "machine saturated (load {load:.1} on {cores} cores): p99 bound {bound:?} not asserted"
        );
    }
    // Memory levels off: the never-reading streams hold shared answers, not copies.
    assert!(
        rss_end <= rss_mid + 64 * 1024,
        "server memory kept growing: {rss_start} -> {rss_mid} -> {rss_end} KiB"
    );
    drop((thousands, never_read));
}
