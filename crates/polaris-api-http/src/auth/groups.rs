//! `/core/v1/usergroup(s)`: user groups and their members (tokens are in `tokens.rs`).

use axum::body::Body;
use axum::response::Response;
use polaris_auth::{Auth, GroupSpec, GroupUpdate};
use polaris_types::Code;
use serde_json::{Value, json};

use super::json::{group_out, ids, required_text, text};
use super::routes::{Console, delete_each, each_item, id_matches, object, refuse_keys, reply};
use crate::body::Query;
use crate::listing::{page_of, prefix_or_exact};
use crate::reply::Reply;

fn member_names(auth: &Auth, ids: &std::collections::BTreeSet<String>) -> Vec<Value> {
    let users = auth.state();
    ids.iter()
        .map(|id| json!({ "id": id, "name": users.users.get(id).map(|u| u.name.clone()).unwrap_or_default() }))
        .collect()
}

pub(super) async fn create_group(c: Console, body: Body) -> Response {
    let result = async {
        let req = object(body).await?;
        let spec = GroupSpec {
            name: required_text(&req, "name")?,
            comment: required_text(&req, "comment")?,
            user_ids: ids(req.get("relation"), "users")?,
            source: required_text(&req, "source")?,
        };
        let group = c.auth().create_group(&c.op, spec).await?;
        Ok(Reply::ok().with("userGroup", group_out(&group, None)))
    };
    reply(result.await)
}

pub(super) async fn update_groups(c: Console, body: Body) -> Response {
    each_item(body, |item| {
        let c = c.clone();
        async move {
            let update = GroupUpdate {
                id: required_text(&item, "id")?,
                comment: text(&item, "comment"),
                add_users: ids(item.get("add_relations"), "users")?,
                remove_users: ids(item.get("remove_relations"), "users")?,
            };
            let group = c.auth().update_group(&c.op, update).await?;
            Ok(Reply::ok().with("userGroup", json!({ "id": group.id })))
        }
    })
    .await
}

const LIST_KEYS: &[&str] = &[
    "id", "name", "owner", "user_id", "source", "offset", "limit",
];

pub(super) async fn list_groups(c: Console, query: Query) -> Response {
    if let Some(refused) = refuse_keys(&query, LIST_KEYS) {
        return refused;
    }
    let user = query.get("user_id");
    let items = c
        .auth()
        .groups(&c.op)
        .into_iter()
        .filter(|g| id_matches(query.get("id"), &g.id))
        .filter(|g| prefix_or_exact(&g.name, query.get("name")))
        .filter(|g| user.is_none_or(|u| u.is_empty() || g.user_ids.contains(u)))
        .map(|g| group_out(&g, None))
        .collect();
    page_of(&query, items, "userGroups")
}

pub(super) async fn delete_groups(c: Console, body: Body) -> Response {
    delete_each(body, "userGroup", Code::InvalidUserGroupId, |id| {
        let c = c.clone();
        async move { c.auth().delete_group(&c.op, &id).await }
    })
    .await
}

pub(super) async fn group_detail(c: Console, query: Query) -> Response {
    reply((|| {
        let group = c.auth().group(&c.op, query.get("id").unwrap_or_default())?;
        let users = member_names(c.auth(), &group.user_ids);
        Ok(Reply::ok().with("userGroup", group_out(&group, Some(users))))
    })())
}
