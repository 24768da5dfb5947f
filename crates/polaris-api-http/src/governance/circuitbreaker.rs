//! Circuit-breaker rules: `/naming/v1/circuitbreaker/rules` (+ `/delete`, `/enable`), item
//! `v1.CircuitBreakerRule`, replies `data` = Any (governance.md §4).

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use axum::routing::{get, post, put};
use polaris_discovery::rules::{CircuitBreakers, RuleCodec};
use polaris_governance::RuleFilter;
use polaris_proto::v1;
use polaris_types::Code;
use serde_json::Value;

use super::{
    AS_IS, ConsoleKind, checks_first, contains, delete_by_id, list_query, listed, page_reply,
};
use crate::AppState;
use crate::auth::guard::Visibility;
use crate::body::{Payload, Query};
use crate::reply::{Reply, query_error};

type C = CircuitBreakers;
const MISSING_ID: Code = Code::InvalidCircuitBreakerId;

impl ConsoleKind for CircuitBreakers {}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/naming/v1/circuitbreaker/rules",
            get(list).post(create).put(update),
        )
        .route("/naming/v1/circuitbreaker/rules/delete", post(delete))
        .route("/naming/v1/circuitbreaker/rules/enable", put(enable))
}

/// The `{id}`-only payload of update, enable and delete replies.
fn id_only(id: &str) -> Value {
    C::echo(&v1::CircuitBreakerRule {
        id: id.to_string(),
        ..Default::default()
    })
}

async fn create(State(state): State<AppState>, body: Payload) -> Response {
    super::run_batch::<C, _, _>(state, body, AS_IS, |state, rule| async move {
        match super::create::<C>(&state.governance, &rule, None).await {
            Ok(created) => {
                let mut out = rule;
                out.id = created.id.clone();
                Reply::ok().with("data", C::echo(&out))
            }
            Err(refusal) => Reply::error(&refusal.err),
        }
    })
    .await
}

async fn update(State(state): State<AppState>, body: Payload) -> Response {
    super::run_batch::<C, _, _>(state, body, AS_IS, |state, rule| async move {
        let checked = checks_first(C::check_envelope(&rule), &rule.id, MISSING_ID);
        let result = match checked {
            Ok(()) => super::update::<C>(&state.governance, &rule, &rule.id).await,
            Err(err) => Err(err.into()),
        };
        match result {
            Ok(_) => Reply::ok().with("data", id_only(&rule.id)),
            Err(refusal) => Reply::error(&refusal.err),
        }
    })
    .await
}

async fn enable(State(state): State<AppState>, body: Payload) -> Response {
    super::run_batch::<C, _, _>(state, body, AS_IS, |state, rule| async move {
        match super::enable::<C>(&state.governance, &rule.id, MISSING_ID, rule.enable).await {
            Ok(_) => Reply::ok().with("data", id_only(&rule.id)),
            Err(err) => Reply::error(&err),
        }
    })
    .await
}

async fn delete(State(state): State<AppState>, body: Payload) -> Response {
    super::run_batch::<C, _, _>(state, body, AS_IS, |state, rule| async move {
        let codes = (MISSING_ID, Code::NotFoundCircuitBreaker);
        delete_by_id(
            &state.governance,
            C::KIND,
            &rule.id,
            codes,
            id_only(&rule.id),
        )
        .await
    })
    .await
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

async fn list(
    State(state): State<AppState>,
    Visibility(visible): Visibility,
    RawQuery(raw): RawQuery,
) -> Response {
    let (query, page) = match list_query(raw.as_deref(), LIST_KEYS) {
        Ok(read) => read,
        Err(err) => return query_error(&err),
    };
    let filter = RuleFilter {
        visible,
        id: query.text("id"),
        namespace: query.text("namespace"),
        enable: query.boolean("enable"),
        ..RuleFilter::default()
    };
    let items = listed::<C>(&state.governance, &filter)
        .into_iter()
        .filter(|(_, out)| matches(out, &query))
        .map(|(_, out)| C::echo(&out))
        .collect();
    page_reply("data", items, page, true)
}
