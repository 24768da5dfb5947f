//! `/core/v1/usergroup(s)`: user groups, their members and tokens.

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use polaris_auth::{Auth, GroupSpec, GroupUpdate};
use polaris_types::Code;
use serde_json::{Value, json};

use super::json::{boolean, group_out, group_token_out, ids, required_text, text};
use super::routes::{Caller, delete_each, each_item, object, operator, reply, with_id};
use crate::AppState;
use crate::body::Query;
use crate::listing::{page_of, prefix_or_exact};
use crate::reply::{Reply, query_error};

fn member_names(auth: &Auth, ids: &std::collections::BTreeSet<String>) -> Vec<Value> {
    let users = auth.state();
    ids.iter()
        .map(|id| json!({ "id": id, "name": users.users.get(id).map(|u| u.name.clone()).unwrap_or_default() }))
        .collect()
}

pub(super) async fn create_group(
    State(state): State<AppState>,
    caller: Caller,
    body: Body,
) -> Response {
    reply(
        async {
            let req = object(body).await?;
            let spec = GroupSpec {
                name: required_text(&req, "name")?,
                comment: required_text(&req, "comment")?,
                user_ids: ids(req.get("relation"), "users")?,
                source: required_text(&req, "source")?,
            };
            let group = state.auth.create_group(&operator(caller), spec).await?;
            Ok(Reply::ok().with("userGroup", group_out(&group, None)))
        }
        .await,
    )
}

pub(super) async fn update_groups(
    State(state): State<AppState>,
    caller: Caller,
    body: Body,
) -> Response {
    let op = operator(caller);
    each_item(body, |item| {
        let (auth, op) = (state.auth.clone(), op.clone());
        async move {
            let update = GroupUpdate {
                id: required_text(&item, "id")?,
                comment: text(&item, "comment"),
                add_users: ids(item.get("add_relations"), "users")?,
                remove_users: ids(item.get("remove_relations"), "users")?,
            };
            let group = auth.update_group(&op, update).await?;
            Ok(Reply::ok().with("userGroup", json!({ "id": group.id })))
        }
    })
    .await
}

pub(super) async fn list_groups(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Response {
    let query = Query::parse(raw.as_deref());
    let allowed = [
        "id", "name", "owner", "user_id", "source", "offset", "limit",
    ];
    if let Err(err) = query.check_keys(&allowed, &allowed) {
        return query_error(&err);
    }
    let items = state
        .auth
        .groups(&operator(caller))
        .into_iter()
        .filter(|g| query.get("id").is_none_or(|id| id.is_empty() || g.id == id))
        .filter(|g| prefix_or_exact(&g.name, query.get("name")))
        .filter(|g| {
            query
                .get("user_id")
                .is_none_or(|u| u.is_empty() || g.user_ids.contains(u))
        })
        .map(|g| group_out(&g, None))
        .collect();
    page_of(&query, items, "userGroups")
}

pub(super) async fn delete_groups(
    State(state): State<AppState>,
    caller: Caller,
    body: Body,
) -> Response {
    let op = operator(caller);
    delete_each(body, "userGroup", Code::InvalidUserGroupId, |id| {
        let (auth, op) = (state.auth.clone(), op.clone());
        async move { auth.delete_group(&op, &id).await }
    })
    .await
}

pub(super) async fn group_detail(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Response {
    let query = Query::parse(raw.as_deref());
    reply((|| {
        let group = state
            .auth
            .group(&operator(caller), query.get("id").unwrap_or_default())?;
        let users = member_names(&state.auth, &group.user_ids);
        Ok(Reply::ok().with("userGroup", group_out(&group, Some(users))))
    })())
}

pub(super) async fn group_token(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Response {
    let query = Query::parse(raw.as_deref());
    reply((|| {
        let group = state
            .auth
            .group(&operator(caller), query.get("id").unwrap_or_default())?;
        Ok(Reply::ok().with("userGroup", group_token_out(&group)))
    })())
}

pub(super) async fn group_token_status(
    State(state): State<AppState>,
    caller: Caller,
    body: Body,
) -> Response {
    with_id(body, |id, req| async move {
        let enable = boolean(&req, "token_enable").unwrap_or(false);
        let group = state
            .auth
            .set_group_token_enabled(&operator(caller), &id, enable)
            .await?;
        Ok(Reply::ok().with(
            "userGroup",
            json!({ "id": group.id, "token_enable": group.token_enable }),
        ))
    })
    .await
}

pub(super) async fn group_token_refresh(
    State(state): State<AppState>,
    caller: Caller,
    body: Body,
) -> Response {
    with_id(body, |id, _| async move {
        let group = state
            .auth
            .refresh_group_token(&operator(caller), &id)
            .await?;
        Ok(Reply::ok().with("userGroup", group_token_out(&group)))
    })
    .await
}
