//! Publishing and release views under `/config/v1/configfiles`: publish, get, list, versions,
//! rollback, delete, stop beta, create-and-publish, history and the encryption algorithms.

use axum::Router;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use polaris_config::{FileSpec, PublishSpec};
use polaris_proto::v1;
use polaris_types::validate::is_valid_name;
use polaris_types::{Code, ConfigFileKey, FileAttrs, PolarisError, ReleaseKind, Result};
use serde_json::json;

use super::convert::{beta_label, history_json, release_json, tags_in};
use super::groups::check_names;
use super::{
    INVALID_MATCH_RULE, PREFIX, batch_reply, page, query_error, query_reply, raw_reply, read_many,
    read_one, text, wildcard,
};
use crate::AppState;
use crate::auth::guard::Visibility;
use crate::body::Query;
use crate::governance::json::to_json;
use crate::reply::{Reply, json_reply};
use polaris_config::client::{self, PublishRequest};

pub(super) fn routes() -> Router<AppState> {
    let path = |p: &str| format!("{PREFIX}/configfiles/{p}");
    Router::new()
        .route(&path("release"), get(get_release).post(publish))
        .route(&path("releases"), get(list))
        .route(&path("release/versions"), get(versions))
        .route(&path("releases/rollback"), put(rollback))
        .route(&path("releases/delete"), post(delete))
        .route(&path("releases/stopbeta"), post(stop_beta))
        .route(&path("createandpub"), post(create_and_publish))
        .route(&path("releasehistory"), get(history))
        .route(&path("encryptalgorithm"), get(algorithms))
}

fn bad(detail: &str) -> PolarisError {
    PolarisError::new(Code::BadRequest, detail)
}

/// The 400000 checks of the release endpoints (rollback, delete, stopbeta, createandpub).
fn check_release_key(key: &ConfigFileKey) -> Result<()> {
    if !is_valid_name(&key.namespace, 64) {
        return Err(bad("invalid config namespace"));
    }
    if !is_valid_name(&key.group, 128) {
        return Err(bad("invalid config group"));
    }
    if key.name.is_empty() {
        return Err(bad("invalid config file_name"));
    }
    Ok(())
}

fn release_key(release: &v1::ConfigFileRelease) -> ConfigFileKey {
    ConfigFileKey::new(
        text(&release.namespace),
        text(&release.group),
        text(&release.file_name),
    )
}

async fn publish(State(state): State<AppState>, body: Body) -> Response {
    let request = match read_one::<v1::ConfigFileRelease>(body, "v1.ConfigFileRelease").await {
        Ok(request) => request,
        Err(reply) => return reply,
    };
    let key = release_key(&request);
    let outcome = async {
        if key.name.is_empty() {
            return Err(raw_reply(Code::InvalidConfigFileName.value(), ""));
        }
        check_names(&key.namespace, &key.group).map_err(Reply::from)?;
        let publish = PublishRequest {
            key: key.clone(),
            release_name: text(&request.name),
            release_type: text(&request.release_type),
            release_description: request.release_description.clone().unwrap_or_default(),
            comment: request.comment.clone().unwrap_or_default(),
            beta_labels: request.beta_labels.iter().map(beta_label).collect(),
        };
        let spec = client::publish_spec(publish).map_err(|_| raw_reply(INVALID_MATCH_RULE, ""))?;
        state.config.publish(spec).await.map_err(Reply::from)
    }
    .await;
    match outcome {
        Ok(release) => {
            let echo = v1::ConfigFileRelease {
                name: Some(release.name.clone()),
                ..request
            };
            Reply::ok().with("configFileRelease", to_json(&echo, "v1.ConfigFileRelease"))
        }
        Err(reply) => reply,
    }
    .into_response()
}

fn query_key(query: &Query) -> ConfigFileKey {
    let file = query
        .get("file_name")
        .filter(|f| !f.is_empty())
        .or(query.get("fileName"))
        .or(query.get("name"))
        .unwrap_or_default();
    ConfigFileKey::new(query.text("namespace"), query.text("group"), file)
}

fn require_query_key(key: &ConfigFileKey) -> Result<()> {
    if key.namespace.is_empty() {
        return Err(bad("invalid namespace"));
    }
    if key.group.is_empty() {
        return Err(bad("invalid config group"));
    }
    if key.name.is_empty() {
        return Err(bad("invalid config file name"));
    }
    Ok(())
}

