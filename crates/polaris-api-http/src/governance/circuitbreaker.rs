//! Circuit-breaker rules: `/naming/v1/circuitbreaker/rules` (+ `/delete`, `/enable`), item
//! `v1.CircuitBreakerRule`, replies `data` = Any (governance.md §4).

use axum::Router;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use axum::routing::{get, post, put};
use polaris_governance::{RuleFilter, RuleSpec};
use polaris_proto::v1;
use polaris_types::{Code, PolarisError, Result, Rule, RuleKind, TargetRole};
use prost::Message;
use serde_json::Value;

use super::json::{decode_body, to_any_json};
use super::{
    MAX_DESCRIPTION, add_target, as_is, check_count, check_match, contains, delete_by_id, failure,
    list_query, page_reply, require_id, run_batch, runes, time,
};
use crate::AppState;
use crate::body::Query;
use crate::reply::{Reply, query_error};

const MESSAGE: &str = "v1.CircuitBreakerRule";
const KIND: RuleKind = RuleKind::CircuitBreaker;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/naming/v1/circuitbreaker/rules",
            get(list).post(create).put(update),
        )
        .route("/naming/v1/circuitbreaker/rules/delete", post(delete))
        .route("/naming/v1/circuitbreaker/rules/enable", put(enable))
}

/// The official length checks, then the required name (create and update).
fn check_envelope(rule: &v1::CircuitBreakerRule) -> Result<()> {
    let matcher = rule.rule_matcher.clone().unwrap_or_default();
    let source = matcher.source.unwrap_or_default();
    if runes(&source.service) > 128 {
        return Err(Code::InvalidServiceName.into());
    }
    if runes(&source.namespace) > 64 || runes(&rule.namespace) > 64 {
        return Err(Code::InvalidNamespaceName.into());
    }
    if runes(&rule.name) > 64 {
        return Err(Code::InvalidCircuitBreakerName.into());
    }
    if runes(&rule.description) > MAX_DESCRIPTION {
        return Err(Code::InvalidServiceComment.into());
    }
    if rule.name.is_empty() {
        return Err(PolarisError::new(
            Code::InvalidCircuitBreakerName,
            "name is required",
        ));
    }
    Ok(())
}

/// Our own checks: sizes, and match strings that compile (400103).
fn check_matches(rule: &v1::CircuitBreakerRule) -> Result<()> {
    check_count(rule.error_conditions.len(), "error conditions")?;
    check_count(rule.trigger_condition.len(), "trigger conditions")?;
    check_count(rule.block_configs.len(), "block configs")?;
    let code = Code::InvalidParameter;
    let destination = rule
        .rule_matcher
        .as_ref()
        .and_then(|m| m.destination.as_ref());
    check_match(
        destination.and_then(|d| d.method.as_ref()),
        code,
        "destination method",
    )?;
    let mut conditions = rule.error_conditions.iter().collect::<Vec<_>>();
    for block in &rule.block_configs {
        check_count(block.error_conditions.len(), "error conditions")?;
        check_count(block.trigger_conditions.len(), "trigger conditions")?;
        check_match(
            block.api.as_ref().and_then(|a| a.path.as_ref()),
            code,
            "block api path",
        )?;
        conditions.extend(block.error_conditions.iter());
    }
    for condition in conditions {
        check_match(condition.condition.as_ref(), code, "error condition")?;
    }
    Ok(())
}

