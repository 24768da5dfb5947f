//! Harness of the limit suites: the real binary with its HTTP, naming gRPC and config gRPC
//! listeners on loopback, limits set by the test, no white list; clients that bind a chosen
//! source address (127.0.0.2, 127.0.0.3, ... all reach a listener on 127.0.0.1), so each test
//! client is its own "client address".

#![allow(dead_code)]

use std::fs::File;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use polaris_proto::v1;
use polaris_proto::v1::polaris_config_grpc_client::PolarisConfigGrpcClient;
use polaris_proto::v1::polaris_grpc_client::PolarisGrpcClient;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};
use tonic::transport::{Channel, Endpoint};

#[path = "../common/mod.rs"]
mod common;

/// The limits a test server runs with.
pub struct Limits {
    pub per_host: usize,
    pub bucket: u32,
    pub rate: u32,
    pub streams: u32,
    pub subscriptions: usize,
    pub watch_files: usize,
}

/// A running server.
pub struct LimitServer {
    dir: tempfile::TempDir,
    child: Child,
    pub http: u16,
    pub grpc: u16,
    pub config: u16,
}

impl Drop for LimitServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The loopback address `127.0.0.<n>`.
pub fn loopback(n: u8) -> IpAddr {
    IpAddr::V4(Ipv4Addr::new(127, 0, 0, n))
}

impl LimitServer {
    /// Starts the binary with `limits` and waits until both gRPC ports and HTTP answer.
    pub async fn start(limits: &Limits) -> LimitServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let (http, grpc, config) = (
            common::free_port(),
            common::free_port(),
            common::free_port(),
        );
        let conn = format!(
            "connLimit: {{ openConnLimit: true, maxConnPerHost: {}, maxConnLimit: 100000, whiteList: \"\" }}",
            limits.per_host
        );
        let yaml = format!(
            r#"apiservers:
  - name: api-http
    option: {{ listenIP: "127.0.0.1", listenPort: {http}, {conn} }}
  - name: service-grpc
    option: {{ listenIP: "127.0.0.1", listenPort: {grpc}, maxConcurrentStreams: {streams}, maxSubscriptionsPerStream: {subs}, {conn} }}
  - name: config-grpc
    option: {{ listenIP: "127.0.0.1", listenPort: {config}, maxConcurrentStreams: {streams}, {conn} }}
config:
  maxWatchFiles: {watch}
plugin:
  ratelimit:
    name: token-bucket
    option:
      ip-limit: {{ open: true, global: {{ open: true, bucket: {bucket}, rate: {rate} }}, white-list: [] }}
store:
  name: embedded
  option: {{ path: "{data}" }}
"#,
            streams = limits.streams,
            subs = limits.subscriptions,
            watch = limits.watch_files,
            bucket = limits.bucket,
            rate = limits.rate,
            data = dir.path().join("data").display(),
        );
        let config_path = dir.path().join("polaris-server.yaml");
        std::fs::write(&config_path, yaml).expect("write config");
        let child = Command::new(common::binary())
            .arg("start")
            .arg("--config")
            .arg(&config_path)
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::from(
                File::create(dir.path().join("stdout.log")).unwrap(),
            ))
            .stderr(Stdio::from(
                File::create(dir.path().join("stderr.log")).unwrap(),
            ))
            .spawn()
            .expect("spawn polaris-server");
        let server = LimitServer {
            dir,
            child,
            http,
            grpc,
            config,
        };
        server.wait_ready().await;
        server
    }

    async fn wait_ready(&self) {
        let deadline = Instant::now() + common::START_DEADLINE;
        loop {
            let up = async {
                let (status, _) = self.http_from(loopback(1), "GET", "/", "").await.ok()?;
                (status == 200).then_some(())?;
                TcpStream::connect(("127.0.0.1", self.grpc)).await.ok()?;
                TcpStream::connect(("127.0.0.1", self.config)).await.ok()
            };
            if up.await.is_some() {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "server did not start; stderr:\n{}",
                std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// The server's resident memory, in KiB.
    pub fn rss_kib(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("read /proc status");
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
            .expect("VmRSS")
    }

    /// CPU time the server has used (user + system), in seconds.
    pub fn cpu_seconds(&self) -> f64 {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.child.id()))
            .expect("read /proc stat");
        // Fields after the parenthesised command: state is field 3, utime 14, stime 15.
        let rest = &stat[stat.rfind(')').expect("comm") + 2..];
        let fields: Vec<&str> = rest.split_whitespace().collect();
        let ticks: f64 = fields[11].parse::<f64>().unwrap() + fields[12].parse::<f64>().unwrap();
        ticks / 100.0
    }

    /// A naming gRPC channel from `source`, with small HTTP/2 windows when `small_windows`
    /// (a client that does not read then stops the server's sending early).
    pub async fn channel(&self, port: u16, source: IpAddr, small_windows: bool) -> Channel {
        let mut endpoint = Endpoint::from_shared(format!("http://127.0.0.1:{port}"))
            .unwrap()
            .local_address(Some(source))
            .connect_timeout(Duration::from_secs(5));
        if small_windows {
            endpoint = endpoint
                .initial_stream_window_size(Some(65_535))
                .initial_connection_window_size(Some(65_535));
        }
        endpoint.connect().await.expect("gRPC connect")
    }

    pub async fn naming(&self, source: IpAddr) -> PolarisGrpcClient<Channel> {
        PolarisGrpcClient::new(self.channel(self.grpc, source, false).await)
    }

    pub async fn config_client(&self, source: IpAddr) -> PolarisConfigGrpcClient<Channel> {
        PolarisConfigGrpcClient::new(self.channel(self.config, source, false).await)
    }

    /// One HTTP request on a fresh connection from `source`: status and body.
    pub async fn http_from(
        &self,
        source: IpAddr,
        method: &str,
        path: &str,
        body: &str,
    ) -> std::io::Result<(u16, String)> {
        let mut conn = HttpConn::open(self.http, source).await?;
        conn.request(method, path, body).await
    }

    /// The text of `/metrics`.
    pub async fn metrics(&self) -> String {
        self.http_from(loopback(1), "GET", "/metrics", "")
            .await
            .expect("metrics")
            .1
    }
}