async fn get_release(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Response {
    let query = Query::parse(raw.as_deref());
    let key = query_key(&query);
    if let Err(err) = require_query_key(&key) {
        return Reply::from(err).into_response();
    }
    let snapshot = state.config.snapshot();
    let release = match query.get("release_name").filter(|n| !n.is_empty()) {
        Some(name) => snapshot
            .releases
            .get(&(key.clone(), name.to_string()))
            .cloned(),
        None => snapshot.active(&key, ReleaseKind::Normal),
    };
    let value = release.map_or(serde_json::Value::Null, |r| release_json(&r, true));
    Reply::ok().with("configFileRelease", value).into_response()
}

async fn list(
    State(state): State<AppState>,
    Visibility(visible): Visibility,
    RawQuery(raw): RawQuery,
) -> Response {
    const FIELD: &str = "configFileReleases";
    let query = Query::parse(raw.as_deref());
    let paging = match page(&query) {
        Ok(paging) => paging,
        Err(err) => return query_error(&err, FIELD),
    };
    let key = ConfigFileKey::new(
        query.text("namespace"),
        query.text("group"),
        query
            .get("file_name")
            .or(query.get("fileName"))
            .unwrap_or_default(),
    );
    let release_name = query
        .get("release_name")
        .or(query.get("name"))
        .unwrap_or_default()
        .to_string();
    let only_active = query.get("only_active") == Some("true");
    let snapshot = state.config.snapshot();
    let mut releases: Vec<_> = snapshot
        .releases
        .values()
        .filter(|r| {
            wildcard(&r.key.namespace, &key.namespace)
                && wildcard(&r.key.group, &key.group)
                && wildcard(&r.key.name, &key.name)
                && wildcard(&r.name, &release_name)
                && (!only_active || r.active)
                && visible.config_group(&r.key.namespace, &r.key.group)
        })
        .cloned()
        .collect();
    if query.get("order_field") == Some("name") {
        releases.sort_by(|a, b| a.name.cmp(&b.name));
    } else {
        releases.sort_by_key(|r| (r.mtime, r.id));
    }
    if query.get("order_type") == Some("desc") {
        releases.reverse();
    }
    let total = releases.len();
    let items = paging
        .apply(releases)
        .items
        .iter()
        .map(|r| release_json(r, false))
        .collect();
    query_reply(FIELD, total, items)
}

async fn versions(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Response {
    const FIELD: &str = "configFileReleases";
    let key = query_key(&Query::parse(raw.as_deref()));
    if let Err(err) = require_query_key(&key) {
        return query_error(&err, FIELD);
    }
    let snapshot = state.config.snapshot();
    let mut releases: Vec<_> = snapshot.releases_of(&key).cloned().collect();
    releases.sort_by_key(|r| std::cmp::Reverse(r.version));
    let items: Vec<_> = releases.iter().map(|r| release_json(r, false)).collect();
    query_reply(FIELD, items.len(), items)
}

/// The four keys every batch release item needs (namespace, group, file, release name).
fn item_key(item: &v1::ConfigFileRelease) -> Result<(ConfigFileKey, String)> {
    let key = release_key(item);
    check_release_key(&key)?;
    let name = text(&item.name);
    if name.is_empty() {
        return Err(bad("invalid config release name"));
    }
    Ok((key, name))
}

async fn rollback(State(state): State<AppState>, body: Body) -> Response {
    let items = match read_many::<v1::ConfigFileRelease>(body, "v1.ConfigFileRelease").await {
        Ok(items) => items,
        Err(reply) => return reply,
    };
    let mut replies = Vec::with_capacity(items.len());
    for item in &items {
        let outcome = async {
            let (key, name) = item_key(item)?;
            let snapshot = state.config.snapshot();
            let is_normal = snapshot
                .releases
                .get(&(key.clone(), name.clone()))
                .is_some_and(|r| r.kind == ReleaseKind::Normal);
            if !is_normal {
                return Err(PolarisError::new(
                    Code::NotFoundResource,
                    format!("release {name}"),
                ));
            }
            state.config.rollback(&key, &name).await.map(|_| ())
        }
        .await;
        replies.push(outcome.map_or_else(Reply::from, |()| Reply::ok()));
    }
    batch_reply(replies)
}

/// Release delete: unknown releases succeed, as officially; the active one is refused.
async fn delete(State(state): State<AppState>, body: Body) -> Response {
    let items = match read_many::<v1::ConfigFileRelease>(body, "v1.ConfigFileRelease").await {
        Ok(items) => items,
        Err(reply) => return reply,
    };
    let mut replies = Vec::with_capacity(items.len());
    for item in &items {
        let outcome = match item_key(item) {
            Ok((key, name)) => state.config.delete_release(&key, &name).await,
            Err(err) => Err(err),
        };
        replies.push(outcome.map_or_else(Reply::from, |()| Reply::ok()));
    }
    batch_reply(replies)
}

async fn stop_beta(State(state): State<AppState>, body: Body) -> Response {
    let items = match read_many::<v1::ConfigFileRelease>(body, "v1.ConfigFileRelease").await {
        Ok(items) => items,
        Err(reply) => return reply,
    };
    let mut replies = Vec::with_capacity(items.len());
    for item in &items {
        let key = release_key(item);
        let outcome = async {
            check_release_key(&key)?;
            state.config.stop_gray(&key).await
        }
        .await;
        replies.push(outcome.map_or_else(Reply::from, |()| Reply::ok()));
    }
    batch_reply(replies)
}

/// `POST /configfiles/createandpub`: upsert and publish (non-CAS over HTTP: `md5` is ignored).
async fn create_and_publish(State(state): State<AppState>, body: Body) -> Response {
    let info = match read_one::<v1::ConfigFilePublishInfo>(body, "v1.ConfigFilePublishInfo").await {
        Ok(info) => info,
        Err(reply) => return reply,
    };
    let key = ConfigFileKey::new(
        text(&info.namespace),
        text(&info.group),
        text(&info.file_name),
    );
    let outcome = async {
        check_release_key(&key)?;
        let file = FileSpec {
            key: key.clone(),
            content: info.content.clone().unwrap_or_default(),
            attrs: FileAttrs {
                format: text(&info.format),
                comment: info.comment.clone().unwrap_or_default(),
                tags: tags_in(&info.tags),
                ..Default::default()
            },
        };
        let publish = PublishSpec {
            key,
            release_name: text(&info.release_name),
            comment: info.release_description.clone().unwrap_or_default(),
            gray_labels: None,
        };
        state.config.upsert_and_publish(file, None, publish).await
    }
    .await;
    match outcome {
        Ok(_) => Reply::ok(),
        Err(err) => Reply::from(err),
    }
    .into_response()
}

/// `GET /configfiles/releasehistory`: namespace exact, group and file substring, `endId`.
async fn history(
    State(state): State<AppState>,
    Visibility(visible): Visibility,
    RawQuery(raw): RawQuery,
) -> Response {
    const FIELD: &str = "configFileReleaseHistories";
    let query = Query::parse(raw.as_deref());
    let paging = match page(&query) {
        Ok(paging) => paging,
        Err(err) => return query_error(&err, FIELD),
    };
    let end_id = match query
        .get("endId")
        .or(query.get("end_id"))
        .filter(|v| !v.is_empty())
    {
        None => u64::MAX,
        Some(v) => match v.parse::<u64>() {
            Ok(id) => id,
            Err(_) => return query_error(&bad("invalid endId"), FIELD),
        },
    };
    let (namespace, group, name) = (
        query.text("namespace"),
        query.text("group"),
        query.text("name"),
    );
    let snapshot = state.config.snapshot();
    let entries: Vec<_> = snapshot
        .history
        .range(..end_id)
        .rev()
        .map(|(_, h)| h)
        .filter(|h| {
            (namespace.is_empty() || h.key.namespace == namespace)
                && h.key.group.contains(&group)
                && h.key.name.contains(&name)
                && visible.config_group(&h.key.namespace, &h.key.group)
        })
        .cloned()
        .collect();
    let total = entries.len();
    let items = paging
        .apply(entries)
        .items
        .iter()
        .map(|h| history_json(h))
        .collect();
    query_reply(FIELD, total, items)
}

async fn algorithms() -> Response {
    let body = json!({
        "code": Code::ExecuteSuccess.value(),
        "info": Code::ExecuteSuccess.info(),
        "algorithms": ["AES"],
    });
    json_reply(
        Code::ExecuteSuccess.value(),
        Code::ExecuteSuccess.info(),
        &body,
    )
}
