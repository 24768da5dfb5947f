//! `GET /console/v1/cluster`: the nodes of the cluster and their state, for the console's
//! cluster page. A single-node server answers with itself: its listeners, store and uptime.

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::Console;

/// What this node tells about itself.
#[derive(Clone, Debug, Default)]
pub struct NodeInfo {
    /// The server's version.
    pub version: String,
    /// When the process started, in Unix milliseconds.
    pub started_at_millis: i64,
    /// `standalone` today; a cluster member later.
    pub mode: String,
    /// The store kind (`embedded`, ...).
    pub store: String,
    /// Each listener's name and bound address.
    pub listeners: Vec<(String, String)>,
}

pub async fn cluster(State(console): State<Console>, headers: HeaderMap) -> Response {
    if let Some(refusal) = crate::refusal(&console, &headers) {
        return refusal;
    }
    let node = &console.node;
    let listeners: Vec<_> = node
        .listeners
        .iter()
        .map(|(name, addr)| json!({ "name": name, "address": addr }))
        .collect();
    let host = node
        .listeners
        .iter()
        .find(|(name, _)| name == "api-http")
        .or(node.listeners.first())
        .map(|(_, addr)| addr.clone())
        .unwrap_or_default();
    axum::Json(json!({
        "code": 200000,
        "mode": node.mode,
        "nodes": [{
            "name": host,
            "self": true,
            "role": "leader",
            "state": "serving",
            "version": node.version,
            "store": node.store,
            "startedAt": node.started_at_millis,
            "listeners": listeners,
        }],
    }))
    .into_response()
}
