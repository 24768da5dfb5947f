//! Lane groups (official `main` only): `/naming/v1/lane/groups` (+ `/delete`), item
//! `v1.LaneGroup`, replies `data` = Any (governance.md §6). Groups have no namespace; the domain
//! keeps them all in `default`, so a group name is unique, as officially.

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use polaris_discovery::rules::{LaneGroups, RuleCodec};
use polaris_governance::RuleFilter;
use polaris_proto::v1;
use polaris_types::{Code, PolarisError, Rule};

use super::{AS_IS, ConsoleKind, ListKind, Listed, list};
use crate::AppState;
use crate::body::{Payload, Query};
use crate::listing::wild_match;
use crate::reply::Reply;

type C = LaneGroups;

impl ConsoleKind for LaneGroups {}

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/naming/v1/lane/groups",
            get(list::<C>).post(create).put(update),
        )
        .route("/naming/v1/lane/groups/delete", post(delete))
}

fn by_name(state: &AppState, name: &str) -> Option<std::sync::Arc<Rule>> {
    let filter = RuleFilter {
        name: name.to_string(),
        ..RuleFilter::default()
    };
    state
        .governance
        .list(C::KIND, &filter)
        .into_iter()
        .find(|r| r.name == name)
}

async fn create(State(state): State<AppState>, body: Payload) -> Response {
    super::run_batch::<C, _, _>(state, body, AS_IS, |state, group| async move {
        let id = (!group.id.is_empty()).then(|| group.id.clone());
        match super::create::<C>(&state.governance, &group, id).await {
            Ok(created) => {
                let mut out = group;
                out.id = created.id.clone();
                Reply::ok().with("data", C::echo(&out))
            }
            Err(refusal) => Reply::error(&refusal.err),
        }
    })
    .await
}

async fn update(State(state): State<AppState>, body: Payload) -> Response {
    super::run_batch::<C, _, _>(state, body, AS_IS, |state, group| async move {
        if group.id.is_empty() {
            let err = PolarisError::new(Code::InvalidParameter, "lane group id is required");
            return Reply::error(&err);
        }
        // Officially an update is located by name.
        let result = match C::check(&group) {
            Ok(()) => match by_name(&state, &group.name) {
                Some(current) => super::update::<C>(&state.governance, &group, &current.id)
                    .await
                    .map_err(|refusal| refusal.err),
                None => Err(PolarisError::new(
                    Code::NotFoundResource,
                    format!("lane group {}", group.name),
                )),
            },
            Err(err) => Err(err),
        };
        match result {
            Ok(updated) => {
                let mut out = group;
                out.id = updated.id.clone();
                Reply::ok().with("data", C::echo(&out))
            }
            Err(err) => Reply::error(&err),
        }
    })
    .await
}

async fn delete(State(state): State<AppState>, body: Payload) -> Response {
    super::run_batch::<C, _, _>(state, body, AS_IS, |state, group| async move {
        // By id, else by name; a missing group is a success.
        let id = if group.id.is_empty() {
            by_name(&state, &group.name).map(|r| r.id.clone())
        } else {
            Some(group.id.clone())
        };
        let result = match id {
            Some(id) => state.governance.delete(C::KIND, &id).await,
            None => Ok(()),
        };
        match result {
            Ok(()) => Reply::ok().with("data", C::echo(&group)),
            Err(err) => Reply::error(&err),
        }
    })
    .await
}

const LIST_KEYS: &[&str] = &["brief", "order_field", "order_type"];

impl ListKind for LaneGroups {
    const LIST_KEYS: &'static [&'static str] = LIST_KEYS;

    /// A bad offset or limit is a plain bad request here.
    fn bad_page(err: PolarisError) -> PolarisError {
        PolarisError::new(Code::BadRequest, err.detail)
    }

    fn keep((r, _): &Listed<v1::LaneGroup>, query: &Query) -> bool {
        wild_match(&r.name, &query.text("name"))
    }
}
