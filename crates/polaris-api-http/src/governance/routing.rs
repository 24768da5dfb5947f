//! Routing rules: `/naming/v2/routings` (v2 `RouteRule`, RulePolicy only, as in 1.18.1) and the
//! legacy `/naming/v1/routings`.
//!
//! The legacy v1 routes answer every item with 400000 "API is Deprecated", as the official
//! `main` branch does: 1.18.1 still converts v1 `Routing` bodies into v2 rules, but that path
//! has update semantics that can never succeed (governance.md §2.5) and clients moved to v2.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post, put};
use polaris_discovery::rules::checks::require_id;
use polaris_discovery::rules::{RULE_CONFIG, Refusal, RoutingRules, RuleCodec, routing_config};
use polaris_proto::v1;
use polaris_types::{Code, PolarisError};
use serde_json::Value;

use super::json::TYPE_PREFIX;
use super::{ConsoleKind, EnableKey, ListKind, Listed, Reading, list};
use crate::AppState;
use crate::batch::run_batch;
use crate::body::{Payload, Query};
use crate::listing::contains_or_exact;
use crate::reply::{BatchRule, Reply, query_error};

type C = RoutingRules;
const MISSING_ID: Code = Code::InvalidRoutingId;
/// Routing bodies are read with `v2.` types renamed and the config type filled in.
const READING: Reading = (true, fill_config_type);

impl ConsoleKind for RoutingRules {}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/naming/v2/routings",
            get(list::<C>).post(create).put(update),
        )
        .route("/naming/v2/routings/delete", post(delete))
        .route("/naming/v2/routings/enable", put(enable))
        .route(
            "/naming/v1/routings",
            get(deprecated_list).post(deprecated).put(deprecated),
        )
        .route("/naming/v1/routings/delete", post(deprecated))
}

/// Fills an empty or missing `routing_config.@type` from the policy, as the official server
/// does before unpacking.
fn fill_config_type(item: &mut Value) {
    let Some(object) = item.as_object_mut() else {
        return;
    };
    let policy = object
        .get("routing_policy")
        .or_else(|| object.get("routingPolicy"))
        .cloned();
    let config = match policy {
        Some(Value::String(p)) if p == "MetadataPolicy" => "v1.MetadataRoutingConfig",
        Some(Value::String(p)) if p == "NearbyPolicy" => "v1.NearbyRoutingConfig",
        Some(Value::Number(n)) if n.as_u64() == Some(1) => "v1.MetadataRoutingConfig",
        Some(Value::Number(n)) if n.as_u64() == Some(2) => "v1.NearbyRoutingConfig",
        _ => RULE_CONFIG,
    };
    for key in ["routing_config", "routingConfig"] {
        if let Some(Value::Object(any)) = object.get_mut(key) {
            let missing = any.get("@type").is_none_or(|t| t.as_str() == Some(""));
            if missing {
                any.insert("@type".into(), format!("{TYPE_PREFIX}{config}").into());
            }
        }
    }
}

/// A refused item, with the rule echoed in `data` where the official reply does.
fn refused(refusal: Refusal, rule: &v1::RouteRule) -> Reply {
    let reply = Reply::error(&refusal.err);
    if refusal.echo {
        reply.with("data", C::echo(rule))
    } else {
        reply
    }
}

async fn create(State(state): State<AppState>, body: Payload) -> Response {
    super::run_batch::<C, _, _>(state, body, READING, |state, rule| async move {
        let id = (!rule.id.is_empty()).then(|| rule.id.clone());
        match super::create::<C>(&state.governance, &rule, id).await {
            Ok(created) => {
                let mut out = rule;
                out.id = created.id.clone();
                Reply::ok().with("data", C::echo(&out))
            }
            Err(refusal) => refused(refusal, &rule),
        }
    })
    .await
}

async fn update(State(state): State<AppState>, body: Payload) -> Response {
    super::run_batch::<C, _, _>(state, body, READING, |state, rule| async move {
        if let Err(err) = require_id(&rule.id, MISSING_ID) {
            return Reply::error(&err);
        }
        match super::update::<C>(&state.governance, &rule, &rule.id).await {
            Ok(_) => Reply::ok(),
            // A domain refusal (unknown id...) never echoes.
            Err(refusal) => refused(refusal, &rule),
        }
    })
    .await
}

