//! `/core/v1/users`, `/core/v1/user`: accounts and passwords (tokens are in `tokens.rs`).

use axum::body::Body;
use axum::response::Response;
use polaris_auth::{UserSpec, UserUpdate};
use polaris_types::Code;
use serde_json::json;

use super::json::{required_text, text, user_out};
use super::routes::{Console, delete_each, each_item, id_matches, object, refuse_keys, reply};
use crate::body::Query;
use crate::listing::{page_of, prefix_or_exact};
use crate::reply::{Reply, query_error};

const LIST_KEYS: &[&str] = &[
    "id",
    "name",
    "owner",
    "source",
    "offset",
    "limit",
    "group_id",
    "hide_admin",
];

pub(super) async fn list_users(c: Console, query: Query) -> Response {
    if let Some(refused) = refuse_keys(&query, LIST_KEYS) {
        return refused;
    }
    let group = query.get("group_id").filter(|g| !g.is_empty());
    let group = match group.map(|g| c.auth().group(&c.op, g)).transpose() {
        Ok(group) => group,
        Err(err) => return query_error(&err),
    };
    let (owner, source) = (query.get("owner"), query.get("source"));
    let items = c
        .auth()
        .users(&c.op)
        .into_iter()
        .filter(|u| id_matches(query.get("id"), &u.id))
        .filter(|u| prefix_or_exact(&u.name, query.get("name")))
        .filter(|u| owner.is_none_or(|o| o.is_empty() || u.owner == o || u.id == o))
        .filter(|u| id_matches(source, &u.source))
        .filter(|u| group.as_ref().is_none_or(|g| g.user_ids.contains(&u.id)))
        .map(|u| user_out(&u))
        .collect();
    page_of(&query, items, "users")
}

pub(super) async fn create_users(c: Console, body: Body) -> Response {
    each_item(body, |item| {
        let c = c.clone();
        async move {
            let spec = UserSpec {
                name: required_text(&item, "name")?,
                password: required_text(&item, "password")?,
                comment: required_text(&item, "comment")?,
                mobile: required_text(&item, "mobile")?,
                email: required_text(&item, "email")?,
                source: required_text(&item, "source")?,
            };
            let user = c.auth().create_user(&c.op, spec).await?;
            let created = json!({ "id": user.id, "name": user.name, "owner": "" });
            Ok(Reply::ok().with("user", created))
        }
    })
    .await
}

pub(super) async fn delete_users(c: Console, body: Body) -> Response {
    delete_each(body, "user", Code::InvalidUserId, |id| {
        let c = c.clone();
        async move { c.auth().delete_user(&c.op, &id).await }
    })
    .await
}

pub(super) async fn update_user(c: Console, body: Body) -> Response {
    let result = async {
        let req = object(body).await?;
        let update = UserUpdate {
            id: required_text(&req, "id")?,
            comment: text(&req, "comment"),
            mobile: text(&req, "mobile"),
            email: text(&req, "email"),
        };
        let user = c.auth().update_user(&c.op, update).await?;
        Ok(Reply::ok().with("user", user_out(&user)))
    };
    reply(result.await)
}

pub(super) async fn update_password(c: Console, body: Body) -> Response {
    let result = async {
        let req = object(body).await?;
        let id = required_text(&req, "id")?;
        let old = text(&req, "old_password");
        let new = required_text(&req, "new_password")?;
        let auth = c.auth();
        auth.update_password(&c.op, &id, old.as_deref(), &new)
            .await?;
        Ok(Reply::ok())
    };
    reply(result.await)
}
