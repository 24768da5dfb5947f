//! The Eureka harness: an input becomes one request to the real Eureka router (registration
//! bodies in XML or JSON, status and metadata updates, reads, peer replication batches).

use crate::http::{MAX_URI_LEN, exchange, request, split_query};
use crate::stack::with_stack;

const METHODS: [&str; 4] = ["GET", "POST", "PUT", "DELETE"];
const CONTENT_TYPES: [&str; 4] = [
    "application/json",
    "application/xml",
    "text/xml; charset=utf-8",
    "application/x-www-form-urlencoded",
];

/// Byte 0: the method (low two bits) and the body's content type (next two); then the path
/// below `/eureka/` up to `?` or a newline, the query up to the newline, and the body.
pub fn request_body(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let method = METHODS[usize::from(pick & 3)];
    let content_type = CONTENT_TYPES[usize::from((pick >> 2) & 3)];
    let (line, body) = split_query(rest);
    let (path, query) = match line.iter().position(|&b| b == b'?') {
        Some(at) => (&line[..at], &line[at + 1..]),
        None => (line, &[][..]),
    };
    let path: String = path
        .iter()
        .map(|&b| {
            if b.is_ascii_alphanumeric() || b"-._~/:@!$&'()*+,;=".contains(&b) {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    // A longer path cannot be a URI: hyper refuses it before any router sees it.
    if "/eureka/".len() + path.len() > MAX_URI_LEN {
        return;
    }
    let mut request = request(
        method,
        &format!("/eureka/{path}"),
        query,
        content_type,
        body.to_vec(),
    );
    request.headers_mut().insert(
        axum::http::header::ACCEPT,
        axum::http::HeaderValue::from_static(if pick & 16 == 0 {
            "application/json"
        } else {
            "application/xml"
        }),
    );
    with_stack(|stack| {
        exchange(stack, &stack.eureka, request);
    });
}
