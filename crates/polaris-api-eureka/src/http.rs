//! HTTP edges of the Eureka API: content negotiation, request bodies (JSON, XML, gzip, bounded),
//! the token a request carries, and the one place a Polaris code becomes an Eureka status.

use std::io::Read;

use axum::body::{Body, to_bytes};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use bytes::Bytes;
use polaris_types::{Code, PolarisError, Result};
use serde_json::Value;

use crate::docs::Format;
use crate::wire;

/// Largest request body accepted (peer replication batches carry many instances).
pub const MAX_BODY_BYTES: usize = 4 * 1024 * 1024;

/// The header that names the namespace, as officially.
pub const NAMESPACE_HEADER: &str = "x-namespace";

fn header_text(headers: &HeaderMap, name: impl header::AsHeaderName) -> &str {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
}

/// JSON when `Accept` asks for it (`application/json` or `application/*+json`), else XML.
pub fn answer_format(headers: &HeaderMap) -> Format {
    let accept = header_text(headers, header::ACCEPT).to_ascii_lowercase();
    if accept.contains("application/json") || accept.contains("+json") {
        Format::Json
    } else {
        Format::Xml
    }
}

/// Whether the client accepts a gzipped answer.
pub fn wants_gzip(headers: &HeaderMap) -> bool {
    header_text(headers, header::ACCEPT_ENCODING)
        .to_ascii_lowercase()
        .contains("gzip")
}

/// The namespace of a request: `x-namespace`, else the listener's default.
pub fn namespace(headers: &HeaderMap, default: &str) -> String {
    match header_text(headers, NAMESPACE_HEADER).trim() {
        "" => default.to_string(),
        ns => ns.to_string(),
    }
}

/// The token: the password of HTTP Basic auth (as officially), else `X-Polaris-Token`.
pub fn token(headers: &HeaderMap) -> Result<Option<String>> {
    let basic = header_text(headers, header::AUTHORIZATION).trim();
    if let Some(encoded) = basic.strip_prefix("Basic ").map(str::trim) {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(encoded)
            .ok()
            .and_then(|d| String::from_utf8(d).ok())
            .ok_or_else(|| PolarisError::new(Code::NotAllowedAccess, "unreadable basic auth"))?;
        let password = decoded.split_once(':').map(|(_, p)| p).unwrap_or_default();
        if !password.is_empty() {
            return Ok(Some(password.to_string()));
        }
    }
    let header = header_text(headers, "x-polaris-token").trim();
    Ok((!header.is_empty()).then(|| header.to_string()))
}

/// Reads a request body as a document in the Eureka JSON shape: XML when the content type
/// says so or the body starts with `<`, JSON otherwise; gzip bodies are inflated.
pub async fn read_document(headers: &HeaderMap, body: Body) -> Result<Value> {
    let too_large = || {
        PolarisError::new(
            Code::ParseException,
            format!("request body is unreadable or larger than {MAX_BODY_BYTES} bytes"),
        )
    };
    let mut bytes = to_bytes(body, MAX_BODY_BYTES)
        .await
        .map_err(|_| too_large())?;
    if header_text(headers, header::CONTENT_ENCODING).eq_ignore_ascii_case("gzip") {
        let mut inflated = Vec::new();
        flate2::read::GzDecoder::new(&bytes[..])
            .take(MAX_BODY_BYTES as u64 + 1)
            .read_to_end(&mut inflated)
            .map_err(|e| PolarisError::new(Code::ParseException, format!("bad gzip body: {e}")))?;
        if inflated.len() > MAX_BODY_BYTES {
            return Err(too_large());
        }
        bytes = Bytes::from(inflated);
    }
    let text = bytes.trim_ascii_start();
    if text.is_empty() {
        return Err(PolarisError::new(
            Code::EmptyRequest,
            "the request body is empty",
        ));
    }
    let xml = header_text(headers, header::CONTENT_TYPE)
        .to_ascii_lowercase()
        .contains("xml")
        || text.starts_with(b"<");
    let parsed = if xml {
        wire::parse_xml(text)
    } else {
        serde_json::from_slice(text).map_err(|e| e.to_string())
    };
    parsed.map_err(|e| PolarisError::new(Code::ParseException, e))
}

