//! Cluster visibility on the HTTP port: `GET /healthz/ready` (200 while this node is fit to
//! serve, 503 when its change feed lags or its beat store is unreachable, so a load balancer
//! drains it) and `GET /maintain/v1/cluster` (any valid console token): the nodes, the leader and
//! its fence, per-domain revisions of the database and of this node, and the beat store's state.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use polaris_auth::{Auth, Origin};
use polaris_cluster::{Follower, Membership, RedisBeats};
use polaris_store_sql::SqlStore;
use serde_json::{Value, json};

/// A node whose feed has not caught up for this long is not ready.
pub const READY_LAG: Duration = Duration::from_secs(5);

/// What the two routes read.
#[derive(Clone)]
pub struct ClusterState {
    pub auth: Arc<Auth>,
    pub store: Option<Arc<SqlStore>>,
    pub follower: Option<Arc<Follower>>,
    pub membership: Option<Arc<Membership>>,
    pub beats: Option<Arc<RedisBeats>>,
}

/// The routes, to merge into the HTTP OpenAPI router.
pub fn routes(state: ClusterState) -> Router {
    Router::new()
        .route("/healthz/ready", get(ready))
        .route("/maintain/v1/cluster", get(cluster))
        .with_state(state)
}

/// Why this node is not ready, if it is not.
async fn unready(state: &ClusterState) -> Option<String> {
    if let Some(follower) = &state.follower {
        let status = follower.status();
        match status.lag(tokio::time::Instant::now()) {
            Some(lag) if lag <= READY_LAG => {}
            Some(lag) => return Some(format!("the change feed lags by {} ms", lag.as_millis())),
            None => return Some("the change feed has not caught up yet".into()),
        }
    }
    if let Some(beats) = &state.beats
        && !beats.ping().await
    {
        return Some("the heartbeat store (Redis) is unreachable".into());
    }
    None
}

async fn ready(State(state): State<ClusterState>) -> Response {
    match unready(&state).await {
        None => (StatusCode::OK, "ready").into_response(),
        Some(reason) => (StatusCode::SERVICE_UNAVAILABLE, reason).into_response(),
    }
}

fn token(headers: &HeaderMap) -> Option<&str> {
    headers.get("X-Polaris-Token").and_then(|v| v.to_str().ok())
}

async fn cluster(State(state): State<ClusterState>, headers: HeaderMap) -> Response {
    if let Err(err) = state.auth.authenticate(Origin::AuthModule, token(&headers)) {
        let body = json!({"code": err.code.value(), "info": err.to_string()});
        let status =
            StatusCode::from_u16(err.code.http_status()).unwrap_or(StatusCode::UNAUTHORIZED);
        return (status, axum::Json(body)).into_response();
    }
    axum::Json(view(&state).await).into_response()
}

async fn view(state: &ClusterState) -> Value {
    let mut out = json!({"code": 200000, "info": "execute success", "mode": "single"});
    let Some(store) = &state.store else {
        return out;
    };
    out["mode"] = json!("cluster");
    let held = state.follower.as_ref().map(|f| f.status());
    let db = store.revisions().await;
    let mut domains = Vec::new();
    if let Ok(revisions) = &db {
        for (domain, revision, purged) in revisions {
            let node = held
                .as_ref()
                .and_then(|s| s.domains.get(domain))
                .map(|d| d.held);
            domains.push(
                json!({"domain": domain.as_str(), "db": revision, "node": node,
                "purged": purged}),
            );
        }
    }
    out["domains"] = json!(domains);
    if let Err(err) = &db {
        out["dbError"] = json!(err.to_string());
    }
    if let Some(status) = &held {
        out["feed"] = json!({
            "lagMs": status.lag(tokio::time::Instant::now()).map(|d| d.as_millis() as u64),
            "lastError": status.last_error,
            "rounds": status.rounds,
            "reloads": status.reloads,
        });
    }
    if let Some(membership) = &state.membership {
        let view = membership.view();
        out["node"] = json!(view.me);
        out["nodes"] = json!(
            view.nodes
                .iter()
                .map(
                    |n| json!({"id": n.id, "host": n.host, "port": n.port, "detail": n.detail,
                    "alive": n.lease_left_ms > 0, "leaseLeftMs": n.lease_left_ms})
                )
                .collect::<Vec<_>>()
        );
        out["leaders"] = json!(
            view.leases
                .iter()
                .map(
                    |l| json!({"key": l.key, "leader": l.leader, "fence": l.version,
                    "leaseLeftMs": l.lease_left_ms})
                )
                .collect::<Vec<_>>()
        );
        out["leading"] = json!(view.leading);
        out["ledFences"] = json!(view.led_fences);
        out["purges"] = json!(view.purges);
        out["membershipError"] = json!(view.last_error);
    }
    out["beatStore"] = match &state.beats {
        Some(beats) => {
            let s = beats.state();
            json!({"kind": "heartbeatRedis", "reachable": beats.ping().await,
                "recoveredAt": s.recovered_at, "errors": s.errors})
        }
        None => json!({"kind": "heartbeatMemory", "reachable": true}),
    };
    out
}
