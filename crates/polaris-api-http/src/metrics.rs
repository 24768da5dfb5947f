//! Request counters and latency histograms per API, and the `/metrics` endpoint.

use std::sync::Arc;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use polaris_limits::metrics::latency_histogram;
use polaris_limits::register_fields;
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::Registry;

use crate::AppState;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct RequestLabels {
    method: &'static str,
    path: String,
    status: u16,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ApiLabels {
    method: &'static str,
    path: String,
}

/// The HTTP adapter's metric families.
pub struct HttpMetrics {
    requests: Family<RequestLabels, Counter>,
    latency: Family<ApiLabels, Histogram>,
}

impl HttpMetrics {
    /// Creates the families and registers them as `http_*` (exposed with the registry prefix).
    pub fn register(registry: &mut Registry) -> Arc<HttpMetrics> {
        let metrics = HttpMetrics {
            requests: Family::default(),
            latency: Family::new_with_constructor(latency_histogram),
        };
        register_fields!(registry, metrics, {
            requests: "http_requests", "HTTP requests by API and status";
            latency: "http_request_seconds", "HTTP request latency by API";
        });
        Arc::new(metrics)
    }
}

/// The method as a label: the standard ones by name, any other as `OTHER`. HTTP lets a client
/// send any token as a method, so naming each would let one client grow the families (and every
/// scrape) without bound, as the path label does not: it is the matched route or `unmatched`.
fn method_label(method: &Method) -> &'static str {
    const STANDARD: [(Method, &str); 9] = [
        (Method::GET, "GET"),
        (Method::POST, "POST"),
        (Method::PUT, "PUT"),
        (Method::DELETE, "DELETE"),
        (Method::HEAD, "HEAD"),
        (Method::OPTIONS, "OPTIONS"),
        (Method::PATCH, "PATCH"),
        (Method::TRACE, "TRACE"),
        (Method::CONNECT, "CONNECT"),
    ];
    STANDARD
        .iter()
        .find(|(known, _)| known == method)
        .map_or("OTHER", |(_, name)| name)
}

/// Middleware recording one count and one latency sample per request.
pub async fn record(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let method = method_label(request.method());
    let path = request
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_string(), |p| p.as_str().to_string());
    let started = Instant::now();
    let response = next.run(request).await;
    let labels = ApiLabels { method, path };
    state
        .metrics
        .latency
        .get_or_create(&labels)
        .observe(started.elapsed().as_secs_f64());
    let status = response.status().as_u16();
    state
        .metrics
        .requests
        .get_or_create(&RequestLabels {
            method: labels.method,
            path: labels.path,
            status,
        })
        .inc();
    response
}

/// `GET /metrics` in the Prometheus text format.
pub async fn expose(State(state): State<AppState>) -> Response {
    let mut text = String::new();
    match prometheus_client::encoding::text::encode(&mut text, &state.registry) {
        Ok(()) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            text,
        )
            .into_response(),
        Err(err) => (StatusCode::INTERNAL_SERVER_ERROR, err.to_string()).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extension_methods_share_one_label() {
        assert_eq!(method_label(&Method::GET), "GET");
        assert_eq!(method_label(&Method::PATCH), "PATCH");
        for token in ["FOO", "BAR", "get"] {
            let method = Method::from_bytes(token.as_bytes()).unwrap();
            assert_eq!(method_label(&method), "OTHER", "{token}");
        }
    }
}
