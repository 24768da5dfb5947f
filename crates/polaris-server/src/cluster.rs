//! How this node names itself in a cluster: `host:port` of its naming gRPC listener (else its
//! HTTP listener), so several nodes may share one host. A listener on an unspecified address
//! (`0.0.0.0`, `::`) is named by the local address this machine uses to reach the database.

use std::net::{IpAddr, SocketAddr, UdpSocket};

use polaris_cluster::NodeIdentity;
use tokio::net::TcpListener;

use crate::config::{ServerConfig, StoreConfig};

/// The local address used to reach `remote` (no packet is sent: a UDP "connect" only routes).
fn local_ip_towards(remote: &str) -> Option<IpAddr> {
    let target = match remote.rsplit_once(':') {
        Some((host, port)) => format!("{host}:{port}"),
        None => format!("{remote}:3306"),
    };
    let socket = UdpSocket::bind("0.0.0.0:0").ok()?;
    socket.connect(target).ok()?;
    socket.local_addr().ok().map(|a| a.ip())
}

fn db_addr(config: &ServerConfig) -> Option<String> {
    match &config.store {
        StoreConfig::Sql { option, .. } => option
            .get("master")
            .and_then(|m| m.get("dbAddr"))
            .and_then(|a| a.as_str())
            .map(str::to_string),
        StoreConfig::Embedded { .. } => None,
    }
}

/// This node's identity from its bound listeners.
pub fn identity(
    config: &ServerConfig,
    http: &Option<SocketAddr>,
    grpc: &Option<TcpListener>,
) -> NodeIdentity {
    let grpc_addr = grpc.as_ref().and_then(|l| l.local_addr().ok());
    let named = grpc_addr
        .or(*http)
        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 0)));
    let ip = if named.ip().is_unspecified() {
        db_addr(config)
            .and_then(|a| local_ip_towards(&a))
            .unwrap_or(IpAddr::from([127, 0, 0, 1]))
    } else {
        named.ip()
    };
    let detail = format!(
        "http={} grpc={} version={}",
        http.map(|a| a.port().to_string()).unwrap_or_default(),
        grpc_addr.map(|a| a.port().to_string()).unwrap_or_default(),
        env!("CARGO_PKG_VERSION"),
    );
    NodeIdentity {
        host: ip.to_string(),
        port: u32::from(named.port()),
        detail,
    }
}
