//! Response envelopes: every HTTP answer of the OpenAPI leaves through [`json_bytes_reply`].
//!
//! The official server answers with `Response`, `BatchWriteResponse` or `BatchQueryResponse`
//! objects whose `code` decides the HTTP status ([`polaris_types::code::http_status`], the one
//! rule) and whose batch code follows [`BatchRule`]. Non-success replies also carry the
//! `X-Polaris-Code` and `X-Polaris-Message` headers.

use axum::http::{HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response as HttpResponse};
pub use polaris_types::BatchRule;
use polaris_types::{Code, PolarisError};
use serde::Serialize;
use serde_json::{Map, Value};

/// One reply object: `code`, `info` and any payload fields (`namespace`, `instance`, ...).
#[derive(Clone, Debug)]
pub struct Reply {
    pub code: u32,
    pub info: String,
    pub fields: Map<String, Value>,
}

impl Reply {
    pub fn ok() -> Self {
        Reply::of(Code::ExecuteSuccess)
    }

    pub fn of(code: Code) -> Self {
        Reply {
            code: code.value(),
            info: code.info().to_string(),
            fields: Map::new(),
        }
    }

    pub fn error(err: &PolarisError) -> Self {
        Reply {
            code: err.code.value(),
            info: err.info(),
            fields: Map::new(),
        }
    }

    /// Adds a payload field.
    pub fn with(mut self, key: &str, value: impl Serialize) -> Self {
        let value = serde_json::to_value(value).unwrap_or(Value::Null);
        self.fields.insert(key.to_string(), value);
        self
    }

    fn to_value(&self) -> Value {
        let mut object = Map::with_capacity(self.fields.len() + 2);
        object.insert("code".into(), self.code.into());
        object.insert("info".into(), self.info.clone().into());
        object.extend(self.fields.iter().map(|(k, v)| (k.clone(), v.clone())));
        Value::Object(object)
    }
}

impl From<PolarisError> for Reply {
    fn from(err: PolarisError) -> Self {
        Reply::error(&err)
    }
}

impl IntoResponse for Reply {
    fn into_response(self) -> HttpResponse {
        json_reply(self.code, &self.info, &self.to_value())
    }
}

/// Serialises a reply body with the status and headers its code calls for.
pub fn json_reply(code: u32, info: &str, body: &Value) -> HttpResponse {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    json_bytes_reply(code, info, bytes.into())
}

/// [`json_reply`] for a body already rendered (shared answers).
pub fn json_bytes_reply(code: u32, info: &str, bytes: axum::body::Bytes) -> HttpResponse {
    let status = StatusCode::from_u16(polaris_types::code::http_status(code))
        .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut response =
        (status, [(header::CONTENT_TYPE, "application/json")], bytes).into_response();
    if code != Code::ExecuteSuccess.value() {
        let headers = response.headers_mut();
        headers.insert(
            HeaderName::from_static("x-polaris-code"),
            HeaderValue::from(code),
        );
        // Header values must be visible ASCII; the message is ASCII for every official code.
        if let Ok(message) = HeaderValue::from_str(info.split(':').next().unwrap_or_default()) {
            headers.insert(HeaderName::from_static("x-polaris-message"), message);
        }
    }
    response
}

/// A `BatchWriteResponse`: one reply per item, in request order.
#[derive(Debug)]
pub struct BatchReply {
    pub rule: BatchRule,
    pub items: Vec<Reply>,
}

impl BatchReply {
    pub fn new(rule: BatchRule) -> Self {
        BatchReply {
            rule,
            items: Vec::new(),
        }
    }

    /// A batch that failed as a whole before any item ran.
    pub fn failed(err: &PolarisError) -> HttpResponse {
        let body = serde_json::json!({
            "code": err.code.value(),
            "info": err.info(),
            "size": 0,
            "responses": [],
        });
        json_reply(err.code.value(), &err.info(), &body)
    }

    pub fn push(&mut self, reply: Reply) {
        self.items.push(reply);
    }

    fn code(&self) -> u32 {
        let codes: Vec<u32> = self.items.iter().map(|r| r.code).collect();
        self.rule.code(&codes)
    }
}

impl IntoResponse for BatchReply {
    fn into_response(self) -> HttpResponse {
        let code = self.code();
        let info = Code::from_value(code).map_or("", Code::info);
        let body = serde_json::json!({
            "code": code,
            "info": info,
            "size": self.items.len(),
            "responses": self.items.iter().map(Reply::to_value).collect::<Vec<_>>(),
        });
        json_reply(code, info, &body)
    }
}

/// A `BatchQueryResponse`: `amount` matches in all, `size` in this page, under `field`.
pub fn query_reply(field: &str, amount: usize, items: Vec<Value>) -> HttpResponse {
    let code = Code::ExecuteSuccess;
    json_bytes_reply(code.value(), code.info(), query_body(field, amount, items))
}

/// The rendered body of [`query_reply`].
pub fn query_body(field: &str, amount: usize, items: Vec<Value>) -> axum::body::Bytes {
    let mut body = Map::new();
    body.insert("code".into(), Code::ExecuteSuccess.value().into());
    body.insert("info".into(), Code::ExecuteSuccess.info().into());
    body.insert("amount".into(), amount.into());
    body.insert("size".into(), items.len().into());
    body.insert(field.into(), Value::Array(items));
    serde_json::to_vec(&Value::Object(body))
        .unwrap_or_default()
        .into()
}

/// A failed query, in the `BatchQueryResponse` shape.
pub fn query_error(err: &PolarisError) -> HttpResponse {
    let body =
        serde_json::json!({ "code": err.code.value(), "info": err.info(), "amount": 0, "size": 0 });
    json_reply(err.code.value(), &err.info(), &body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_code_follows_its_rule() {
        let reply = BatchReply {
            rule: BatchRule::Uniform,
            items: vec![Reply::ok(), Reply::of(Code::ExistedResource)],
        };
        assert_eq!(reply.code(), Code::BadRequest.value());
    }

    #[test]
    fn status_is_code_over_thousand_with_headers() {
        let response = Reply::of(Code::NotFoundResource).into_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert_eq!(response.headers()["x-polaris-code"], "400202");
        let ok = Reply::ok().into_response();
        assert_eq!(ok.status(), StatusCode::OK);
        assert!(ok.headers().get("x-polaris-code").is_none());
    }
}
