//! The client API under `/v1`: what SDKs call over HTTP.

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use polaris_types::{Code, PolarisError, ServiceKey};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::AppState;
use crate::console_namespaces::one;
use crate::reply::{Reply, json_reply};
use crate::wire::naming::{InstanceIn, instance_created, instance_out, service_out};

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

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct DiscoverServiceIn {
    name: Option<String>,
    namespace: Option<String>,
    revision: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct DiscoverFilterIn {
    #[serde(rename = "OnlyHealthyInstance", alias = "onlyHealthyInstance")]
    only_healthy_instance: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct DiscoverIn {
    #[serde(rename = "type")]
    kind: Option<Value>,
    service: Option<DiscoverServiceIn>,
    #[serde(rename = "Filter", alias = "filter")]
    filter: Option<DiscoverFilterIn>,
}

/// Discover request/response types by number, as the specification lists them.
const DISCOVER_TYPES: &[(u64, &str)] = &[
    (0, "UNKNOWN"),
    (1, "INSTANCE"),
    (2, "CLUSTER"),
    (3, "ROUTING"),
    (4, "RATE_LIMIT"),
    (5, "CIRCUIT_BREAKER"),
    (6, "SERVICES"),
    (12, "NAMESPACES"),
    (13, "FAULT_DETECTOR"),
    (100, "LANE"),
    (101, "CUSTOM_ROUTE_RULE"),
    (102, "NEARBY_ROUTE_RULE"),
    (103, "LOSSLESS"),
    (104, "BLOCK_ALLOW_RULE"),
    (105, "TRAFFIC_MIRRORING"),
    (106, "FAULT_INJECTION"),
];

/// The type name a request asked for (by name or number); `UNKNOWN` when absent.
fn discover_type(kind: &Option<Value>) -> Result<&'static str, PolarisError> {
    let found = match kind {
        None | Some(Value::Null) => Some("UNKNOWN"),
        Some(Value::String(name)) => DISCOVER_TYPES
            .iter()
            .find(|(_, n)| n == name)
            .map(|(_, n)| *n),
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|v| DISCOVER_TYPES.iter().find(|(k, _)| *k == v))
            .map(|(_, n)| *n),
        Some(_) => None,
    };
    found.ok_or_else(|| PolarisError::new(Code::ParseException, "unknown discover type"))
}

fn discover_reply(code: Code, info: String, mut body: serde_json::Map<String, Value>) -> Response {
    body.insert("code".into(), code.value().into());
    body.insert("info".into(), info.clone().into());
    json_reply(code.value(), &info, &Value::Object(body))
}

async fn discover(State(state): State<AppState>, body: Body) -> Response {
    let request = match one::<DiscoverIn>(body).await {
        Ok(request) => request,
        Err(reply) => return reply.into_response(),
    };
    let kind = match discover_type(&request.kind) {
        Ok(kind) => kind,
        Err(err) => return Reply::from(err).into_response(),
    };
    let asked = request.service.unwrap_or_default();
    let namespace = asked.namespace.clone().filter(|n| !n.is_empty());
    let revision = asked.revision.clone().unwrap_or_default();
    let echo = json!({ "name": asked.name, "namespace": namespace, "revision": asked.revision });
    let mut body = serde_json::Map::new();
    body.insert("type".into(), kind.into());
    body.insert("service".into(), echo);
    match kind {
        "INSTANCE" => {
            let key = ServiceKey::new(
                namespace.unwrap_or_else(|| polaris_types::DEFAULT_NAMESPACE.to_string()),
                asked.name.unwrap_or_default(),
            );
            let only_healthy = request
                .filter
                .and_then(|f| f.only_healthy_instance)
                .unwrap_or(false);
            discover_instances(&state, &key, &revision, only_healthy, body)
        }
        "SERVICES" => {
            let found = state
                .naming
                .discover_services(namespace.as_deref().unwrap_or_default(), &revision);
            if found.unchanged {
                return discover_reply(Code::DataNoChange, Code::DataNoChange.info().into(), body);
            }
            let services: Vec<Value> = found
                .services
                .iter()
                .map(
                    |s| json!({ "name": s.name, "namespace": s.namespace, "metadata": s.metadata }),
                )
                .collect();
            body.insert(
                "service".into(),
                json!({ "name": asked.name, "namespace": namespace.unwrap_or_default(), "revision": found.revision }),
            );
            body.insert("services".into(), services.into());
            discover_reply(
                Code::ExecuteSuccess,
                Code::ExecuteSuccess.info().into(),
                body,
            )
        }
        // Types this server does not serve yet: echo the type with an empty success.
        _ => discover_reply(
            Code::ExecuteSuccess,
            Code::ExecuteSuccess.info().into(),
            body,
        ),
    }
}

fn discover_instances(
    state: &AppState,
    key: &ServiceKey,
    revision: &str,
    only_healthy: bool,
    mut body: serde_json::Map<String, Value>,
) -> Response {
    let found = match state.naming.discover_instances(key, revision) {
        Ok(found) => found,
        Err(err) => return discover_reply(err.code, err.info(), body),
    };
    if found.unchanged {
        return discover_reply(Code::DataNoChange, Code::DataNoChange.info().into(), body);
    }
    let mut service = service_out(&found.view);
    service["name"] = key.name.clone().into();
    service["namespace"] = key.namespace.clone().into();
    let instances: Vec<Value> = found
        .view
        .instances
        .values()
        .filter(|i| !only_healthy || i.healthy)
        .map(|i| instance_out(i, None))
        .collect();
    body.insert("aliasFor".into(), service_out(&found.view));
    body.insert("service".into(), service);
    body.insert("instances".into(), instances.into());
    discover_reply(
        Code::ExecuteSuccess,
        Code::ExecuteSuccess.info().into(),
        body,
    )
}
