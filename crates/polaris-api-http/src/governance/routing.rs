//! Routing rules: `/naming/v2/routings` (v2 `RouteRule`, RulePolicy only, as in 1.18.1) and the
//! legacy `/naming/v1/routings`.
//!
//! The legacy v1 routes answer every item with 400000 "API is Deprecated", as the official
//! `main` branch does: 1.18.1 still converts v1 `Routing` bodies into v2 rules, but that path
//! has update semantics that can never succeed (governance.md §2.5) and clients moved to v2.

use axum::Router;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use polaris_governance::{RuleFilter, RuleSpec};
use polaris_proto::v1;
use polaris_types::validate::is_valid_name;
use polaris_types::{Code, PolarisError, Result, Rule, RuleKind, RuleTarget, TargetRole};
use prost::Message;
use serde_json::Value;

use super::json::{TYPE_PREFIX, decode_body, to_any_json};
use super::{
    add_target, check_count, check_match, failure, list_query, page_reply, require_id, run_batch,
    runes, time,
};
use crate::AppState;
use crate::body::Query;
use crate::reply::{BatchReply, BatchRule, Reply, query_error};

const MESSAGE: &str = "v1.RouteRule";
const RULE_CONFIG: &str = "v1.RuleRoutingConfig";
const MAX_PRIORITY: u32 = 10;
const KIND: RuleKind = RuleKind::Routing;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/naming/v2/routings", get(list).post(create).put(update))
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

/// A validation failure, and whether the official reply echoes the rule in `data`.
struct Refusal {
    err: PolarisError,
    echo: bool,
}

impl From<PolarisError> for Refusal {
    fn from(err: PolarisError) -> Self {
        Refusal { err, echo: false }
    }
}

fn refuse(code: Code, detail: impl Into<String>, echo: bool) -> Refusal {
    Refusal {
        err: PolarisError::new(code, detail),
        echo,
    }
}

/// Every source and destination of a config, top level and sub-rules.
fn sides(cfg: &v1::RuleRoutingConfig) -> (Vec<&v1::SourceService>, Vec<&v1::DestinationGroup>) {
    let sources = cfg
        .sources
        .iter()
        .chain(cfg.rules.iter().flat_map(|r| r.sources.iter()))
        .collect();
    let destinations = cfg
        .destinations
        .iter()
        .chain(cfg.rules.iter().flat_map(|r| r.destinations.iter()))
        .collect();
    (sources, destinations)
}

/// Size limits and match strings of a rule config.
fn check_config(cfg: &v1::RuleRoutingConfig) -> Result<()> {
    let (sources, destinations) = sides(cfg);
    check_count(sources.len(), "sources")?;
    check_count(destinations.len(), "destinations")?;
    check_count(cfg.rules.len(), "sub-rules")?;
    let arguments = sources.iter().map(|s| s.arguments.len()).sum();
    check_count(arguments, "source arguments")?;
    check_count(
        destinations.iter().map(|d| d.labels.len()).sum(),
        "destination labels",
    )?;
    let code = Code::InvalidParameter;
    for arg in sources.iter().flat_map(|s| s.arguments.iter()) {
        check_match(
            arg.value.as_ref(),
            code,
            &format!("source argument {:?}", arg.key),
        )?;
    }
    for (key, label) in destinations.iter().flat_map(|d| d.labels.iter()) {
        check_match(Some(label), code, &format!("destination label {key:?}"))?;
    }
    Ok(())
}

/// The official normalisation on save (parseSubRouteRule).
fn normalize(cfg: &mut v1::RuleRoutingConfig) {
    if cfg.rules.is_empty() {
        cfg.rules.push(v1::SubRuleRouting {
            name: String::new(),
            sources: cfg.sources.clone(),
            destinations: cfg.destinations.clone(),
        });
        return;
    }
    for sub in &mut cfg.rules {
        if sub.sources.is_empty() {
            sub.sources = cfg.sources.clone();
        }
        if sub.destinations.is_empty() {
            sub.destinations = cfg.destinations.clone();
        }
    }
    cfg.sources.clear();
    cfg.destinations.clear();
}

