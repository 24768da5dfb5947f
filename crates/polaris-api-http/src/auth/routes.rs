//! `/core/v1` users, user groups, strategies, login and auth status. The caller was
//! established by the enforcement layer and arrives as an [`Operator`] extension.

use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Extension, Router};
use polaris_auth::{
    Auth, GroupSpec, GroupUpdate, Operator, StrategySpec, StrategyUpdate, UserSpec, UserUpdate,
};
use polaris_types::{AuthAction, Code, PolarisError, Result};
use serde_json::{Value, json};

use super::json::{
    action, boolean, group_out, group_token_out, ids, required_text, resources, resources_out,
    strategy_out, text, user_out, user_token_out,
};
use crate::AppState;
use crate::body::{Query, read_body};
use crate::reply::{BatchReply, BatchRule, Reply, query_error, query_reply};

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/core/v1/auth/status", get(status))
        .route("/core/v1/user/login", post(login))
        .route("/core/v1/users", get(list_users).post(create_users))
        .route("/core/v1/users/delete", post(delete_users))
        .route("/core/v1/user", put(update_user))
        .route("/core/v1/user/password", put(update_password))
        .route("/core/v1/user/token", get(user_token))
        .route("/core/v1/user/token/status", put(user_token_status))
        .route("/core/v1/user/token/refresh", put(user_token_refresh))
        .route("/core/v1/usergroup", post(create_group))
        .route("/core/v1/usergroups", get(list_groups).put(update_groups))
        .route("/core/v1/usergroups/delete", post(delete_groups))
        .route("/core/v1/usergroup/detail", get(group_detail))
        .route("/core/v1/usergroup/token", get(group_token))
        .route("/core/v1/usergroup/token/status", put(group_token_status))
        .route("/core/v1/usergroup/token/refresh", put(group_token_refresh))
        .route("/core/v1/auth/strategy", post(create_strategy))
        .route("/core/v1/auth/strategy/detail", get(strategy_detail))
        .route(
            "/core/v1/auth/strategies",
            get(list_strategies).put(update_strategies),
        )
        .route("/core/v1/auth/strategies/delete", post(delete_strategies))
        .route(
            "/core/v1/auth/principal/resources",
            get(principal_resources),
        )
}

type Caller = Option<Extension<Operator>>;

fn operator(caller: Caller) -> Operator {
    caller.map_or(Operator::Anonymous, |Extension(op)| op)
}

