//! The client API under `/v1`: what SDKs call over HTTP.

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use polaris_discovery::Discovery;
use polaris_proto::v1;
use polaris_proto::v1::discover_request::DiscoverRequestType;
use polaris_types::Code;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::body::read_body;
use crate::console_namespaces::one;
use crate::governance::json::{parse_message, to_json};
use crate::reply::{Reply, json_reply};
use crate::wire::naming::{InstanceIn, instance_created};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/v1/RegisterInstance", post(register))
        .route("/v1/DeregisterInstance", post(deregister))
        .route("/v1/Heartbeat", post(heartbeat))
        .route("/v1/ReportClient", post(report_client))
        .route("/v1/Discover", post(discover))
}

async fn register(State(state): State<AppState>, body: Body) -> Response {
    let ins = match one::<InstanceIn>(body).await {
        Ok(ins) => ins,
        Err(reply) => return reply.into_response(),
    };
    match state.naming.register_instance(ins.spec()).await {
        Ok(created) => Reply::ok().with("instance", instance_created(&created)),
        Err(err) => Reply::from(err).with("instance", ins.echo()),
    }
    .into_response()
}

async fn deregister(State(state): State<AppState>, body: Body) -> Response {
    let ins = match one::<InstanceIn>(body).await {
        Ok(ins) => ins,
        Err(reply) => return reply.into_response(),
    };
    match state.naming.deregister_instance(&ins.spec()).await {
        Ok(()) => Reply::ok().with("instance", ins.echo()),
        Err(err) => Reply::from(err).with("instance", ins.echo()),
    }
    .into_response()
}

async fn heartbeat(State(state): State<AppState>, body: Body) -> Response {
    let ins = match one::<InstanceIn>(body).await {
        Ok(ins) => ins,
        Err(reply) => return reply.into_response(),
    };
    match state.health.heartbeat(&ins.spec()).await {
        Ok(()) => Reply::ok().with("instance", ins.echo()),
        Err(err) => Reply::from(err).with("instance", ins.echo()),
    }
    .into_response()
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ClientIn {
    host: Option<String>,
    location: Option<Value>,
}

async fn report_client(body: Body) -> Response {
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
async fn discover(State(state): State<AppState>, body: Body) -> Response {
    let request = match read_body(body)
        .await
        .and_then(|bytes| parse_message::<v1::DiscoverRequest>("v1.DiscoverRequest", &bytes))
    {
        Ok(request) => request,
        Err(err) => return Reply::from(err).into_response(),
    };
    let discovery = Discovery {
        naming: state.naming.clone(),
        governance: state.governance.clone(),
    };
    let mut response = discovery.answer(&request);
    let only_healthy = request
        .filter
        .as_ref()
        .is_some_and(|f| f.only_healthy_instance);
    if only_healthy && request.r#type == DiscoverRequestType::Instance as i32 {
        response.instances.retain(|i| i.healthy == Some(true));
    }
    let code = response.code.unwrap_or(Code::ExecuteSuccess.value());
    let info = response.info.clone().unwrap_or_default();
    json_reply(code, &info, &to_json(&response, "v1.DiscoverResponse"))
}