/// The HTTP status of a Polaris code in Eureka's style: missing things are 404.
pub fn status_of(code: Code) -> StatusCode {
    match code {
        Code::NotFoundResource
        | Code::NotFoundInstance
        | Code::NotFoundService
        | Code::NotFoundNamespace => StatusCode::NOT_FOUND,
        other => StatusCode::from_u16(other.http_status())
            .ok()
            .filter(|s| s.is_client_error() || s.is_server_error())
            .unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
    }
}

/// A refusal: the status, a short text body (as Netflix's server answers), and the Polaris code.
pub fn refuse(err: &PolarisError) -> Response {
    let mut response = (status_of(err.code), err.info()).into_response();
    let headers = response.headers_mut();
    headers.insert("x-polaris-code", HeaderValue::from(err.code.value()));
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    response
}

/// An empty answer with `status`.
pub fn empty(status: StatusCode) -> Response {
    status.into_response()
}

/// A document answer.
pub fn document(format: Format, body: Bytes, gzipped: bool) -> Response {
    let content_type = match format {
        Format::Json => "application/json",
        Format::Xml => "application/xml",
    };
    let mut response = Response::new(Body::from(body));
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    if gzipped {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    headers.insert(
        header::VARY,
        HeaderValue::from_static("Accept, Accept-Encoding"),
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(k, v)| {
                (
                    header::HeaderName::from_static(k),
                    HeaderValue::from_static(v),
                )
            })
            .collect()
    }

    #[test]
    fn negotiation_follows_accept() {
        assert_eq!(
            answer_format(&headers(&[("accept", "application/json")])),
            Format::Json
        );
        assert_eq!(
            answer_format(&headers(&[("accept", "application/vnd.x+json")])),
            Format::Json
        );
        assert_eq!(answer_format(&headers(&[("accept", "*/*")])), Format::Xml);
        assert_eq!(answer_format(&HeaderMap::new()), Format::Xml);
        assert!(wants_gzip(&headers(&[(
            "accept-encoding",
            "gzip, deflate"
        )])));
    }

    #[test]
    fn the_token_is_the_basic_auth_password_or_the_polaris_header() {
        // "user:secret"
        let basic = headers(&[("authorization", "Basic dXNlcjpzZWNyZXQ=")]);
        assert_eq!(token(&basic).unwrap().as_deref(), Some("secret"));
        let polaris = headers(&[("x-polaris-token", "t1")]);
        assert_eq!(token(&polaris).unwrap().as_deref(), Some("t1"));
        assert!(token(&headers(&[("authorization", "Basic !!!")])).is_err());
        assert_eq!(token(&HeaderMap::new()).unwrap(), None);
    }

    #[tokio::test]
    async fn bodies_are_read_as_json_xml_or_gzip() {
        let json = read_document(&HeaderMap::new(), Body::from(r#"{"instance":{"app":"A"}}"#))
            .await
            .unwrap();
        let xml = read_document(
            &HeaderMap::new(),
            Body::from("<instance><app>A</app></instance>"),
        )
        .await
        .unwrap();
        assert_eq!(json, xml);
        let mut zipped = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut zipped, br#"{"instance":{"app":"A"}}"#).unwrap();
        let gz = read_document(
            &headers(&[("content-encoding", "gzip")]),
            Body::from(zipped.finish().unwrap()),
        )
        .await
        .unwrap();
        assert_eq!(gz, json);
        let empty = read_document(&HeaderMap::new(), Body::from("  "))
            .await
            .unwrap_err();
        assert_eq!(empty.code, Code::EmptyRequest);
        let huge = read_document(
            &HeaderMap::new(),
            Body::from(vec![b' '; MAX_BODY_BYTES + 1]),
        )
        .await
        .unwrap_err();
        assert_eq!(huge.code, Code::ParseException);
    }

    #[test]
    fn codes_map_to_eureka_statuses() {
        assert_eq!(status_of(Code::NotFoundResource), StatusCode::NOT_FOUND);
        assert_eq!(
            status_of(Code::InvalidInstancePort),
            StatusCode::BAD_REQUEST
        );
        assert_eq!(status_of(Code::NotAllowedAccess), StatusCode::UNAUTHORIZED);
        assert_eq!(
            status_of(Code::ExecuteSuccess),
            StatusCode::INTERNAL_SERVER_ERROR
        );
    }
}
