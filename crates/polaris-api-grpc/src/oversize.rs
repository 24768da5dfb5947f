//! gRPC says an over-limit message is `RESOURCE_EXHAUSTED` (grpc-go, under the official server,
//! answers so), but tonic's decoder answers `OUT_OF_RANGE`. This layer renames that one status,
//! recognised by tonic's message, on trailers-only replies (every unary call and a stream that
//! fails before its first reply).

use tonic::Status;
use tonic::body::Body;
use tonic::codegen::http::{HeaderValue, Response};
use tower::util::MapResponseLayer;

const GRPC_STATUS: &str = "grpc-status";
const GRPC_MESSAGE: &str = "grpc-message";
const OUT_OF_RANGE: &str = "11";
const RESOURCE_EXHAUSTED: HeaderValue = HeaderValue::from_static("8");

/// Whether `message` (as sent: percent-encoded) is tonic's "message too large" refusal.
fn is_too_large(message: &[u8]) -> bool {
    let message = String::from_utf8_lossy(message).replace("%20", " ");
    message.contains("message length too large")
}

/// Rewrites the status of an oversized-message refusal; every other reply passes unchanged.
pub fn rename_oversized<B>(mut response: Response<B>) -> Response<B> {
    let headers = response.headers();
    let refused = headers.get(GRPC_STATUS).is_some_and(|s| s == OUT_OF_RANGE)
        && headers
            .get(GRPC_MESSAGE)
            .is_some_and(|m| is_too_large(m.as_bytes()));
    if refused {
        response
            .headers_mut()
            .insert(GRPC_STATUS, RESOURCE_EXHAUSTED);
    }
    response
}

/// The same renaming for a status read from a request stream (a Discover stream that fails after
/// its first reply ends with the status in trailers, which the layer does not see).
pub fn renamed(status: Status) -> Status {
    if status.code() == tonic::Code::OutOfRange
        && status.message().contains("message length too large")
    {
        Status::resource_exhausted(status.message().to_string())
    } else {
        status
    }
}

/// The layer for `Server::builder().layer(..)`.
pub fn layer() -> MapResponseLayer<fn(Response<Body>) -> Response<Body>> {
    MapResponseLayer::new(rename_oversized::<Body>)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(status: &str, message: &str) -> Response<()> {
        let mut response = Response::new(());
        response
            .headers_mut()
            .insert(GRPC_STATUS, HeaderValue::from_str(status).unwrap());
        response
            .headers_mut()
            .insert(GRPC_MESSAGE, HeaderValue::from_str(message).unwrap());
        response
    }

    #[test]
    fn only_the_oversize_refusal_is_renamed() {
        let oversized = reply(
            "11",
            "Error,%20decoded%20message%20length%20too%20large:%20found%2020%20bytes",
        );
        assert_eq!(rename_oversized(oversized).headers()[GRPC_STATUS], "8");
        let other_out_of_range = reply("11", "index%20out%20of%20range");
        assert_eq!(
            rename_oversized(other_out_of_range).headers()[GRPC_STATUS],
            "11"
        );
        let ok = reply("0", "");
        assert_eq!(rename_oversized(ok).headers()[GRPC_STATUS], "0");
    }
}
