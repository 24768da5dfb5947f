//! The real `polaris-server` binary on free loopback ports with its own data directory:
//! restarted on the same ports and data, and fed config files and rules over its HTTP API.

use std::fs::File;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;

/// The default admin's token: the console API is checked by default, as officially.
pub const ADMIN_TOKEN: &str =
    "nu/0WRA4EqSR1FagrjRj0fZwPXuGlMpX+zCuWu4uMqy8xr1vRjisSbA25aAC3mtU8MeeRsKhQiDAynUR09I=";

/// How long a server may take to answer after being spawned.
const START_DEADLINE: Duration = Duration::from_secs(30);

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn candidates() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Some(bin) = std::env::var_os("POLARIS_SERVER_BIN") {
        out.push(PathBuf::from(bin));
    }
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        out.push(PathBuf::from(dir).join("debug/polaris-server"));
    }
    out.push(workspace_root().join("target/debug/polaris-server"));
    out
}

/// The server binary: `POLARIS_SERVER_BIN`, `$CARGO_TARGET_DIR/debug/polaris-server` or
/// `<workspace>/target/debug/polaris-server`; built once with `cargo build -p polaris-server`
/// when none exists.
pub fn binary() -> &'static Path {
    static BINARY: OnceLock<PathBuf> = OnceLock::new();
    BINARY.get_or_init(|| {
        if let Some(found) = candidates().into_iter().find(|p| p.is_file()) {
            return found;
        }
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-p", "polaris-server"])
            .current_dir(workspace_root())
            .status()
            .expect("running cargo build -p polaris-server");
        assert!(status.success(), "cargo build -p polaris-server failed");
        candidates()
            .into_iter()
            .find(|p| p.is_file())
            .unwrap_or_else(|| {
                panic!(
                    "polaris-server binary not found (set POLARIS_SERVER_BIN or run `cargo build -p polaris-server`); looked at {:?}",
                    candidates()
                )
            })
    })
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("bind 127.0.0.1:0")
        .port()
}

/// Spawns `<binary> start --config <config>` in `dir`, its stdout and stderr written to
/// `stdout` and `stderr`.
pub fn spawn(binary: &Path, config: &Path, dir: &Path, stdout: File, stderr: File) -> Child {
    Command::new(binary)
        .arg("start")
        .arg("--config")
        .arg(config)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::from(stdout))
        .stderr(Stdio::from(stderr))
        .spawn()
        .expect("spawn polaris-server")
}

