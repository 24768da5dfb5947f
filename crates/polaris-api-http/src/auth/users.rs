//! `/core/v1/users`, `/core/v1/user`: accounts, passwords and user tokens.

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use polaris_auth::{UserSpec, UserUpdate};
use polaris_types::{Code, PolarisError};
use serde_json::json;

use super::json::{boolean, required_text, text, user_out, user_token_out};
use super::routes::{Caller, delete_each, each_item, object, operator, reply, with_id};
use crate::AppState;
use crate::body::Query;
use crate::listing::{page_of, prefix_or_exact};
use crate::reply::{Reply, query_error};

pub(super) async fn list_users(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Response {
    let query = Query::parse(raw.as_deref());
    let allowed = [
        "id",
        "name",
        "owner",
        "source",
        "offset",
        "limit",
        "group_id",
        "hide_admin",
    ];
    if let Err(err) = query.check_keys(&allowed, &allowed) {
        return query_error(&err);
    }
    let op = operator(caller);
    let auth = &state.auth;
    let group = query
        .get("group_id")
        .filter(|g| !g.is_empty())
        .map(|g| auth.group(&op, g));
    let group = match group.transpose() {
        Ok(group) => group,
        Err(err) => return query_error(&err),
    };
    let items = auth
        .users(&op)
        .into_iter()
        .filter(|u| query.get("id").is_none_or(|id| id.is_empty() || u.id == id))
        .filter(|u| prefix_or_exact(&u.name, query.get("name")))
        .filter(|u| {
            query
                .get("owner")
                .is_none_or(|o| o.is_empty() || u.owner == o || u.id == o)
        })
        .filter(|u| {
            query
                .get("source")
                .is_none_or(|s| s.is_empty() || u.source == s)
        })
        .filter(|u| group.as_ref().is_none_or(|g| g.user_ids.contains(&u.id)))
        .map(|u| user_out(&u))
        .collect();
    page_of(&query, items, "users")
}

pub(super) async fn create_users(
    State(state): State<AppState>,
    caller: Caller,
    body: Body,
) -> Response {
    let op = operator(caller);
    each_item(body, |item| {
        let (auth, op) = (state.auth.clone(), op.clone());
        async move {
            let spec = UserSpec {
                name: required_text(&item, "name")?,
                password: required_text(&item, "password")?,
                comment: required_text(&item, "comment")?,
                mobile: required_text(&item, "mobile")?,
                email: required_text(&item, "email")?,
                source: required_text(&item, "source")?,
            };
            let user = auth.create_user(&op, spec).await?;
            let created = json!({ "id": user.id, "name": user.name, "owner": "" });
            Ok(Reply::ok().with("user", created))
        }
    })
    .await
}

pub(super) async fn delete_users(
    State(state): State<AppState>,
    caller: Caller,
    body: Body,
) -> Response {
    let op = operator(caller);
    delete_each(body, "user", Code::InvalidUserId, |id| {
        let (auth, op) = (state.auth.clone(), op.clone());
        async move { auth.delete_user(&op, &id).await }
    })
    .await
}

pub(super) async fn update_user(
    State(state): State<AppState>,
    caller: Caller,
    body: Body,
) -> Response {
    reply(
        async {
            let req = object(body).await?;
            let update = UserUpdate {
                id: required_text(&req, "id")?,
                comment: text(&req, "comment"),
                mobile: text(&req, "mobile"),
                email: text(&req, "email"),
            };
            let user = state.auth.update_user(&operator(caller), update).await?;
            Ok(Reply::ok().with("user", user_out(&user)))
        }
        .await,
    )
}

pub(super) async fn update_password(
    State(state): State<AppState>,
    caller: Caller,
    body: Body,
) -> Response {
    reply(
        async {
            let req = object(body).await?;
            let id = required_text(&req, "id")?;
            let old = text(&req, "old_password");
            let new = required_text(&req, "new_password")?;
            state
                .auth
                .update_password(&operator(caller), &id, old.as_deref(), &new)
                .await?;
            Ok(Reply::ok())
        }
        .await,
    )
}

pub(super) async fn user_token(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Response {
    let query = Query::parse(raw.as_deref());
    let op = operator(caller);
    reply((|| {
        let user = match (query.get("id"), query.get("name")) {
            (Some(id), _) if !id.is_empty() => state.auth.user(&op, id)?,
            (_, Some(name)) if !name.is_empty() => {
                state.auth.user_by_name(&op, query.get("owner"), name)?
            }
            _ => {
                return Err(PolarisError::new(
                    Code::InvalidParameter,
                    "id or name is required",
                ));
            }
        };
        Ok(Reply::ok().with("user", user_token_out(&user)))
    })())
}

pub(super) async fn user_token_status(
    State(state): State<AppState>,
    caller: Caller,
    body: Body,
) -> Response {
    with_id(body, |id, req| async move {
        let enable = boolean(&req, "token_enable").unwrap_or(false);
        let user = state
            .auth
            .set_user_token_enabled(&operator(caller), &id, enable)
            .await?;
        Ok(Reply::ok().with(
            "user",
            json!({ "id": user.id, "token_enable": user.token_enable }),
        ))
    })
    .await
}

pub(super) async fn user_token_refresh(
    State(state): State<AppState>,
    caller: Caller,
    body: Body,
) -> Response {
    with_id(body, |id, _| async move {
        let user = state
            .auth
            .refresh_user_token(&operator(caller), &id)
            .await?;
        Ok(Reply::ok().with("user", user_token_out(&user)))
    })
    .await
}