/// The value of the sample `name{labels}` in a Prometheus text page (0 when absent).
pub fn sample(page: &str, name_and_labels: &str) -> f64 {
    page.lines()
        .find_map(|l| l.strip_prefix(name_and_labels)?.trim().parse().ok())
        .unwrap_or(0.0)
}

/// A keep-alive HTTP/1.1 connection from a chosen source address.
pub struct HttpConn {
    stream: TcpStream,
}

impl HttpConn {
    pub async fn open(port: u16, source: IpAddr) -> std::io::Result<HttpConn> {
        let socket = TcpSocket::new_v4()?;
        socket.bind(SocketAddr::new(source, 0))?;
        let stream = socket.connect(SocketAddr::new(loopback(1), port)).await?;
        stream.set_nodelay(true)?;
        Ok(HttpConn { stream })
    }

    /// Sends a request and reads the reply (bodies carry Content-Length).
    pub async fn request(
        &mut self,
        method: &str,
        path: &str,
        body: &str,
    ) -> std::io::Result<(u16, String)> {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        self.stream.write_all(head.as_bytes()).await?;
        self.stream.write_all(body.as_bytes()).await?;
        let mut buf = Vec::new();
        let mut chunk = [0u8; 8192];
        let header_end = loop {
            if let Some(at) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break at + 4;
            }
            let n = self.stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            buf.extend_from_slice(&chunk[..n]);
        };
        let head = String::from_utf8_lossy(&buf[..header_end]).to_string();
        let status: u16 = head
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or(std::io::ErrorKind::InvalidData)?;
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .unwrap_or(0);
        while buf.len() < header_end + length {
            let n = self.stream.read(&mut chunk).await?;
            if n == 0 {
                return Err(std::io::ErrorKind::UnexpectedEof.into());
            }
            buf.extend_from_slice(&chunk[..n]);
        }
        let body = String::from_utf8_lossy(&buf[header_end..header_end + length]).to_string();
        Ok((status, body))
    }

    /// Whether the server closed the connection (end of file or reset) within `deadline`.
    pub async fn closed_within(&mut self, deadline: Duration) -> bool {
        let mut byte = [0u8; 1];
        matches!(
            tokio::time::timeout(deadline, self.stream.read(&mut byte)).await,
            Ok(Ok(0) | Err(_))
        )
    }
}

/// An instance registration message.
pub fn instance(service: &str, host: &str, port: u32) -> v1::Instance {
    v1::Instance {
        namespace: Some("default".into()),
        service: Some(service.into()),
        host: Some(host.into()),
        port: Some(port),
        ..Default::default()
    }
}

/// An INSTANCE Discover request for `service`.
pub fn discover(service: &str) -> v1::DiscoverRequest {
    v1::DiscoverRequest {
        r#type: v1::discover_request::DiscoverRequestType::Instance as i32,
        service: Some(v1::Service {
            namespace: Some("default".into()),
            name: Some(service.into()),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The `p`-th percentile of `samples` (sorted in place).
pub fn percentile(samples: &mut [Duration], p: f64) -> Duration {
    samples.sort();
    let rank = ((samples.len() as f64 - 1.0) * p / 100.0).round() as usize;
    samples[rank.min(samples.len() - 1)]
}
