//! `push`: how fast one change reaches many subscribed Discover streams.

use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, bail};
use tokio::sync::{Semaphore, mpsc};
use tokio::task::JoinSet;
use tokio::time::timeout;

use crate::discover::{DiscoverStream, instance_request};
use crate::net::{client, code_of, connect, instance};
use crate::proc::CpuMark;
use crate::report::{Recorder, Report, is_success, per_op};
use crate::{Common, PushArgs};
use polaris_proto::v1;
use polaris_proto::v1::polaris_grpc_client::PolarisGrpcClient;
use tonic::transport::Channel;

/// Streams opened at the same time while setting up.
const OPENING: usize = 256;
/// How long a round waits for every stream's push.
const ROUND_TIMEOUT: Duration = Duration::from_secs(15);

/// A reply read on a subscribed stream after its first one.
/// A reply a subscribed stream received: when, how many instances (or endpoints) it lists,
/// and its code.
pub(crate) struct Pushed {
    pub(crate) at: Instant,
    pub(crate) instances: usize,
    pub(crate) code: u32,
}

/// Receives pushes until `subscribed` of them list `expected` instances (the push carrying
/// this round's change; stale or coalesced replies do not count) or [`ROUND_TIMEOUT`]
/// passes, recording each latency from `t0`, and an error for each stream left without
/// one; returns how many came.
pub(crate) async fn await_round(
    pushed: &mut mpsc::UnboundedReceiver<Pushed>,
    (subscribed, expected): (usize, usize),
    t0: Instant,
    rec: &mut Recorder,
    what: &str,
) -> Result<u64> {
    let mut got = 0usize;
    let deadline = tokio::time::Instant::now() + ROUND_TIMEOUT;
    while got < subscribed {
        let event = match tokio::time::timeout_at(deadline, pushed.recv()).await {
            Ok(Some(event)) => event,
            Ok(None) => bail!("all streams closed"),
            Err(_) => break,
        };
        if event.instances == expected {
            got += 1;
            rec.record(event.at.saturating_duration_since(t0), Ok(event.code));
        }
    }
    for _ in got..subscribed {
        rec.error(format!("{what}: no push within {ROUND_TIMEOUT:?}"));
    }
    Ok(got as u64)
}

/// The subscribed streams of a push benchmark.
pub(crate) struct Streams {
    pub(crate) tasks: JoinSet<()>,
    /// The pushes the streams forward after their first reply.
    pub(crate) pushed: mpsc::UnboundedReceiver<Pushed>,
    /// Kept, so that a round no stream answers times out rather than ending the run.
    _forward: mpsc::UnboundedSender<Pushed>,
    pub(crate) subscribed: usize,
}

/// Spawns `count` subscribers, stream `s` as `subscriber(s, opening, ready, pushed)` (at most
/// [`OPENING`] of them opening at once), and waits for each to report on `ready` that it
/// subscribed or why not (recorded in `rec` as it is).
pub(crate) async fn open_streams<F, Fut>(
    count: usize,
    subscriber: F,
    rec: &mut Recorder,
) -> Result<Streams>
where
    F: Fn(
        usize,
        Arc<Semaphore>,
        mpsc::UnboundedSender<Ready>,
        mpsc::UnboundedSender<Pushed>,
    ) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let opening = Arc::new(Semaphore::new(OPENING));
    let (ready_tx, mut ready) = mpsc::unbounded_channel();
    let (forward, pushed) = mpsc::unbounded_channel();
    let mut tasks = JoinSet::new();
    for s in 0..count {
        tasks.spawn(subscriber(
            s,
            opening.clone(),
            ready_tx.clone(),
            forward.clone(),
        ));
    }
    drop(ready_tx);
    let mut subscribed = 0usize;
    for _ in 0..count {
        match timeout(Duration::from_secs(120), ready.recv()).await {
            Ok(Some(Ok(()))) => subscribed += 1,
            Ok(Some(Err(err))) => rec.error(err),
            Ok(None) | Err(_) => bail!("streams did not open within 120 s"),
        }
    }
    Ok(Streams {
        tasks,
        pushed,
        _forward: forward,
        subscribed,
    })
}

/// What a subscriber reports once: subscribed, or the error to record.
pub(crate) type Ready = Result<(), String>;

/// Registers instance `index` of `service` and answers the reply code.
async fn register(
    registrar: &mut PolarisGrpcClient<Channel>,
    service: &str,
    index: u64,
) -> Result<u32> {
    let reply = registrar
        .register_instance(instance(service, index, None))
        .await;
    code_of(reply).map_err(anyhow::Error::msg)
}

/// Registers instance 0 of `service`, the one every stream lists when it subscribes.
pub(crate) async fn register_first(
    registrar: &mut PolarisGrpcClient<Channel>,
    service: &str,
) -> Result<()> {
    let code = register(registrar, service, 0).await?;
    if !is_success(code) {
        bail!("registering the first instance of {service}: code {code}");
    }
    Ok(())
}