async fn enable(State(state): State<AppState>, body: Payload) -> Response {
    super::run_batch::<C, _, _>(state, body, READING, |state, rule| async move {
        match super::enable::<C>(&state.governance, &rule.id, MISSING_ID, rule.enable).await {
            Ok(_) => Reply::ok(),
            Err(err) => Reply::error(&err),
        }
    })
    .await
}

async fn delete(State(state): State<AppState>, body: Payload) -> Response {
    super::run_batch::<C, _, _>(state, body, READING, |state, rule| async move {
        if let Err(err) = require_id(&rule.id, MISSING_ID) {
            return Reply::error(&err);
        }
        match state.governance.delete(C::KIND, &rule.id).await {
            Ok(()) => Reply::ok().with("data", C::echo(&rule)),
            Err(err) => Reply::error(&err),
        }
    })
    .await
}

/// Legacy v1 writes: every item is refused, as on the official `main` branch.
async fn deprecated(body: Payload) -> Response {
    let refuse = |_: Value| async { Reply::from(deprecation()) };
    run_batch(body, BatchRule::Uniform, refuse).await
}

async fn deprecated_list() -> Response {
    query_error(&deprecation())
}

fn deprecation() -> PolarisError {
    PolarisError::new(Code::BadRequest, "API is Deprecated")
}

const LIST_KEYS: &[&str] = &[
    "service",
    "namespace",
    "source_service",
    "source_namespace",
    "destination_service",
    "destination_namespace",
    "order_field",
    "order_type",
];

/// One side of a service filter: a value ending in `*` is a substring match after the `*` is
/// stripped (`wildcard`), otherwise exact; an empty value matches anything.
fn side_matches(value: &str, filter: &str, wildcard: bool) -> bool {
    if wildcard {
        return contains_or_exact(value, filter);
    }
    // Official bug kept: for destinations a wildcard still needs equality after stripping.
    filter.is_empty() || value == filter.strip_suffix('*').unwrap_or(filter)
}

fn source_matches(s: &v1::SourceService, svc: &str, ns: &str) -> bool {
    side_matches(&s.service, svc, true) && side_matches(&s.namespace, ns, true)
}

fn destination_matches(d: &v1::DestinationGroup, svc: &str, ns: &str) -> bool {
    side_matches(&d.service, svc, false) && side_matches(&d.namespace, ns, false)
}

/// The service filters of §2.3.
fn services_match(cfg: &v1::RuleRoutingConfig, query: &Query) -> bool {
    if query.get("service").is_some() {
        let (svc, ns) = (query.text("service"), query.text("namespace"));
        return cfg.rules.iter().any(|sub| {
            sub.sources.iter().any(|s| source_matches(s, &svc, &ns))
                || sub
                    .destinations
                    .iter()
                    .any(|d| destination_matches(d, &svc, &ns))
        });
    }
    let (src_svc, src_ns) = (query.text("source_service"), query.text("source_namespace"));
    let (dst_svc, dst_ns) = (
        query.text("destination_service"),
        query.text("destination_namespace"),
    );
    let by_source = !(src_svc.is_empty() && src_ns.is_empty());
    let by_destination = !(dst_svc.is_empty() && dst_ns.is_empty());
    if !by_source && !by_destination {
        return true;
    }
    cfg.rules.iter().any(|sub| {
        (!by_source
            || sub
                .sources
                .iter()
                .any(|s| source_matches(s, &src_svc, &src_ns)))
            && (!by_destination
                || sub
                    .destinations
                    .iter()
                    .any(|d| destination_matches(d, &dst_svc, &dst_ns)))
    })
}

impl ListKind for RoutingRules {
    const LIST_KEYS: &'static [&'static str] = LIST_KEYS;

    const ENABLE_KEY: EnableKey = EnableKey::Enable;

    fn keep((r, _): &Listed<v1::RouteRule>, query: &Query) -> bool {
        contains_or_exact(&r.name, &query.text("name"))
            && services_match(&routing_config(r).unwrap_or_default(), query)
    }

    fn order(found: &mut [Listed<v1::RouteRule>], query: &Query) {
        if query.get("order_field") == Some("priority") {
            found.sort_by(|a, b| (a.0.priority, &a.0.id).cmp(&(b.0.priority, &b.0.id)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn side_match_wildcards() {
        assert!(side_matches("orders", "ord*", true));
        assert!(!side_matches("orders", "ord*", false));
        assert!(side_matches("ord", "ord*", false));
        assert!(side_matches("x", "", false));
        assert!(!side_matches("x", "y", true));
    }
}