/// Validates a rule (create and update) and turns it into a domain spec.
fn spec(rule: &v1::RouteRule, id: Option<String>) -> std::result::Result<RuleSpec, Refusal> {
    if runes(&rule.name) > 64 {
        return Err(refuse(
            Code::InvalidRoutingName,
            "name is longer than 64 characters",
            true,
        ));
    }
    if runes(&rule.namespace) > 64 {
        return Err(refuse(
            Code::InvalidNamespaceName,
            "namespace is longer than 64 characters",
            false,
        ));
    }
    if rule.priority > MAX_PRIORITY {
        return Err(refuse(Code::InvalidRoutingPriority, "", false));
    }
    if rule.routing_policy != v1::RoutingPolicy::RulePolicy as i32 {
        return Err(refuse(Code::InvalidRoutingPolicy, "", true));
    }
    let Some(any) = rule.routing_config.as_ref() else {
        return Err(refuse(
            Code::InvalidRoutingPolicy,
            "routing_config is required",
            true,
        ));
    };
    if any.type_url != format!("{TYPE_PREFIX}{RULE_CONFIG}") {
        return Err(refuse(
            Code::ExecuteException,
            format!("routing_config is {}, not {RULE_CONFIG}", any.type_url),
            false,
        ));
    }
    let mut cfg = v1::RuleRoutingConfig::decode(any.value.as_slice())
        .map_err(|e| refuse(Code::ExecuteException, e.to_string(), false))?;
    check_config(&cfg)?;
    normalize(&mut cfg);
    let mut targets: Vec<RuleTarget> = Vec::new();
    let (sources, destinations) = sides(&cfg);
    for s in sources {
        add_target(&mut targets, &s.namespace, &s.service, TargetRole::Caller);
    }
    for d in destinations {
        add_target(&mut targets, &d.namespace, &d.service, TargetRole::Callee);
    }
    let mut stored = rule.clone();
    if let Some(any) = stored.routing_config.as_mut() {
        any.value = cfg.encode_to_vec();
    }
    // The domain needs a valid namespace; an empty one (allowed officially) is kept in the
    // body, which is what lists show.
    let namespace = if is_valid_name(&rule.namespace, 64) {
        rule.namespace.clone()
    } else {
        "default".to_string()
    };
    Ok(RuleSpec {
        kind: KIND,
        id,
        name: rule.name.clone(),
        namespace,
        enable: rule.enable,
        priority: rule.priority,
        description: rule.description.clone(),
        targets,
        body: stored.encode_to_vec(),
    })
}

fn echo(rule: &v1::RouteRule) -> Value {
    to_any_json(rule, MESSAGE)
}

fn refused(refusal: Refusal, rule: &v1::RouteRule) -> Reply {
    let reply = failure(&refusal.err);
    if refusal.echo {
        reply.with("data", echo(rule))
    } else {
        reply
    }
}

async fn create(State(state): State<AppState>, body: Body) -> Response {
    run_batch(
        body,
        MESSAGE,
        true,
        fill_config_type,
        |rule: v1::RouteRule| {
            let governance = state.governance.clone();
            async move {
                let id = (!rule.id.is_empty()).then(|| rule.id.clone());
                let spec = match spec(&rule, id) {
                    Ok(spec) => spec,
                    Err(refusal) => return refused(refusal, &rule),
                };
                match governance.create(spec).await {
                    Ok(created) => {
                        let mut out = rule.clone();
                        out.id = created.id.clone();
                        Reply::ok().with("data", echo(&out))
                    }
                    Err(err) => refused(err.into(), &rule),
                }
            }
        },
    )
    .await
}

async fn update(State(state): State<AppState>, body: Body) -> Response {
    run_batch(
        body,
        MESSAGE,
        true,
        fill_config_type,
        |rule: v1::RouteRule| {
            let governance = state.governance.clone();
            async move {
                if let Err(err) = require_id(&rule.id, Code::InvalidRoutingId) {
                    return failure(&err);
                }
                let spec = match spec(&rule, Some(rule.id.clone())) {
                    Ok(spec) => spec,
                    Err(refusal) => return refused(refusal, &rule),
                };
                match governance.update(spec).await {
                    Ok(_) => Reply::ok(),
                    Err(err) => failure(&err),
                }
            }
        },
    )
    .await
}

async fn enable(State(state): State<AppState>, body: Body) -> Response {
    run_batch(
        body,
        MESSAGE,
        true,
        fill_config_type,
        |rule: v1::RouteRule| {
            let governance = state.governance.clone();
            async move {
                if let Err(err) = require_id(&rule.id, Code::InvalidRoutingId) {
                    return failure(&err);
                }
                match governance.enable(KIND, &rule.id, rule.enable).await {
                    Ok(_) => Reply::ok(),
                    Err(err) => failure(&err),
                }
            }
        },
    )
    .await
}

async fn delete(State(state): State<AppState>, body: Body) -> Response {
    run_batch(
        body,
        MESSAGE,
        true,
        fill_config_type,
        |rule: v1::RouteRule| {
            let governance = state.governance.clone();
            async move {
                if let Err(err) = require_id(&rule.id, Code::InvalidRoutingId) {
                    return failure(&err);
                }
                match governance.delete(KIND, &rule.id).await {
                    Ok(()) => Reply::ok().with("data", echo(&rule)),
                    Err(err) => failure(&err),
                }
            }
        },
    )
    .await
}

