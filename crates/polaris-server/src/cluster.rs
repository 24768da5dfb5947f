//! Cluster-mode wiring: the beat store, the change-feed follower with its hints, membership,
//! and how this node names itself in a cluster: `host:port` of its naming gRPC listener (else its
//! HTTP listener), so several nodes may share one host. A listener on an unspecified address
//! (`0.0.0.0`, `::`) is named by the local address this machine uses to reach the database.

use std::net::{IpAddr, SocketAddr, UdpSocket};
use std::sync::Arc;

use polaris_cluster::{
    Domains, Follower, FollowerOptions, LiveNodes, Membership, MembershipOptions, NodeIdentity,
    RedisBeats, RedisHints, RedisOptions,
};
use polaris_health::{BeatStore, CheckOwner, MemoryBeats};
use polaris_naming::Naming;
use polaris_store::NamingStore;
use polaris_store::feed::DomainRevision;
use polaris_store_sql::{Dialect, SqlStore};

use crate::config::{RedisCheckerConfig, ServerConfig, StoreConfig};

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
fn identity(
    config: &ServerConfig,
    http: &Option<SocketAddr>,
    grpc: &Option<polaris_tls::Listener>,
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

/// The beat store the health checker uses, and the same store when it is Redis (for readiness).
pub type BeatStores = (Arc<dyn BeatStore>, Option<Arc<RedisBeats>>);

/// The heartbeat store the configuration asks for: Redis (`heartbeatRedis`) or memory.
pub fn beat_store(config: &ServerConfig) -> anyhow::Result<BeatStores> {
    match &config.healthcheck.redis {
        Some(redis) => {
            let beats = Arc::new(
                RedisBeats::connect(&redis_options(redis), Arc::new(polaris_naming::now_millis))
                    .map_err(|e| anyhow::anyhow!("healthcheck.checkers heartbeatRedis: {e}"))?,
            );
            tracing::info!(target: "polaris_health", addr = %redis.addr, "heartbeats kept in Redis");
            Ok((beats.clone(), Some(beats)))
        }
        None => Ok((Arc::new(MemoryBeats::default()), None)),
    }
}

fn redis_options(redis: &RedisCheckerConfig) -> RedisOptions {
    RedisOptions {
        addr: redis.addr.clone(),
        user: redis.user.clone(),
        password: redis.password.clone(),
        prefix: redis.prefix.clone(),
    }
}

/// The cluster-mode parts of a node on a shared SQL store.
pub struct Cluster {
    pub sql: Arc<SqlStore>,
    pub follower: Arc<Follower>,
    pub live: Arc<LiveNodes>,
    pub membership: Option<Arc<Membership>>,
    hints: Option<RedisHints>,
}

impl Cluster {
    /// Starts following the store from `start` (revisions read before the caches loaded), with
    /// Redis pub/sub hints on engines that have no notification channel of their own.
    pub fn start(
        config: &ServerConfig,
        sql: Arc<SqlStore>,
        domains: Domains,
        start: Vec<DomainRevision>,
    ) -> anyhow::Result<Cluster> {
        let store: Arc<dyn NamingStore> = sql.clone();
        let follower = Arc::new(
            Follower::start(store, domains, start, FollowerOptions::default())
                .map_err(|e| anyhow::anyhow!("starting the change-feed follower: {e}"))?,
        );
        let hints = match (&config.healthcheck.redis, sql.dialect()) {
            (Some(redis), Dialect::MySql) => Some(
                RedisHints::start(&redis_options(redis), &sql, follower.waker())
                    .map_err(|e| anyhow::anyhow!("change-feed hints over Redis: {e}"))?,
            ),
            _ => None,
        };
        Ok(Cluster {
            sql,
            follower,
            live: Arc::new(LiveNodes::default()),
            membership: None,
            hints,
        })
    }

    /// Which instances this node's checker judges.
    pub fn owner(&self) -> CheckOwner {
        let live = self.live.clone();
        CheckOwner(Arc::new(move |id: &str| live.owns(id)))
    }

    /// Joins the membership (once the listeners are bound and the node can be named).
    pub fn join(
        &mut self,
        config: &ServerConfig,
        http: &Option<SocketAddr>,
        grpc: &Option<polaris_tls::Listener>,
        naming: Arc<Naming>,
    ) {
        let me = identity(config, http, grpc);
        tracing::info!(target: "polaris_cluster", node = %me.id(), "joining the cluster");
        self.membership = Some(Arc::new(Membership::start(
            self.sql.cluster(),
            naming,
            me,
            self.live.clone(),
            MembershipOptions::default(),
        )));
    }

    /// Stops following and renewing (the lease then ends on its own).
    pub fn stop(&self) {
        self.follower.stop();
        if let Some(membership) = &self.membership {
            membership.stop();
        }
        if let Some(hints) = &self.hints {
            hints.stop();
        }
    }
}
