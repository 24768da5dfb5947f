//! The client API under `/v1`: what SDKs call over HTTP.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Extension, Router};
use polaris_discovery::{Discovery, SharedAnswers};
use polaris_proto::v1;
use polaris_proto::v1::discover_request::DiscoverRequestType;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::batch::{echoed, shown};
use crate::body::Payload;
use crate::console_namespaces::one;
use crate::governance::json::parse_json;
use crate::reply::{Reply, json_bytes_reply};
use crate::wire::naming::{InstanceIn, instance_created};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/RegisterInstance", post(register))
        .route("/v1/DeregisterInstance", post(deregister))
        .route("/v1/Heartbeat", post(heartbeat))
        .route("/v1/ReportClient", post(report_client))
        .route(
            "/v1/Discover",
            post(discover).layer(Extension(Arc::new(DiscoverBodies::default()))),
        )
}

/// The JSON bodies of full instance answers, shared per service revision: one cache for
/// plain requests and one for `Filter.OnlyHealthyInstance` (whose answers differ).
#[derive(Default)]
struct DiscoverBodies {
    all: SharedAnswers,
    healthy: SharedAnswers,
}

async fn register(State(state): State<AppState>, body: Payload) -> Response {
    let ins = match one::<InstanceIn>(body).await {
        Ok(ins) => ins,
        Err(reply) => return reply.into_response(),
    };
    shown(
        state.naming.register_instance(ins.spec()).await,
        &ins,
        instance_created,
    )
    .into_response()
}

async fn deregister(State(state): State<AppState>, body: Payload) -> Response {
    let ins = match one::<InstanceIn>(body).await {
        Ok(ins) => ins,
        Err(reply) => return reply.into_response(),
    };
    echoed(state.naming.deregister_instance(&ins.spec()).await, &ins).into_response()
}

async fn heartbeat(State(state): State<AppState>, body: Payload) -> Response {
    let ins = match one::<InstanceIn>(body).await {
        Ok(ins) => ins,
        Err(reply) => return reply.into_response(),
    };
    echoed(state.health.heartbeat(&ins.spec()).await, &ins).into_response()
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ClientIn {
    host: Option<String>,
    location: Option<Value>,
}

async fn report_client(body: Payload) -> Response {
    match one::<ClientIn>(body).await {
        Ok(client) => Reply::ok()
            .with(
                "client",
                json!({ "host": client.host, "location": client.location }),
            )
            .into_response(),
        Err(reply) => reply.into_response(),
    }
}

/// `POST /v1/Discover`: the same answers as the gRPC stream (instances, service lists,
/// governance rules), in proto3 JSON. Over HTTP, `Filter.OnlyHealthyInstance` is honoured.
/// A full instance answer is rendered once per service revision and its bytes shared.
async fn discover(
    State(state): State<AppState>,
    Extension(bodies): Extension<Arc<DiscoverBodies>>,
    body: Payload,
) -> Response {
    let request = match body
        .json()
        .await
        .and_then(|json| parse_json::<v1::DiscoverRequest>("v1.DiscoverRequest", json))
    {
        Ok(request) => request,
        Err(err) => return Reply::from(err).into_response(),
    };
    let discovery = Discovery {
        naming: state.naming.clone(),
        governance: state.governance.clone(),
    };
    let only_healthy = request
        .filter
        .as_ref()
        .is_some_and(|f| f.only_healthy_instance)
        && request.r#type == DiscoverRequestType::Instance as i32;
    let shared = if only_healthy {
        &bodies.healthy
    } else {
        &bodies.all
    };
    let answer = discovery.answer_encoded(&request, shared, |mut response| {
        if only_healthy {
            response.instances.retain(|i| i.healthy == Some(true));
        }
        json_body(&response)
    });
    json_bytes_reply(answer.code, &answer.info, answer.bytes)
}

/// A Discover answer as proto3 JSON; `{}` (logged) in the unexpected case that it does not
/// serialise.
fn json_body(response: &v1::DiscoverResponse) -> Bytes {
    match serde_json::to_vec(response) {
        Ok(bytes) => Bytes::from(bytes),
        Err(err) => {
            tracing::error!(target: "polaris_api_http", %err, "discover answer rendering failed");
            Bytes::from_static(b"{}")
        }
    }
}
