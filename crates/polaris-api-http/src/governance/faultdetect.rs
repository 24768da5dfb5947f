//! Fault detectors: `/naming/v1/faultdetectors` (+ `/delete`; there is no `/enable`), item
//! `v1.FaultDetectRule`, replies `data` = Any (governance.md §5).

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use axum::routing::{get, post};
use polaris_discovery::rules::{FaultDetectors, RuleCodec};
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

type C = FaultDetectors;
const MISSING_ID: Code = Code::InvalidCircuitBreakerId;

impl ConsoleKind for FaultDetectors {}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/naming/v1/faultdetectors",
            get(list).post(create).put(update),
        )
        .route("/naming/v1/faultdetectors/delete", post(delete))
}

fn id_only(id: &str) -> Value {
    C::echo(&v1::FaultDetectRule {
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
            // On update a duplicate name carries `data{id}`.
            Err(refusal) if refusal.err.code == Code::FaultDetectRuleExisted => {
                Reply::error(&refusal.err).with("data", id_only(&rule.id))
            }
            Err(refusal) => Reply::error(&refusal.err),
        }
    })
    .await
}

async fn delete(State(state): State<AppState>, body: Payload) -> Response {
    super::run_batch::<C, _, _>(state, body, AS_IS, |state, rule| async move {
        let codes = (MISSING_ID, Code::NotFoundResource);
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
    "service",
    "serviceNamespace",
    "dstService",
    "dstNamespace",
    "dstMethod",
    "description",
];

/// The filters of §5.3 (boltdb flavour) that the domain filter does not cover.
fn matches(rule: &v1::FaultDetectRule, query: &Query) -> bool {
    let target = rule.target_service.clone().unwrap_or_default();
    let method = target
        .method
        .as_ref()
        .and_then(|m| m.value.clone())
        .unwrap_or_default();
    let (service, namespace) = (query.text("service"), query.text("serviceNamespace"));
    // `service` and `serviceNamespace` apply only together, as an exact destination match.
    let by_service = service.is_empty()
        || namespace.is_empty()
        || (target.service == service && target.namespace == namespace);
    by_service
        && contains(&rule.name, &query.text("name"))
        && contains(&rule.description, &query.text("description"))
        && contains(&target.service, &query.text("dstService"))
        && contains(&target.namespace, &query.text("dstNamespace"))
        && contains(&method, &query.text("dstMethod"))
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
        ..RuleFilter::default()
    };
    let items = listed::<C>(&state.governance, &filter)
        .into_iter()
        .filter(|(_, out)| matches(out, &query))
        .map(|(_, out)| C::echo(&out))
        .collect();
    page_reply("data", items, page, true)
}
