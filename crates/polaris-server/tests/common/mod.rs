//! End-to-end harness: runs the real `polaris-server` binary on a free loopback port with its
//! own data directory, and talks to it over HTTP.

#![allow(dead_code)]

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus};
use std::time::{Duration, Instant};

use serde_json::Value;

/// How long a server may take to answer `GET /` after being spawned.
pub const START_DEADLINE: Duration = Duration::from_secs(20);

/// Path of the server binary built by Cargo for this test run.
pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_polaris-server")
}

/// A loopback port that was free a moment ago.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// The token of the default admin every fresh server has (console checks are on by default).
pub const ADMIN_TOKEN: &str =
    "nu/0WRA4EqSR1FagrjRj0fZwPXuGlMpX+zCuWu4uMqy8xr1vRjisSbA25aAC3mtU8MeeRsKhQiDAynUR09I=";

/// An HTTP agent that hands back 4xx and 5xx replies instead of failing on them and sends the
/// default admin's token unless the request carries its own.
pub fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .middleware(
            |mut request: ureq::http::Request<ureq::SendBody>,
             next: ureq::middleware::MiddlewareNext| {
                if !request.headers().contains_key("x-polaris-token") {
                    request.headers_mut().insert(
                        "x-polaris-token",
                        ureq::http::HeaderValue::from_static(ADMIN_TOKEN),
                    );
                }
                next.handle(request)
            },
        )
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

/// A reply: HTTP status, the `X-Polaris-Code` header, the raw text and the JSON body (or
/// `Value::String(text)` when the body is not JSON).
#[derive(Debug, Clone)]
pub struct Resp {
    pub status: u16,
    pub polaris_code: Option<String>,
    pub text: String,
    pub body: Value,
}

impl Resp {
    /// `body.code` as a number (panics when absent, so a missing code fails the test).
    pub fn code(&self) -> u64 {
        self.body["code"]
            .as_u64()
            .unwrap_or_else(|| panic!("no numeric `code` in reply {}: {}", self.status, self.text))
    }
}

/// The [`Resp`] of a reply (bodies up to 64 MiB).
pub fn into_resp(mut response: ureq::http::Response<ureq::Body>) -> Resp {
    let status = response.status().as_u16();
    let polaris_code = response
        .headers()
        .get("x-polaris-code")
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    let text = response
        .body_mut()
        .with_config()
        .limit(64 * 1024 * 1024)
        .read_to_string()
        .unwrap_or_else(|e| panic!("reading reply body (status {status}): {e}"));
    let body = serde_json::from_str(&text).unwrap_or_else(|_| Value::String(text.clone()));
    Resp {
        status,
        polaris_code,
        text,
        body,
    }
}

/// A running `polaris-server` child process.
pub struct TestServer {
    dir: tempfile::TempDir,
    port: u16,
    child: Option<Child>,
    agent: ureq::Agent,
    starts: u32,
}

