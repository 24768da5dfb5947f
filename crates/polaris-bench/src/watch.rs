//! `config-watch` and `config-idle`: many WatchConfigFiles long polls parked on one file.
//!
//! Each watcher is a task that keeps one WatchConfigFiles call open with the version it holds.
//! A `200001` reply (the server's 30 s hold ran out) is answered with a new call at once, so the
//! number of parked calls stays at `--watchers`; a `200000` reply (the file was published) is
//! reported, and the watcher waits for the next round before watching the new version.
//!
//! When every call is parked is not visible to a client (the server has no metric of parked
//! watches), so the bench waits for quiet: once every watcher has issued its call, it samples
//! the CPU time of the bench (and of the server with `--server-pid`) every 100 ms, and calls the
//! watches parked after two intervals in a row in which each used under 2 ms, bounded by
//! 5 s + 0.2 ms per watcher.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use polaris_proto::v1;
use polaris_proto::v1::polaris_config_grpc_client::PolarisConfigGrpcClient;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tonic::transport::Channel;

use crate::Common;
use crate::config::{ConfigWatchArgs, WatchersArgs};
use crate::config::{
    config_channels, config_client, create_and_publish, file_info, publish, unique_name,
};
use crate::proc::{CpuMark, Proc, Usage};
use crate::report::{Recorder, Report, per_op};

/// How long a round waits for every watcher's reply.
const ROUND_TIMEOUT: Duration = Duration::from_secs(15);
/// A sampling interval with less CPU than this (of each process) counts as quiet.
const QUIET_CPU: f64 = 0.002;

pub(crate) enum Event {
    /// The file was published: the reply's version and when it arrived.
    Woken { at: Instant, version: u64 },
    /// The server's hold ran out (`200001`) and the watch was issued again.
    Reissued,
    /// A transport error or an unexpected code; the watcher stopped.
    Failed(String),
}

/// One watcher: watches `name` at `version` until the task is aborted (see the module doc).
async fn watcher(
    mut client: PolarisConfigGrpcClient<Channel>,
    name: Arc<str>,
    mut version: u64,
    mut rounds: watch::Receiver<u64>,
    events: mpsc::UnboundedSender<Event>,
    in_flight: Arc<AtomicUsize>,
) {
    loop {
        let request = v1::ClientWatchConfigFileRequest {
            watch_files: vec![file_info(&name, version)],
            ..Default::default()
        };
        in_flight.fetch_add(1, Ordering::Relaxed);
        let reply = client.watch_config_files(request).await;
        let at = Instant::now();
        in_flight.fetch_sub(1, Ordering::Relaxed);
        let event = match reply.map(tonic::Response::into_inner) {
            Ok(reply) => match reply.code.unwrap_or(0) {
                200_001 => Event::Reissued,
                200_000 => {
                    let got = reply.config_file.and_then(|f| f.version).unwrap_or(0);
                    version = version.max(got);
                    Event::Woken { at, version: got }
                }
                code => Event::Failed(format!("watch code {code}")),
            },
            Err(status) => Event::Failed(format!("gRPC {:?}: {}", status.code(), status.message())),
        };
        let woken = matches!(event, Event::Woken { .. });
        let failed = matches!(event, Event::Failed(_));
        if events.send(event).is_err() || failed {
            return;
        }
        if woken && rounds.changed().await.is_err() {
            return;
        }
    }
}

/// Watchers on one file over their connections, and what they report.
pub(crate) struct Crowd {
    pub(crate) tasks: JoinSet<()>,
    pub(crate) events: mpsc::UnboundedReceiver<Event>,
    pub(crate) in_flight: Arc<AtomicUsize>,
    pub(crate) rounds: watch::Sender<u64>,
    pub(crate) connections: usize,
    pub(crate) name: Arc<str>,
    pub(crate) version: u64,
    pub(crate) setup: PolarisConfigGrpcClient<Channel>,
}

impl Crowd {
    /// Creates and publishes a new file and starts `args.watchers` watchers on it.
    pub(crate) async fn start(
        common: &Common,
        args: &WatchersArgs,
        content_bytes: usize,
    ) -> Result<Crowd> {
        let per_conn = args.watchers_per_connection.max(1);
        let connections = common.connections.max(args.watchers.div_ceil(per_conn));
        let channels = config_channels(common, connections).await?;
        let name: Arc<str> = unique_name("bench-watch")?.into();
        let mut setup = config_client(&channels, 0);
        let version = create_and_publish(&mut setup, &name, content_bytes).await?;
        let (events_tx, events) = mpsc::unbounded_channel();
        let (rounds, rounds_rx) = watch::channel(0);
        let in_flight = Arc::new(AtomicUsize::new(0));
        let mut tasks = JoinSet::new();
        for w in 0..args.watchers {
            tasks.spawn(watcher(
                config_client(&channels, w),
                name.clone(),
                version,
                rounds_rx.clone(),
                events_tx.clone(),
                in_flight.clone(),
            ));
        }
        Ok(Crowd {
            tasks,
            events,
            in_flight,
            rounds,
            connections,
            name,
            version,
            setup,
        })
    }

