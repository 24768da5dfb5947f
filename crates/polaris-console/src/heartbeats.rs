//! `GET /console/v1/heartbeats?ids=a,b,...`: when each listed instance last sent a heartbeat,
//! for the instance table's "Last heartbeat" column (the OpenAPI's instance JSON has no such
//! field).

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

use crate::Console;
use crate::session::refuse;

/// At most this many ids per request (one page of the instance table).
const MAX_IDS: usize = 100;

pub async fn last_beats(
    State(console): State<Console>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    if let Some(refusal) = crate::refusal(&console, &headers) {
        return refusal;
    }
    let listed: String = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .filter(|(key, _)| key == "ids")
        .map(|(_, value)| value.into_owned())
        .collect::<Vec<_>>()
        .join(",");
    let ids: Vec<&str> = listed.split(',').filter(|id| !id.is_empty()).collect();
    if ids.len() > MAX_IDS {
        return refuse(
            StatusCode::BAD_REQUEST,
            polaris_types::Code::InvalidParameter.value(),
            "at most 100 ids per request",
        );
    }
    let mut beats = Map::new();
    for id in ids {
        match console.health.last_beat(id).await {
            Ok(Some(at)) => {
                beats.insert(id.to_owned(), json!(at));
            }
            Ok(None) => {}
            Err(err) => {
                return refuse(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    err.code.value(),
                    &err.to_string(),
                );
            }
        }
    }
    axum::Json(json!({ "code": 200000, "heartbeats": Value::Object(beats) })).into_response()
}
