//! The write rate per client address on the HTTP OpenAPI (and the console listener, which
//! mounts the same router): a write over its client's token bucket is answered HTTP 429 with
//! the Polaris body `{"code": 429002, "info": "server limit the ip access"}`, as the official
//! server answers its IP rate limit. Writes are every request that is not GET, HEAD or OPTIONS,
//! except the client calls that only read or report liveness (`Heartbeat`, `ReportClient`,
//! `Discover`, `WatchConfigFile`, `GetConfigFileMetadataList`, `ConfigDiscover`): a limited
//! heartbeat would turn a healthy instance unhealthy. Logins count as writes, which also slows
//! password guessing across accounts.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::Method;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use polaris_limits::IpRateLimiter;
use polaris_types::Code;

use crate::reply::Reply;

/// Client calls sent with POST that are not writes.
const CLIENT_NON_WRITES: [&str; 6] = [
    "Heartbeat",
    "ReportClient",
    "Discover",
    "WatchConfigFile",
    "GetConfigFileMetadataList",
    "ConfigDiscover",
];

/// Whether a request is a write, and so rate-limited.
pub fn is_write(method: &Method, path: &str) -> bool {
    if matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        return false;
    }
    let path = path.trim_end_matches('/');
    let client_call = path
        .strip_prefix("/v1/")
        .or_else(|| path.strip_prefix("/config/v1/"));
    !client_call.is_some_and(|name| CLIENT_NON_WRITES.contains(&name))
}

#[derive(Clone)]
struct WriteRate {
    limiter: Arc<IpRateLimiter>,
    listener: Arc<str>,
}

/// `router` with writes limited per client address by `limiter` (`None`: unchanged). The
/// client address is the socket peer: serve with `into_make_service_with_connect_info`.
pub fn limit_writes(router: Router, limiter: Option<Arc<IpRateLimiter>>, listener: &str) -> Router {
    match limiter {
        None => router,
        Some(limiter) => router.layer(middleware::from_fn_with_state(
            WriteRate {
                limiter,
                listener: Arc::from(listener),
            },
            enforce,
        )),
    }
}

async fn enforce(State(rate): State<WriteRate>, request: Request, next: Next) -> Response {
    if is_write(request.method(), request.uri().path())
        && let Some(ConnectInfo(peer)) = request.extensions().get::<ConnectInfo<SocketAddr>>()
        && !rate.limiter.allow(peer.ip(), &rate.listener)
    {
        tracing::debug!(target: "polaris_api_http", %peer, path = request.uri().path(),
            "write refused: over the client's rate");
        drain(request).await;
        return Reply::of(Code::IpRateLimit).into_response();
    }
    next.run(request).await
}

/// Reads and drops a refused request's body, so that the client's keep-alive connection stays
/// usable: hyper closes a connection whose request body was left unread, and a client that
/// sent its body in a second segment would find the next request's write refused. A body
/// larger than [`DRAIN_LIMIT`] or slower than [`DRAIN_DEADLINE`] is not waited for; its
/// connection closes, which is the right answer to such a client anyway.
async fn drain(request: Request) {
    let body = axum::body::to_bytes(request.into_body(), DRAIN_LIMIT);
    let _ = tokio::time::timeout(DRAIN_DEADLINE, body).await;
}

const DRAIN_LIMIT: usize = 64 * 1024;
const DRAIN_DEADLINE: std::time::Duration = std::time::Duration::from_secs(1);

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};

    use axum::body::Body;
    use axum::routing::post;
    use polaris_limits::IpRateOptions;
    use tower::ServiceExt;

    use super::*;

    #[test]
    fn client_reads_and_beats_are_not_writes() {
        assert!(is_write(&Method::POST, "/v1/RegisterInstance"));
        assert!(is_write(&Method::POST, "/naming/v1/services"));
        assert!(is_write(&Method::DELETE, "/config/v1/configfiles"));
        assert!(is_write(&Method::POST, "/core/v1/user/login"));
        assert!(!is_write(&Method::POST, "/v1/Heartbeat"));
        assert!(!is_write(&Method::POST, "/v1/Discover/"));
        assert!(!is_write(&Method::POST, "/config/v1/WatchConfigFile"));
        assert!(!is_write(&Method::GET, "/naming/v1/services"));
    }

    fn request(path: &str, peer: [u8; 4]) -> Request {
        let mut request = Request::post(path).body(Body::empty()).unwrap();
        let addr = SocketAddr::new(IpAddr::V4(Ipv4Addr::from(peer)), 5000);
        request.extensions_mut().insert(ConnectInfo(addr));
        request
    }

    #[tokio::test]
    async fn a_client_over_its_rate_gets_429_with_the_polaris_code() {
        let limiter = IpRateLimiter::new(&IpRateOptions {
            open: true,
            bucket: 2,
            rate: 1,
            resource_cache_amount: 16,
            white_list: Vec::new(),
        });
        let router = Router::new()
            .route("/v1/RegisterInstance", post(|| async { "ok" }))
            .route("/v1/Heartbeat", post(|| async { "ok" }));
        let router = limit_writes(router, limiter, "api-http");
        for _ in 0..2 {
            let ok = router
                .clone()
                .oneshot(request("/v1/RegisterInstance", [10, 0, 0, 1]))
                .await
                .unwrap();
            assert_eq!(ok.status(), 200);
        }
        let refused = router
            .clone()
            .oneshot(request("/v1/RegisterInstance", [10, 0, 0, 1]))
            .await
            .unwrap();
        assert_eq!(refused.status(), 429);
        assert_eq!(refused.headers()["x-polaris-code"], "429002");
        let body = axum::body::to_bytes(refused.into_body(), 1 << 16)
            .await
            .unwrap();
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["code"], 429002);
        let beat = router
            .clone()
            .oneshot(request("/v1/Heartbeat", [10, 0, 0, 1]))
            .await
            .unwrap();
        assert_eq!(beat.status(), 200, "heartbeats are never limited");
        let other = router
            .oneshot(request("/v1/RegisterInstance", [10, 0, 0, 2]))
            .await
            .unwrap();
        assert_eq!(other.status(), 200, "another client keeps its own bucket");
    }
}
