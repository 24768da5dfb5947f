//! A single node on the shared SQL store: the real binary, configured in the official shape
//! (`store.name: defaultStore`, `store.option.master`), on a fresh database that it creates
//! itself, on MariaDB and on PostgreSQL. A registration acknowledged before `kill -9` is there
//! after the restart. The databases come from `tests/sql/ensure-databases.sh`.

mod common;
mod node_support;

use common::{agent, instance_id};
use node_support::{Backend, Node, ScratchDatabase, start};
use polaris_store::NamingStore;
use polaris_store_sql::{Dialect, SqlOptions, SqlStore};
use serde_json::{Value, json};

fn call(node: &Node, method: &str, path: &str, body: Option<Value>) -> Value {
    let url = format!("{}{path}", node.base);
    let mut response = match body {
        Some(body) => agent()
            .post(&url)
            .header("Content-Type", "application/json")
            .send(body.to_string().as_bytes()),
        None => agent().get(&url).call(),
    }
    .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
    serde_json::from_str(&response.body_mut().read_to_string().unwrap()).unwrap()
}

fn listed_ids(node: &Node) -> Vec<String> {
    let body = call(
        node,
        "GET",
        "/naming/v1/instances?service=on-sql&namespace=default",
        None,
    );
    assert_eq!(body["code"], 200_000, "{body}");
    let mut ids: Vec<String> = body["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

fn registration_survives_kill_9(dialect: Dialect, addr: &str) {
    let name = format!("polaris_e2e_{:?}_{}", dialect, std::process::id()).to_lowercase();
    let db = ScratchDatabase(SqlOptions::new(dialect, addr, name));
    let backend = Backend::Sql(db.0.clone());
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path(), &backend, 1);
    let mut expected = Vec::new();
    for port in [8080, 8081] {
        let body = json!({"service": "on-sql", "namespace": "default", "host": "10.1.2.3",
            "port": port, "metadata": {"zone": "a"}});
        let answer = call(&node, "POST", "/v1/RegisterInstance", Some(body));
        assert_eq!(answer["code"], 200_000, "{answer}");
        expected.push(instance_id("default", "on-sql", "10.1.2.3", port));
    }
    expected.sort();
    assert_eq!(listed_ids(&node), expected);
    drop(node); // kill -9
    let node = start(dir.path(), &backend, 2);
    assert_eq!(listed_ids(&node), expected, "after the restart");
    // The rows are in the database, read back by a store of our own, and nothing went to an
    // embedded data directory.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let stored: Vec<String> = runtime.block_on(async {
        let store = SqlStore::open(&db.0)
            .await
            .expect("open the node's database");
        let ids = store.load_instances(0).await.unwrap();
        store.close().await.unwrap();
        let mut ids: Vec<String> = ids
            .into_iter()
            .filter_map(|c| c.upserted())
            // Each run also registers the node itself in Polaris/polaris.checker.
            .filter(|i| i.service == "on-sql")
            .map(|i| i.id)
            .collect();
        ids.sort();
        ids
    });
    assert_eq!(stored, expected);
    assert!(!dir.path().join("polaris-data").exists());
    drop(node);
}

#[test]
fn mariadb_single_node_keeps_registrations_across_kill_9() {
    registration_survives_kill_9(Dialect::MySql, "127.0.0.1:3306");
}

#[test]
fn postgres_single_node_keeps_registrations_across_kill_9() {
    registration_survives_kill_9(Dialect::Postgres, "127.0.0.1:5432");
}