/// The timed rounds, with the CPU of the `server` process and of the bench measured over them:
/// round `r` (from 1 to `rounds`) registers instance `r` of `service` and waits for each of the
/// `subscribed` streams to get the push listing it ([`await_round`]; `what` follows the round's
/// number in errors). Returns the report (pushes counted, without scenario or note) and each
/// registration's ack time.
pub(crate) async fn run_rounds(
    server: Option<u32>,
    (registrar, service): (&mut PolarisGrpcClient<Channel>, &str),
    rounds: u64,
    (pushed, subscribed): (&mut mpsc::UnboundedReceiver<Pushed>, usize),
    mut rec: Recorder,
    what: &str,
) -> Result<(Report, Vec<Duration>)> {
    let mark = CpuMark::start(server)?;
    let start = Instant::now();
    let (mut ops, mut acks) = (0u64, Vec::new());
    for round in 1..=rounds {
        // Let the previous round's stragglers (if any) go before timing this one.
        while pushed.try_recv().is_ok() {}
        let expected = usize::try_from(round).unwrap_or(usize::MAX) + 1;
        let t0 = Instant::now();
        let code = register(registrar, service, round).await?;
        acks.push(t0.elapsed());
        if !is_success(code) {
            bail!("round {round}: registration code {code}");
        }
        let what = format!("round {round}{what}");
        ops += await_round(pushed, (subscribed, expected), t0, &mut rec, &what).await?;
    }
    let elapsed = start.elapsed();
    let usage = mark.finish().context("read CPU usage")?;
    let report = Report {
        scenario: String::new(),
        ops,
        elapsed,
        rec,
        usage,
        note: String::new(),
    };
    Ok((report, acks))
}

/// `400202`: the service is not found.
const NOT_FOUND: u32 = 400_202;

/// How long a stream asks again for a service its server does not know yet (the registration
/// went to another node of a cluster).
const UNKNOWN_SERVICE_PATIENCE: Duration = Duration::from_secs(10);

/// Opens one push stream, reports its first reply on `ready`, then forwards every later reply.
async fn subscriber(
    channel: tonic::transport::Channel,
    service: String,
    opening: Arc<Semaphore>,
    ready: mpsc::UnboundedSender<Ready>,
    pushed: mpsc::UnboundedSender<Pushed>,
) {
    let permit = opening.acquire_owned().await;
    let began = Instant::now();
    let opened = loop {
        let opened = async {
            let mut stream = DiscoverStream::<v1::DiscoverResponse>::open(
                channel.clone(),
                instance_request(&service, None),
                true,
            )
            .await?;
            let first = stream.next().await?;
            anyhow::Ok((stream, first.code.unwrap_or(0)))
        }
        .await;
        // Another node of a cluster may not know the new service yet: ask again.
        match &opened {
            Ok((_, NOT_FOUND)) if began.elapsed() < UNKNOWN_SERVICE_PATIENCE => {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            _ => break opened,
        }
    };
    drop(permit);
    let mut stream = match opened {
        Ok((stream, code)) => {
            let first = if is_success(code) {
                Ok(())
            } else {
                Err(format!("first reply code {code}"))
            };
            let _ = ready.send(first);
            stream
        }
        Err(err) => {
            let _ = ready.send(Err(format!("open: {err:#}")));
            return;
        }
    };
    while let Ok(reply) = stream.next().await {
        let event = Pushed {
            at: Instant::now(),
            instances: reply.instances.len(),
            code: reply.code.unwrap_or(0),
        };
        if pushed.send(event).is_err() {
            return;
        }
    }
}

/// `push --streams N --rounds R`.
pub async fn push(common: &Common, args: &PushArgs) -> Result<Report> {
    let per_conn = args.streams_per_connection.max(1);
    let conns = common.connections.max(args.streams.div_ceil(per_conn));
    let channels = connect(common.naming_addr(), conns).await?;
    let stamp = SystemTime::now().duration_since(UNIX_EPOCH)?.as_millis();
    let service = format!("bench-push-{stamp}");
    let mut registrar = client(&channels, 0);
    register_first(&mut registrar, &service).await?;

    let began = Instant::now();
    let mut rec = Recorder::default();
    let subscriber = |s: usize, opening, ready, pushed| {
        let channel = channels[s % channels.len()].clone();
        subscriber(channel, service.clone(), opening, ready, pushed)
    };
    let mut streams = open_streams(args.streams, subscriber, &mut rec).await?;
    let subscribed = streams.subscribed;
    eprintln!(
        "push: {subscribed}/{} streams subscribed over {conns} connections in {:.2?}",
        args.streams,
        began.elapsed()
    );

    let registrar = (&mut registrar, service.as_str());
    let pushed = (&mut streams.pushed, subscribed);
    let (report, acks) =
        run_rounds(common.server_pid, registrar, args.rounds, pushed, rec, "").await?;
    streams.tasks.abort_all();

    let (per_push, usage) = (per_op(report.ops), report.usage);
    let max_ack = acks.iter().max().copied().unwrap_or_default();
    Ok(Report {
        scenario: format!("push {} streams", args.streams),
        note: format!(
            "rounds={} conns={conns}; µs CPU/notification: server {}, bench {}; register ack max {:.1} ms",
            args.rounds,
            usage.server_cpu.map_or("-".into(), per_push),
            per_push(usage.bench_cpu),
            max_ack.as_secs_f64() * 1000.0
        ),
        ..report
    })
}
