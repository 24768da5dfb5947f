//! Circuit-breaker rules: `/naming/v1/circuitbreaker/rules` (+ `/delete`, `/enable`), item
//! `v1.CircuitBreakerRule`, replies `data` = Any (governance.md §4).

use axum::Router;
use axum::routing::put;
use polaris_discovery::rules::CircuitBreakers;
use polaris_proto::v1;
use polaris_types::Code;

use super::by_id::{self, IdKind, plain_id};
use super::{ConsoleKind, EnableKey, ListKind, Listed, contains};
use crate::AppState;
use crate::body::Query;

impl ConsoleKind for CircuitBreakers {}

impl IdKind for CircuitBreakers {
    plain_id!(v1::CircuitBreakerRule);

    const MISSING_ID: Code = Code::InvalidCircuitBreakerId;
    const NOT_FOUND: Code = Code::NotFoundCircuitBreaker;

    fn enabled(rule: &v1::CircuitBreakerRule) -> bool {
        rule.enable
    }
}

impl ListKind for CircuitBreakers {
    const LIST_KEYS: &'static [&'static str] = LIST_KEYS;
    const ALL_OUT_OF_RANGE: bool = true;
    const BY_NAMESPACE: bool = true;
    const ENABLE_KEY: EnableKey = EnableKey::Enable;

    /// The filters of §4.3 (boltdb flavour) that the domain filter does not cover.
    fn keep((_, rule): &Listed<v1::CircuitBreakerRule>, query: &Query) -> bool {
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
}

pub fn routes() -> Router<AppState> {
    by_id::routes::<CircuitBreakers>("/naming/v1/circuitbreaker/rules").route(
        "/naming/v1/circuitbreaker/rules/enable",
        put(by_id::enable::<CircuitBreakers>),
    )
}

const LIST_KEYS: &[&str] = &[
    "brief",
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
