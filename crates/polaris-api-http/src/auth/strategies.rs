//! `/core/v1/auth/strateg(y|ies)` and `/core/v1/auth/principal/resources`.

use axum::body::Body;
use axum::response::Response;
use polaris_auth::{Auth, StrategySpec, StrategyUpdate};
use polaris_types::{AuthAction, Code, PolarisError};
use serde_json::{Value, json};

use super::json::{action, ids, required_text, resources, resources_out, strategy_out, text};
use super::routes::{Console, delete_each, each_item, id_matches, object, refuse_keys, reply};
use crate::AppState;
use crate::body::Query;
use crate::listing::{page_of, prefix_or_exact};
use crate::reply::Reply;

/// Fills in the namespace and name of service and config group entries the console names by
/// their id only, so that strategies match requests, which name resources by namespace and name.
fn resolve_ids(state: &AppState, set: polaris_auth::ResourceSet) -> polaris_auth::ResourceSet {
    let needs = |r: &polaris_types::StrategyResource| {
        r.kind != polaris_types::ResourceKind::Namespace
            && r.id != "*"
            && !r.id.is_empty()
            && r.name.is_empty()
    };
    if !set.iter().any(needs) {
        return set;
    }
    let naming = state.naming.snapshot();
    let config = state.config.snapshot();
    set.into_iter()
        .map(|mut r| {
            if needs(&r) {
                let found = match r.kind {
                    polaris_types::ResourceKind::Service => naming
                        .services
                        .values()
                        .find(|v| v.service.id == r.id)
                        .map(|v| (v.service.namespace.clone(), v.service.name.clone())),
                    _ => config
                        .groups
                        .values()
                        .find(|g| g.id.to_string() == r.id)
                        .map(|g| (g.namespace.clone(), g.name.clone())),
                };
                if let Some((namespace, name)) = found {
                    r.namespace = namespace;
                    r.name = name;
                }
            }
            r
        })
        .collect()
}

fn principal_name(auth: &Auth) -> impl Fn(&str) -> String {
    let state = auth.state();
    move |id: &str| {
        state
            .users
            .get(id)
            .map(|u| u.name.clone())
            .or_else(|| state.groups.get(id).map(|g| g.name.clone()))
            .unwrap_or_default()
    }
}

pub(super) async fn create_strategy(c: Console, body: Body) -> Response {
    let result = async {
        let req = object(body).await?;
        let principals = req.get("principals");
        let spec = StrategySpec {
            name: required_text(&req, "name")?,
            comment: required_text(&req, "comment")?,
            action: action(&req)?.unwrap_or(AuthAction::ReadWrite),
            users: ids(principals, "users")?,
            groups: ids(principals, "groups")?,
            resources: resolve_ids(&c.state, resources(req.get("resources"))?),
        };
        let strategy = c.auth().create_strategy(&c.op, spec).await?;
        let out = strategy_out(&strategy, principal_name(c.auth()));
        Ok(Reply::ok().with("authStrategy", out))
    };
    reply(result.await)
}

pub(super) async fn strategy_detail(c: Console, query: Query) -> Response {
    reply((|| {
        let id = query.get("id").unwrap_or_default();
        let strategy = c.auth().strategy(&c.op, id)?;
        let out = strategy_out(&strategy, principal_name(c.auth()));
        Ok(Reply::ok().with("authStrategy", out))
    })())
}

pub(super) async fn update_strategies(c: Console, body: Body) -> Response {
    each_item(body, |item| {
        let c = c.clone();
        async move {
            let (add, remove) = (item.get("add_principals"), item.get("remove_principals"));
            let update = StrategyUpdate {
                id: required_text(&item, "id")?,
                comment: text(&item, "comment"),
                action: action(&item)?,
                add_users: ids(add, "users")?,
                add_groups: ids(add, "groups")?,
                remove_users: ids(remove, "users")?,
                remove_groups: ids(remove, "groups")?,
                add_resources: resolve_ids(&c.state, resources(item.get("add_resources"))?),
                remove_resources: resolve_ids(&c.state, resources(item.get("remove_resources"))?),
            };
            let strategy = c.auth().update_strategy(&c.op, update).await?;
            Ok(Reply::ok().with("authStrategy", json!({ "id": strategy.id })))
        }
    })
    .await
}

const LIST_KEYS: &[&str] = &[
    "id",
    "name",
    "owner",
    "principal_id",
    "principal_type",
    "res_id",
    "res_type",
    "default",
    "show_detail",
    "offset",
    "limit",
];

pub(super) async fn list_strategies(c: Console, query: Query) -> Response {
    if let Some(refused) = refuse_keys(&query, LIST_KEYS) {
        return refused;
    }
    let detail = query.boolean("show_detail").unwrap_or(false);
    let names = principal_name(c.auth());
    let (principal, default) = (query.get("principal_id"), query.boolean("default"));
    let resource = query.get("res_id");
    let items = c
        .auth()
        .strategies(&c.op)
        .into_iter()
        .filter(|s| id_matches(query.get("id"), &s.id))
        .filter(|s| prefix_or_exact(&s.name, query.get("name")))
        .filter(|s| {
            principal.is_none_or(|p| p.is_empty() || s.users.contains(p) || s.groups.contains(p))
        })
        .filter(|s| default.is_none_or(|d| s.default_strategy == d))
        .filter(|s| {
            resource.is_none_or(|r| {
                r.is_empty() || s.resources.iter().any(|e| e.id == r || e.name == r)
            })
        })
        .map(|s| {
            let mut out = strategy_out(&s, &names);
            if !detail {
                out["resources"] = Value::Null;
                out["principals"] = Value::Null;
            }
            out
        })
        .collect();
    page_of(&query, items, "authStrategies")
}

pub(super) async fn delete_strategies(c: Console, body: Body) -> Response {
    delete_each(body, "authStrategy", Code::InvalidAuthStrategyId, |id| {
        let c = c.clone();
        async move { c.auth().delete_strategy(&c.op, &id).await }
    })
    .await
}

pub(super) async fn principal_resources(c: Console, query: Query) -> Response {
    reply((|| {
        let id = query.get("principal_id").unwrap_or_default();
        let group = match query.get("principal_type").unwrap_or("user") {
            "user" | "1" => false,
            "group" | "groups" | "2" => true,
            other => {
                return Err(PolarisError::new(
                    Code::InvalidPrincipalType,
                    other.to_string(),
                ));
            }
        };
        let set = c.auth().principal_resources(&c.op, id, group)?;
        Ok(Reply::ok().with("resources", resources_out("", &set)))
    })())
}
