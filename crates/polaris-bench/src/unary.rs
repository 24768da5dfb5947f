//! Closed-loop unary scenarios: `register` and `heartbeat`.

use std::future::Future;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Result, bail};
use tokio::task::JoinSet;
use tonic::transport::Channel;

use crate::net::{Limit, Pacer, client, code_of, instance};
use crate::proc::CpuMark;
use crate::report::{Recorder, Report};
use crate::{Common, RegisterArgs};

/// Runs `op(worker, n)` on `concurrency` workers, each with one call in flight, until `limit`.
/// Returns what they recorded, the number of operations and the wall time.
pub async fn closed_loop<F, Fut>(
    concurrency: usize,
    limit: Limit,
    op: F,
) -> Result<(Recorder, u64, Duration)>
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<u32, String>> + Send + 'static,
{
    let pacer = Arc::new(Pacer::new(limit));
    let op = Arc::new(op);
    let start = Instant::now();
    let mut workers = JoinSet::new();
    for worker in 0..concurrency.max(1) {
        let pacer = pacer.clone();
        let op = op.clone();
        workers.spawn(async move {
            let mut rec = Recorder::default();
            let mut ops = 0u64;
            while let Some(n) = pacer.next() {
                let began = Instant::now();
                let outcome = op(worker, n).await;
                rec.record(began.elapsed(), outcome);
                ops += 1;
            }
            (rec, ops)
        });
    }
    let mut total = Recorder::default();
    let mut ops = 0;
    while let Some(done) = workers.join_next().await {
        let (rec, n) = done?;
        total.merge(rec);
        ops += n;
    }
    Ok((total, ops, start.elapsed()))
}

/// [`closed_loop`] on `common.concurrency` workers, with the CPU of `common`'s server and of
/// the bench measured over it, as the report of `scenario` with `note`.
pub async fn closed_loop_report<F, Fut>(
    common: &Common,
    limit: Limit,
    (scenario, note): (String, String),
    op: F,
) -> Result<Report>
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<u32, String>> + Send + 'static,
{
    let mark = CpuMark::start(common.server_pid)?;
    let (rec, ops, elapsed) = closed_loop(common.concurrency, limit, op).await?;
    Ok(Report {
        scenario,
        ops,
        elapsed,
        rec,
        usage: mark.finish()?,
        note,
    })
}

/// Registers instances `offset..offset + count` of `service` with `concurrency` calls in flight.
pub async fn register_all(
    channels: &[Channel],
    concurrency: usize,
    service: &str,
    offset: u64,
    count: u64,
    ttl: Option<u32>,
) -> Result<(Recorder, u64, Duration)> {
    let channels = channels.to_vec();
    let service = service.to_string();
    closed_loop(concurrency, Limit::Count(count), move |worker, n| {
        let mut client = client(&channels, worker);
        let ins = instance(&service, offset + n, ttl);
        async move { code_of(client.register_instance(ins).await) }
    })
    .await
}

/// `register`: durable registrations of distinct instances per second.
pub async fn register(common: &Common, args: &RegisterArgs) -> Result<Report> {
    let channels = common.channels().await?;
    let limit = common.limit(Limit::Count(10_000))?;
    let note = format!(
        "c={} conns={} service={} services={}",
        common.concurrency, common.connections, args.service, args.services
    );
    let spread = args.clone();
    let offset = args.offset;
    closed_loop_report(
        common,
        limit,
        ("register".into(), note),
        move |worker, n| {
            let mut client = client(&channels, worker);
            let ins = instance(&spread.service_of(offset + n), offset + n, None);
            async move { code_of(client.register_instance(ins).await) }
        },
    )
    .await
}

/// `heartbeat`: registers `instances` health-checked instances, then beats them round robin.
pub async fn heartbeat(common: &Common, instances: u64, ttl: u32) -> Result<Report> {
    if instances == 0 {
        bail!("--instances must be positive");
    }
    let channels = common.channels().await?;
    let service = "bench-heartbeat".to_string();
    let (setup, _, took) = register_all(
        &channels,
        common.concurrency,
        &service,
        0,
        instances,
        Some(ttl),
    )
    .await?;
    if setup.errors > 0 {
        bail!(
            "setup: {} registrations failed: {:?}",
            setup.errors,
            setup.first_error
        );
    }
    eprintln!("heartbeat: registered {instances} instances in {took:.2?}");
    let limit = common.limit(Limit::For(Duration::from_secs(10)))?;
    let note = format!(
        "c={} conns={} instances={instances} ttl={ttl}",
        common.concurrency, common.connections
    );
    closed_loop_report(
        common,
        limit,
        ("heartbeat".into(), note),
        move |worker, n| {
            let mut client = client(&channels, worker);
            let ins = instance(&service, n % instances, None);
            async move { code_of(client.heartbeat(ins).await) }
        },
    )
    .await
}
