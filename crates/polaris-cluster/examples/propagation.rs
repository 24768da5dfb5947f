//! Cross-node propagation: two nodes in one process, each with its own SQL store, domains and
//! follower, on one fresh database. Registers instances on node A and measures the time until
//! node B's cache holds each one (p50/p99), then the database's idle query rate of the two
//! nodes. Run against the local engines:
//!
//! ```text
//! cargo run --release -p polaris-cluster --example propagation -- postgres 200
//! cargo run --release -p polaris-cluster --example propagation -- mysql 200
//! ```
//!
//! PostgreSQL wakes followers with `NOTIFY`; MySQL here has no Redis, so it shows polling alone.

use polaris_testkit::bench::cpu_time;
use std::sync::Arc;
use std::time::{Duration, Instant};

use polaris_auth::{Auth, AuthOptions};
use polaris_cluster::{Domains, Follower, FollowerOptions};
use polaris_config::ConfigCenter;
use polaris_governance::Governance;
use polaris_naming::{InstanceSpec, Naming, NamingOptions};
use polaris_store::NamingStore;
use polaris_store_sql::{Dialect, SqlOptions, SqlStore, drop_database};
use sqlx::Row;

struct Node {
    naming: Arc<Naming>,
    _follower: Follower,
}

async fn node(options: &SqlOptions) -> Node {
    let store = Arc::new(SqlStore::open(options).await.expect("open the store"));
    let start = store.change_feed().unwrap().revisions().await.unwrap();
    let dyn_store: Arc<dyn NamingStore> = store;
    let naming = Arc::new(
        Naming::open(dyn_store.clone(), NamingOptions::default())
            .await
            .unwrap(),
    );
    let domains = Domains {
        naming: naming.clone(),
        governance: Arc::new(Governance::open(dyn_store.clone()).await.unwrap()),
        config: Arc::new(ConfigCenter::open(dyn_store.clone()).await.unwrap()),
        auth: Auth::open(dyn_store.clone(), AuthOptions::default())
            .await
            .unwrap(),
    };
    let follower = Follower::start(dyn_store, domains, start, FollowerOptions::default()).unwrap();
    Node {
        naming,
        _follower: follower,
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at]
}

/// The server-wide statement counter: `Questions` (MySQL) or `xact_commit` of the database.
async fn statements(options: &SqlOptions) -> i64 {
    sqlx::any::install_default_drivers();
    let (url, query) = match options.dialect {
        Dialect::MySql => (
            format!("mysql://root@{}/{}", options.addr, options.database),
            "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS WHERE VARIABLE_NAME = 'QUESTIONS'".to_string(),
        ),
        Dialect::Postgres => (
            format!("postgres://postgres@{}/{}", options.addr, options.database),
            format!(
                "SELECT CAST(xact_commit AS BIGINT) FROM pg_stat_database WHERE datname = '{}'",
                options.database
            ),
        ),
    };
    let pool = sqlx::AnyPool::connect(&url).await.unwrap();
    let row = sqlx::query(sqlx::AssertSqlSafe(query))
        .fetch_one(&pool)
        .await
        .unwrap();
    let value: i64 = match options.dialect {
        Dialect::MySql => row.get::<String, _>(0).parse().unwrap(),
        Dialect::Postgres => row.get(0),
    };
    pool.close().await;
    value
}

#[tokio::main]
async fn main() {
    let mut args = std::env::args().skip(1);
    let dialect = match args.next().as_deref() {
        Some("mysql") => Dialect::MySql,
        _ => Dialect::Postgres,
    };
    let count: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(200);
    let addr = match dialect {
        Dialect::MySql => "127.0.0.1:3306",
        Dialect::Postgres => "127.0.0.1:5432",
    };
    let options = SqlOptions::new(
        dialect,
        addr,
        format!("polaris_bench_prop_{}", std::process::id()),
    );
    let a = node(&options).await;
    let b = node(&options).await;
    let mut delays = Vec::with_capacity(count);
    let cpu_before = cpu_time();
    for i in 0..count {
        let spec = InstanceSpec {
            namespace: "default".into(),
            service: "bench".into(),
            host: "10.9.0.1".into(),
            port: Some(10_000 + i as u32),
            ..Default::default()
        };
        let registered = a.naming.register_instance(spec).await.unwrap();
        let acked = Instant::now();
        while b.naming.snapshot().instance(&registered.id).is_none() {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        delays.push(acked.elapsed());
        // Spread writes over the polling phase so polling-only latency is sampled fairly.
        tokio::time::sleep(Duration::from_millis(37)).await;
    }
    let cpu_used = cpu_time() - cpu_before;
    delays.sort();
    println!(
        "{dialect:?}: {count} writes on A seen on B: p50 {:?}, p99 {:?}, max {:?}; \
         CPU of both nodes {:?} per write (write, follow, polling)",
        percentile(&delays, 0.5),
        percentile(&delays, 0.99),
        delays[delays.len() - 1],
        cpu_used / count as u32
    );
    // Idle: both nodes follow, nothing is written.
    tokio::time::sleep(Duration::from_secs(2)).await;
    let before = statements(&options).await;
    let window = Duration::from_secs(20);
    tokio::time::sleep(window).await;
    let after = statements(&options).await;
    println!(
        "{dialect:?}: idle, 2 nodes (feed followers only): {:.1} statements/s ({} in {window:?}, includes this probe's own)",
        (after - before) as f64 / window.as_secs_f64(),
        after - before
    );
    drop((a, b));
    drop_database(&options).await.unwrap();
}