fn spec(rule: &v1::CircuitBreakerRule, id: Option<String>) -> Result<RuleSpec> {
    check_envelope(rule)?;
    check_matches(rule)?;
    let namespace = if rule.namespace.is_empty() {
        "default".to_string()
    } else {
        rule.namespace.clone()
    };
    let matcher = rule.rule_matcher.clone().unwrap_or_default();
    let mut targets = Vec::new();
    let dst = matcher.destination.unwrap_or_default();
    if dst.namespace.is_empty() && dst.service.is_empty() {
        // Officially a rule without a destination applies to every service.
        add_target(&mut targets, "*", "*", TargetRole::Callee);
    } else {
        add_target(
            &mut targets,
            &dst.namespace,
            &dst.service,
            TargetRole::Callee,
        );
    }
    let src = matcher.source.unwrap_or_default();
    add_target(
        &mut targets,
        &src.namespace,
        &src.service,
        TargetRole::Caller,
    );
    let mut stored = rule.clone();
    stored.namespace = namespace.clone();
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

fn echo(rule: &v1::CircuitBreakerRule) -> Value {
    to_any_json(rule, MESSAGE)
}

/// The `{id}`-only payload of update, enable and delete replies.
fn id_only(id: &str) -> Value {
    echo(&v1::CircuitBreakerRule {
        id: id.to_string(),
        ..Default::default()
    })
}

async fn create(State(state): State<AppState>, body: Body) -> Response {
    run_batch(
        body,
        MESSAGE,
        false,
        as_is,
        |rule: v1::CircuitBreakerRule| {
            let governance = state.governance.clone();
            async move {
                let result = match spec(&rule, None) {
                    Ok(spec) => governance.create(spec).await,
                    Err(err) => Err(err),
                };
                match result {
                    Ok(created) => {
                        let mut out = rule.clone();
                        out.id = created.id.clone();
                        Reply::ok().with("data", echo(&out))
                    }
                    Err(err) => failure(&err),
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
        false,
        as_is,
        |rule: v1::CircuitBreakerRule| {
            let governance = state.governance.clone();
            async move {
                let result = check_envelope(&rule)
                    .and_then(|()| require_id(&rule.id, Code::InvalidCircuitBreakerId))
                    .and_then(|()| spec(&rule, Some(rule.id.clone())));
                let result = match result {
                    Ok(spec) => governance.update(spec).await,
                    Err(err) => Err(err),
                };
                match result {
                    Ok(_) => Reply::ok().with("data", id_only(&rule.id)),
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
        false,
        as_is,
        |rule: v1::CircuitBreakerRule| {
            let governance = state.governance.clone();
            async move {
                let result = match require_id(&rule.id, Code::InvalidCircuitBreakerId) {
                    Ok(()) => governance.enable(KIND, &rule.id, rule.enable).await,
                    Err(err) => Err(err),
                };
                match result {
                    Ok(_) => Reply::ok().with("data", id_only(&rule.id)),
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
        false,
        as_is,
        |rule: v1::CircuitBreakerRule| {
            let governance = state.governance.clone();
            async move {
                let codes = (Code::InvalidCircuitBreakerId, Code::NotFoundCircuitBreaker);
                delete_by_id(&governance, KIND, &rule.id, codes, id_only(&rule.id)).await
            }
        },
    )
    .await
}

/// A stored rule in its console form.
fn render(rule: &Rule) -> Option<v1::CircuitBreakerRule> {
    let mut out: v1::CircuitBreakerRule = decode_body(&rule.body)?;
    out.id = rule.id.clone();
    out.name = rule.name.clone();
    out.namespace = rule.namespace.clone();
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
    out.editable = true;
    out.deleteable = true;
    Some(out)
}

const LIST_KEYS: &[&str] = &[
    "brief",
    "offset",
    "limit",
    "id",
    "name",
    "namespace",
    "enable",
    "level",
    "service",
    "serviceNamespace",
    "srcService",
    "srcNamespace",
    "dstService",
    "dstNamespace",
    "dstMethod",
    "description",
];

/// The filters of §4.3 (boltdb flavour) that the domain filter does not cover.
fn matches(rule: &v1::CircuitBreakerRule, query: &Query) -> bool {
    let matcher = rule.rule_matcher.clone().unwrap_or_default();
    let src = matcher.source.unwrap_or_default();
    let dst = matcher.destination.unwrap_or_default();
    let method = dst
        .method
        .as_ref()
        .and_then(|m| m.value.clone())
        .unwrap_or_default();
    let either = |a: &str, b: &str, want: &str| {
        want.is_empty() || [a, b].iter().any(|v| *v == want || *v == "*")
    };
    let exact = |v: &str, want: &str| want.is_empty() || v == want;
    let levels: Vec<i32> = query
        .list("level")
        .iter()
        .filter_map(|l| l.trim().parse().ok())
        .collect();
    contains(&rule.name, &query.text("name"))
        && contains(&rule.description, &query.text("description"))
        && either(&src.service, &dst.service, &query.text("service"))
        && either(
            &src.namespace,
            &dst.namespace,
            &query.text("serviceNamespace"),
        )
        && contains(&src.service, &query.text("srcService"))
        && exact(&src.namespace, &query.text("srcNamespace"))
        && contains(&dst.service, &query.text("dstService"))
        && exact(&dst.namespace, &query.text("dstNamespace"))
        && contains(&method, &query.text("dstMethod"))
        && (levels.is_empty() || levels.contains(&rule.level))
}

async fn list(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Response {
    let (query, page) = match list_query(raw.as_deref(), LIST_KEYS) {
        Ok(read) => read,
        Err(err) => return query_error(&err),
    };
    let filter = RuleFilter {
        id: query.text("id"),
        namespace: query.text("namespace"),
        enable: query.boolean("enable"),
        ..RuleFilter::default()
    };
    let items = state
        .governance
        .list(KIND, &filter)
        .iter()
        .filter_map(|r| render(r))
        .filter(|out| matches(out, &query))
        .map(|out| echo(&out))
        .collect();
    page_reply("data", items, page, true)
}
