//! Connections, request builders and the shared work dispenser.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use polaris_proto::v1;
use polaris_proto::v1::health_check::HealthCheckType;
use polaris_proto::v1::polaris_grpc_client::PolarisGrpcClient;
use tonic::transport::{Channel, Endpoint};

/// The namespace every bench instance lives in.
pub const NAMESPACE: &str = "default";

/// Opens `n` HTTP/2 connections to `addr` (one tonic `Channel` multiplexes all its calls over a
/// single connection, so load is spread over several). `addr` may list several servers, comma
/// separated (the nodes of a cluster): connection `i` goes to server `i % servers`, and at least
/// one connection is opened to each.
pub async fn connect(addr: &str, n: usize) -> Result<Vec<Channel>> {
    let uris: Vec<String> = addr
        .split(',')
        .map(str::trim)
        .filter(|one| !one.is_empty())
        .map(|one| {
            if one.contains("://") {
                one.to_string()
            } else {
                format!("http://{one}")
            }
        })
        .collect();
    anyhow::ensure!(!uris.is_empty(), "empty --addr");
    let n = n.max(uris.len());
    let mut channels = Vec::with_capacity(n);
    for i in 0..n {
        let uri = &uris[i % uris.len()];
        let channel = Endpoint::from_shared(uri.clone())
            .context("bad --addr")?
            .tcp_nodelay(true)
            .connect_timeout(Duration::from_secs(5))
            .connect()
            .await
            .with_context(|| format!("connect to {uri}"))?;
        channels.push(channel);
    }
    Ok(channels)
}

/// A client on the `i`-th connection (round robin).
pub fn client(channels: &[Channel], i: usize) -> PolarisGrpcClient<Channel> {
    PolarisGrpcClient::new(channels[i % channels.len()].clone())
        .max_decoding_message_size(64 * 1024 * 1024)
}

/// Instance number `index` of `service`: a distinct host per index, so every registration is a
/// new instance, with what real instances carry: a protocol, a version and one metadata key.
/// With `ttl`, the instance asks for heartbeat health checking.
pub fn instance(service: &str, index: u64, ttl: Option<u32>) -> v1::Instance {
    let host = format!(
        "10.{}.{}.{}",
        (index >> 16) & 0xff,
        (index >> 8) & 0xff,
        index & 0xff
    );
    v1::Instance {
        service: Some(service.to_string()),
        namespace: Some(NAMESPACE.to_string()),
        host: Some(host),
        port: Some(8000 + u32::try_from(index >> 24).unwrap_or(0)),
        protocol: Some("grpc".into()),
        version: Some("1.4.2".into()),
        metadata: [("env".to_string(), "prod".to_string())].into(),
        weight: Some(100),
        enable_health_check: ttl.map(|_| true),
        health_check: ttl.map(|ttl| v1::HealthCheck {
            r#type: HealthCheckType::Heartbeat as i32,
            heartbeat: Some(v1::HeartbeatHealthCheck { ttl: Some(ttl) }),
        }),
        ..Default::default()
    }
}

/// The Polaris code of a unary reply, or the transport error as text.
pub fn code_of(reply: Result<tonic::Response<v1::Response>, tonic::Status>) -> Result<u32, String> {
    match reply {
        Ok(reply) => Ok(reply.into_inner().code.unwrap_or(0)),
        Err(status) => Err(format!("gRPC {:?}: {}", status.code(), status.message())),
    }
}

/// How much work a scenario does.
#[derive(Clone, Copy, Debug)]
pub enum Limit {
    Count(u64),
    For(Duration),
}

/// Hands out operation numbers to workers until the count is reached or the time is up.
pub struct Pacer {
    next: AtomicU64,
    count: Option<u64>,
    deadline: Option<Instant>,
}

impl Pacer {
    pub fn new(limit: Limit) -> Pacer {
        let (count, deadline) = match limit {
            Limit::Count(n) => (Some(n), None),
            Limit::For(d) => (None, Some(Instant::now() + d)),
        };
        Pacer {
            next: AtomicU64::new(0),
            count,
            deadline,
        }
    }

    /// The next operation number, or `None` when the work is done.
    pub fn next(&self) -> Option<u64> {
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return None;
        }
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        if self.count.is_some_and(|count| n >= count) {
            return None;
        }
        Some(n)
    }
}
