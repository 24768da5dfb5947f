//! The cluster sandbox: N real `polaris-server` processes on one fresh database (MariaDB or
//! PostgreSQL on 127.0.0.1, created by the nodes and dropped at the end) and a private
//! `redis-server` on its own port, each node reaching the database and Redis through its own
//! [`FaultProxy`]. Nodes are configured exactly in the official shape (`store.name:
//! defaultStore`, `store.option.master.*`, `healthcheck.checkers: [{name: heartbeatRedis,
//! option: {kvAddr}}]`).

#![allow(dead_code)]

pub mod proxy;

use std::fs::File;
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use polaris_store_sql::{Dialect, SqlOptions, drop_database};
use serde_json::Value;

use crate::common::{agent, binary, free_port};
use proxy::FaultProxy;

const START_DEADLINE: Duration = Duration::from_secs(90);

/// A private Redis without persistence, restartable on the same port.
pub struct Redis {
    pub port: u16,
    child: Option<Child>,
}

impl Redis {
    pub fn start() -> Redis {
        let mut redis = Redis {
            port: free_port(),
            child: None,
        };
        redis.spawn();
        redis
    }

    fn spawn(&mut self) {
        let child = Command::new("redis-server")
            .args(["--port", &self.port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server (apt-get install redis-server)");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not start");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills Redis (its data is gone, as after a crash without persistence) and starts it again.
    pub fn restart(&mut self) {
        self.stop();
        self.spawn();
    }

    fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// One node: its process, ports and proxies.
pub struct Node {
    pub http: u16,
    pub grpc: u16,
    pub db_proxy: FaultProxy,
    pub redis_proxy: FaultProxy,
    dir: PathBuf,
    child: Option<Child>,
    runs: u32,
}

impl Node {
    pub fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.http)
    }

    /// `host:port` this node registers as.
    pub fn id(&self) -> String {
        format!("127.0.0.1:{}", self.grpc)
    }

    pub fn get(&self, path: &str) -> (u16, Value) {
        let mut r = agent()
            .get(&self.url(path))
            .call()
            .unwrap_or_else(|e| panic!("GET {path}: {e}"));
        let status = r.status().as_u16();
        let text = r.body_mut().read_to_string().unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub fn send(&self, method: &str, path: &str, body: &Value) -> (u16, Value) {
        let request = match method {
            "PUT" => agent().put(&self.url(path)),
            _ => agent().post(&self.url(path)),
        };
        let mut r = request
            .header("Content-Type", "application/json")
            .send(body.to_string().as_bytes())
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = r.status().as_u16();
        let text = r.body_mut().read_to_string().unwrap_or_default();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }

    pub fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send("POST", path, body)
    }

    /// The last lines of the current run's stdout (the node's log), for failure messages.
    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(self.dir.join(format!("stdout.{}.log", self.runs)))
            .unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    pub fn is_running(&self) -> bool {
        self.child.is_some()
    }

    /// `kill -9`.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("kill -9");
            child.wait().expect("wait");
        }
    }

    fn spawn(&mut self) {
        self.runs += 1;
        let log = |name: &str| File::create(self.dir.join(format!("{name}.{}.log", self.runs)));
        let child = Command::new(binary())
            .arg("start")
            .arg("--config")
            .arg(self.dir.join("polaris-server.yaml"))
            .current_dir(&self.dir)
            .stdin(Stdio::null())
            .stdout(Stdio::from(log("stdout").unwrap()))
            .stderr(Stdio::from(log("stderr").unwrap()))
            .spawn()
            .expect("spawn polaris-server");
        self.child = Some(child);
        let deadline = Instant::now() + START_DEADLINE;
        loop {
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                let stderr =
                    std::fs::read_to_string(self.dir.join(format!("stderr.{}.log", self.runs)));
                panic!(
                    "polaris-server exited with {status}: {}",
                    stderr.unwrap_or_default()
                );
            }
            if let Ok(r) = agent().get(&self.url("/")).call()
                && r.status().as_u16() == 200
            {
                return;
            }
            assert!(Instant::now() < deadline, "polaris-server did not answer");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts the node again after [`Node::kill9`].
    pub fn restart(&mut self) {
        self.kill9();
        self.spawn();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        self.kill9();
    }
}

