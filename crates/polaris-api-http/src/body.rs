//! Request decoding: bounded bodies, JSON arrays and objects in proto-JSON style, query strings.
//! A body the enforcement layer already parsed to name its resources arrives as [`Parsed`] JSON
//! and is not parsed again: handlers take a [`Payload`] and read it through [`Payload::json`].

use std::convert::Infallible;
use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::extract::{FromRequest, Request};
use polaris_types::validate::MAX_BATCH;
use polaris_types::{Code, PolarisError, Result};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Largest request body accepted, in bytes.
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// Reads the whole body, refusing more than [`MAX_BODY_BYTES`].
pub async fn read_body(body: Body) -> Result<Vec<u8>> {
    to_bytes(body, MAX_BODY_BYTES)
        .await
        .map(|b| b.to_vec())
        .map_err(|_| {
            PolarisError::new(
                Code::ParseException,
                format!("request body is unreadable or larger than {MAX_BODY_BYTES} bytes"),
            )
        })
}

/// The JSON body the enforcement layer parsed (once), handed to the handler.
#[derive(Clone, Debug)]
pub struct Parsed(pub Arc<Value>);

/// A handler's request body: its bytes, or the JSON already parsed from them.
pub struct Payload {
    body: Body,
    parsed: Option<Arc<Value>>,
}

impl<S: Send + Sync> FromRequest<S> for Payload {
    type Rejection = Infallible;

    async fn from_request(mut request: Request, _: &S) -> std::result::Result<Self, Infallible> {
        let parsed = request.extensions_mut().remove::<Parsed>().map(|p| p.0);
        Ok(Payload {
            body: request.into_body(),
            parsed,
        })
    }
}

impl Payload {
    /// The body as JSON: the enforcement layer's parse when it made one, else parsed now.
    pub async fn json(self) -> Result<Value> {
        match self.parsed {
            Some(value) => Ok(Arc::unwrap_or_clone(value)),
            None => parse_value(&read_body(self.body).await?),
        }
    }

    /// A console batch (see [`parse_array`]).
    pub async fn array<T: DeserializeOwned>(self) -> Result<Vec<T>> {
        array_of(self.json().await?)
    }

    /// A single JSON object.
    pub async fn object<T: DeserializeOwned>(self) -> Result<T> {
        object_of(self.json().await?)
    }
}

fn parse_error(err: impl std::fmt::Display) -> PolarisError {
    PolarisError::new(Code::ParseException, err.to_string())
}

fn parse_value(bytes: &[u8]) -> Result<Value> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(PolarisError::new(Code::ParseException, "EOF"));
    }
    serde_json::from_slice(bytes).map_err(parse_error)
}

/// Decodes a JSON array of items (a console batch). `[]` and `{}` are empty requests; more
/// than 100 items is over the batch limit.
pub fn parse_array<T: DeserializeOwned>(bytes: &[u8]) -> Result<Vec<T>> {
    array_of(parse_value(bytes)?)
}

fn array_of<T: DeserializeOwned>(value: Value) -> Result<Vec<T>> {
    let items = match value {
        Value::Array(items) => items,
        Value::Object(map) if map.is_empty() => Vec::new(),
        _ => {
            return Err(PolarisError::new(
                Code::ParseException,
                "expected a JSON array",
            ));
        }
    };
    if items.is_empty() {
        return Err(Code::EmptyRequest.into());
    }
    if items.len() > MAX_BATCH {
        return Err(PolarisError::new(
            Code::BatchSizeOverLimit,
            format!("at most {MAX_BATCH} items"),
        ));
    }
    items
        .into_iter()
        .map(|item| serde_json::from_value(item).map_err(parse_error))
        .collect()
}

/// Decodes a single JSON object.
fn object_of<T: DeserializeOwned>(value: Value) -> Result<T> {
    match value {
        value @ Value::Object(_) => serde_json::from_value(value).map_err(parse_error),
        _ => Err(PolarisError::new(
            Code::ParseException,
            "expected a JSON object",
        )),
    }
}

/// Query parameters in order, keeping repeated keys.
#[derive(Clone, Debug, Default)]
pub struct Query(pub Vec<(String, String)>);