impl TestServer {
    /// Starts a server on a fresh data directory and waits until it answers.
    pub fn start() -> TestServer {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("data")).expect("data dir");
        let mut server = TestServer {
            dir,
            port: 0,
            child: None,
            agent: agent(),
            starts: 0,
        };
        server.spawn_and_wait();
        server
    }

    /// The data directory the server stores its database in.
    pub fn data_dir(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    /// The temporary directory holding the config, logs and data.
    pub fn work_dir(&self) -> &Path {
        self.dir.path()
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("polaris-server.yaml")
    }

    /// Where the current process's stdout/stderr go.
    pub fn stdout_path(&self) -> PathBuf {
        self.dir.path().join(format!("stdout.{}.log", self.starts))
    }

    pub fn stderr_path(&self) -> PathBuf {
        self.dir.path().join(format!("stderr.{}.log", self.starts))
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("server is not running").id()
    }

    /// Writes a config for `port` and `data` into `path`.
    pub fn write_config(path: &Path, port: u16, data: &Path) {
        let yaml = format!(
            "apiservers:\n  - name: api-http\n    option: {{ listenIP: \"127.0.0.1\", listenPort: {port} }}\nstore:\n  name: embedded\n  option: {{ path: \"{}\" }}\n",
            data.display()
        );
        std::fs::write(path, yaml).expect("write config");
    }

    fn spawn_and_wait(&mut self) {
        // A fresh port on every start, so a restart never races another test for the old one.
        self.port = free_port();
        self.starts += 1;
        Self::write_config(&self.config_path(), self.port, &self.data_dir());
        let stdout = File::create(self.stdout_path()).expect("stdout file");
        let stderr = File::create(self.stderr_path()).expect("stderr file");
        let (config, dir) = (self.config_path(), self.dir.path());
        let mut child =
            polaris_testkit::server::spawn(Path::new(binary()), &config, dir, stdout, stderr);
        let url = format!("{}/", self.base_url());
        let probe: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(2)))
            .build()
            .into();
        let answers = || {
            probe
                .get(&url)
                .call()
                .is_ok_and(|r| r.status().as_u16() == 200)
        };
        polaris_testkit::server::wait_ready(
            &mut child,
            START_DEADLINE,
            &self.stderr_path(),
            answers,
        );
        self.child = Some(child);
    }

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url(), path)
    }

    /// GET, with the full reply.
    pub fn get_full(&self, path: &str) -> Resp {
        into_resp(
            self.agent
                .get(&self.url(path))
                .call()
                .unwrap_or_else(|e| panic!("GET {path}: {e}")),
        )
    }

    /// POST a JSON body, with the full reply.
    pub fn post_full(&self, path: &str, body: &str) -> Resp {
        self.post_bytes(path, body.as_bytes())
            .unwrap_or_else(|e| panic!("POST {path}: {e}"))
    }

    /// POST raw bytes as JSON; transport errors are returned, not panicked on.
    pub fn post_bytes(&self, path: &str, body: &[u8]) -> Result<Resp, ureq::Error> {
        self.agent
            .post(&self.url(path))
            .header("Content-Type", "application/json")
            .send(body)
            .map(into_resp)
    }

    /// PUT a JSON body, with the full reply.
    pub fn put_full(&self, path: &str, body: &str) -> Resp {
        into_resp(
            self.agent
                .put(&self.url(path))
                .header("Content-Type", "application/json")
                .send(body.as_bytes())
                .unwrap_or_else(|e| panic!("PUT {path}: {e}")),
        )
    }

    pub fn get(&self, path: &str) -> (u16, Value) {
        let r = self.get_full(path);
        (r.status, r.body)
    }

    pub fn post(&self, path: &str, body: &str) -> (u16, Value) {
        let r = self.post_full(path, body);
        (r.status, r.body)
    }

    pub fn put(&self, path: &str, body: &str) -> (u16, Value) {
        let r = self.put_full(path, body);
        (r.status, r.body)
    }

    /// True when `GET /` answers "Polaris Server".
    pub fn is_up(&self) -> bool {
        let probe: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(5)))
            .build()
            .into();
        match probe.get(&self.url("/")).call() {
            Ok(mut r) => {
                r.status().as_u16() == 200
                    && r.body_mut().read_to_string().unwrap_or_default() == "Polaris Server"
            }
            Err(_) => false,
        }
    }

    /// SIGKILLs the server and reaps it.
    pub fn kill9(&mut self) {
        if let Some(mut child) = self.child.take() {
            child.kill().expect("kill -9");
            child.wait().expect("wait after kill -9");
        }
    }

    /// Sends SIGTERM and waits up to `deadline` for the exit; returns the exit status.
    pub fn sigterm(&mut self, deadline: Duration) -> ExitStatus {
        let mut child = self.child.take().expect("server is not running");
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status()
            .expect("run kill -TERM");
        assert!(status.success(), "kill -TERM failed: {status}");
        let end = Instant::now() + deadline;
        loop {
            if let Some(status) = child.try_wait().expect("try_wait") {
                return status;
            }
            if Instant::now() >= end {
                let _ = child.kill();
                let _ = child.wait();
                panic!("polaris-server did not exit within {deadline:?} after SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Starts the server again on the same data directory (after `kill9` or `sigterm`).
    pub fn restart(&mut self) {
        if self.child.is_some() {
            self.kill9();
        }
        self.spawn_and_wait();
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Asserts a Polaris failure reply: body code, HTTP status = code / 1000, and the
/// `X-Polaris-Code` header.
#[track_caller]
pub fn assert_code(resp: &Resp, code: u64) {
    assert_eq!(resp.code(), code, "body code; reply: {}", resp.text);
    assert_eq!(
        u64::from(resp.status),
        code / 1000,
        "HTTP status; reply: {}",
        resp.text
    );
    if code != 200_000 {
        assert_eq!(
            resp.polaris_code.as_deref(),
            Some(code.to_string().as_str()),
            "X-Polaris-Code header; reply: {}",
            resp.text
        );
    }
}

/// Lowercase hex SHA-1 of `ns##svc##host##port`, the official default instance id.
pub fn instance_id(namespace: &str, service: &str, host: &str, port: u16) -> String {
    use sha1::{Digest, Sha1};
    let mut hasher = Sha1::new();
    hasher.update(format!("{namespace}##{service}##{host}##{port}").as_bytes());
    hex::encode(hasher.finalize())
}

/// The names in a list reply's array field `field`, sorted.
pub fn names(body: &Value, field: &str, key: &str) -> Vec<String> {
    let mut out: Vec<String> = body[field]
        .as_array()
        .unwrap_or_else(|| panic!("no array `{field}` in {body}"))
        .iter()
        .map(|v| v[key].as_str().unwrap_or_default().to_string())
        .collect();
    out.sort();
    out
}

/// Sends one HTTP/1.1 request over a raw socket, writing the body from a second thread while
/// the reply is read, so a server that answers before reading everything can still be heard.
/// Returns the reply, or the I/O error met while reading it.
pub fn raw_request(port: u16, method: &str, path: &str, body: Vec<u8>) -> std::io::Result<Resp> {
    use std::io::{BufRead, BufReader, Read, Write};
    let stream = std::net::TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut writer = stream.try_clone()?;
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let sender = std::thread::spawn(move || {
        let _ = writer.write_all(head.as_bytes());
        for chunk in body.chunks(64 * 1024) {
            if writer.write_all(chunk).is_err() {
                break;
            }
        }
    });
    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader.read_line(&mut status_line)?;
    let status: u16 = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| std::io::Error::other(format!("bad status line {status_line:?}")))?;
    let mut polaris_code = None;
    let mut length = None;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            let value = value.trim().to_string();
            match name.to_ascii_lowercase().as_str() {
                "x-polaris-code" => polaris_code = Some(value),
                "content-length" => length = value.parse::<usize>().ok(),
                _ => {}
            }
        }
    }
    let mut bytes = vec![0; length.unwrap_or(0)];
    if length.is_some() {
        reader.read_exact(&mut bytes)?;
    } else {
        reader.read_to_end(&mut bytes)?;
    }
    let _ = sender.join();
    let text = String::from_utf8_lossy(&bytes).into_owned();
    let body = serde_json::from_str(&text).unwrap_or_else(|_| Value::String(text.clone()));
    Ok(Resp {
        status,
        polaris_code,
        text,
        body,
    })
}
