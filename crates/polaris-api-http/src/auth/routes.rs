//! `/core/v1` users, user groups, strategies, login and auth status. The caller was
//! established by the enforcement layer and arrives as an [`Operator`] extension; the handlers
//! live in `users.rs`, `groups.rs` and `strategies.rs`, the shared plumbing here.

use std::future::Future;

use axum::Router;
use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use polaris_auth::{Auth, Operator};
use polaris_types::{Code, PolarisError, Result};
use serde_json::{Value, json};

use super::json::{required_text, text};
use super::tokens::{self, Principal};
use super::{groups, strategies, users};
use crate::AppState;
use crate::batch::answer_each;
use crate::body::{Query, read_body};
use crate::reply::{BatchReply, BatchRule, Reply, query_error};

pub fn routes() -> Router<AppState> {
    let router = Router::new()
        .route("/core/v1/auth/status", get(status))
        .route("/core/v1/user/login", post(login))
        .route(
            "/core/v1/users",
            get(users::list_users).post(users::create_users),
        )
        .route("/core/v1/users/delete", post(users::delete_users))
        .route("/core/v1/user", put(users::update_user))
        .route("/core/v1/user/password", put(users::update_password))
        .route("/core/v1/usergroup", post(groups::create_group))
        .route(
            "/core/v1/usergroups",
            get(groups::list_groups).put(groups::update_groups),
        )
        .route("/core/v1/usergroups/delete", post(groups::delete_groups))
        .route("/core/v1/usergroup/detail", get(groups::group_detail))
        .route("/core/v1/auth/strategy", post(strategies::create_strategy))
        .route(
            "/core/v1/auth/strategy/detail",
            get(strategies::strategy_detail),
        )
        .route(
            "/core/v1/auth/strategies",
            get(strategies::list_strategies).put(strategies::update_strategies),
        )
        .route(
            "/core/v1/auth/strategies/delete",
            post(strategies::delete_strategies),
        )
        .route(
            "/core/v1/auth/principal/resources",
            get(strategies::principal_resources),
        );
    let router = tokens::routes(router, "/core/v1/user", Principal::User);
    tokens::routes(router, "/core/v1/usergroup", Principal::Group)
}

/// What an auth handler works with: the server state and the caller the enforcement layer
/// established (anonymous when the request was not checked).
#[derive(Clone)]
pub(super) struct Console {
    pub state: AppState,
    pub op: Operator,
}

impl Console {
    pub fn auth(&self) -> &Auth {
        &self.state.auth
    }
}

impl FromRequestParts<AppState> for Console {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &AppState,
    ) -> std::result::Result<Self, Self::Rejection> {
        let op = parts.extensions.get::<Operator>().cloned();
        Ok(Console {
            state: state.clone(),
            op: op.unwrap_or(Operator::Anonymous),
        })
    }
}

/// The refusal of a list query with keys outside `allowed`, if any.
pub(super) fn refuse_keys(query: &Query, allowed: &[&str]) -> Option<Response> {
    let checked = query.check_keys(allowed, allowed);
    checked.err().map(|err| query_error(&err))
}

/// `id` filters: no or an empty value matches.
pub(super) fn id_matches(filter: Option<&str>, id: &str) -> bool {
    filter.is_none_or(|f| f.is_empty() || f == id)
}

pub(super) async fn object(body: Body) -> Result<Value> {
    let bytes = read_body(body).await?;
    match serde_json::from_slice::<Value>(&bytes) {
        Ok(value @ Value::Object(_)) => Ok(value),
        Ok(_) => Err(PolarisError::new(
            Code::ParseException,
            "expected a JSON object",
        )),
        Err(err) => Err(PolarisError::new(Code::ParseException, err.to_string())),
    }
}

pub(super) async fn array(body: Body) -> std::result::Result<Vec<Value>, Response> {
    let bytes = read_body(body).await.map_err(|e| BatchReply::failed(&e))?;
    crate::body::parse_array::<Value>(&bytes).map_err(|e| BatchReply::failed(&e))
}

pub(super) fn reply(result: Result<Reply>) -> Response {
    result.unwrap_or_else(Reply::from).into_response()
}

/// A single `{id, ...}` request: decodes the object and its `id`, runs `act`, answers its reply.
pub(super) async fn with_id<F, Fut>(body: Body, act: F) -> Response
where
    F: FnOnce(String, Value) -> Fut,
    Fut: Future<Output = Result<Reply>>,
{
    reply(
        async move {
            let req = object(body).await?;
            let id = required_text(&req, "id")?;
            act(id, req).await
        }
        .await,
    )
}

/// Runs a console batch: every object of the JSON array gets one reply, in order, and the batch
/// answers with the highest failing code.
pub(super) async fn each_item<F, Fut>(body: Body, mut each: F) -> Response
where
    F: FnMut(Value) -> Fut,
    Fut: Future<Output = Result<Reply>>,
{
    let items = match array(body).await {
        Ok(items) => items,
        Err(response) => return response,
    };
    answer_each(items, BatchRule::HighestFailure, |item| {
        let reply = each(item);
        async move { reply.await.unwrap_or_else(Reply::from) }
    })
    .await
}

/// A batch of `{id}` deletions; each reply echoes the id under `field`, and an item without an id
/// is refused with `missing`.
pub(super) async fn delete_each<F, Fut>(
    body: Body,
    field: &'static str,
    missing: Code,
    mut delete: F,
) -> Response
where
    F: FnMut(String) -> Fut,
    Fut: Future<Output = Result<()>>,
{
    each_item(body, |item| {
        let id = text(&item, "id").unwrap_or_default();
        let deleted = (!id.is_empty()).then(|| delete(id.clone()));
        async move {
            let result = match deleted {
                Some(deleted) => deleted.await,
                None => Err(PolarisError::new(missing, "")),
            };
            let echo = json!({ "id": id });
            Ok(match result {
                Ok(()) => Reply::ok().with(field, echo),
                Err(err) => Reply::from(err).with(field, echo),
            })
        }
    })
    .await
}

async fn status(State(state): State<AppState>) -> Response {
    let options = state.auth.options();
    let on = options.console_open || options.client_open;
    Reply::ok()
        .with(
            "optionSwitch",
            json!({ "options": {
                "auth": on.to_string(),
                "consoleOpen": options.console_open.to_string(),
                "clientOpen": options.client_open.to_string(),
            }}),
        )
        .into_response()
}

async fn login(State(state): State<AppState>, body: Body) -> Response {
    reply(
        async {
            let req = object(body).await?;
            let name = required_text(&req, "name")?;
            let owner = required_text(&req, "owner")?;
            let password = required_text(&req, "password")?;
            let info = state.auth.login(Some(&owner), &name, &password).await?;
            Ok(Reply::ok().with(
                "loginResponse",
                json!({
                    "user_id": info.user_id,
                    "name": info.name,
                    "role": info.role.name(),
                    "owner_id": info.owner_id,
                    "token": info.token,
                    "options": {},
                }),
            ))
        }
        .await,
    )
}
