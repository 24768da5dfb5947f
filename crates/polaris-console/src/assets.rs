//! The built single-page app, embedded at compile time from `console/web/dist`. Hashed files
//! under `assets/` are cached forever; `index.html` is revalidated on every load, and any path
//! that is not a file (a deep link such as `/service/default/echo`) gets `index.html` so the
//! app's router can show it after a reload.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use rust_embed::RustEmbed;

#[derive(RustEmbed)]
#[folder = "../../console/web/dist"]
struct Dist;

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";

/// Answers a GET or HEAD for a file of the app.
pub fn serve(request: &Request) -> Response {
    if request.method() != Method::GET && request.method() != Method::HEAD {
        return plain(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
    }
    let path = request.uri().path().trim_start_matches('/');
    let hashed = path.starts_with("assets/");
    let (name, file) = match Dist::get(path).filter(|_| !path.is_empty()) {
        Some(file) => (path, file),
        // Missing hashed files stay missing: an old index.html must not get HTML as script.
        None if hashed => return plain(StatusCode::NOT_FOUND, "not found"),
        None => match Dist::get("index.html") {
            Some(file) => ("index.html", file),
            None => return plain(StatusCode::NOT_FOUND, "the console was not built"),
        },
    };
    let (encoding, body) = precompressed(request, name).unwrap_or((None, file.data.clone()));
    let tag = hex::encode(&file.metadata.sha256_hash()[..16]);
    let etag = match encoding {
        Some(encoding) => format!("\"{tag}-{encoding}\""),
        None => format!("\"{tag}\""),
    };
    let cache = if hashed { IMMUTABLE } else { REVALIDATE };
    let fresh = request
        .headers()
        .get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes());
    let mut builder = Response::builder()
        .header(header::CACHE_CONTROL, cache)
        .header(header::ETAG, &etag)
        .header(header::VARY, "accept-encoding")
        .header(header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    if let Some(encoding) = encoding {
        builder = builder.header(header::CONTENT_ENCODING, encoding);
    }
    if name == "index.html" {
        builder = builder
            .header(header::X_FRAME_OPTIONS, "DENY")
            .header(header::REFERRER_POLICY, "same-origin")
            .header(
                header::CONTENT_SECURITY_POLICY,
                "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
                 connect-src 'self'; frame-ancestors 'none'",
            );
    }
    if fresh {
        return builder
            .status(StatusCode::NOT_MODIFIED)
            .body(Body::empty())
            .unwrap_or_default();
    }
    let mime = file.metadata.mimetype();
    let mime = if mime.starts_with("text/") || mime.ends_with("javascript") {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_owned()
    };
    let mime = HeaderValue::from_str(&mime)
        .unwrap_or(HeaderValue::from_static("application/octet-stream"));
    builder
        .header(header::CONTENT_TYPE, mime)
        .body(Body::from(body.into_owned()))
        .unwrap_or_default()
}

/// The build's Brotli or gzip copy of `name` (see `console/web/vite.config.ts`), when the
/// browser accepts that encoding.
fn precompressed(
    request: &Request,
    name: &str,
) -> Option<(Option<&'static str>, std::borrow::Cow<'static, [u8]>)> {
    let accepted = request
        .headers()
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let accepts = |coding: &str| {
        accepted.split(',').any(|item| {
            let mut parts = item.split(';');
            let named = parts.next().is_some_and(|c| c.trim() == coding);
            let refused = parts.any(|p| matches!(p.trim(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"));
            named && !refused
        })
    };
    [("br", "br"), ("gzip", "gz")]
        .into_iter()
        .filter(|(coding, _)| accepts(coding))
        .find_map(|(coding, ext)| {
            Dist::get(&format!("{name}.{ext}")).map(|f| (Some(coding), f.data))
        })
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .header(header::CACHE_CONTROL, REVALIDATE)
        .body(Body::from(text))
        .unwrap_or_default()
}
