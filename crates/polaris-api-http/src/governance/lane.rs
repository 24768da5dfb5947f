//! Lane groups (official `main` only): `/naming/v1/lane/groups` (+ `/delete`), item
//! `v1.LaneGroup`, replies `data` = Any (governance.md §6). Groups have no namespace; the domain
//! keeps them all in `default`, so a group name is unique, as officially.

use axum::Router;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use axum::routing::{get, post};
use polaris_governance::{RuleFilter, RuleSpec};
use polaris_proto::v1;
use polaris_types::validate::is_valid_name;
use polaris_types::{Code, PolarisError, Result, Rule, RuleKind, TargetRole};
use prost::Message;
use serde_json::Value;

use super::json::{decode_body, to_any_json};
use super::{add_target, as_is, check_count, check_match, failure, page_reply, run_batch, time};
use crate::AppState;
use crate::body::Query;
use crate::reply::{Reply, query_error};

const MESSAGE: &str = "v1.LaneGroup";
const KIND: RuleKind = RuleKind::Lane;
const NAMESPACE: &str = "default";
const MAX_LANE_RULES: usize = 100;
/// Entry types whose selector names a service.
const SERVICE_ENTRIES: &[&str] = &[
    "polarismesh.cn/service",
    "polarismesh.cn/gateway/spring-cloud-gateway",
];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/naming/v1/lane/groups", get(list).post(create).put(update))
        .route("/naming/v1/lane/groups/delete", post(delete))
}

fn invalid(detail: impl Into<String>) -> PolarisError {
    PolarisError::new(Code::InvalidParameter, detail)
}

/// A name as the lane paramcheck wants it: the name regex, shorter than 64 bytes.
fn check_name(name: &str, what: &str) -> Result<()> {
    if !is_valid_name(name, 63) {
        return Err(invalid(format!(
            "{what} {name:?} must match ^[0-9A-Za-z-./:_]+$ and be shorter than 64 bytes"
        )));
    }
    Ok(())
}

