//! One node of the real binary on an embedded or a SQL store, restarted on the same data and
//! killed with `kill -9` when dropped; scratch SQL databases dropped when the test ends. The
//! test declares `mod common;` beside `mod node_support;`.

#![allow(dead_code)]

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::Child;
use std::time::Duration;

use polaris_store_sql::{Dialect, SqlOptions, drop_database};

use crate::common::{binary, free_port};

/// How long a node may take to answer `GET /` (a SQL store migrates first).
const START_DEADLINE: Duration = Duration::from_secs(60);

/// Where the server keeps its data.
pub enum Backend {
    Embedded(PathBuf),
    Sql(SqlOptions),
}

impl Backend {
    /// The `store:` section of the configuration, in the official shape.
    fn store_yaml(&self) -> String {
        match self {
            Backend::Embedded(path) => {
                format!(
                    "store:\n  name: embedded\n  option: {{ path: \"{}\" }}\n",
                    path.display()
                )
            }
            Backend::Sql(db) => {
                let db_type = match db.dialect {
                    Dialect::MySql => "mysql",
                    Dialect::Postgres => "postgresql",
                };
                format!(
                    "store:\n  name: defaultStore\n  option:\n    master:\n      dbType: {db_type}\n      \
                     dbAddr: \"{}\"\n      dbName: {}\n      dbUser: {}\n      dbPwd: \"\"\n      \
                     maxOpenConns: 16\n      maxIdleConns: 2\n      connMaxLifetime: 300\n",
                    db.addr, db.database, db.user
                )
            }
        }
    }
}

/// Drops a scratch SQL database when the test ends, however it ends.
pub struct ScratchDatabase(pub SqlOptions);

impl Drop for ScratchDatabase {
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

/// One run of the binary; dropping it is `kill -9`.
pub struct Node {
    child: Child,
    /// `http://127.0.0.1:<HTTP port>`.
    pub base: String,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts run number `run` of a node in `dir` (configuration and logs) on `backend`, with
/// only the HTTP API on a fresh port, and waits until it answers.
pub fn start(dir: &Path, backend: &Backend, run: usize) -> Node {
    let port = free_port();
    let yaml = format!(
        "apiservers:\n  - name: api-http\n    option: {{ listenIP: \"127.0.0.1\", listenPort: {port} }}\n{}",
        backend.store_yaml()
    );
    let config = dir.join("polaris-server.yaml");
    std::fs::write(&config, yaml).expect("config");
    let stderr_path = dir.join(format!("stderr.{run}.log"));
    let stdout = File::create(dir.join(format!("stdout.{run}.log"))).expect("stdout");
    let stderr = File::create(&stderr_path).expect("stderr");
    let mut child =
        polaris_testkit::server::spawn(Path::new(binary()), &config, dir, stdout, stderr);
    let base = format!("http://127.0.0.1:{port}");
    let probe: ureq::Agent = ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(2)))
        .build()
        .into();
    let answers = || probe.get(&format!("{base}/")).call().is_ok();
    polaris_testkit::server::wait_ready(&mut child, START_DEADLINE, &stderr_path, answers);
    Node { child, base }
}
