//! Durable `apply` throughput of the SQL store on each engine: `cargo run --release -p
//! polaris-store-sql --example bench_apply [seconds]`. For each engine it opens a fresh
//! database, runs 32 concurrent writers for the given time (default 10 s) with batches of 1 and
//! of 32 instance registrations, and prints acknowledged batches and registrations per second
//! with this process's CPU per registration (the database server's CPU is not included). The
//! database is dropped afterwards.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use polaris_store::{Mutation, NamingStore};
use polaris_store_sql::{Dialect, SqlOptions, SqlStore, drop_database};
use polaris_types::{HealthCheck, Instance};

const WRITERS: usize = 32;

/// utime + stime of this process, from /proc (clock ticks of 10 ms).
fn cpu() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit(')')
        .next()
        .unwrap_or("")
        .split_whitespace()
        .collect();
    let ticks: u64 = fields
        .get(11..13)
        .map_or(0, |f| f.iter().filter_map(|v| v.parse::<u64>().ok()).sum());
    Duration::from_millis(ticks * 10)
}

fn instance(writer: usize, n: u64) -> Mutation {
    Mutation::PutInstance(Instance {
        id: format!("bench-{writer}-{n}"),
        namespace: "default".into(),
        service: format!("svc-{}", writer % 8).into(),
        host: format!("10.0.{writer}.{}", n % 250),
        port: 8000 + (n % 1000) as u32,
        protocol: "grpc".into(),
        weight: 100,
        healthy: true,
        health_check: Some(HealthCheck { ttl_secs: 5 }),
        metadata: [
            ("env".to_string(), "bench".to_string()),
            ("zone".to_string(), "a".to_string()),
        ]
        .into_iter()
        .collect(),
        revision: polaris_types::Revision(n),
        mtime: 1_700_000_000_000 + n as i64,
        ctime: 1_700_000_000_000,
        ..Instance::default()
    })
}

async fn run(store: Arc<SqlStore>, batch: usize, secs: u64) -> (f64, f64, Duration) {
    let stop = Arc::new(AtomicBool::new(false));
    let done = Arc::new(AtomicU64::new(0));
    let cpu0 = cpu();
    let start = Instant::now();
    let tasks: Vec<_> = (0..WRITERS)
        .map(|w| {
            let (store, stop, done) = (store.clone(), stop.clone(), done.clone());
            tokio::spawn(async move {
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let mutations = (0..batch).map(|_| {
                        n += 1;
                        instance(w, n)
                    });
                    store.apply(mutations.collect()).await.expect("apply");
                    done.fetch_add(1, Ordering::Relaxed);
                }
            })
        })
        .collect();
    tokio::time::sleep(Duration::from_secs(secs)).await;
    stop.store(true, Ordering::Relaxed);
    for task in tasks {
        task.await.unwrap();
    }
    let elapsed = start.elapsed().as_secs_f64();
    let batches = done.load(Ordering::Relaxed) as f64;
    let cpu_per_reg = (cpu() - cpu0).div_f64((batches * batch as f64).max(1.0));
    (
        batches / elapsed,
        batches * batch as f64 / elapsed,
        cpu_per_reg,
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let secs: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10);
    println!("engine      batch  batches/s  registrations/s  client CPU/registration");
    for (dialect, addr) in [
        (Dialect::MySql, "127.0.0.1:3306"),
        (Dialect::Postgres, "127.0.0.1:5432"),
    ] {
        let mut options = SqlOptions::new(
            dialect,
            addr,
            format!("polaris_bench_{}", std::process::id()),
        );
        options.max_open_conns = WRITERS as u32;
        let store = Arc::new(SqlStore::open(&options).await.expect("open"));
        for batch in [1, 32] {
            let (bps, rps, cpu) = run(store.clone(), batch, secs).await;
            println!(
                "{:<10} {batch:>6} {bps:>10.0} {rps:>16.0} {:>17.1} µs",
                format!("{dialect:?}"),
                cpu.as_secs_f64() * 1e6
            );
        }
        store.close().await.expect("close");
        drop_database(&options).await.expect("drop");
    }
}
