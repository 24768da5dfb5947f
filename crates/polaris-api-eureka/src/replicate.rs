//! `POST /peerreplication/batch`: a Netflix Eureka server cluster replicating into polaris-rs
//! during a migration. Each item is applied like the client call it replicates; items run
//! concurrently so their writes share the store's group commits.

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use bytes::Bytes;
use polaris_auth::Access;
use polaris_types::{Code, PolarisError, Result};
use serde_json::{Value, json};
use tokio::task::JoinSet;

use crate::EurekaState;
use crate::docs::Format;
use crate::http::{self, document, refuse};
use crate::model::{EurekaInstance, STATUS_UP, text};

/// Sent by the official server's own replication; its batches are not applied (no loops).
const IDENTITY_HEADER: &str = "discoveryidentity-name";
const POLARIS_IDENTITY: &str = "PolarisServer";
/// Netflix's peers send at most 250 items a batch.
const MAX_ITEMS: usize = 1000;

async fn apply(
    state: &EurekaState,
    headers: &HeaderMap,
    namespace: &str,
    item: &Value,
) -> Result<()> {
    let action = text(item.get("action"));
    let app = text(item.get("appName"));
    let id = text(item.get("id"));
    if app.is_empty() {
        return Err(PolarisError::new(
            Code::InvalidServiceName,
            "appName is required",
        ));
    }
    if action != "Heartbeat" {
        state.check(headers, namespace, Some(&app), Access::Write)?;
    }
    match action.as_str() {
        "Register" => {
            let info = item.get("instanceInfo").cloned().unwrap_or(Value::Null);
            let instance = EurekaInstance::decode(&json!({ "instance": info }))?;
            state.register(namespace, &app, &instance).await
        }
        "Heartbeat" => state.renew(namespace, &app, &id).await,
        "Cancel" => state.cancel(namespace, &app, &id).await,
        "StatusUpdate" => {
            let status = text(item.get("status")).to_ascii_uppercase();
            let status = if status.is_empty() {
                STATUS_UP.to_string()
            } else {
                status
            };
            state.set_status(namespace, &app, &id, Some(&status)).await
        }
        "DeleteStatusOverride" => state.set_status(namespace, &app, &id, None).await,
        other => Err(PolarisError::new(
            Code::InvalidParameter,
            format!("unknown action {other:?}"),
        )),
    }
}

fn status_code(result: &Result<()>) -> u16 {
    match result {
        Ok(()) => 200,
        Err(err) => http::status_of(err.code).as_u16(),
    }
}

pub async fn batch(State(state): State<EurekaState>, headers: HeaderMap, body: Body) -> Response {
    let answer = |list: Vec<Value>| {
        let body = json!({ "responseList": list }).to_string();
        document(Format::Json, Bytes::from(body), false)
    };
    let from_polaris = headers
        .get(IDENTITY_HEADER)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == POLARIS_IDENTITY);
    if from_polaris {
        return answer(Vec::new());
    }
    let document = match http::read_document(&headers, body).await {
        Ok(d) => d,
        Err(err) => return refuse(&err),
    };
    let items = match document.get("replicationList") {
        Some(Value::Array(items)) => items.clone(),
        Some(Value::Object(one)) => vec![Value::Object(one.clone())],
        None | Some(Value::Null) => Vec::new(),
        Some(_) => {
            return refuse(&PolarisError::new(
                Code::ParseException,
                "replicationList must be a list",
            ));
        }
    };
    if items.len() > MAX_ITEMS {
        return refuse(&PolarisError::new(
            Code::BatchSizeOverLimit,
            format!("at most {MAX_ITEMS} items"),
        ));
    }
    let namespace = http::namespace(&headers, &state.ids.default_namespace);
    let mut tasks = JoinSet::new();
    for (index, item) in items.into_iter().enumerate() {
        let (state, headers, namespace) = (state.clone(), headers.clone(), namespace.clone());
        tasks.spawn(async move {
            (
                index,
                status_code(&apply(&state, &headers, &namespace, &item).await),
            )
        });
    }
    let mut codes = Vec::new();
    while let Some(done) = tasks.join_next().await {
        codes.push(done.unwrap_or((usize::MAX, 500)));
    }
    codes.sort_unstable();
    answer(
        codes
            .into_iter()
            .map(|(_, code)| json!({ "statusCode": code }))
            .collect(),
    )
}