async fn object(body: Body) -> Result<Value> {
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

async fn array(body: Body) -> std::result::Result<Vec<Value>, Response> {
    let bytes = read_body(body).await.map_err(|e| BatchReply::failed(&e))?;
    crate::body::parse_array::<Value>(&bytes).map_err(|e| BatchReply::failed(&e))
}

fn reply(result: Result<Reply>) -> Response {
    result.unwrap_or_else(Reply::from).into_response()
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

/// Applies `offset`/`limit` (at most 100) to a listing.
fn page(query: &Query, items: Vec<Value>, field: &str) -> Response {
    let offset = match query.number("offset") {
        Ok(n) => n.unwrap_or(0),
        Err(err) => return query_error(&err),
    };
    let limit = match query.number("limit") {
        Ok(n) => n.unwrap_or(100).min(100),
        Err(err) => return query_error(&err),
    };
    let amount = items.len();
    let items = items.into_iter().skip(offset).take(limit).collect();
    query_reply(field, amount, items)
}

/// `name` filters accept a trailing `*` as a prefix match, as officially.
fn name_matches(filter: Option<&str>, name: &str) -> bool {
    match filter {
        None | Some("") => true,
        Some(f) => match f.strip_suffix('*') {
            Some(prefix) => name.starts_with(prefix),
            None => name == f,
        },
    }
}

fn check_keys(query: &Query, allowed: &[&str]) -> Result<()> {
    match query.0.iter().find(|(k, _)| !allowed.contains(&k.as_str())) {
        Some((k, _)) => Err(PolarisError::new(
            Code::InvalidParameter,
            format!("{k} is not allowed"),
        )),
        None => Ok(()),
    }
}

async fn list_users(
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
    if let Err(err) = check_keys(&query, &allowed) {
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
        .filter(|u| name_matches(query.get("name"), &u.name))
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
    page(&query, items, "users")
}

async fn create_users(State(state): State<AppState>, caller: Caller, body: Body) -> Response {
    let items = match array(body).await {
        Ok(items) => items,
        Err(response) => return response,
    };
    let op = operator(caller);
    let mut batch = BatchReply::new(BatchRule::HighestFailure);
    for item in items {
        let created = async {
            let spec = UserSpec {
                name: required_text(&item, "name")?,
                password: required_text(&item, "password")?,
                comment: required_text(&item, "comment")?,
                mobile: required_text(&item, "mobile")?,
                email: required_text(&item, "email")?,
                source: required_text(&item, "source")?,
            };
            let user = state.auth.create_user(&op, spec).await?;
            Ok::<_, PolarisError>(Reply::ok().with(
                "user",
                json!({ "id": user.id, "name": user.name, "owner": "" }),
            ))
        }
        .await;
        batch.push(created.unwrap_or_else(Reply::from));
    }
    batch.into_response()
}

async fn delete_users(State(state): State<AppState>, caller: Caller, body: Body) -> Response {
    let items = match array(body).await {
        Ok(items) => items,
        Err(response) => return response,
    };
    let op = operator(caller);
    let mut batch = BatchReply::new(BatchRule::HighestFailure);
    for item in items {
        let id = text(&item, "id").unwrap_or_default();
        let result = match id.is_empty() {
            true => Err(PolarisError::new(Code::InvalidUserId, "")),
            false => state.auth.delete_user(&op, &id).await,
        };
        batch.push(match result {
            Ok(()) => Reply::ok().with("user", json!({ "id": id })),
            Err(err) => Reply::from(err).with("user", json!({ "id": id })),
        });
    }
    batch.into_response()
}

async fn update_user(State(state): State<AppState>, caller: Caller, body: Body) -> Response {
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

async fn update_password(State(state): State<AppState>, caller: Caller, body: Body) -> Response {
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

async fn user_token(
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

async fn user_token_status(State(state): State<AppState>, caller: Caller, body: Body) -> Response {
    reply(
        async {
            let req = object(body).await?;
            let id = required_text(&req, "id")?;
            let enable = boolean(&req, "token_enable").unwrap_or(false);
            let user = state
                .auth
                .set_user_token_enabled(&operator(caller), &id, enable)
                .await?;
            Ok(Reply::ok().with(
                "user",
                json!({ "id": user.id, "token_enable": user.token_enable }),
            ))
        }
        .await,
    )
}

async fn user_token_refresh(State(state): State<AppState>, caller: Caller, body: Body) -> Response {
    reply(
        async {
            let req = object(body).await?;
            let id = required_text(&req, "id")?;
            let user = state
                .auth
                .refresh_user_token(&operator(caller), &id)
                .await?;
            Ok(Reply::ok().with("user", user_token_out(&user)))
        }
        .await,
    )
}

fn member_names(auth: &Auth, ids: &std::collections::BTreeSet<String>) -> Vec<Value> {
    let users = auth.state();
    ids.iter()
        .map(|id| json!({ "id": id, "name": users.users.get(id).map(|u| u.name.clone()).unwrap_or_default() }))
        .collect()
}

async fn create_group(State(state): State<AppState>, caller: Caller, body: Body) -> Response {
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

async fn update_groups(State(state): State<AppState>, caller: Caller, body: Body) -> Response {
    let items = match array(body).await {
        Ok(items) => items,
        Err(response) => return response,
    };
    let op = operator(caller);
    let mut batch = BatchReply::new(BatchRule::HighestFailure);
    for item in items {
        let result = async {
            let update = GroupUpdate {
                id: required_text(&item, "id")?,
                comment: text(&item, "comment"),
                add_users: ids(item.get("add_relations"), "users")?,
                remove_users: ids(item.get("remove_relations"), "users")?,
            };
            let group = state.auth.update_group(&op, update).await?;
            Ok::<_, PolarisError>(Reply::ok().with("userGroup", json!({ "id": group.id })))
        }
        .await;
        batch.push(result.unwrap_or_else(Reply::from));
    }
    batch.into_response()
}

async fn list_groups(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Response {
    let query = Query::parse(raw.as_deref());
    if let Err(err) = check_keys(
        &query,
        &[
            "id", "name", "owner", "user_id", "source", "offset", "limit",
        ],
    ) {
        return query_error(&err);
    }
    let items = state
        .auth
        .groups(&operator(caller))
        .into_iter()
        .filter(|g| query.get("id").is_none_or(|id| id.is_empty() || g.id == id))
        .filter(|g| name_matches(query.get("name"), &g.name))
        .filter(|g| {
            query
                .get("user_id")
                .is_none_or(|u| u.is_empty() || g.user_ids.contains(u))
        })
        .map(|g| group_out(&g, None))
        .collect();
    page(&query, items, "userGroups")
}

async fn delete_groups(State(state): State<AppState>, caller: Caller, body: Body) -> Response {
    let items = match array(body).await {
        Ok(items) => items,
        Err(response) => return response,
    };
    let op = operator(caller);
    let mut batch = BatchReply::new(BatchRule::HighestFailure);
    for item in items {
        let id = text(&item, "id").unwrap_or_default();
        let result = match id.is_empty() {
            true => Err(PolarisError::new(Code::InvalidUserGroupId, "")),
            false => state.auth.delete_group(&op, &id).await,
        };
        batch.push(match result {
            Ok(()) => Reply::ok().with("userGroup", json!({ "id": id })),
            Err(err) => Reply::from(err).with("userGroup", json!({ "id": id })),
        });
    }
    batch.into_response()
}

async fn group_detail(
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

async fn group_token(
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

async fn group_token_status(State(state): State<AppState>, caller: Caller, body: Body) -> Response {
    reply(
        async {
            let req = object(body).await?;
            let id = required_text(&req, "id")?;
            let enable = boolean(&req, "token_enable").unwrap_or(false);
            let group = state
                .auth
                .set_group_token_enabled(&operator(caller), &id, enable)
                .await?;
            Ok(Reply::ok().with(
                "userGroup",
                json!({ "id": group.id, "token_enable": group.token_enable }),
            ))
        }
        .await,
    )
}

async fn group_token_refresh(
    State(state): State<AppState>,
    caller: Caller,
    body: Body,
) -> Response {
    reply(
        async {
            let req = object(body).await?;
            let id = required_text(&req, "id")?;
            let group = state
                .auth
                .refresh_group_token(&operator(caller), &id)
                .await?;
            Ok(Reply::ok().with("userGroup", group_token_out(&group)))
        }
        .await,
    )
}

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

async fn create_strategy(State(state): State<AppState>, caller: Caller, body: Body) -> Response {
    reply(
        async {
            let req = object(body).await?;
            let principals = req.get("principals");
            let spec = StrategySpec {
                name: required_text(&req, "name")?,
                comment: required_text(&req, "comment")?,
                action: action(&req)?.unwrap_or(AuthAction::ReadWrite),
                users: ids(principals, "users")?,
                groups: ids(principals, "groups")?,
                resources: resolve_ids(&state, resources(req.get("resources"))?),
            };
            let strategy = state.auth.create_strategy(&operator(caller), spec).await?;
            Ok(Reply::ok().with(
                "authStrategy",
                strategy_out(&strategy, principal_name(&state.auth)),
            ))
        }
        .await,
    )
}

async fn strategy_detail(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Response {
    let query = Query::parse(raw.as_deref());
    reply((|| {
        let strategy = state
            .auth
            .strategy(&operator(caller), query.get("id").unwrap_or_default())?;
        Ok(Reply::ok().with(
            "authStrategy",
            strategy_out(&strategy, principal_name(&state.auth)),
        ))
    })())
}

async fn update_strategies(State(state): State<AppState>, caller: Caller, body: Body) -> Response {
    let items = match array(body).await {
        Ok(items) => items,
        Err(response) => return response,
    };
    let op = operator(caller);
    let mut batch = BatchReply::new(BatchRule::HighestFailure);
    for item in items {
        let result = async {
            let update = StrategyUpdate {
                id: required_text(&item, "id")?,
                comment: text(&item, "comment"),
                action: action(&item)?,
                add_users: ids(item.get("add_principals"), "users")?,
                add_groups: ids(item.get("add_principals"), "groups")?,
                remove_users: ids(item.get("remove_principals"), "users")?,
                remove_groups: ids(item.get("remove_principals"), "groups")?,
                add_resources: resolve_ids(&state, resources(item.get("add_resources"))?),
                remove_resources: resolve_ids(&state, resources(item.get("remove_resources"))?),
            };
            let strategy = state.auth.update_strategy(&op, update).await?;
            Ok::<_, PolarisError>(Reply::ok().with("authStrategy", json!({ "id": strategy.id })))
        }
        .await;
        batch.push(result.unwrap_or_else(Reply::from));
    }
    batch.into_response()
}

async fn list_strategies(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Response {
    let query = Query::parse(raw.as_deref());
    let allowed = [
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
    if let Err(err) = check_keys(&query, &allowed) {
        return query_error(&err);
    }
    let detail = query.boolean("show_detail").unwrap_or(false);
    let names = principal_name(&state.auth);
    let items = state
        .auth
        .strategies(&operator(caller))
        .into_iter()
        .filter(|s| query.get("id").is_none_or(|id| id.is_empty() || s.id == id))
        .filter(|s| name_matches(query.get("name"), &s.name))
        .filter(|s| {
            query
                .get("principal_id")
                .is_none_or(|p| p.is_empty() || s.users.contains(p) || s.groups.contains(p))
        })
        .filter(|s| {
            query
                .boolean("default")
                .is_none_or(|d| s.default_strategy == d)
        })
        .filter(|s| {
            query.get("res_id").is_none_or(|r| {
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
    page(&query, items, "authStrategies")
}

async fn delete_strategies(State(state): State<AppState>, caller: Caller, body: Body) -> Response {
    let items = match array(body).await {
        Ok(items) => items,
        Err(response) => return response,
    };
    let op = operator(caller);
    let mut batch = BatchReply::new(BatchRule::HighestFailure);
    for item in items {
        let id = text(&item, "id").unwrap_or_default();
        let result = match id.is_empty() {
            true => Err(PolarisError::new(Code::InvalidAuthStrategyId, "")),
            false => state.auth.delete_strategy(&op, &id).await,
        };
        batch.push(match result {
            Ok(()) => Reply::ok().with("authStrategy", json!({ "id": id })),
            Err(err) => Reply::from(err).with("authStrategy", json!({ "id": id })),
        });
    }
    batch.into_response()
}

async fn principal_resources(
    State(state): State<AppState>,
    caller: Caller,
    RawQuery(raw): RawQuery,
) -> Response {
    let query = Query::parse(raw.as_deref());
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
        let set = state
            .auth
            .principal_resources(&operator(caller), id, group)?;
        Ok(Reply::ok().with("resources", resources_out("", &set)))
    })())
}