/// The request's query string, as a handler argument.
impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Query {
    type Rejection = Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> std::result::Result<Self, Infallible> {
        Ok(Query::parse(parts.uri.query()))
    }
}

impl Query {
    pub fn parse(raw: Option<&str>) -> Query {
        let pairs = form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
            .into_owned()
            .collect();
        Query(pairs)
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The first value of a key.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// The first value of a key, or "".
    pub fn text(&self, key: &str) -> String {
        self.get(key).unwrap_or_default().to_string()
    }

    /// Every value of a key.
    pub fn all(&self, key: &str) -> Vec<String> {
        self.0
            .iter()
            .filter(|(k, _)| k == key)
            .map(|(_, v)| v.clone())
            .collect()
    }

    /// Every value of a key, each split on commas, empties dropped.
    pub fn list(&self, key: &str) -> Vec<String> {
        self.all(key)
            .iter()
            .flat_map(|v| v.split(','))
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect()
    }

    /// Refuses keys outside `allowed` and empty values (the official paramcheck).
    pub fn check_keys(&self, allowed: &[&str], empty_ok: &[&str]) -> Result<()> {
        for (key, value) in &self.0 {
            if !allowed.contains(&key.as_str()) {
                return Err(PolarisError::new(
                    Code::InvalidParameter,
                    format!("{key} is not allowed"),
                ));
            }
            if value.is_empty() && !empty_ok.contains(&key.as_str()) {
                return Err(PolarisError::new(
                    Code::InvalidParameter,
                    format!("{key} is empty"),
                ));
            }
        }
        Ok(())
    }

    /// An unsigned number; `InvalidParameter` when present but not a number.
    pub fn number(&self, key: &str) -> Result<Option<usize>> {
        match self.get(key) {
            None => Ok(None),
            Some(v) => v.parse().map(Some).map_err(|_| {
                PolarisError::new(
                    Code::InvalidParameter,
                    format!("{key} must be a non-negative integer"),
                )
            }),
        }
    }

    /// A boolean in Go's `ParseBool` spellings; `None` when absent or unparsable.
    pub fn boolean(&self, key: &str) -> Option<bool> {
        match self.get(key)? {
            "1" | "t" | "T" | "true" | "TRUE" | "True" => Some(true),
            "0" | "f" | "F" | "false" | "FALSE" | "False" => Some(false),
            _ => None,
        }
    }

    /// `offset` and `limit` (default 0 and 100, limit clamped to 100).
    pub fn page(&self) -> Result<polaris_naming::Page> {
        let offset = self.number("offset")?.unwrap_or(0);
        let limit = self.number("limit")?.unwrap_or(MAX_BATCH);
        Ok(polaris_naming::Page::new(offset, limit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays() {
        assert_eq!(parse_array::<Value>(b"[1,2]").unwrap().len(), 2);
        assert_eq!(
            parse_array::<Value>(b"[]").unwrap_err().code,
            Code::EmptyRequest
        );
        assert_eq!(
            parse_array::<Value>(b"{}").unwrap_err().code,
            Code::EmptyRequest
        );
        assert_eq!(
            parse_array::<Value>(b"{\"a\":1}").unwrap_err().code,
            Code::ParseException
        );
        assert_eq!(
            parse_array::<Value>(b"").unwrap_err().code,
            Code::ParseException
        );
        assert_eq!(
            parse_array::<Value>(b"[1,").unwrap_err().code,
            Code::ParseException
        );
        let big = format!("[{}]", vec!["1"; 101].join(","));
        assert_eq!(
            parse_array::<Value>(big.as_bytes()).unwrap_err().code,
            Code::BatchSizeOverLimit
        );
    }

    #[test]
    fn queries() {
        let q = Query::parse(Some("name=a&name=b&limit=500&keys=x,y&flag=t"));
        assert_eq!(q.all("name"), ["a", "b"]);
        assert_eq!(q.list("keys"), ["x", "y"]);
        assert_eq!(q.page().unwrap().limit, 100);
        assert_eq!(q.boolean("flag"), Some(true));
        assert!(Query::parse(Some("offset=-1")).page().is_err());
        assert!(q.check_keys(&["name", "limit", "keys"], &[]).is_err());
        assert!(
            q.check_keys(&["name", "limit", "keys", "flag"], &[])
                .is_ok()
        );
    }
}
