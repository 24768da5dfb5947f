//! `config-idle`: the server's memory with many parked WatchConfigFiles long polls (see
//! `watch` for the watchers and how parking is detected).

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};

use crate::Common;
use crate::config::WatchersArgs;
use crate::proc::{CpuMark, Proc};
use crate::report::{Recorder, Report};
use crate::watch::{Crowd, Event};

/// `config-idle --watchers N`: the server's memory with N parked long polls.
pub async fn config_idle(common: &Common, args: &WatchersArgs) -> Result<Report> {
    let pid = common
        .server_pid
        .context("config-idle needs --server-pid")?;
    let server = Proc::pid(pid);
    let n = args.watchers;
    let rss_before = server.rss_mib()?;
    let began = Instant::now();
    let mut crowd = Crowd::start(common, args, 512).await?;
    let (took, quiet) = crowd.wait_parked(n, Some(pid)).await?;
    let rss_parked = server.rss_mib()?;
    let parked = crowd.in_flight.load(Ordering::Relaxed);
    eprintln!(
        "config-idle: {parked}/{n} watches in flight over {} connections, {} ({:.2?} in all), RSS {rss_parked:.1} MiB",
        crowd.connections,
        Crowd::parked_note(took, quiet),
        began.elapsed()
    );
    let hold = common.duration.unwrap_or(Duration::from_secs(10));
    let mark = CpuMark::start(Some(pid))?;
    let mut rec = Recorder::default();
    let (mut reissued, mut woken) = (0u64, 0u64);
    let deadline = tokio::time::Instant::now() + hold;
    while let Ok(event) = tokio::time::timeout_at(deadline, crowd.events.recv()).await {
        match event {
            Some(Event::Reissued) => reissued += 1,
            Some(Event::Woken { .. }) => woken += 1,
            Some(Event::Failed(err)) => rec.error(err),
            None => bail!("every watcher stopped"),
        }
    }
    let usage = mark.finish()?;
    let still = crowd.in_flight.load(Ordering::Relaxed);
    let bench_rss = Proc::current().rss_mib()?;
    // Cancelling every call (the client resets its streams) is the same work for the server as
    // the calls' holds running out together: time it until the server is quiet again.
    let teardown = CpuMark::start(Some(pid))?;
    crowd.tasks.abort_all();
    while crowd.tasks.join_next().await.is_some() {}
    let (drained, drained_quiet) = crowd.wait_parked(0, Some(pid)).await?;
    let teardown = teardown.finish()?.server_cpu.unwrap_or(0.0).max(0.0);
    let per_watch_kib = (rss_parked - rss_before) * 1024.0 / n.max(1) as f64;
    Ok(Report {
        scenario: format!("config-idle {n} watchers"),
        ops: 0,
        elapsed: Duration::ZERO,
        rec,
        usage,
        note: format!(
            "conns={}; RSS {rss_before:.1} MiB before, {rss_parked:.1} MiB parked ({per_watch_kib:.1} KiB/watch); in flight {parked} parked, {still} after {:.0} s; reissued {reissued}, woken {woken}; server CPU {:.3} s in the hold; {}; cancelling all: server CPU {teardown:.2} s, {}; bench RSS {bench_rss:.0} MiB",
            crowd.connections,
            hold.as_secs_f64(),
            usage.server_cpu.unwrap_or(0.0).max(0.0),
            Crowd::parked_note(took, quiet),
            Crowd::parked_note(drained, drained_quiet).replace("parked in", "done in"),
        ),
    })
}