    /// Waits until `expected` watches are issued and the processes are quiet (see the module
    /// doc). Returns how long it took and whether quiet was reached before the bound.
    pub(crate) async fn wait_parked(
        &self,
        expected: usize,
        server: Option<u32>,
    ) -> Result<(Duration, bool)> {
        let began = Instant::now();
        let bound = Duration::from_secs(5) + Duration::from_micros(200) * expected as u32;
        while self.in_flight.load(Ordering::Relaxed) < expected && began.elapsed() < bound {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        let server = server.map(Proc::pid);
        let bench = Proc::current();
        let sample = || -> Result<(f64, f64)> {
            let s = match &server {
                Some(p) => p.cpu_seconds()?,
                None => 0.0,
            };
            Ok((s, bench.cpu_seconds()?))
        };
        let mut last = sample()?;
        let mut quiet = 0;
        while began.elapsed() < bound {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let now = sample()?;
            if now.0 - last.0 < QUIET_CPU && now.1 - last.1 < QUIET_CPU {
                quiet += 1;
                if quiet == 2 {
                    return Ok((began.elapsed(), true));
                }
            } else {
                quiet = 0;
            }
            last = now;
        }
        Ok((began.elapsed(), false))
    }

    pub(crate) fn parked_note(took: Duration, quiet: bool) -> String {
        let how = if quiet { "quiet" } else { "bound" };
        format!("parked in {:.1} s ({how})", took.as_secs_f64())
    }
}

fn add(total: &mut Usage, part: Usage) {
    total.server_cpu = match (total.server_cpu, part.server_cpu) {
        (Some(a), Some(b)) => Some(a + b),
        (a, b) => a.or(b),
    };
    total.bench_cpu += part.bench_cpu;
    total.server_rss_mib = part.server_rss_mib;
}

/// `config-watch --watchers N --rounds R`.
pub async fn config_watch(common: &Common, args: &ConfigWatchArgs) -> Result<Report> {
    let n = args.watchers.watchers;
    let began = Instant::now();
    let mut crowd = Crowd::start(common, &args.watchers, args.content_bytes).await?;
    let mut rec = Recorder::default();
    let mut alive = n;
    let mut known = crowd.version;
    let mut usage = Usage::default();
    let mut elapsed = Duration::ZERO;
    let (mut ops, mut reissued) = (0u64, 0u64);
    let mut acks = Vec::new();
    let mut parking = Vec::new();
    for round in 1..=args.rounds {
        let (took, quiet) = crowd.wait_parked(alive, common.server_pid).await?;
        parking.push(Crowd::parked_note(took, quiet));
        if round == 1 {
            eprintln!(
                "config-watch: {n} watchers over {} connections, {} in {:.2?}",
                crowd.connections,
                parking[0],
                began.elapsed()
            );
        }
        // Failures and stale reissues of the previous round go before timing this one.
        while let Ok(event) = crowd.events.try_recv() {
            match event {
                Event::Failed(err) => {
                    alive -= 1;
                    rec.error(err);
                }
                Event::Reissued => reissued += 1,
                Event::Woken { .. } => {}
            }
        }
        let mark = CpuMark::start(common.server_pid)?;
        let t0 = Instant::now();
        publish(&mut crowd.setup, &crowd.name).await?;
        acks.push(t0.elapsed());
        let (mut got, mut last, mut newest) = (0usize, t0, known);
        let deadline = tokio::time::Instant::now() + ROUND_TIMEOUT;
        while got < alive {
            let event = match tokio::time::timeout_at(deadline, crowd.events.recv()).await {
                Ok(Some(event)) => event,
                Ok(None) => bail!("every watcher stopped"),
                Err(_) => break,
            };
            match event {
                Event::Woken { at, version } if version > known => {
                    got += 1;
                    ops += 1;
                    newest = newest.max(version);
                    last = last.max(at);
                    rec.latency(at.saturating_duration_since(t0));
                }
                Event::Woken { .. } => {}
                Event::Reissued => reissued += 1,
                Event::Failed(err) => {
                    alive -= 1;
                    rec.error(err);
                }
            }
        }
        for _ in got..alive {
            rec.error(format!("round {round}: no reply within {ROUND_TIMEOUT:?}"));
        }
        // Let the server finish the replied calls before reading its CPU time.
        tokio::time::sleep(Duration::from_millis(100)).await;
        add(&mut usage, mark.finish().context("read CPU usage")?);
        elapsed += last - t0;
        known = newest;
        crowd.rounds.send_replace(round);
    }
    crowd.tasks.abort_all();

    let per_woken = per_op(ops);
    let max_ack = acks.iter().max().copied().unwrap_or_default();
    Ok(Report {
        scenario: format!("config-watch {n} watchers"),
        ops,
        elapsed,
        rec,
        usage,
        note: format!(
            "rounds={} conns={}; µs CPU/woken watcher: server {}, bench {}; publish ack max {:.1} ms; {}; reissued {reissued}",
            args.rounds,
            crowd.connections,
            usage.server_cpu.map_or("-".into(), per_woken),
            per_woken(usage.bench_cpu),
            max_ack.as_secs_f64() * 1000.0,
            parking.join(", "),
        ),
    })
}
