//! The enforcement layer: every request passes here once, before its handler. It looks the
//! routed endpoint up in [`table`](super::table), establishes the caller from the
//! `X-Polaris-Token` header (or the token fields of a client body), checks the resources the
//! request names, hands the [`Operator`] to the handler as an extension, and trims list answers
//! to what the caller may see.

use axum::body::{Body, to_bytes};
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use polaris_auth::{Access, Auth, Operator, Origin, ResourceRef};
use polaris_types::{Code, PolarisError, ResourceKind};
use serde_json::Value;

use super::table::{self, Endpoint, Names, Op, Scope};
use crate::AppState;
use crate::body::{MAX_BODY_BYTES, Query};
use crate::reply::{BatchReply, Reply, query_error};

/// The header that carries the token, and its legacy spelling.
pub const TOKEN_HEADER: &str = "x-polaris-token";
const LEGACY_TOKEN_HEADER: &str = "polaris-token";

/// Creates that add what they create to the creator's default strategy.
const CREATES: [&str; 4] = [
    "/naming/v1/namespaces",
    "/core/v1/namespaces",
    "/naming/v1/services",
    "/config/v1/configfilegroups",
];

pub async fn enforce(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(matched) = request.extensions().get::<MatchedPath>() else {
        return next.run(request).await;
    };
    let endpoint = table::lookup(request.method(), matched.as_str())
        .cloned()
        .unwrap_or(Endpoint {
            method: request.method().clone(),
            path: "",
            scope: Scope::Console,
            op: Op::Write,
            names: Names::Nothing,
        });
    let origin = match endpoint.scope {
        Scope::Open | Scope::Heartbeat => return next.run(request).await,
        Scope::Console => Origin::Console,
        Scope::Client => Origin::Client,
        Scope::AuthModule => Origin::AuthModule,
    };
    let auth = state.auth.clone();
    let switched_on = match origin {
        Origin::Console => auth.options().console_open,
        Origin::Client => auth.options().client_open,
        Origin::AuthModule => true,
    };
    if !switched_on {
        // Checks are off for this kind of request: nothing is read or buffered.
        let mut request = request;
        request.extensions_mut().insert(Operator::Unchecked);
        return next.run(request).await;
    }
    let header_token = token_header(&request);
    let (parts, body) = request.into_parts();
    let needs_body = endpoint.names != Names::Nothing && !is_multipart(&parts.headers);
    let (body, bytes) = if needs_body {
        match to_bytes(body, MAX_BODY_BYTES).await {
            Ok(bytes) => (Body::from(bytes.clone()), bytes),
            Err(_) => {
                let err = PolarisError::new(
                    Code::ParseException,
                    format!("request body is unreadable or larger than {MAX_BODY_BYTES} bytes"),
                );
                return refuse(&endpoint, &err);
            }
        }
    } else {
        (body, Default::default())
    };
    let json: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    // A client body's own token (`service_token`, `service.token`) wins over the header, as
    // officially.
    let from_body = (endpoint.scope == Scope::Client)
        .then(|| body_token(&json))
        .flatten();
    let token = from_body.or(header_token);
    let operator = match auth.authenticate(origin, token.as_deref()) {
        Ok(operator) => operator,
        Err(err) => return refuse(&endpoint, &err),
    };
    let query = Query::parse(parts.uri.query());
    let resources = named_resources(endpoint.names, &query, &json);
    let access = match endpoint.op {
        Op::Read => Access::Read,
        Op::Write => Access::Write,
    };
    let creates = endpoint.op == Op::Write
        && parts.method == axum::http::Method::POST
        && CREATES.contains(&endpoint.path);
    let checked = !operator.is_owner() && endpoint.names != Names::Nothing;
    if checked {
        let must_name = endpoint.op == Op::Write && !creates;
        if must_name && resources.is_empty() {
            let err = PolarisError::new(
                Code::NotAllowedAccess,
                "the request names no resource this account may write",
            );
            return refuse(&endpoint, &err);
        }
        let to_check: Vec<ResourceRef> = if creates {
            resources
                .iter()
                .filter(|r| r.kind != ResourceKind::Namespace)
                .cloned()
                .collect()
        } else {
            resources.clone()
        };
        if let Err(err) = auth.authorize(&operator, access, &to_check) {
            return refuse(&endpoint, &err);
        }
    }
    let mut request = Request::from_parts(parts, body);
    request.extensions_mut().insert(operator.clone());
    let response = next.run(request).await;
    if checked && creates && response.status().is_success() {
        for resource in resources {
            if let Err(err) = auth.grant_creator(&operator, resource).await {
                tracing::warn!(target: "polaris_api_http", %err, "could not grant the creator");
            }
        }
    }
    if checked && endpoint.op == Op::Read && response.status().is_success() {
        return trim_listing(&auth, &operator, response).await;
    }
    response
}

fn token_header(request: &Request) -> Option<String> {
    let headers = request.headers();
    headers
        .get(TOKEN_HEADER)
        .or_else(|| headers.get(LEGACY_TOKEN_HEADER))
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .filter(|t| !t.trim().is_empty())
}

fn is_multipart(headers: &axum::http::HeaderMap) -> bool {
    headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("multipart/"))
}

/// The token a client body carries: `service_token` on an instance, `token` on a service.
fn body_token(json: &Value) -> Option<String> {
    let object = json.as_object()?;
    let direct = ["service_token", "serviceToken", "token"]
        .iter()
        .find_map(|k| text(object.get(*k)));
    direct.or_else(|| {
        object
            .get("service")
            .and_then(Value::as_object)
            .and_then(|s| text(s.get("token")))
    })
}

