//! The HTTP OpenAPI adapter (port 8090). It speaks the official server's JSON: console routes
//! under `/naming/v1` and `/core/v1` taking arrays and answering `BatchWriteResponse` or
//! `BatchQueryResponse`, client routes under `/v1`, plus `GET /`, a health probe and `/metrics`.
//! This crate is the only one that knows the naming JSON shapes; every Polaris code becomes an
//! HTTP status here, in [`reply`], and nowhere else.

pub mod auth;
mod batch;
mod body;
mod client;
mod config;
mod console_instances;
mod console_namespaces;
mod console_services;
mod governance;
pub mod limits;
mod listing;
mod metrics;
mod rendered;
mod reply;
mod wire;

use std::sync::Arc;

use axum::Router;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderName, HeaderValue};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::get;
use polaris_config::ConfigCenter;
use polaris_governance::Governance;
use polaris_health::Health;
use polaris_naming::Naming;
use prometheus_client::registry::Registry;

pub use metrics::HttpMetrics;

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub auth: Arc<polaris_auth::Auth>,
    pub naming: Arc<Naming>,
    pub health: Arc<Health>,
    pub governance: Arc<Governance>,
    pub config: Arc<ConfigCenter>,
    pub metrics: Arc<HttpMetrics>,
    /// The process-wide registry, read by `/metrics`.
    pub registry: Arc<Registry>,
}

/// Builds the complete router of the HTTP OpenAPI.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(|| async { "Polaris Server" }))
        .route("/healthz", get(|| async { "ok" }))
        .route("/metrics", get(metrics::expose))
        .merge(console_namespaces::routes())
        .merge(console_services::routes())
        .merge(console_instances::routes())
        .merge(governance::routes())
        .merge(client::routes())
        .merge(config::routes())
        .merge(auth::routes())
        .layer(middleware::from_fn_with_state(
            state.clone(),
            auth::guard::enforce,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            metrics::record,
        ))
        .layer(middleware::from_fn(echo_request_id))
        // Bodies are read with their own bound in `body::read_body`, which answers in Polaris form.
        .layer(DefaultBodyLimit::disable())
        .with_state(state)
}

/// Echoes the `Request-Id` header, as the official server does.
async fn echo_request_id(request: Request, next: Next) -> Response {
    let request_id = request.headers().get("request-id").cloned();
    let mut response = next.run(request).await;
    let value = request_id.unwrap_or_else(|| HeaderValue::from_static(""));
    response
        .headers_mut()
        .insert(HeaderName::from_static("request-id"), value);
    response
}