/// Polls `ready` every 20 ms until it holds; panics with the content of `log` when `child`
/// exits first or `deadline` passes.
pub fn wait_ready(
    child: &mut Child,
    deadline: Duration,
    log: &Path,
    mut ready: impl FnMut() -> bool,
) {
    let until = Instant::now() + deadline;
    let log = || std::fs::read_to_string(log).unwrap_or_default();
    loop {
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "polaris-server exited during startup with {status}:\n{}",
                log()
            );
        }
        if ready() {
            return;
        }
        assert!(
            Instant::now() < until,
            "polaris-server did not answer within {deadline:?}:\n{}",
            log()
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A running server.
pub struct TestServer {
    dir: tempfile::TempDir,
    pub http_port: u16,
    pub grpc_port: u16,
    pub config_port: u16,
    child: Option<Child>,
    starts: u32,
    agent: ureq::Agent,
    /// Extra `option` keys of both gRPC listeners (e.g. a `tls: {...}` block).
    grpc_option: String,
}

impl TestServer {
    /// Starts a server on fresh ports and a fresh data directory.
    pub fn start() -> TestServer {
        Self::start_with_grpc_option("")
    }

    /// [`start`](Self::start) with `extra` (`key: value, ...`) added to the `option` of the
    /// naming and config gRPC listeners.
    pub fn start_with_grpc_option(extra: &str) -> TestServer {
        let mut ports = Vec::new();
        while ports.len() < 3 {
            let p = free_port();
            if !ports.contains(&p) {
                ports.push(p);
            }
        }
        let mut server = TestServer {
            dir: tempfile::tempdir().expect("tempdir"),
            http_port: ports[0],
            grpc_port: ports[1],
            config_port: ports[2],
            child: None,
            starts: 0,
            agent: ureq::Agent::config_builder()
                .http_status_as_error(false)
                .timeout_global(Some(Duration::from_secs(30)))
                .build()
                .into(),
            grpc_option: if extra.is_empty() {
                String::new()
            } else {
                format!(", {extra}")
            },
        };
        server.spawn();
        server
    }

    /// A directory for the test's own files (client caches...), removed with the server.
    pub fn scratch(&self, name: &str) -> PathBuf {
        let path = self.dir.path().join("scratch").join(name);
        std::fs::create_dir_all(&path).expect("scratch dir");
        path
    }

    /// `127.0.0.1:<naming gRPC port>`.
    pub fn naming_addr(&self) -> String {
        format!("127.0.0.1:{}", self.grpc_port)
    }

    /// `127.0.0.1:<config gRPC port>`.
    pub fn config_addr(&self) -> String {
        format!("127.0.0.1:{}", self.config_port)
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join(format!("server.{}.log", self.starts))
    }

    fn spawn(&mut self) {
        self.starts += 1;
        let config = self.dir.path().join("polaris-server.yaml");
        let data = self.dir.path().join("data");
        std::fs::create_dir_all(&data).expect("data dir");
        let yaml = format!(
            "apiservers:\n  - name: api-http\n    option: {{ listenIP: \"127.0.0.1\", listenPort: {} }}\n  - name: service-grpc\n    option: {{ listenIP: \"127.0.0.1\", listenPort: {}{extra} }}\n  - name: config-grpc\n    option: {{ listenIP: \"127.0.0.1\", listenPort: {}{extra} }}\nstore:\n  name: embedded\n  option: {{ path: \"{}\" }}\n",
            self.http_port,
            self.grpc_port,
            self.config_port,
            data.display(),
            extra = self.grpc_option,
        );
        std::fs::write(&config, yaml).expect("write config");
        let log = File::create(self.log_path()).expect("log file");
        let out = log.try_clone().expect("log");
        let mut child = spawn(binary(), &config, self.dir.path(), out, log);
        wait_ready(&mut child, START_DEADLINE, &self.log_path(), || {
            self.answers()
        });
        self.child = Some(child);
    }

    /// True when the HTTP port answers and both gRPC ports accept connections.
    fn answers(&self) -> bool {
        let up = |port: u16| {
            TcpStream::connect_timeout(
                &format!("127.0.0.1:{port}").parse().unwrap(),
                Duration::from_millis(200),
            )
            .is_ok()
        };
        up(self.grpc_port)
            && up(self.config_port)
            && self
                .agent
                .get(&format!("http://127.0.0.1:{}/", self.http_port))
                .call()
                .is_ok_and(|r| r.status().as_u16() == 200)
    }

    /// Kills the server at once (SIGKILL) and waits for it to exit.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same ports and data directory.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }

    /// POSTs a JSON body to the HTTP API and returns the JSON answer.
    pub fn post(&self, path: &str, body: &Value) -> Value {
        self.send("POST", path, body)
    }

    /// PUTs a JSON body to the HTTP API and returns the JSON answer.
    pub fn put(&self, path: &str, body: &Value) -> Value {
        self.send("PUT", path, body)
    }

    fn send(&self, method: &str, path: &str, body: &Value) -> Value {
        let url = format!("http://127.0.0.1:{}{path}", self.http_port);
        let text = body.to_string();
        let request = match method {
            "PUT" => self.agent.put(&url),
            _ => self.agent.post(&url),
        };
        let mut response = request
            .header("Content-Type", "application/json")
            .header("X-Polaris-Token", ADMIN_TOKEN)
            .send(text.as_bytes())
            .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let reply = response.body_mut().read_to_string().unwrap_or_default();
        serde_json::from_str(&reply).unwrap_or(Value::String(reply))
    }

    /// Creates (or updates) a config file and publishes it; panics unless both succeed.
    pub fn publish_file(&self, group: &str, name: &str, content: &str, encrypted: bool) {
        let mut file = serde_json::json!({
            "namespace": "default", "group": group, "name": name, "content": content,
            "format": if name.ends_with(".json") { "json" } else { "yaml" },
        });
        if encrypted {
            file["encrypted"] = true.into();
            file["encryptAlgo"] = "AES".into();
        }
        let created = self.post("/config/v1/configfiles", &file);
        if created["code"] == 400_201 {
            let updated = self.put("/config/v1/configfiles", &file);
            assert_eq!(updated["code"], 200_000, "update: {updated}");
        } else {
            assert_eq!(created["code"], 200_000, "create: {created}");
        }
        let release = serde_json::json!({
            "namespace": "default", "group": group, "fileName": name,
        });
        let published = self.post("/config/v1/configfiles/release", &release);
        assert_eq!(published["code"], 200_000, "publish: {published}");
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Polls `check` every 10 ms until it returns `Some`, or panics with `what` after `deadline`.
pub async fn eventually<T>(
    what: &str,
    deadline: Duration,
    mut check: impl AsyncFnMut() -> Option<T>,
) -> T {
    let until = Instant::now() + deadline;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < until,
            "timed out after {deadline:?}: {what}"
        );
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}