/// Legacy v1 writes: every item is refused, as on the official `main` branch.
async fn deprecated(body: Body) -> Response {
    let items = match crate::console_namespaces::decode_batch::<Value>(body).await {
        Ok(items) => items,
        Err(response) => return response,
    };
    let mut reply = BatchReply::new(BatchRule::Uniform);
    for _ in items {
        reply.push(Reply::from(deprecation()));
    }
    reply.into_response()
}

async fn deprecated_list() -> Response {
    query_error(&deprecation())
}

fn deprecation() -> PolarisError {
    PolarisError::new(Code::BadRequest, "API is Deprecated")
}

const LIST_KEYS: &[&str] = &[
    "id",
    "name",
    "service",
    "namespace",
    "source_service",
    "source_namespace",
    "destination_service",
    "destination_namespace",
    "enable",
    "offset",
    "limit",
    "order_field",
    "order_type",
];

/// One side of a service filter: a value ending in `*` is a substring match after the `*` is
/// stripped (`wildcard`), otherwise exact; an empty value matches anything.
fn side_matches(value: &str, filter: &str, wildcard: bool) -> bool {
    match filter.strip_suffix('*') {
        _ if filter.is_empty() => true,
        // Official bug kept: for destinations a wildcard still needs equality after stripping.
        Some(stripped) if wildcard => value.contains(stripped),
        Some(stripped) => value == stripped,
        None => value == filter,
    }
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

/// A stored rule in its console form.
fn render(rule: &Rule) -> Option<v1::RouteRule> {
    let mut out: v1::RouteRule = decode_body(&rule.body)?;
    out.id = rule.id.clone();
    out.name = rule.name.clone();
    out.enable = rule.enable;
    out.priority = rule.priority;
    out.description = rule.description.clone();
    out.revision = rule.revision.clone();
    out.ctime = time(rule.ctime);
    out.mtime = time(rule.mtime);
    out.etime = if rule.enable {
        time(rule.mtime)
    } else {
        String::new()
    };
    out.metadata.clear();
    out.editable = true;
    out.deleteable = true;
    Some(out)
}

fn config_of(rule: &v1::RouteRule) -> v1::RuleRoutingConfig {
    rule.routing_config
        .as_ref()
        .and_then(|any| v1::RuleRoutingConfig::decode(any.value.as_slice()).ok())
        .unwrap_or_default()
}

async fn list(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Response {
    let (query, page) = match list_query(raw.as_deref(), LIST_KEYS) {
        Ok(read) => read,
        Err(err) => return query_error(&err),
    };
    let name = query.text("name");
    let filter = RuleFilter {
        id: query.text("id"),
        enable: query.boolean("enable"),
        ..RuleFilter::default()
    };
    let mut found: Vec<(std::sync::Arc<Rule>, v1::RouteRule)> = state
        .governance
        .list(KIND, &filter)
        .into_iter()
        .filter(|r| match name.strip_suffix('*') {
            Some(part) => r.name.contains(part),
            None => name.is_empty() || r.name == name,
        })
        .filter_map(|r| render(&r).map(|out| (r, out)))
        .filter(|(_, out)| services_match(&config_of(out), &query))
        .collect();
    if query.get("order_field") == Some("priority") {
        found.sort_by(|a, b| (a.0.priority, &a.0.id).cmp(&(b.0.priority, &b.0.id)));
    }
    let items = found.iter().map(|(_, out)| echo(out)).collect();
    page_reply("data", items, page, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_builds_or_inherits_sub_rules() {
        let src = v1::SourceService {
            service: "a".into(),
            namespace: "n".into(),
            arguments: vec![],
        };
        let mut cfg = v1::RuleRoutingConfig {
            sources: vec![src.clone()],
            ..Default::default()
        };
        normalize(&mut cfg);
        assert_eq!(cfg.rules.len(), 1);
        assert_eq!(
            cfg.sources.len(),
            1,
            "top level kept when there were no sub-rules"
        );
        let mut cfg = v1::RuleRoutingConfig {
            sources: vec![src],
            rules: vec![v1::SubRuleRouting::default()],
            ..Default::default()
        };
        normalize(&mut cfg);
        assert!(cfg.sources.is_empty());
        assert_eq!(cfg.rules[0].sources.len(), 1);
    }

    #[test]
    fn side_match_wildcards() {
        assert!(side_matches("orders", "ord*", true));
        assert!(!side_matches("orders", "ord*", false));
        assert!(side_matches("ord", "ord*", false));
        assert!(side_matches("x", "", false));
        assert!(!side_matches("x", "y", true));
    }
}
