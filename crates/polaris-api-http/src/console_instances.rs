//! `/naming/v1/instances` and its host-wide operations.

use std::sync::Arc;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use polaris_naming::InstanceFilter;
use polaris_types::{Code, PolarisError, ServiceKey};
use serde_json::json;

use crate::AppState;
use crate::auth::guard::Visibility;
use crate::body::{Payload, Query};
use std::collections::HashSet;

use crate::batch::{Echo, decode_batch, echoing_batch, join_in_order, shown};
use crate::rendered::Rendered;
use crate::reply::{
    BatchReply, BatchRule, Reply, json_bytes_reply, query_body, query_error, query_reply,
};
use crate::wire::naming::{InstanceIn, instance_created, instance_out};

/// How this module's batches pick their code.
const RULE: BatchRule = BatchRule::Uniform;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/naming/v1/instances",
            get(list)
                .layer(Extension(Arc::new(ListBodies::default())))
                .post(create)
                .put(update),
        )
        .route("/naming/v1/instances/delete", post(delete))
        .route("/naming/v1/instances/delete/host", post(delete_by_host))
        .route("/naming/v1/instances/isolate/host", put(isolate_by_host))
        .route("/naming/v1/instances/count", get(count))
        .route("/naming/v1/instances/labels", get(labels))
}

/// Registers the items concurrently; an id seen earlier in the same batch is refused with
/// `SameInstanceRequest`, as officially.
async fn create(State(state): State<AppState>, body: Payload) -> Response {
    let items = match decode_batch::<InstanceIn>(body).await {
        Ok(items) => items,
        Err(response) => return response,
    };
    let mut seen = HashSet::new();
    let futures: Vec<_> = items
        .into_iter()
        .map(|ins| {
            let naming = state.naming.clone();
            let duplicate = !seen.insert(ins.spec().resolved_id());
            async move {
                if duplicate {
                    return Reply::of(Code::SameInstanceRequest).with("instance", ins.echo());
                }
                shown(
                    naming.register_instance(ins.spec()).await,
                    &ins,
                    instance_created,
                )
            }
        })
        .collect();
    let mut reply = BatchReply::new(BatchRule::Uniform);
    for item in join_in_order(futures).await {
        reply.push(item);
    }
    reply.into_response()
}

async fn update(State(state): State<AppState>, body: Payload) -> Response {
    echoing_batch(&state, body, RULE, |naming, ins: InstanceIn| async move {
        naming.update_instance(ins.spec()).await
    })
    .await
}

async fn delete(State(state): State<AppState>, body: Payload) -> Response {
    echoing_batch(&state, body, RULE, |naming, ins: InstanceIn| async move {
        naming.deregister_instance(&ins.spec()).await
    })
    .await
}

fn host_target(ins: &InstanceIn) -> (ServiceKey, String) {
    let key = ServiceKey::new(
        ins.namespace.clone().unwrap_or_default(),
        ins.service.clone().unwrap_or_default(),
    );
    (key, ins.host.clone().unwrap_or_default())
}

async fn delete_by_host(State(state): State<AppState>, body: Payload) -> Response {
    echoing_batch(&state, body, RULE, |naming, ins: InstanceIn| async move {
        let (key, host) = host_target(&ins);
        naming.delete_instances_by_host(&key, &host).await
    })
    .await
}

async fn isolate_by_host(State(state): State<AppState>, body: Payload) -> Response {
    echoing_batch(&state, body, RULE, |naming, ins: InstanceIn| async move {
        let (key, host) = host_target(&ins);
        naming.isolate_host(&key, &host, ins.isolate).await
    })
    .await
}

const LIST_KEYS: &[&str] = &[
    "id",
    "service",
    "namespace",
    "host",
    "port",
    "keys",
    "values",
    "protocol",
    "version",
    "health_status",
    "healthy",
    "isolate",
    "weight",
    "logic_set",
    "cmdb_region",
    "cmdb_zone",
    "cmdb_idc",
    "priority",
    "offset",
    "limit",
    "show_last_heartbeat",
];

/// Metadata keys the official list hides because they duplicate instance fields.
const HIDDEN_METADATA: &[&str] = &["version", "protocol", "region", "zone", "campus"];

fn instance_filter(query: &Query) -> Result<InstanceFilter, PolarisError> {
    if query.is_empty() {
        return Err(Code::EmptyQueryParameter.into());
    }
    query.check_keys(LIST_KEYS, &[])?;
    let (keys, values) = (query.list("keys"), query.list("values"));
    if keys.len() != values.len() {
        return Err(PolarisError::new(
            Code::InvalidQueryInsParameter,
            "keys and values must pair up",
        ));
    }
    let number = |key: &str| query.get(key).and_then(|v| v.parse::<u32>().ok());
    Ok(InstanceFilter {
        visible: Default::default(),
        id: query.text("id"),
        namespace: query.text("namespace"),
        service: query.text("service"),
        hosts: query.list("host"),
        port: number("port"),
        weight: number("weight"),
        protocol: query.text("protocol"),
        version: query.text("version"),
        healthy: query
            .boolean("healthy")
            .or_else(|| query.boolean("health_status")),
        isolate: query.boolean("isolate"),
        metadata: keys.into_iter().zip(values).collect(),
        region: query.text("cmdb_region"),
        zone: query.text("cmdb_zone"),
        campus: query.text("cmdb_idc"),
    })
}