/// The service selectors of the group's traffic entries.
fn selectors(group: &v1::LaneGroup) -> Vec<v1::ServiceSelector> {
    group
        .entries
        .iter()
        .filter(|e| SERVICE_ENTRIES.contains(&e.r#type.as_str()))
        .filter_map(|e| e.selector.as_ref())
        .filter_map(|any| v1::ServiceSelector::decode(any.value.as_slice()).ok())
        .collect()
}

fn check(group: &v1::LaneGroup) -> Result<()> {
    check_name(&group.name, "lane group name")?;
    if group.rules.len() > MAX_LANE_RULES {
        return Err(invalid(format!(
            "at most {MAX_LANE_RULES} lane rules per group"
        )));
    }
    for rule in &group.rules {
        check_name(&rule.name, "lane rule name")?;
    }
    check_count(group.entries.len(), "entries")?;
    check_count(group.destinations.len(), "destinations")?;
    let code = Code::InvalidParameter;
    for rule in &group.rules {
        let arguments = rule
            .traffic_match_rule
            .as_ref()
            .map(|t| t.arguments.as_slice())
            .unwrap_or_default();
        check_count(arguments.len(), "arguments")?;
        for arg in arguments {
            check_match(arg.value.as_ref(), code, &format!("argument {:?}", arg.key))?;
        }
    }
    let selectors = selectors(group);
    let labels = group
        .destinations
        .iter()
        .flat_map(|d| d.labels.iter())
        .chain(selectors.iter().flat_map(|s| s.labels.iter()));
    for (key, label) in labels {
        check_match(Some(label), code, &format!("label {key:?}"))?;
    }
    Ok(())
}

fn spec(group: &v1::LaneGroup, id: Option<String>) -> Result<RuleSpec> {
    check(group)?;
    let mut targets = Vec::new();
    for d in &group.destinations {
        add_target(&mut targets, &d.namespace, &d.service, TargetRole::Callee);
    }
    for s in selectors(group) {
        add_target(&mut targets, &s.namespace, &s.service, TargetRole::Caller);
    }
    Ok(RuleSpec {
        kind: KIND,
        id,
        name: group.name.clone(),
        namespace: NAMESPACE.to_string(),
        enable: true,
        priority: 0,
        description: group.description.clone(),
        targets,
        body: group.encode_to_vec(),
    })
}

fn echo(group: &v1::LaneGroup) -> Value {
    to_any_json(group, MESSAGE)
}

fn by_name(state: &AppState, name: &str) -> Option<std::sync::Arc<Rule>> {
    let filter = RuleFilter {
        name: name.to_string(),
        ..RuleFilter::default()
    };
    state
        .governance
        .list(KIND, &filter)
        .into_iter()
        .find(|r| r.name == name)
}

async fn create(State(state): State<AppState>, body: Body) -> Response {
    run_batch(body, MESSAGE, false, as_is, |group: v1::LaneGroup| {
        let governance = state.governance.clone();
        async move {
            let id = (!group.id.is_empty()).then(|| group.id.clone());
            let result = match spec(&group, id) {
                Ok(spec) => governance.create(spec).await,
                Err(err) => Err(err),
            };
            match result {
                Ok(created) => {
                    let mut out = group.clone();
                    out.id = created.id.clone();
                    Reply::ok().with("data", echo(&out))
                }
                Err(err) => failure(&err),
            }
        }
    })
    .await
}

async fn update(State(state): State<AppState>, body: Body) -> Response {
    run_batch(body, MESSAGE, false, as_is, |group: v1::LaneGroup| {
        let state = state.clone();
        async move {
            if group.id.is_empty() {
                return failure(&invalid("lane group id is required"));
            }
            // Officially an update is located by name.
            let result = match check(&group) {
                Ok(()) => match by_name(&state, &group.name) {
                    Some(current) => match spec(&group, Some(current.id.clone())) {
                        Ok(spec) => state.governance.update(spec).await,
                        Err(err) => Err(err),
                    },
                    None => Err(PolarisError::new(
                        Code::NotFoundResource,
                        format!("lane group {}", group.name),
                    )),
                },
                Err(err) => Err(err),
            };
            match result {
                Ok(updated) => {
                    let mut out = group.clone();
                    out.id = updated.id.clone();
                    Reply::ok().with("data", echo(&out))
                }
                Err(err) => failure(&err),
            }
        }
    })
    .await
}

async fn delete(State(state): State<AppState>, body: Body) -> Response {
    run_batch(body, MESSAGE, false, as_is, |group: v1::LaneGroup| {
        let state = state.clone();
        async move {
            // By id, else by name; a missing group is a success.
            let id = if group.id.is_empty() {
                by_name(&state, &group.name).map(|r| r.id.clone())
            } else {
                Some(group.id.clone())
            };
            let result = match id {
                Some(id) => state.governance.delete(KIND, &id).await,
                None => Ok(()),
            };
            match result {
                Ok(()) => Reply::ok().with("data", echo(&group)),
                Err(err) => failure(&err),
            }
        }
    })
    .await
}

/// A stored group in its console form.
fn render(rule: &Rule) -> Option<v1::LaneGroup> {
    let mut out: v1::LaneGroup = decode_body(&rule.body)?;
    out.id = rule.id.clone();
    out.name = rule.name.clone();
    out.description = rule.description.clone();
    out.revision = rule.revision.clone();
    out.ctime = time(rule.ctime);
    out.mtime = time(rule.mtime);
    out.deleteable = true;
    Some(out)
}

/// The official `IsWildMatch`: `*x*` contains, `x*` prefix, `*x` suffix, else equality.
fn wild_match(name: &str, pattern: &str) -> bool {
    if pattern.is_empty() || pattern == "*" {
        return true;
    }
    match (pattern.strip_prefix('*'), pattern.strip_suffix('*')) {
        (Some(rest), Some(_)) => name.contains(rest.trim_end_matches('*')),
        (None, Some(prefix)) => name.starts_with(prefix),
        (Some(suffix), None) => name.ends_with(suffix),
        (None, None) => name == pattern,
    }
}

const LIST_KEYS: &[&str] = &[
    "id",
    "name",
    "offset",
    "limit",
    "brief",
    "order_field",
    "order_type",
];

async fn list(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Response {
    let query = Query::parse(raw.as_deref());
    if let Err(err) = query.check_keys(LIST_KEYS, LIST_KEYS) {
        return query_error(&err);
    }
    let page = match query.page() {
        Ok(page) => page,
        // A bad offset or limit is a plain bad request here.
        Err(err) => return query_error(&PolarisError::new(Code::BadRequest, err.detail)),
    };
    let filter = RuleFilter {
        id: query.text("id"),
        ..RuleFilter::default()
    };
    let name = query.text("name");
    let items = state
        .governance
        .list(KIND, &filter)
        .iter()
        .filter(|r| wild_match(&r.name, &name))
        .filter_map(|r| render(r))
        .map(|out| echo(&out))
        .collect();
    page_reply("data", items, page, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wild_matches() {
        assert!(wild_match("lane-a", "lane*"));
        assert!(wild_match("lane-a", "*-a"));
        assert!(wild_match("lane-a", "*ne-*"));
        assert!(wild_match("lane-a", "lane-a"));
        assert!(!wild_match("lane-a", "lane"));
        assert!(wild_match("x", ""));
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name("ok", "n").is_ok());
        assert!(check_name("", "n").is_err());
        assert!(check_name(&"a".repeat(64), "n").is_err());
        assert!(check_name("bad name", "n").is_err());
    }
}
