//! The SQL store's own guarantees beyond the shared contract: the schema version is recorded;
//! every write bumps exactly the revisions of the domains it touches and stamps its rows with
//! them; concurrent transactions from several stores (nodes) get distinct, consecutive
//! revisions; a failed batch leaves nothing behind, its revision bump included, and does not fail
//! the requests group-committed with it. Run on both engines.

#[macro_use]
mod common;

use std::sync::Arc;

use common::SqlHarness;
use polaris_store::{Mutation, NamingStore, StoreError};
use polaris_store_sql::{Dialect, Domain, SqlStore};
use polaris_types::{Instance, Namespace, Rule, RuleKind};
use sqlx::Row;

fn namespace(name: &str) -> Mutation {
    Mutation::PutNamespace(Namespace {
        name: name.to_string(),
        mtime: 10,
        ..Namespace::default()
    })
}

fn instance(id: &str) -> Mutation {
    Mutation::PutInstance(Instance {
        id: id.to_string(),
        namespace: "ns".into(),
        service: "svc".into(),
        mtime: 10,
        ..Instance::default()
    })
}

fn rule(id: &str) -> Mutation {
    Mutation::PutRule(Rule {
        kind: RuleKind::RateLimit,
        id: id.to_string(),
        name: id.to_string(),
        namespace: "ns".into(),
        enable: true,
        priority: 0,
        description: String::new(),
        targets: Vec::new(),
        body: Vec::new().into(),
        revision: String::new(),
        ctime: 1,
        mtime: 1,
    })
}

async fn revision(store: &SqlStore, domain: Domain) -> i64 {
    let all = store.revisions().await.expect("revisions");
    all.into_iter()
        .find(|r| r.0 == domain)
        .expect("domain row")
        .1
}

/// `seq` of the row of `table` whose single key column `key_col` is `key`.
async fn seq(pool: &sqlx::AnyPool, table: &str, key_col: &str, key: &str) -> i64 {
    let sql = format!("SELECT seq FROM {table} WHERE {key_col} = '{key}'");
    sqlx::query(sqlx::AssertSqlSafe(sql))
        .fetch_one(pool)
        .await
        .expect("row")
        .try_get(0)
        .expect("seq")
}

async fn revisions_follow_writes(dialect: Dialect) {
    let harness = SqlHarness::new(dialect);
    let store = harness.open_sql().await;
    let raw = harness.inspect().await;
    let versions: Vec<i64> =
        sqlx::query("SELECT version FROM polaris_schema_version WHERE success = TRUE")
            .fetch_all(&raw)
            .await
            .expect("schema versions")
            .iter()
            .map(|row| row.try_get(0).expect("version"))
            .collect();
    // 1: the initial schema; 2: cluster membership and leader leases.
    assert_eq!(versions, vec![1, 2]);
    for domain in Domain::ALL {
        assert_eq!(revision(&store, domain).await, 0, "{domain:?}");
    }
    store
        .apply(vec![namespace("a"), instance("i-1")])
        .await
        .unwrap();
    store
        .apply(vec![rule("r-1"), instance("i-2")])
        .await
        .unwrap();
    store
        .apply(vec![Mutation::DeleteInstance {
            id: "i-1".into(),
            mtime: 20,
        }])
        .await
        .unwrap();
    assert_eq!(revision(&store, Domain::Naming).await, 3);
    assert_eq!(revision(&store, Domain::Governance).await, 1);
    assert_eq!(revision(&store, Domain::Config).await, 0);
    assert_eq!(seq(&raw, "namespace", "name", "a").await, 1);
    assert_eq!(seq(&raw, "instance", "id", "i-2").await, 2);
    assert_eq!(seq(&raw, "instance", "id", "i-1").await, 3, "the tombstone");
    assert_eq!(seq(&raw, "ratelimit_config", "id", "r-1").await, 1);
    raw.close().await;
    store.close().await.unwrap();
    // Reopening finds the schema current and keeps the revisions.
    let store = harness.open_sql().await;
    assert_eq!(revision(&store, Domain::Naming).await, 3);
    store.close().await.unwrap();
}