/// A string field, accepting the `{"value": ...}` wrapper form too.
fn text(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) if !s.is_empty() => Some(s.clone()),
        Value::Object(o) => text(o.get("value")),
        _ => None,
    }
}

fn field(object: &serde_json::Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter().find_map(|k| text(object.get(*k)))
}

/// The resources a request names in its query and JSON body (an object or an array of them).
pub fn named_resources(names: Names, query: &Query, json: &Value) -> Vec<ResourceRef> {
    let mut objects: Vec<serde_json::Map<String, Value>> = match json {
        Value::Array(items) => items
            .iter()
            .filter_map(|i| i.as_object().cloned())
            .collect(),
        Value::Object(o) => vec![o.clone()],
        _ => Vec::new(),
    };
    let mut from_query = serde_json::Map::new();
    for (key, value) in &query.0 {
        from_query.insert(key.clone(), Value::String(value.clone()));
    }
    if !from_query.is_empty() {
        objects.push(from_query);
    }
    let mut out = Vec::new();
    for object in objects {
        // A client Discover names its service as a nested object.
        let nested = object.get("service").and_then(Value::as_object);
        let namespace = field(&object, &["namespace", "namespace_name"])
            .or_else(|| nested.and_then(|s| field(s, &["namespace"])));
        let resource = match names {
            Names::Nothing => None,
            Names::Namespace => field(&object, &["name", "namespace"]).map(ResourceRef::namespace),
            Names::Service | Names::Instance | Names::Rule => {
                let service_keys: &[&str] = match names {
                    Names::Service => &["name", "service"],
                    _ => &["service"],
                };
                let service = field(&object, service_keys)
                    .or_else(|| nested.and_then(|s| field(s, &["name"])));
                match (namespace, service) {
                    (Some(ns), Some(svc)) => Some(ResourceRef::service(ns, svc)),
                    (Some(ns), None) => Some(ResourceRef::namespace(ns)),
                    _ => None,
                }
            }
            Names::ConfigGroup | Names::ConfigFile => {
                let group_keys: &[&str] = match names {
                    Names::ConfigGroup => &["name", "group"],
                    _ => &["group", "groupName"],
                };
                match (namespace, field(&object, group_keys)) {
                    (Some(ns), Some(group)) => Some(ResourceRef::config_group(ns, group)),
                    (Some(ns), None) => Some(ResourceRef::namespace(ns)),
                    _ => None,
                }
            }
        };
        if let Some(resource) = resource.filter(|r| !out.contains(r)) {
            out.push(resource);
        }
    }
    out
}

/// The refusal in the envelope the endpoint answers with.
fn refuse(endpoint: &Endpoint, err: &PolarisError) -> Response {
    let batch = endpoint.scope == Scope::Console
        && endpoint.op == Op::Write
        && endpoint.method != axum::http::Method::DELETE
        && !endpoint.path.starts_with("/config/");
    if endpoint.op == Op::Read && endpoint.scope == Scope::Console {
        query_error(err)
    } else if batch {
        BatchReply::failed(err)
    } else {
        Reply::error(err).into_response()
    }
}

/// Keeps, in every list of a JSON answer, the items the operator may read.
async fn trim_listing(auth: &Auth, operator: &Operator, response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, usize::MAX).await else {
        return Reply::of(Code::ExecuteException).into_response();
    };
    let Ok(Value::Object(mut object)) = serde_json::from_slice::<Value>(&bytes) else {
        return Response::from_parts(parts, Body::from(bytes));
    };
    let mut removed = 0usize;
    for (key, value) in object.iter_mut() {
        let Value::Array(items) = value else { continue };
        let before = items.len();
        items.retain(|item| visible(auth, operator, key, item));
        removed += before - items.len();
    }
    if removed > 0 {
        for key in ["amount", "total"] {
            if let Some(n) = object.get(key).and_then(Value::as_u64) {
                object.insert(key.to_string(), (n.saturating_sub(removed as u64)).into());
            }
        }
        let size = object
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "responses"))
            .filter_map(|(_, v)| v.as_array().map(Vec::len))
            .max()
            .unwrap_or(0);
        if object.contains_key("size") {
            object.insert("size".to_string(), size.into());
        }
    }
    let bytes = serde_json::to_vec(&Value::Object(object)).unwrap_or_default();
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(bytes))
}

fn visible(auth: &Auth, operator: &Operator, list: &str, item: &Value) -> bool {
    let Some(object) = item.as_object() else {
        return true;
    };
    let namespace = field(object, &["namespace"]);
    let resource = match (list, namespace) {
        ("namespaces", _) => field(object, &["name"]).map(ResourceRef::namespace),
        ("services", Some(ns)) => field(object, &["name"]).map(|n| ResourceRef::service(ns, n)),
        ("instances", Some(ns)) => field(object, &["service"]).map(|n| ResourceRef::service(ns, n)),
        ("configFileGroups", Some(ns)) => {
            field(object, &["name"]).map(|n| ResourceRef::config_group(ns, n))
        }
        (_, Some(ns)) => Some(match field(object, &["group"]) {
            Some(group) => ResourceRef::config_group(ns, group),
            None => ResourceRef::namespace(ns),
        }),
        (_, None) => None,
    };
    resource.is_none_or(|r| auth.can_read(operator, &r))
}