/// Rendered lists of one whole service by raw query string, each with the service and the
/// revision of it that it shows: the list only changes when the service or one of its
/// instances does. Only queries that parsed and listed are stored, so a stored query string
/// needs no parsing again.
type ListBodies = Rendered<String, (ServiceKey, Arc<str>)>;

async fn list(
    State(state): State<AppState>,
    Extension(bodies): Extension<Arc<ListBodies>>,
    Visibility(visible): Visibility,
    RawQuery(raw): RawQuery,
) -> Response {
    let raw = raw.unwrap_or_default();
    // Only a caller who sees everything gets a shared list; anyone else's is filtered for them.
    let shared = visible.is_everything();
    if shared {
        let snapshot = state.naming.snapshot();
        let current = |(key, revision): &(ServiceKey, Arc<str>)| {
            snapshot
                .service(key)
                .is_some_and(|v| Arc::ptr_eq(&v.revision, revision) || v.revision == *revision)
        };
        if let Some(bytes) = bodies.get(&raw, current) {
            return success(bytes);
        }
    }
    let query = Query::parse(Some(&raw));
    let (mut filter, page) = match instance_filter(&query).and_then(|f| Ok((f, query.page()?))) {
        Ok(parsed) => parsed,
        Err(err) => return query_error(&err),
    };
    let before = shared.then(|| current_revision(&state, &filter)).flatten();
    filter.visible = visible;
    let paged = state.naming.list_instances(&filter, page);
    let snapshot = state.naming.snapshot();
    let items = paged
        .items
        .iter()
        .map(|i| {
            let token = snapshot
                .service(&i.service_key())
                .map(|v| v.service.token.as_str());
            let mut value = instance_out(i, token);
            if let Some(metadata) = value["metadata"].as_object_mut() {
                metadata.retain(|k, _| !HIDDEN_METADATA.contains(&k.as_str()));
            }
            value
        })
        .collect();
    let bytes = query_body("instances", paged.total, items);
    // Store the list only if the service did not change while it was built.
    if let Some(before) = before
        && current_revision(&state, &filter).as_ref() == Some(&before)
    {
        bodies.put(raw, before, bytes.clone());
    }
    success(bytes)
}

/// The service a filter lists in full: named exactly, with no wildcard.
fn one_service(filter: &InstanceFilter) -> Option<ServiceKey> {
    let exact = |name: &str| !name.is_empty() && !name.contains('*');
    (exact(&filter.namespace) && exact(&filter.service))
        .then(|| ServiceKey::new(filter.namespace.clone(), filter.service.clone()))
}

/// The service a filter lists in full and its current revision.
fn current_revision(state: &AppState, filter: &InstanceFilter) -> Option<(ServiceKey, Arc<str>)> {
    let key = one_service(filter)?;
    let revision = state.naming.snapshot().service(&key)?.revision.clone();
    Some((key, revision))
}

fn success(bytes: Bytes) -> Response {
    let code = Code::ExecuteSuccess;
    json_bytes_reply(code.value(), code.info(), bytes)
}

async fn count(State(state): State<AppState>) -> Response {
    query_reply("instances", state.naming.count_instances(), Vec::new())
}

async fn labels(State(state): State<AppState>, query: Query) -> Response {
    let namespace = query
        .get("namespace")
        .filter(|n| !n.is_empty())
        .unwrap_or("default");
    let key = ServiceKey::new(namespace, query.text("service"));
    let labels: serde_json::Map<_, _> = state
        .naming
        .instance_labels(&key)
        .into_iter()
        .map(|(k, values)| (k, json!({ "values": values })))
        .collect();
    Reply::ok()
        .with(
            "instanceLabels",
            json!({ "labels": labels, "namespace": "", "service": "", "serviceId": "" }),
        )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_unknown_queries_are_refused() {
        let code = |q: &str| {
            instance_filter(&Query::parse(Some(q)))
                .map(|_| ())
                .map_err(|e| e.code)
        };
        assert_eq!(code(""), Err(Code::EmptyQueryParameter));
        assert_eq!(code("bogus=1"), Err(Code::InvalidParameter));
        assert_eq!(code("service="), Err(Code::InvalidParameter));
        assert_eq!(code("keys=a"), Err(Code::InvalidQueryInsParameter));
        assert_eq!(code("host=1.2.3.4"), Ok(()));
    }
}
