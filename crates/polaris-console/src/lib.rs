//! The web console (port 8080 by default). One listener serves the single-page app that
//! `console/web` builds (embedded in the binary, see [`assets`]) and, on the same origin and in
//! the same process, the HTTP OpenAPI router that port 8090 serves: no proxy and no CORS. A
//! [`session`] layer keeps the Polaris token on the server: the browser holds only an HttpOnly,
//! SameSite=Strict cookie, and every write must carry the session's CSRF token in a header.

pub mod assets;
mod heartbeats;
pub mod nodes;
pub mod session;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::{MatchedPath, Request};
use axum::http::{HeaderMap, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tokio::net::TcpListener;
use tower::ServiceExt;
use tower_http::compression::CompressionLayer;

pub use nodes::NodeInfo;
pub use session::{SESSION_IDLE, Sessions};

/// Path prefixes answered by the OpenAPI router rather than the single-page app.
const API_PREFIXES: [&str; 5] = ["/naming/", "/config/", "/core/", "/maintain/", "/v1/"];

/// What the console's own handlers reach.
#[derive(Clone)]
pub struct Console {
    pub auth: Arc<polaris_auth::Auth>,
    pub health: Arc<polaris_health::Health>,
    pub sessions: Arc<Sessions>,
    pub node: Arc<NodeInfo>,
}

/// The console listener's router: the console routes, the OpenAPI `api` mounted in-process,
/// and the app for every other GET.
pub fn router(api: Router, console: Console) -> Router {
    let own = Router::new()
        .route("/console/v1/session", get(session::show))
        .route("/console/v1/logout", post(session::logout))
        .route("/console/v1/cluster", get(nodes::cluster))
        .route("/console/v1/heartbeats", get(heartbeats::last_beats))
        .with_state(console.clone());
    own.fallback(move |request: Request| dispatch(api.clone(), request))
        .layer(middleware::from_fn_with_state(console, session::layer))
        .layer(CompressionLayer::new())
}

/// The refusal for a caller the console's auth switches do not let in (its token comes from
/// the session layer), or `None` when it may go on.
fn refusal(console: &Console, headers: &HeaderMap) -> Option<Response> {
    let token = headers.get("x-polaris-token").and_then(|v| v.to_str().ok());
    let err = console
        .auth
        .authenticate(polaris_auth::Origin::Console, token)
        .err()?;
    Some(session::refuse(
        StatusCode::UNAUTHORIZED,
        err.code.value(),
        &err.to_string(),
    ))
}

/// Sends API paths to the OpenAPI router and everything else to the embedded app.
async fn dispatch(api: Router, mut request: Request) -> Response {
    let path = request.uri().path();
    if API_PREFIXES.iter().any(|p| path.starts_with(p)) {
        // The OpenAPI router matches the path itself (its auth table is keyed by it).
        request.extensions_mut().remove::<MatchedPath>();
        return match api.oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
    }
    assets::serve(&request).into_response()
}

/// Binds the console listener.
pub async fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    TcpListener::bind(addr).await
}

/// Serves the console on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: impl Into<polaris_tls::Listener>,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let listener = listener.into();
    tracing::info!(target: "polaris_console", addr = ?listener.local_addr().ok(), tls = listener.is_tls(), "console listening");
    // tap_io gives axum the connection's peer address as `ConnectInfo<SocketAddr>`.
    let listener = axum::serve::ListenerExt::tap_io(listener, |_| {});
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

#[cfg(test)]
mod tests;
