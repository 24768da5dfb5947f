//! `/config/v1/configfiles`: create, update, get, search and delete config files.

use axum::Router;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use polaris_config::FileSpec;
use polaris_proto::v1;
use polaris_types::{Code, ConfigFileKey, FileAttrs, PolarisError, Result};

use super::convert::{file_json, tags_in};
use super::{PREFIX, page, query_error, query_reply, read_many, read_one, text, wildcard};
use crate::AppState;
use crate::auth::guard::Visibility;
use crate::body::Query;
use crate::governance::json::to_json;
use crate::reply::Reply;

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route(
            &format!("{PREFIX}/configfiles"),
            get(get_one).post(create).put(update).delete(delete),
        )
        .route(&format!("{PREFIX}/configfiles/by-group"), get(search))
        .route(&format!("{PREFIX}/configfiles/search"), get(search))
        .route(
            &format!("{PREFIX}/configfiles/batchdelete"),
            post(batch_delete),
        )
}

/// The file a request names.
pub(crate) fn key_of(file: &v1::ConfigFile) -> ConfigFileKey {
    ConfigFileKey::new(text(&file.namespace), text(&file.group), text(&file.name))
}

/// Empty keys, in the official order: namespace 400110, group 400801, name 400802.
pub(crate) fn require_key(key: &ConfigFileKey) -> Result<()> {
    if key.namespace.is_empty() {
        return Err(Code::InvalidNamespaceName.into());
    }
    if key.group.is_empty() {
        return Err(Code::InvalidConfigFileGroupName.into());
    }
    if key.name.is_empty() {
        return Err(Code::InvalidConfigFileName.into());
    }
    Ok(())
}

pub(crate) fn spec_of(file: &v1::ConfigFile) -> FileSpec {
    FileSpec {
        key: key_of(file),
        content: file.content.clone().unwrap_or_default(),
        attrs: FileAttrs {
            format: text(&file.format),
            comment: file.comment.clone().unwrap_or_default(),
            tags: tags_in(&file.tags),
            encrypted: file.encrypted.unwrap_or(false),
            encrypt_algo: text(&file.encrypt_algo),
            ..Default::default()
        },
    }
}

/// The request as echoed back: operator fields filled, no id.
fn echo(file: &v1::ConfigFile) -> serde_json::Value {
    let echo = v1::ConfigFile {
        id: None,
        create_by: Some(String::new()),
        modify_by: Some(String::new()),
        ..file.clone()
    };
    to_json(&echo, "v1.ConfigFile")
}

async fn create(State(state): State<AppState>, body: Body) -> Response {
    let file = match read_one::<v1::ConfigFile>(body, "v1.ConfigFile").await {
        Ok(file) => file,
        Err(reply) => return reply,
    };
    let reply = match state.config.create_file(spec_of(&file)).await {
        Ok(_) => Reply::ok(),
        Err(err) => Reply::from(err),
    };
    reply.with("configFile", echo(&file)).into_response()
}

async fn update(State(state): State<AppState>, body: Body) -> Response {
    let file = match read_one::<v1::ConfigFile>(body, "v1.ConfigFile").await {
        Ok(file) => file,
        Err(reply) => return reply,
    };
    match state.config.update_file(spec_of(&file)).await {
        Ok(stored) => {
            let snapshot = state.config.snapshot();
            Reply::ok().with("configFile", file_json(&stored, &snapshot))
        }
        Err(err) => Reply::from(err).with("configFile", echo(&file)),
    }
    .into_response()
}

fn key_from_query(query: &Query) -> ConfigFileKey {
    ConfigFileKey::new(
        query.text("namespace"),
        query.text("group"),
        query.text("name"),
    )
}

async fn get_one(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Response {
    let key = key_from_query(&Query::parse(raw.as_deref()));
    let outcome = (|| -> polaris_types::Result<serde_json::Value> {
        require_key(&key)?;
        let snapshot = state.config.snapshot();
        let file = snapshot
            .files
            .get(&key)
            .ok_or_else(|| PolarisError::new(Code::NotFoundResource, format!("file {key}")))?;
        Ok(file_json(file, &snapshot))
    })();
    match outcome {
        Ok(file) => Reply::ok().with("configFile", file),
        Err(err) => Reply::from(err),
    }
    .into_response()
}

async fn delete(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Response {
    let key = key_from_query(&Query::parse(raw.as_deref()));
    let outcome = async {
        require_key(&key)?;
        state.config.delete_file(&key).await
    }
    .await;
    match outcome {
        Ok(()) => Reply::ok(),
        Err(err) => Reply::from(err),
    }
    .into_response()
}

/// `POST /configfiles/batchdelete`: stops at the first failure and answers it.
async fn batch_delete(State(state): State<AppState>, body: Body) -> Response {
    let files = match read_many::<v1::ConfigFile>(body, "v1.ConfigFile").await {
        Ok(files) => files,
        Err(reply) => return reply,
    };
    for file in &files {
        let key = key_of(file);
        let outcome = async {
            require_key(&key)?;
            state.config.delete_file(&key).await
        }
        .await;
        if let Err(err) = outcome {
            return Reply::from(err).into_response();
        }
    }
    Reply::ok().into_response()
}

/// `GET /configfiles/search` and `/configfiles/by-group`: wildcard filters, newest id first.
async fn search(
    State(state): State<AppState>,
    Visibility(visible): Visibility,
    RawQuery(raw): RawQuery,
) -> Response {
    const FIELD: &str = "configFiles";
    let query = Query::parse(raw.as_deref());
    let paging = match page(&query) {
        Ok(paging) => paging,
        Err(err) => return query_error(&err, FIELD),
    };
    let (namespace, group, name) = (
        query.text("namespace"),
        query.text("group"),
        query.text("name"),
    );
    let snapshot = state.config.snapshot();
    let mut files: Vec<_> = snapshot
        .files
        .values()
        .filter(|f| {
            wildcard(&f.key.namespace, &namespace)
                && wildcard(&f.key.group, &group)
                && wildcard(&f.key.name, &name)
                && visible.config_group(&f.key.namespace, &f.key.group)
        })
        .cloned()
        .collect();
    files.sort_by_key(|f| std::cmp::Reverse(f.id));
    let total = files.len();
    let items = paging
        .apply(files)
        .items
        .iter()
        .map(|f| file_json(f, &snapshot))
        .collect();
    query_reply(FIELD, total, items)
}
