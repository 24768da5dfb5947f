//! Rate-limit rules: `/naming/v1/ratelimits` (+ `/delete`, `/enable`), item `v1.Rule`, replies
//! under `rateLimit` / `rateLimits` (governance.md §3).

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post, put};
use polaris_discovery::rules::checks::require_id;
use polaris_discovery::rules::{RateLimits, RuleCodec};
use polaris_proto::v1;
use polaris_types::{Code, PolarisError};
use serde_json::Value;

use super::json::to_json;
use super::{AS_IS, ConsoleKind, EnableKey, ListKind, Listed, list};
use crate::AppState;
use crate::body::{Payload, Query};
use crate::listing::contains_star_stripped;
use crate::reply::Reply;

type C = RateLimits;
const MISSING_ID: Code = Code::InvalidRateLimitId;

/// Rate limits are shown as the plain message.
impl ConsoleKind for RateLimits {
    fn echo(rule: &v1::Rule) -> Value {
        to_json(rule, Self::MESSAGE)
    }
}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/naming/v1/ratelimits",
            get(list::<C>).post(create).put(update),
        )
        .route("/naming/v1/ratelimits/delete", post(delete))
        .route("/naming/v1/ratelimits/enable", put(enable))
}

fn text(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or_default()
}

/// Every rate-limit reply echoes the item under `rateLimit`, failed or not.
fn answer(result: Result<(), PolarisError>, rule: &v1::Rule) -> Reply {
    let reply = match result {
        Ok(()) => Reply::ok(),
        Err(err) => Reply::error(&err),
    };
    reply.with("rateLimit", C::echo(rule))
}

async fn create(State(state): State<AppState>, body: Payload) -> Response {
    super::run_batch::<C, _, _>(state, body, AS_IS, |state, rule| async move {
        // A client id is ignored: the official server always assigns a new one.
        match super::create::<C>(&state.governance, &rule, None).await {
            Ok(created) => {
                let mut out = rule;
                out.id = Some(created.id.clone());
                answer(Ok(()), &out)
            }
            Err(refusal) => answer(Err(refusal.err), &rule),
        }
    })
    .await
}

async fn update(State(state): State<AppState>, body: Payload) -> Response {
    super::run_batch::<C, _, _>(state, body, AS_IS, |state, rule| async move {
        let id = text(&rule.id);
        let result = match require_id(id, MISSING_ID) {
            Ok(()) => super::update::<C>(&state.governance, &rule, id)
                .await
                .map(|_| ())
                .map_err(|refusal| refusal.err),
            Err(err) => Err(err),
        };
        answer(result, &rule)
    })
    .await
}

async fn enable(State(state): State<AppState>, body: Payload) -> Response {
    super::run_batch::<C, _, _>(state, body, AS_IS, |state, rule| async move {
        let on = !rule.disable.unwrap_or(false);
        let result = super::enable::<C>(&state.governance, text(&rule.id), MISSING_ID, on).await;
        answer(result.map(|_| ()), &rule)
    })
    .await
}

async fn delete(State(state): State<AppState>, body: Payload) -> Response {
    super::run_batch::<C, _, _>(state, body, AS_IS, |state, rule| async move {
        let id = text(&rule.id);
        let result = match require_id(id, MISSING_ID) {
            Ok(()) => state.governance.delete(C::KIND, id).await,
            Err(err) => Err(err),
        };
        answer(result, &rule)
    })
    .await
}

const LIST_KEYS: &[&str] = &["service", "brief", "method", "labels"];

impl ListKind for RateLimits {
    const LIST_KEYS: &'static [&'static str] = LIST_KEYS;
    const LIST_FIELD: &'static str = "rateLimits";

    const BY_NAMESPACE: bool = true;
    const ENABLE_KEY: EnableKey = EnableKey::Disable;

    fn keep((r, out): &Listed<v1::Rule>, query: &Query) -> bool {
        let service = query.text("service");
        contains_star_stripped(&r.name, &query.text("name"))
            && (service.is_empty() || text(&out.service) == service)
    }
}
