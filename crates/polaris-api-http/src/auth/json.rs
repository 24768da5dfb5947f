//! The official JSON of users, groups and strategies (`security/auth.proto`): what the console
//! sends and expects. Inputs accept plain values and the `{"value": ...}` wrapper form.

use std::collections::BTreeSet;

use polaris_auth::ResourceSet;
use polaris_types::{
    AuthAction, Code, PolarisError, ResourceKind, Result, Strategy, StrategyResource, User,
    UserGroup,
};
use serde_json::{Map, Value, json};

use crate::wire::json::time;

/// A string field of an object, plain or wrapped; absent, null and non-strings are `None`.
pub fn text(object: &Value, key: &str) -> Option<String> {
    match object.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Object(o) => match o.get("value") {
            Some(Value::String(s)) => Some(s.clone()),
            _ => None,
        },
        _ => None,
    }
}

/// A string field that must be present and a string (or absent: empty).
pub fn required_text(object: &Value, key: &str) -> Result<String> {
    match object.get(key) {
        None | Some(Value::Null) => Ok(String::new()),
        Some(_) => text(object, key).ok_or_else(|| {
            PolarisError::new(Code::ParseException, format!("{key} must be a string"))
        }),
    }
}

/// A boolean field, plain or wrapped.
pub fn boolean(object: &Value, key: &str) -> Option<bool> {
    match object.get(key)? {
        Value::Bool(b) => Some(*b),
        Value::Object(o) => o.get("value").and_then(Value::as_bool),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// The ids of a list of `{id: ...}` principals (or users) under `key`.
pub fn ids(object: Option<&Value>, key: &str) -> Result<BTreeSet<String>> {
    let Some(list) = object.and_then(|o| o.get(key)) else {
        return Ok(BTreeSet::new());
    };
    match list {
        Value::Null => Ok(BTreeSet::new()),
        Value::Array(items) => items
            .iter()
            .map(|item| {
                text(item, "id").filter(|id| !id.is_empty()).ok_or_else(|| {
                    PolarisError::new(
                        Code::InvalidUserId,
                        format!("every {key} entry needs an id"),
                    )
                })
            })
            .collect(),
        _ => Err(PolarisError::new(
            Code::ParseException,
            format!("{key} must be an array"),
        )),
    }
}

/// A user as listed (no password, no token).
pub fn user_out(user: &User) -> Value {
    json!({
        "id": user.id,
        "name": user.name,
        "password": null,
        "owner": user.owner,
        "source": user.source,
        "auth_token": null,
        "token_enable": user.token_enable,
        "comment": user.comment,
        "ctime": time(user.ctime),
        "mtime": time(user.mtime),
        "user_type": user.role.value().to_string(),
        "mobile": user.mobile,
        "email": user.email,
        "metadata": {},
    })
}

/// A user's token view.
pub fn user_token_out(user: &User) -> Value {
    json!({
        "id": user.id,
        "name": user.name,
        "auth_token": user.token,
        "token_enable": user.token_enable,
    })
}

/// A group as listed; `with_users` adds the members (`relation.users`).
pub fn group_out(group: &UserGroup, users: Option<Vec<Value>>) -> Value {
    let mut out = json!({
        "id": group.id,
        "name": group.name,
        "owner": group.owner,
        "auth_token": null,
        "token_enable": group.token_enable,
        "comment": group.comment,
        "ctime": time(group.ctime),
        "mtime": time(group.mtime),
        "user_count": group.user_ids.len(),
        "source": group.source,
        "metadata": {},
    });
    if let Some(users) = users {
        out["relation"] = json!({ "group_id": group.id, "users": users });
    }
    out
}

/// A group's token view.
pub fn group_token_out(group: &UserGroup) -> Value {
    json!({
        "id": group.id,
        "name": group.name,
        "auth_token": group.token,
        "token_enable": group.token_enable,
    })
}

/// The action names the official JSON uses.
pub fn action_name(action: AuthAction) -> &'static str {
    match action {
        AuthAction::ReadOnly => "ONLY_READ",
        AuthAction::ReadWrite => "READ_WRITE",
    }
}

/// Parses `action`: a name or its number; absent means read-write, as officially.
pub fn action(object: &Value) -> Result<Option<AuthAction>> {
    match object.get("action") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s == "READ_WRITE" => Ok(Some(AuthAction::ReadWrite)),
        Some(Value::String(s)) if s == "ONLY_READ" || s == "READ" => Ok(Some(AuthAction::ReadOnly)),
        Some(Value::Number(n)) if n.as_u64() == Some(1) => Ok(Some(AuthAction::ReadWrite)),
        Some(Value::Number(n)) if n.as_u64() == Some(0) => Ok(Some(AuthAction::ReadOnly)),
        Some(other) => Err(PolarisError::new(
            Code::InvalidParameter,
            format!("unknown action {other}"),
        )),
    }
}

