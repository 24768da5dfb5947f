//! The SDK mode: what the Rust SDK (`polaris-sdk`) costs on a consumer's hot path and how fast a
//! registration reaches an SDK watching the service.
//!
//! `sdk-pick` registers `--instances` instances (through the SDK's provider), lets the consumer
//! cache load them, and times `get_one_instance` (router chain plus load balancer, from the
//! cache) over `--calls` calls per policy. (That those calls allocate nothing is checked by
//! `crates/polaris-sdk/tests/hot_path.rs` with a counting allocator, which would slow every
//! other scenario of this binary down if it were installed here.)
//! `sdk-watch` watches a service and times each of `--rounds` registrations, from sending it to
//! the watch seeing the new list.

use std::time::{Duration, Instant};

use anyhow::{Context, Result, bail};
use clap::Args;
use polaris_sdk::{Client, Criteria, InstanceSpec, LbPolicy, Registration, ServiceKey};

use crate::Common;
use crate::proc::CpuMark;
use crate::report::{Recorder, Report};

#[derive(Args, Clone)]
pub struct PickArgs {
    /// Instances in the service.
    #[arg(long, default_value_t = 1_000)]
    pub instances: u32,
    /// Timed calls per load-balancing policy.
    #[arg(long, default_value_t = 1_000_000)]
    pub calls: u32,
}

#[derive(Args, Clone)]
pub struct WatchArgs {
    /// Registrations to time, one after the other.
    #[arg(long, default_value_t = 200)]
    pub rounds: u32,
    /// Instances in the service before the first timed registration.
    #[arg(long, default_value_t = 1)]
    pub instances: u32,
}

fn spec(service: &str, i: u32) -> InstanceSpec {
    let host = format!("10.{}.{}.{}", i / 65_536, (i / 256) % 256, i % 256);
    InstanceSpec::new("default", service, host, 8080).ttl(Duration::from_secs(60))
}

async fn client(common: &Common) -> Result<Client> {
    Client::builder()
        .addresses([common.naming_addr().to_string()])
        .persist_dir(None)
        .build()
        .await
        .context("building the SDK client")
}

/// Registers instances `from..to` of `service`, 50 at a time.
async fn register(client: &Client, service: &str, from: u32, to: u32) -> Result<Vec<Registration>> {
    let mut registrations = Vec::with_capacity((to - from) as usize);
    let indexes: Vec<u32> = (from..to).collect();
    for chunk in indexes.chunks(50) {
        let mut tasks = tokio::task::JoinSet::new();
        for &i in chunk {
            let provider = client.provider();
            let spec = spec(service, i);
            tasks.spawn(async move { provider.register(spec).await });
        }
        while let Some(done) = tasks.join_next().await {
            registrations.push(done??);
        }
    }
    Ok(registrations)
}

async fn deregister(registrations: Vec<Registration>) {
    for registration in registrations {
        let _ = registration.deregister().await;
    }
}

pub async fn pick(common: &Common, args: &PickArgs) -> Result<Report> {
    let client = client(common).await?;
    let service = format!("bench-sdk-pick-{}", std::process::id());
    let key = ServiceKey::new("default", &service);
    let registrations = register(&client, &service, 0, args.instances).await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while client
        .consumer()
        .get_all_instances(&key)
        .await?
        .instances
        .len()
        < args.instances as usize
    {
        if Instant::now() > deadline {
            bail!("the cache did not see all {} instances", args.instances);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let policies = [
        ("weightedRandom", Criteria::default()),
        ("roundRobin", Criteria::default().lb(LbPolicy::RoundRobin)),
        (
            "ringHash+key",
            Criteria::default()
                .lb(LbPolicy::RingHash)
                .hash_key("user-42"),
        ),
        (
            "maglev+key",
            Criteria::default().lb(LbPolicy::Maglev).hash_key("user-42"),
        ),
    ];
    let mark = CpuMark::start(common.server_pid)?;
    let mut rec = Recorder::default();
    let mut notes = Vec::new();
    let mut total_calls = 0u64;
    let started = Instant::now();
    for (name, criteria) in &policies {
        for _ in 0..10_000 {
            client.consumer().get_one_instance(&key, criteria).await?;
        }
        let t = Instant::now();
        for _ in 0..args.calls {
            std::hint::black_box(client.consumer().get_one_instance(&key, criteria).await?);
        }
        let elapsed = t.elapsed();
        rec.latency(elapsed / args.calls);
        total_calls += u64::from(args.calls);
        notes.push(format!(
            "{name} {:.0} ns/call",
            elapsed.as_nanos() as f64 / f64::from(args.calls)
        ));
    }
    let elapsed = started.elapsed();
    let usage = mark.finish()?;
    deregister(registrations).await;
    client.shutdown().await;
    Ok(Report {
        scenario: "sdk get_one_instance".to_string(),
        ops: total_calls,
        elapsed,
        rec,
        usage,
        note: format!("instances={}; {}", args.instances, notes.join("; ")),
    })
}

pub async fn watch(common: &Common, args: &WatchArgs) -> Result<Report> {
    let client = client(common).await?;
    let service = format!("bench-sdk-watch-{}", std::process::id());
    let key = ServiceKey::new("default", &service);
    let mut registrations = register(&client, &service, 0, args.instances).await?;
    let mut watch = client.consumer().watch(&key).await?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while watch.current().instances.len() < args.instances as usize {
        if Instant::now() > deadline {
            bail!("the watch did not see all {} instances", args.instances);
        }
        tokio::time::timeout(Duration::from_secs(5), watch.changed()).await??;
    }
    let mark = CpuMark::start(common.server_pid)?;
    let mut rec = Recorder::default();
    let started = Instant::now();
    for round in 0..args.rounds {
        let want = (args.instances + round + 1) as usize;
        let t = Instant::now();
        registrations.push(
            client
                .provider()
                .register(spec(&service, args.instances + round))
                .await?,
        );
        loop {
            let list = tokio::time::timeout(Duration::from_secs(10), watch.changed())
                .await
                .context("no change seen within 10 s")??;
            if list.instances.len() >= want {
                break;
            }
        }
        rec.latency(t.elapsed());
    }
    let elapsed = started.elapsed();
    let usage = mark.finish()?;
    let push = client.consumer().push_active();
    deregister(registrations).await;
    client.shutdown().await;
    Ok(Report {
        scenario: "sdk registration -> watch".to_string(),
        ops: u64::from(args.rounds),
        elapsed,
        rec,
        usage,
        note: format!(
            "instances={} push={push}; includes the durable registration round trip",
            args.instances
        ),
    })
}