async fn concurrent_writers_get_consecutive_revisions(dialect: Dialect) {
    // Several stores on one database stand for several nodes; each group-commits its own
    // concurrent callers. Every transaction gets its own revision, with no gaps.
    const NODES: usize = 4;
    const WRITERS: usize = 10;
    let harness = SqlHarness::new(dialect);
    let mut nodes = Vec::new();
    for _ in 0..NODES {
        nodes.push(Arc::new(harness.open_sql().await));
    }
    let mut tasks = Vec::new();
    for (node, store) in nodes.iter().enumerate() {
        for writer in 0..WRITERS {
            let store = Arc::clone(store);
            let id = format!("{node}-{writer}");
            tasks.push(tokio::spawn(async move {
                store.apply(vec![instance(&id)]).await
            }));
        }
    }
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    let raw = harness.inspect().await;
    let rows: Vec<(String, i64)> = sqlx::query("SELECT id, seq FROM instance")
        .fetch_all(&raw)
        .await
        .unwrap()
        .iter()
        .map(|row| (row.try_get(0).unwrap(), row.try_get(1).unwrap()))
        .collect();
    assert_eq!(rows.len(), NODES * WRITERS);
    let mut by_seq: std::collections::BTreeMap<i64, Vec<String>> = Default::default();
    for (id, seq) in rows {
        by_seq.entry(seq).or_default().push(id);
    }
    let last = revision(&nodes[0], Domain::Naming).await;
    assert_eq!(
        by_seq.keys().copied().collect::<Vec<_>>(),
        (1..=last).collect::<Vec<_>>()
    );
    for (seq, ids) in &by_seq {
        let node = &ids[0][..1];
        assert!(
            ids.iter().all(|id| id.starts_with(node)),
            "revision {seq} spans nodes: {ids:?}"
        );
    }
    raw.close().await;
    for store in nodes {
        store.close().await.unwrap();
    }
}

async fn failed_batch_leaves_nothing(dialect: Dialect) {
    let harness = SqlHarness::new(dialect);
    let store = harness.open_sql().await;
    store.apply(vec![instance("kept")]).await.unwrap();
    // Namespace names are VARCHAR(64): the second mutation fails, the batch rolls back.
    let too_long = "n".repeat(200);
    let result = store
        .apply(vec![instance("lost"), namespace(&too_long)])
        .await;
    assert!(
        matches!(result, Err(StoreError::Unavailable(_))),
        "{result:?}"
    );
    assert_eq!(revision(&store, Domain::Naming).await, 1);
    let ids: Vec<String> = store
        .load_instances(0)
        .await
        .unwrap()
        .into_iter()
        .filter_map(|c| c.upserted().map(|i| i.id))
        .collect();
    assert_eq!(ids, vec!["kept".to_string()]);
    store.close().await.unwrap();
}

async fn a_bad_request_fails_alone_in_a_group(dialect: Dialect) {
    let harness = SqlHarness::new(dialect);
    let store = Arc::new(harness.open_sql().await);
    let too_long = "n".repeat(200);
    let mut tasks = Vec::new();
    for i in 0..20 {
        let store = Arc::clone(&store);
        let batch = if i == 7 {
            vec![namespace(&too_long)]
        } else {
            vec![instance(&format!("good-{i}"))]
        };
        tasks.push(tokio::spawn(async move { store.apply(batch).await }));
    }
    for (i, task) in tasks.into_iter().enumerate() {
        let result = task.await.unwrap();
        assert_eq!(result.is_err(), i == 7, "request {i}: {result:?}");
    }
    assert_eq!(store.load_instances(0).await.unwrap().len(), 19);
    store.close().await.unwrap();
}

/// Puts are written as multi-row statements: a long run (split 64 + 32 + 4 + 1), a key put
/// twice in one batch (the later put wins, so the run is cut before it) and a put on another
/// table in the middle all land as a sequence of single puts would.
async fn runs_of_puts_land_as_single_puts_would(dialect: Dialect) {
    let harness = SqlHarness::new(dialect);
    let store = harness.open_sql().await;
    let placed = |id: &str, host: &str| {
        let Mutation::PutInstance(mut instance) = instance(id) else {
            unreachable!()
        };
        instance.host = host.to_string();
        Mutation::PutInstance(instance)
    };
    let mut batch: Vec<Mutation> = (0..60).map(|i| placed(&format!("i-{i}"), "a")).collect();
    batch.push(placed("twice", "first"));
    batch.push(namespace("between"));
    batch.extend((60..100).map(|i| placed(&format!("i-{i}"), "a")));
    batch.push(placed("twice", "second"));
    batch.push(placed("i-3", "moved"));
    store.apply(batch).await.unwrap();
    let mut hosts: Vec<(String, String)> = store
        .load_instances(0)
        .await
        .unwrap()
        .into_iter()
        .map(|change| {
            let instance = change.upserted().expect("live instance");
            (instance.id, instance.host)
        })
        .collect();
    hosts.sort();
    assert_eq!(hosts.len(), 101);
    let host = |id: &str| hosts.iter().find(|(i, _)| i == id).map(|(_, h)| h.as_str());
    assert_eq!(host("twice"), Some("second"));
    assert_eq!(host("i-3"), Some("moved"));
    assert_eq!(host("i-99"), Some("a"));
    let namespaces = store.load_namespaces(0).await.unwrap();
    let names: Vec<String> = namespaces
        .into_iter()
        .filter_map(|change| change.upserted().map(|ns| ns.name))
        .collect();
    assert!(names.iter().any(|name| name == "between"), "{names:?}");
    store.close().await.unwrap();
}

on_both_engines!(
    revisions_follow_writes,
    concurrent_writers_get_consecutive_revisions,
    failed_batch_leaves_nothing,
    a_bad_request_fails_alone_in_a_group,
    runs_of_puts_land_as_single_puts_would
);
