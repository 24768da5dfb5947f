//! What the console listener is told about this server: its session store and its node.

use std::sync::Arc;

use axum::Router;
use polaris_console::{Console, NodeInfo, Sessions};
use polaris_tls::Listener;

use crate::config::{ServerConfig, StoreConfig};

/// The console's shared state for a server with access control `auth` and checker `health`.
pub fn state(
    auth: &Arc<polaris_auth::Auth>,
    health: &Arc<polaris_health::Health>,
    node: NodeInfo,
) -> Console {
    Console {
        auth: auth.clone(),
        health: health.clone(),
        sessions: Arc::new(Sessions::default()),
        node: Arc::new(node),
    }
}

/// This node as the cluster page shows it: version, store and the bound listeners.
pub fn node_info(
    config: &ServerConfig,
    http: &Option<(Listener, Router)>,
    grpc: &Option<Listener>,
    config_grpc: &Option<Listener>,
    console: &Listener,
) -> NodeInfo {
    let mut listeners = Vec::new();
    let mut add = |name: &str, listener: Option<&Listener>| {
        if let Some(addr) = listener.and_then(|l| l.local_addr().ok()) {
            listeners.push((name.to_owned(), addr.to_string()));
        }
    };
    add("api-http", http.as_ref().map(|(l, _)| l));
    add("service-grpc", grpc.as_ref());
    add("config-grpc", config_grpc.as_ref());
    add("console", Some(console));
    let store = match &config.store {
        StoreConfig::Embedded { .. } => "embedded".to_owned(),
        StoreConfig::Sql { name, .. } => name.clone(),
    };
    NodeInfo {
        version: env!("CARGO_PKG_VERSION").to_owned(),
        started_at_millis: polaris_naming::now_millis(),
        mode: "standalone".to_owned(),
        store,
        listeners,
    }
}