const RESOURCE_LISTS: [(&str, ResourceKind); 3] = [
    ("namespaces", ResourceKind::Namespace),
    ("services", ResourceKind::Service),
    ("config_groups", ResourceKind::ConfigGroup),
];

/// Parses a `StrategyResources` object.
pub fn resources(object: Option<&Value>) -> Result<ResourceSet> {
    let mut out = ResourceSet::new();
    let Some(object) = object.filter(|o| !o.is_null()) else {
        return Ok(out);
    };
    for (key, kind) in RESOURCE_LISTS {
        let Some(list) = object.get(key).filter(|l| !l.is_null()) else {
            continue;
        };
        let Value::Array(items) = list else {
            return Err(PolarisError::new(
                Code::ParseException,
                format!("{key} must be an array"),
            ));
        };
        for item in items {
            let id = required_text(item, "id")?;
            let namespace = required_text(item, "namespace")?;
            let name = required_text(item, "name")?;
            let (id, namespace, name) = match kind {
                // A namespace is named by its name, whichever field carries it.
                ResourceKind::Namespace => {
                    let named = [id, name, namespace].into_iter().find(|s| !s.is_empty());
                    (named.unwrap_or_default(), String::new(), String::new())
                }
                _ => (id, namespace, name),
            };
            if id.is_empty() && (namespace.is_empty() || name.is_empty()) {
                return Err(PolarisError::new(
                    Code::InvalidParameter,
                    format!("every {key} entry needs an id, or a namespace and a name"),
                ));
            }
            if [&id, &namespace, &name].iter().any(|s| s.len() > 256) {
                return Err(PolarisError::new(
                    Code::InvalidParameter,
                    "resource name too long",
                ));
            }
            out.insert(StrategyResource {
                kind,
                id,
                namespace,
                name,
            });
        }
    }
    Ok(out)
}

/// A `StrategyResources` object.
pub fn resources_out(strategy_id: &str, resources: &ResourceSet) -> Value {
    let mut out = Map::new();
    out.insert("strategy_id".into(), strategy_id.into());
    for (key, kind) in RESOURCE_LISTS {
        let items: Vec<Value> = resources
            .iter()
            .filter(|r| r.kind == kind)
            .map(|r| json!({ "id": r.id, "namespace": r.namespace, "name": r.name }))
            .collect();
        out.insert(key.into(), Value::Array(items));
    }
    Value::Object(out)
}

/// A strategy; `names` resolves principal ids to names.
pub fn strategy_out(strategy: &Strategy, names: impl Fn(&str) -> String) -> Value {
    let principals = |ids: &BTreeSet<String>| {
        ids.iter()
            .map(|id| json!({ "id": id, "name": names(id) }))
            .collect::<Vec<_>>()
    };
    json!({
        "id": strategy.id,
        "name": strategy.name,
        "principals": {
            "users": principals(&strategy.users),
            "groups": principals(&strategy.groups),
            "roles": [],
        },
        "resources": resources_out(&strategy.id, &strategy.resources),
        "action": action_name(strategy.action),
        "comment": strategy.comment,
        "owner": strategy.owner,
        "ctime": time(strategy.ctime),
        "mtime": time(strategy.mtime),
        "auth_token": null,
        "default_strategy": strategy.default_strategy,
        "metadata": {},
        "source": strategy.source,
        "functions": [],
        "resource_labels": [],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resources_name_namespaces_by_id_name_or_namespace_and_the_rest_by_pair_or_id() {
        let set = resources(Some(&json!({
            "namespaces": [{ "id": "a" }, { "name": "b" }, { "namespace": "c" }],
            "services": [{ "id": "svc-id" }, { "namespace": "a", "name": "cart" }],
            "config_groups": [{ "id": "*" }],
        })))
        .unwrap();
        let names: Vec<(ResourceKind, &str, &str, &str)> = set
            .iter()
            .map(|r| (r.kind, r.id.as_str(), r.namespace.as_str(), r.name.as_str()))
            .collect();
        assert_eq!(
            names,
            [
                (ResourceKind::Namespace, "a", "", ""),
                (ResourceKind::Namespace, "b", "", ""),
                (ResourceKind::Namespace, "c", "", ""),
                (ResourceKind::Service, "", "a", "cart"),
                (ResourceKind::Service, "svc-id", "", ""),
                (ResourceKind::ConfigGroup, "*", "", ""),
            ]
        );
        for bad in [
            json!({ "namespaces": [{}] }),
            json!({ "services": [{ "namespace": "a" }] }),
            json!({ "services": "all" }),
            json!({ "namespaces": [{ "id": 7 }] }),
            json!({ "namespaces": [{ "id": "x".repeat(300) }] }),
        ] {
            assert!(resources(Some(&bad)).is_err(), "{bad}");
        }
    }
}