/// The whole sandbox; drops the database last.
pub struct Sandbox {
    pub nodes: Vec<Node>,
    pub redis: Redis,
    pub db: SqlOptions,
    _dir: tempfile::TempDir,
}

fn free_ports(n: usize) -> Vec<u16> {
    // Hold every listener until all are chosen, so the ports differ.
    let held: Vec<TcpListener> = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0").expect("bind"))
        .collect();
    held.iter()
        .map(|l| l.local_addr().unwrap().port())
        .collect()
}

fn config(db: &SqlOptions, http: u16, grpc: u16, db_port: u16, redis_port: u16) -> String {
    let db_type = match db.dialect {
        Dialect::MySql => "mysql",
        Dialect::Postgres => "postgresql",
    };
    format!(
        "apiservers:\n  - name: api-http\n    option: {{ listenIP: \"127.0.0.1\", listenPort: {http} }}\n  \
         - name: service-grpc\n    option: {{ listenIP: \"127.0.0.1\", listenPort: {grpc} }}\n\
         store:\n  name: defaultStore\n  option:\n    master:\n      dbType: {db_type}\n      \
         dbAddr: \"127.0.0.1:{db_port}\"\n      dbName: {}\n      dbUser: {}\n      dbPwd: \"\"\n      \
         maxOpenConns: 16\n      maxIdleConns: 2\n      connMaxLifetime: 300\n\
         healthcheck:\n  checkers:\n    - name: heartbeatRedis\n      option:\n        \
         kvAddr: \"127.0.0.1:{redis_port}\"\n        kvPasswd: \"\"\n",
        db.database, db.user
    )
}

impl Sandbox {
    /// Starts `n` nodes on a fresh database of `dialect`.
    pub fn start(dialect: Dialect, n: usize) -> Sandbox {
        let (addr, tag) = match dialect {
            Dialect::MySql => ("127.0.0.1:3306", "my"),
            Dialect::Postgres => ("127.0.0.1:5432", "pg"),
        };
        let db = SqlOptions::new(
            dialect,
            addr,
            format!("polaris_t_cluster_{tag}_{}", std::process::id()),
        );
        let dir = tempfile::tempdir().expect("tempdir");
        let redis = Redis::start();
        let db_target: SocketAddr = addr.parse().unwrap();
        let redis_target: SocketAddr = format!("127.0.0.1:{}", redis.port).parse().unwrap();
        let mut nodes = Vec::new();
        for i in 0..n {
            let ports = free_ports(2);
            let node_dir = dir.path().join(format!("node{i}"));
            std::fs::create_dir_all(&node_dir).unwrap();
            let db_proxy = FaultProxy::start(db_target);
            let redis_proxy = FaultProxy::start(redis_target);
            std::fs::write(
                node_dir.join("polaris-server.yaml"),
                config(&db, ports[0], ports[1], db_proxy.port, redis_proxy.port),
            )
            .unwrap();
            let mut node = Node {
                http: ports[0],
                grpc: ports[1],
                db_proxy,
                redis_proxy,
                dir: node_dir,
                child: None,
                runs: 0,
            };
            node.spawn();
            nodes.push(node);
        }
        Sandbox {
            nodes,
            redis,
            db,
            _dir: dir,
        }
    }

    /// Where node `i` writes its logs (for failure messages).
    pub fn log_dir(&self, i: usize) -> &Path {
        &self.nodes[i].dir
    }
}

impl Drop for Sandbox {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            node.kill9();
        }
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        if let Err(error) = runtime.block_on(drop_database(&self.db)) {
            eprintln!("could not drop {}: {error}", self.db.database);
        }
    }
}

/// Polls `check` every 50 ms until it returns `Some` or `deadline` passes.
pub fn eventually<T>(what: &str, deadline: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(value) = check() {
            return value;
        }
        assert!(
            start.elapsed() < deadline,
            "{what}: not within {deadline:?}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}
