//! The enforcement layer: every request passes here once, before its handler. It names the
//! routed [`Endpoint`] from [`table`](super::table), and unless `polaris-auth` says the endpoint
//! is unchecked, establishes the caller from the `X-Polaris-Token` header (or the token fields
//! of a client body), reads the resources the request names and lets [`Auth::allowed`] decide.
//! The handler receives the [`Operator`] and the caller's [`Visible`] filter as extensions;
//! list handlers pass the filter into their list queries, so pages and totals count only what
//! the caller may read. The body is parsed once here and the parsed JSON handed on
//! ([`Parsed`]), so handlers do not parse it again.

use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use polaris_auth::{Access, Endpoint, Operator, ResourceRef, Scope, Target};
use polaris_types::{Code, PolarisError, Visible};
use serde_json::Value;

use super::table;
use crate::AppState;
use crate::body::{MAX_BODY_BYTES, Parsed, Query};
use crate::reply::{BatchReply, Reply, query_error};

/// The caller's visible-resource filter as the enforcement layer left it, for list handlers
/// to pass into their queries (everything when the request was not checked).
pub struct Visibility(pub Visible);

impl<S: Send + Sync> FromRequestParts<S> for Visibility {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, Self::Rejection> {
        let visible = parts.extensions.get::<Visible>().cloned();
        Ok(Visibility(visible.unwrap_or_default()))
    }
}

/// The header that carries the token, and its legacy spelling.
pub const TOKEN_HEADER: &str = "x-polaris-token";
const LEGACY_TOKEN_HEADER: &str = "polaris-token";

pub async fn enforce(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let Some(matched) = request.extensions().get::<MatchedPath>() else {
        return next.run(request).await;
    };
    let listed = table::lookup(request.method(), matched.as_str());
    // An unlisted route keeps the batch envelope of console writes.
    let path = listed.map_or(String::new(), |_| matched.as_str().to_string());
    let endpoint = listed.unwrap_or(Endpoint::Unlisted);
    let auth = state.auth.clone();
    if matches!(
        endpoint.scope(),
        Scope::Open | Scope::Heartbeat | Scope::Report
    ) {
        return next.run(request).await;
    }
    if !auth.checks(endpoint) {
        // Checks are off for this kind of request: nothing is read or buffered.
        let mut request = request;
        request.extensions_mut().insert(Operator::Unchecked);
        request.extensions_mut().insert(Visible::everything());
        return next.run(request).await;
    }
    let header_token = token_header(&request);
    let (mut parts, body) = request.into_parts();
    let needs_body = endpoint.target() != Target::Nothing && !is_multipart(&parts.headers);
    let (body, json) = if needs_body {
        match to_bytes(body, MAX_BODY_BYTES).await {
            Ok(bytes) => {
                let json = serde_json::from_slice::<Value>(&bytes).ok();
                (Body::from(bytes), json)
            }
            Err(_) => {
                let err = PolarisError::new(
                    Code::ParseException,
                    format!("request body is unreadable or larger than {MAX_BODY_BYTES} bytes"),
                );
                return refuse(endpoint, &parts.method, &path, &err);
            }
        }
    } else {
        (body, None)
    };
    let json = json.unwrap_or(Value::Null);
    // A client body's own token (`service_token`, `service.token`) wins over the header, as
    // officially.
    let from_body = (endpoint.scope() == Scope::Client)
        .then(|| body_token(&json))
        .flatten();
    let token = from_body.or(header_token);
    let operator = match auth.caller(endpoint, token.as_deref()) {
        Ok(operator) => operator,
        Err(err) => return refuse(endpoint, &parts.method, &path, &err),
    };
    // Only a restricted caller is judged on what the request names (owners may do anything).
    let resources = if auth.restricted(&operator, endpoint) {
        named_resources(endpoint.target(), &Query::parse(parts.uri.query()), &json)
    } else {
        Vec::new()
    };
    if let Err(err) = auth.allowed(&operator, endpoint, &resources) {
        return refuse(endpoint, &parts.method, &path, &err);
    }
    parts.extensions.insert(operator.clone());
    parts.extensions.insert(auth.visible(&operator, endpoint));
    if !json.is_null() {
        parts.extensions.insert(Parsed(Arc::new(json)));
    }
    let response = next.run(Request::from_parts(parts, body)).await;
    if response.status().is_success() {
        auth.created(&operator, endpoint, &resources).await;
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
pub fn named_resources(target: Target, query: &Query, json: &Value) -> Vec<ResourceRef> {
    let mut objects: Vec<&serde_json::Map<String, Value>> = match json {
        Value::Array(items) => items.iter().filter_map(Value::as_object).collect(),
        Value::Object(o) => vec![o],
        _ => Vec::new(),
    };
    let mut from_query = serde_json::Map::new();
    for (key, value) in &query.0 {
        from_query.insert(key.clone(), Value::String(value.clone()));
    }
    if !from_query.is_empty() {
        objects.push(&from_query);
    }
    let mut out = Vec::new();
    for object in objects {
        // A client Discover names its service as a nested object.
        let nested = object.get("service").and_then(Value::as_object);
        let namespace = field(object, &["namespace", "namespace_name"])
            .or_else(|| nested.and_then(|s| field(s, &["namespace"])));
        let resource = match target {
            Target::Nothing => None,
            Target::Namespace => field(object, &["name", "namespace"]).map(ResourceRef::namespace),
            Target::Service | Target::Instance | Target::Rule => {
                let service_keys: &[&str] = match target {
                    Target::Service => &["name", "service"],
                    _ => &["service"],
                };
                let service = field(object, service_keys)
                    .or_else(|| nested.and_then(|s| field(s, &["name"])));
                match (namespace, service) {
                    (Some(ns), Some(svc)) => Some(ResourceRef::service(ns, svc)),
                    (Some(ns), None) => Some(ResourceRef::namespace(ns)),
                    _ => None,
                }
            }
            Target::ConfigGroup | Target::ConfigFile => {
                let group_keys: &[&str] = match target {
                    Target::ConfigGroup => &["name", "group"],
                    _ => &["group", "groupName"],
                };
                match (namespace, field(object, group_keys)) {
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

/// The refusal in the envelope the endpoint answers with: console reads a query error,
/// console batch writes (not the config center's, not DELETE) a batch reply, everything else a
/// plain reply.
fn refuse(endpoint: Endpoint, method: &Method, path: &str, err: &PolarisError) -> Response {
    let console = endpoint.scope() == Scope::Console;
    if console && endpoint.access() == Access::Read {
        query_error(err)
    } else if console && *method != Method::DELETE && !path.starts_with("/config/") {
        BatchReply::failed(err)
    } else {
        Reply::error(err).into_response()
    }
}
