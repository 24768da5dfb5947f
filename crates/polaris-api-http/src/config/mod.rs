//! The config center console API under `/config/v1` and the config client API under `/v1`
//! (`docs/wire/config.md`). Bodies are proto3 JSON read and written through prost-reflect
//! ([`crate::governance::json`]), so 64-bit ids and versions travel as JSON strings and field
//! names are the descriptors' JSON names. Replies use the config envelopes: `ConfigResponse`
//! (`code`, `info`, one payload), `ConfigBatchWriteResponse` (`total`, `responses`) and
//! `ConfigBatchQueryResponse` (`total`, one list).

mod client;
mod convert;
mod files;
mod groups;
mod releases;
mod templates;
mod transfer;
mod zipread;

use axum::Router;
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use polaris_types::{BatchRule, Code, PolarisError, Result};
use serde_json::{Map, Value};

use crate::AppState;
use crate::body::read_body;
use crate::governance::json::parse_message;
use crate::reply::{Reply, json_reply};

/// The console prefix.
pub(crate) const PREFIX: &str = "/config/v1";

/// Every config route.
pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(groups::routes())
        .merge(files::routes())
        .merge(releases::routes())
        .merge(transfer::routes())
        .merge(templates::routes())
        .merge(client::routes())
}

/// Reads a single-object body as `message`; a failure is the `ConfigResponse` to send.
pub(crate) async fn read_one<T>(body: Body, message: &str) -> std::result::Result<T, Response>
where
    T: prost::Message + Default,
{
    let bytes = read_body(body)
        .await
        .map_err(|e| Reply::from(e).into_response())?;
    parse_message::<T>(message, &bytes).map_err(|e| Reply::from(e).into_response())
}

/// Reads an array body (rollback, release delete, stopbeta, batch delete) of `message`.
pub(crate) async fn read_many<T>(body: Body, message: &str) -> std::result::Result<Vec<T>, Response>
where
    T: prost::Message + Default,
{
    let parsed = async {
        let bytes = read_body(body).await?;
        let values = crate::body::parse_array::<Value>(&bytes)?;
        values
            .into_iter()
            .map(|v| {
                let bytes = serde_json::to_vec(&v).unwrap_or_default();
                parse_message::<T>(message, &bytes)
            })
            .collect::<Result<Vec<T>>>()
    }
    .await;
    parsed.map_err(|err| batch_failed(&err))
}

/// A `ConfigBatchWriteResponse` that failed before any item ran.
pub(crate) fn batch_failed(err: &PolarisError) -> Response {
    let body = serde_json::json!({
        "code": err.code.value(), "info": err.info(), "total": 0, "responses": [],
    });
    json_reply(err.code.value(), &err.info(), &body)
}

/// A `ConfigBatchWriteResponse`: the highest failing item code wins (ConfigCollect,
/// [`BatchRule::HighestFailure`]), items keep request order as bare `{code, info}`.
pub(crate) fn batch_reply(items: Vec<Reply>) -> Response {
    let codes: Vec<u32> = items.iter().map(|r| r.code).collect();
    let code = BatchRule::HighestFailure.code(&codes);
    let info = info_of(code);
    let responses: Vec<Value> = items
        .iter()
        .map(|r| serde_json::json!({ "code": r.code, "info": r.info }))
        .collect();
    let body = serde_json::json!({
        "code": code, "info": info, "total": responses.len(), "responses": responses,
    });
    json_reply(code, &info, &body)
}

/// The text of a code (the official table, or ours for codes outside it).
pub(crate) fn info_of(code: u32) -> String {
    match code {
        INVALID_MATCH_RULE => "invalid gray config beta labels".to_string(),
        _ => Code::from_value(code).map_or("", Code::info).to_string(),
    }
}

/// 400904 InvalidMatchRule, for gray labels that are missing or do not compile.
pub(crate) const INVALID_MATCH_RULE: u32 = Code::InvalidMatchRule.value();

/// A reply with a raw code (for codes outside [`Code`]).
pub(crate) fn raw_reply(code: u32, detail: &str) -> Reply {
    let base = info_of(code);
    Reply {
        code,
        info: if detail.is_empty() {
            base
        } else {
            format!("{base}: {detail}")
        },
        fields: Map::new(),
    }
}

/// A `ConfigBatchQueryResponse` with `total` and the list under `field`.
pub(crate) fn query_reply(field: &str, total: usize, items: Vec<Value>) -> Response {
    let mut body = Map::new();
    body.insert("code".into(), Code::ExecuteSuccess.value().into());
    body.insert("info".into(), Code::ExecuteSuccess.info().into());
    body.insert("total".into(), total.into());
    body.insert(field.into(), Value::Array(items));
    json_reply(
        Code::ExecuteSuccess.value(),
        Code::ExecuteSuccess.info(),
        &Value::Object(body),
    )
}

/// A failed query in the `ConfigBatchQueryResponse` shape.
pub(crate) fn query_error(err: &PolarisError, field: &str) -> Response {
    let body = serde_json::json!({
        "code": err.code.value(), "info": err.info(), "total": 0, field: [],
    });
    json_reply(err.code.value(), &err.info(), &body)
}

/// `Some(value)` for a non-empty string, for wrapper fields.
pub(crate) fn some(value: &str) -> Option<String> {
    Some(value.to_string())
}

/// A wrapper string field's value, or "".
pub(crate) fn text(value: &Option<String>) -> String {
    value.as_deref().unwrap_or_default().trim().to_string()
}

pub(crate) use crate::listing::{config_page as page, wild_match as wildcard};
