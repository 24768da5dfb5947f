//! A single node on the shared SQL store: the real binary, configured in the official shape
//! (`store.name: defaultStore`, `store.option.master`), on a fresh database that it creates
//! itself, on MariaDB and on PostgreSQL. A registration acknowledged before `kill -9` is there
//! after the restart. The databases come from `tests/sql/ensure-databases.sh`.

mod common;

use std::fs::File;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::{agent, binary, free_port, instance_id};
use polaris_store::NamingStore;
use polaris_store_sql::{Dialect, SqlOptions, SqlStore, drop_database};
use serde_json::{Value, json};

const START_DEADLINE: Duration = Duration::from_secs(60);

/// Drops the scratch database when the test ends, however it ends.
struct Database(SqlOptions);

impl Drop for Database {
    fn drop(&mut self) {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        if let Err(error) = runtime.block_on(drop_database(&self.0)) {
            eprintln!("could not drop {}: {error}", self.0.database);
        }
    }
}

struct Node {
    child: Child,
    port: u16,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(dir: &std::path::Path, db: &SqlOptions, run: u32) -> Node {
    let port = free_port();
    let db_type = match db.dialect {
        Dialect::MySql => "mysql",
        Dialect::Postgres => "postgresql",
    };
    let yaml = format!(
        "apiservers:\n  - name: api-http\n    option: {{ listenIP: \"127.0.0.1\", listenPort: {port} }}\n\
         store:\n  name: defaultStore\n  option:\n    master:\n      dbType: {db_type}\n      \
         dbAddr: \"{}\"\n      dbName: {}\n      dbUser: {}\n      dbPwd: \"\"\n      \
         maxOpenConns: 16\n      maxIdleConns: 2\n      connMaxLifetime: 300\n",
        db.addr, db.database, db.user
    );
    let config = dir.join("polaris-server.yaml");
    std::fs::write(&config, yaml).expect("config");
    let stderr_path = dir.join(format!("stderr.{run}.log"));
    let child = Command::new(binary())
        .arg("start")
        .arg("--config")
        .arg(&config)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::from(
            File::create(dir.join(format!("stdout.{run}.log"))).unwrap(),
        ))
        .stderr(Stdio::from(File::create(&stderr_path).unwrap()))
        .spawn()
        .expect("spawn polaris-server");
    let mut node = Node { child, port };
    let deadline = Instant::now() + START_DEADLINE;
    loop {
        if let Some(status) = node.child.try_wait().unwrap() {
            panic!(
                "polaris-server exited with {status}: {}",
                std::fs::read_to_string(&stderr_path).unwrap_or_default()
            );
        }
        if let Ok(r) = agent().get(&format!("http://127.0.0.1:{port}/")).call()
            && r.status().as_u16() == 200
        {
            return node;
        }
        assert!(Instant::now() < deadline, "polaris-server did not answer");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn call(node: &Node, method: &str, path: &str, body: Option<Value>) -> Value {
    let url = format!("http://127.0.0.1:{}{path}", node.port);
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
    let db = Database(SqlOptions::new(dialect, addr, name));
    let dir = tempfile::tempdir().unwrap();
    let node = start(dir.path(), &db.0, 1);
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
    let node = start(dir.path(), &db.0, 2);
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
