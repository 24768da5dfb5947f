//! What TLS costs a polaris-rs listener: connections per second with a full handshake, and
//! round trips per second on an open connection, TLS against plain TCP, on loopback. Client and
//! server run in this process, so the CPU figures are both sides together.
//!
//! `cargo run --release -p polaris-tls --example tls_bench [connections] [round_trips]`
//! (or `scripts/bench-tls.sh`).

use polaris_testkit::bench::cpu_time;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use polaris_testkit::tls::{Ca, client_config};
use polaris_tls::{ALPN_HTTP1, CertStore, Listener, TlsFiles};
use rustls::pki_types::ServerName;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsConnector;

const MESSAGE: usize = 256;

async fn echo<S: AsyncRead + AsyncWrite + Unpin>(mut conn: S) {
    let mut buf = [0u8; MESSAGE];
    while conn.read_exact(&mut buf).await.is_ok() {
        if conn.write_all(&buf).await.is_err() {
            return;
        }
    }
}

async fn serve(listener: TcpListener, certs: Option<Arc<CertStore>>) -> SocketAddr {
    let mut listener = match certs {
        Some(certs) => Listener::tls(listener, certs),
        None => Listener::plain(listener),
    };
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let (conn, _) = listener.next().await;
            tokio::spawn(echo(conn));
        }
    });
    addr
}

async fn round_trip<S: AsyncRead + AsyncWrite + Unpin>(conn: &mut S) {
    let out = [7u8; MESSAGE];
    let mut back = [0u8; MESSAGE];
    conn.write_all(&out).await.unwrap();
    conn.read_exact(&mut back).await.unwrap();
}

fn report(what: &str, n: u32, wall: Duration, cpu: Duration) {
    println!(
        "{what:<44} {n:>6} ops  {:>9.0} ops/s  {:>8.1} µs/op wall  {:>8.1} µs CPU/op",
        f64::from(n) / wall.as_secs_f64(),
        wall.as_secs_f64() * 1e6 / f64::from(n),
        cpu.as_secs_f64() * 1e6 / f64::from(n),
    );
}

async fn connect(addr: SocketAddr, tls: Option<&TlsConnector>) -> Box<dyn Stream> {
    let tcp = TcpStream::connect(addr).await.unwrap();
    tcp.set_nodelay(true).unwrap();
    match tls {
        None => Box::new(tcp),
        Some(connector) => {
            let name = ServerName::try_from("localhost").unwrap();
            Box::new(connector.connect(name, tcp).await.unwrap())
        }
    }
}

trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let mut args = std::env::args().skip(1);
    let connections: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(2000);
    let trips: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(20000);

    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new("tls bench CA");
    let (cert_file, key_file) = ca.leaf(&["localhost"]).write(dir.path(), "server");
    let files = TlsFiles {
        cert_file,
        key_file,
        trusted_ca_file: None,
    };
    let certs = CertStore::open(files, ALPN_HTTP1).unwrap();
    let connector = TlsConnector::from(Arc::new(client_config(&ca, None)));

    let plain = serve(TcpListener::bind("127.0.0.1:0").await.unwrap(), None).await;
    let tls = serve(TcpListener::bind("127.0.0.1:0").await.unwrap(), Some(certs)).await;
    println!(
        "polaris-tls on loopback, ECDSA P-256 certificate, {MESSAGE}-byte echo; CPU is client + server"
    );
    for (name, addr, connector) in [
        ("plain TCP", plain, None),
        ("TLS (rustls, ring)", tls, Some(&connector)),
    ] {
        let (start, cpu0) = (Instant::now(), cpu_time());
        for _ in 0..connections {
            let mut conn = connect(addr, connector).await;
            round_trip(&mut conn).await;
        }
        report(
            &format!("{name}: new connection + 1 trip"),
            connections,
            start.elapsed(),
            cpu_time() - cpu0,
        );
        let mut conn = connect(addr, connector).await;
        let (start, cpu0) = (Instant::now(), cpu_time());
        for _ in 0..trips {
            round_trip(&mut conn).await;
        }
        report(
            &format!("{name}: round trip, open conn"),
            trips,
            start.elapsed(),
            cpu_time() - cpu0,
        );
    }
}
