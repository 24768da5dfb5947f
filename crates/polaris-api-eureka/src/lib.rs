//! The Eureka-compatible adapter (port 8761, apiserver `service-eureka`). Netflix Eureka clients
//! register, renew, cancel and discover under `/eureka`, `/eureka/v1` and `/eureka/v2`, in JSON
//! or XML, and their instances are ordinary Polaris instances in the naming domain (apps stored
//! lower-case, shown upper-case; lease durations as heartbeat TTLs; status other than UP as
//! isolation). Reads come from a per-namespace read model ([`registry`]) rebuilt from the naming
//! snapshot only when it changed, with each encoded body cached per revision. This crate is the
//! only one that knows Eureka's wire shapes.

mod docs;
mod http;
mod model;
mod reads;
mod registry;
mod replicate;
mod view;
mod wire;
mod writes;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::Request;
use axum::routing::{get, post, put};
use polaris_auth::Auth;
use polaris_health::Health;
use polaris_naming::Naming;
use tower::ServiceExt;

pub use view::DataCenter;

/// The listener's `option` settings, as officially named.
#[derive(Clone, Debug)]
pub struct EurekaOptions {
    /// `namespace`: where clients without an `x-namespace` header register (default `default`).
    pub namespace: String,
    /// `generateUniqueInstId`: prefix instance ids with the app name unless they contain it.
    pub generate_unique_inst_id: bool,
    /// `deltaExpireInterval` (seconds): how long a change stays in `/apps/delta` (default 60).
    pub delta_expire: Duration,
    /// `customValues.dataCenterInfoClass` / `dataCenterInfoName`: shown for instances that
    /// registered none.
    pub data_center: DataCenter,
}

impl Default for EurekaOptions {
    fn default() -> Self {
        EurekaOptions {
            namespace: "default".into(),
            generate_unique_inst_id: false,
            delta_expire: Duration::from_secs(60),
            data_center: DataCenter::default(),
        }
    }
}

impl EurekaOptions {
    /// Reads the options of an `apiservers` entry; unknown keys and wrong types keep defaults.
    pub fn from_option(option: &serde_json::Map<String, serde_json::Value>) -> EurekaOptions {
        let mut options = EurekaOptions::default();
        if let Some(ns) = option
            .get("namespace")
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
        {
            options.namespace = ns.to_string();
        }
        if let Some(unique) = option.get("generateUniqueInstId").and_then(|v| v.as_bool()) {
            options.generate_unique_inst_id = unique;
        }
        if let Some(secs) = option
            .get("deltaExpireInterval")
            .and_then(|v| v.as_u64())
            .filter(|s| *s > 0)
        {
            options.delta_expire = Duration::from_secs(secs);
        }
        if let Some(custom) = option.get("customValues").and_then(|v| v.as_object()) {
            let text = |k: &str| {
                custom
                    .get(k)
                    .map(|v| model::text(Some(v)))
                    .filter(|s| !s.is_empty())
            };
            if let Some(class) = text("dataCenterInfoClass") {
                options.data_center.class = class;
            }
            if let Some(name) = text("dataCenterInfoName") {
                options.data_center.name = name;
            }
        }
        options
    }
}

/// What every handler can reach.
#[derive(Clone)]
pub struct EurekaState {
    naming: Arc<Naming>,
    health: Arc<Health>,
    auth: Arc<Auth>,
    registry: Arc<registry::Registry>,
    ids: model::IdRule,
}

impl EurekaState {
    pub fn new(
        naming: Arc<Naming>,
        health: Arc<Health>,
        auth: Arc<Auth>,
        options: EurekaOptions,
    ) -> Self {
        let registry =
            registry::Registry::new(naming.clone(), options.data_center, options.delta_expire);
        EurekaState {
            naming,
            health,
            auth,
            registry: Arc::new(registry),
            ids: model::IdRule {
                default_namespace: options.namespace,
                unique_ids: options.generate_unique_inst_id,
            },
        }
    }
}

/// Every official route, under each of the three official prefixes.
pub fn router(state: EurekaState) -> Router {
    let mut router = Router::new();
    for prefix in ["/eureka", "/eureka/v1", "/eureka/v2"] {
        router = router
            .route(&format!("{prefix}/apps"), get(reads::all_apps))
            .route(&format!("{prefix}/apps/delta"), get(reads::delta))
            .route(
                &format!("{prefix}/apps/{{app}}"),
                get(reads::one_app).post(writes::register),
            )
            .route(
                &format!("{prefix}/apps/{{app}}/{{id}}"),
                get(reads::app_instance)
                    .put(writes::renew)
                    .delete(writes::cancel),
            )
            .route(
                &format!("{prefix}/apps/{{app}}/{{id}}/status"),
                put(writes::override_status).delete(writes::remove_override),
            )
            .route(
                &format!("{prefix}/apps/{{app}}/{{id}}/metadata"),
                put(writes::update_metadata),
            )
            .route(&format!("{prefix}/instances/{{id}}"), get(reads::instance))
            .route(&format!("{prefix}/vips/{{vip}}"), get(reads::vip))
            .route(&format!("{prefix}/svips/{{vip}}"), get(reads::svip))
            .route(
                &format!("{prefix}/peerreplication/batch"),
                post(replicate::batch),
            );
    }
    router.with_state(state)
}

/// Eureka clients ask for `apps/` with a trailing slash: routes match either spelling.
fn trim_trailing_slash(mut request: Request) -> Request {
    let path = request.uri().path();
    if path.len() > 1 && path.ends_with('/') {
        let trimmed = path.trim_end_matches('/');
        let rebuilt = match request.uri().query() {
            Some(q) => format!("{trimmed}?{q}"),
            None => trimmed.to_string(),
        };
        if let Ok(uri) = rebuilt.parse() {
            *request.uri_mut() = uri;
        }
    }
    request
}

/// Serves the Eureka API on `listener` until `shutdown` resolves.
pub async fn serve(
    listener: impl Into<polaris_tls::Listener>,
    state: EurekaState,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let app = router(state).map_request(trim_trailing_slash);
    let app = axum::ServiceExt::<Request>::into_make_service_with_connect_info::<SocketAddr>(app);
    let listener = axum::serve::ListenerExt::tap_io(listener.into(), |_| {});
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown)
        .await
}

#[cfg(test)]
mod tests;
