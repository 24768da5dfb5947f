//! The registration routes: register, renew, cancel, status override and its removal, and
//! metadata updates. Each is one operation on [`EurekaState`] (shared with peer replication)
//! behind a thin handler.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use polaris_auth::Access;
use polaris_naming::InstanceSpec;
use polaris_types::{Code, Instance, PolarisError, Result};

use crate::EurekaState;
use crate::http::{self, empty, refuse};
use crate::model::{self, EurekaInstance, META_OVERRIDDEN, META_STATUS, STATUS_UNKNOWN, STATUS_UP};

/// Statuses a client or operator may set.
const STATUSES: [&str; 5] = ["UP", "DOWN", "STARTING", "OUT_OF_SERVICE", "UNKNOWN"];

fn not_found(what: String) -> PolarisError {
    PolarisError::new(Code::NotFoundResource, what)
}

impl EurekaState {
    /// The instance `id` of `app`, if it exists and belongs to that app.
    fn find(&self, namespace: &str, app: &str, id: &str) -> Option<Arc<Instance>> {
        let polaris_id = self.ids.polaris_id(namespace, app, id);
        let instance = self.naming.snapshot().instance(&polaris_id)?.clone();
        (instance.namespace == namespace && instance.service.eq_ignore_ascii_case(app))
            .then_some(instance)
    }

    pub(crate) async fn register(
        &self,
        namespace: &str,
        app: &str,
        instance: &EurekaInstance,
    ) -> Result<()> {
        let app = app.to_lowercase();
        // An operator's status override outlives the client's re-registrations, as in Eureka.
        let kept = self
            .find(namespace, &app, instance.eureka_id())
            .and_then(|i| i.metadata.get(META_OVERRIDDEN).map(str::to_string))
            .filter(|s| !s.is_empty() && s != STATUS_UNKNOWN);
        let spec = model::to_spec(instance, namespace, &app, &self.ids, kept.as_deref());
        self.naming.register_instance(spec).await.map(drop)
    }

    /// A heartbeat. An instance the registry does not know is answered 404 at once, so the
    /// client registers again.
    pub(crate) async fn renew(&self, namespace: &str, app: &str, id: &str) -> Result<()> {
        let Some(instance) = self.find(namespace, app, id) else {
            return Err(not_found(format!("instance {id} of {app}")));
        };
        let spec = InstanceSpec {
            id: Some(instance.id.clone()),
            ..Default::default()
        };
        match self.health.heartbeat(&spec).await {
            Err(err) if err.code != Code::HeartbeatOnDisabledIns => Err(err),
            _ => Ok(()),
        }
    }

    /// Removes an instance; an unknown one is not an error, as officially.
    pub(crate) async fn cancel(&self, namespace: &str, app: &str, id: &str) -> Result<()> {
        let Some(instance) = self.find(namespace, app, id) else {
            return Ok(());
        };
        let spec = InstanceSpec {
            id: Some(instance.id.clone()),
            ..Default::default()
        };
        self.naming.deregister_instance(&spec).await
    }

    /// Sets (or, with `None`, removes) an operator's status override: status other than UP
    /// isolates the instance.
    pub(crate) async fn set_status(
        &self,
        namespace: &str,
        app: &str,
        id: &str,
        status: Option<&str>,
    ) -> Result<()> {
        let Some(instance) = self.find(namespace, app, id) else {
            return Err(not_found(format!("instance {id} of {app}")));
        };
        let value = status.unwrap_or(STATUS_UP);
        let mut metadata = instance.metadata.to_map();
        metadata.insert(META_STATUS.into(), value.into());
        metadata.insert(
            META_OVERRIDDEN.into(),
            status.unwrap_or(STATUS_UNKNOWN).into(),
        );
        self.update(&instance, Some(value != STATUS_UP), metadata)
            .await
    }

    /// Merges `pairs` into the instance's metadata (Eureka's behaviour; the official server
    /// replaces all of it). Internal keys cannot be set this way.
    pub(crate) async fn merge_metadata(
        &self,
        namespace: &str,
        app: &str,
        id: &str,
        pairs: Vec<(String, String)>,
    ) -> Result<()> {
        let Some(instance) = self.find(namespace, app, id) else {
            return Err(not_found(format!("instance {id} of {app}")));
        };
        let mut metadata = instance.metadata.to_map();
        metadata.extend(
            pairs
                .into_iter()
                .filter(|(k, _)| !k.is_empty() && !k.starts_with("internal-")),
        );
        self.update(&instance, None, metadata).await
    }

    async fn update(
        &self,
        instance: &Instance,
        isolate: Option<bool>,
        metadata: polaris_types::Metadata,
    ) -> Result<()> {
        let spec = InstanceSpec {
            id: Some(instance.id.clone()),
            isolate,
            metadata: Some(metadata),
            ..Default::default()
        };
        match self.naming.update_instance(spec).await {
            Err(err) if err.code != Code::NoNeedUpdate => Err(err),
            _ => Ok(()),
        }
    }
}

fn namespace(state: &EurekaState, headers: &HeaderMap) -> String {
    http::namespace(headers, &state.ids.default_namespace)
}

fn reply(result: Result<()>, success: StatusCode) -> Response {
    match result {
        Ok(()) => empty(success),
        Err(err) => {
            tracing::debug!(target: "polaris_api_eureka", code = err.code.value(), info = %err.info(), "request refused");
            refuse(&err)
        }
    }
}

/// A write to `app` in the request's namespace: the Write check on the application, then
/// `write`; answers `success` or the refusal.
async fn write_app(
    state: &EurekaState,
    headers: &HeaderMap,
    app: &str,
    success: StatusCode,
    write: impl AsyncFnOnce(&str) -> Result<()>,
) -> Response {
    let ns = namespace(state, headers);
    let result = match state.check(headers, &ns, Some(app), Access::Write) {
        Ok(()) => write(&ns).await,
        Err(err) => Err(err),
    };
    reply(result, success)
}

pub async fn register(
    State(state): State<EurekaState>,
    Path(app): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    // The body is read and checked before the caller's rights, as officially.
    let document = http::read_document(&headers, body).await;
    let instance = match document.and_then(|document| EurekaInstance::decode(&document)) {
        Ok(instance) => instance,
        Err(err) => return reply(Err(err), StatusCode::NO_CONTENT),
    };
    let register = async |ns: &str| state.register(ns, &app, &instance).await;
    write_app(&state, &headers, &app, StatusCode::NO_CONTENT, register).await
}

pub async fn renew(
    State(state): State<EurekaState>,
    Path((app, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    // Heartbeats are never auth-checked, as officially.
    reply(
        state.renew(&namespace(&state, &headers), &app, &id).await,
        StatusCode::OK,
    )
}

pub async fn cancel(
    State(state): State<EurekaState>,
    Path((app, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let cancel = async |ns: &str| state.cancel(ns, &app, &id).await;
    write_app(&state, &headers, &app, StatusCode::OK, cancel).await
}

fn query_pairs(query: Option<String>) -> Vec<(String, String)> {
    form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .into_owned()
        .collect()
}

pub async fn override_status(
    State(state): State<EurekaState>,
    Path((app, id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let value = query_pairs(query)
        .into_iter()
        .find(|(k, _)| k == "value")
        .map(|(_, v)| v.to_ascii_uppercase());
    // The value is checked before the caller's rights, as officially.
    let Some(value) = value.filter(|v| STATUSES.contains(&v.as_str())) else {
        let info = format!("value must be one of {STATUSES:?}");
        return reply(
            Err(PolarisError::new(Code::InvalidParameter, info)),
            StatusCode::OK,
        );
    };
    let set = async |ns: &str| match value.as_str() {
        STATUS_UNKNOWN => Ok(()),
        value => state.set_status(ns, &app, &id, Some(value)).await,
    };
    write_app(&state, &headers, &app, StatusCode::OK, set).await
}

pub async fn remove_override(
    State(state): State<EurekaState>,
    Path((app, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    let remove = async |ns: &str| state.set_status(ns, &app, &id, None).await;
    write_app(&state, &headers, &app, StatusCode::OK, remove).await
}

pub async fn update_metadata(
    State(state): State<EurekaState>,
    Path((app, id)): Path<(String, String)>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let pairs = query_pairs(query);
    let merge = async |ns: &str| state.merge_metadata(ns, &app, &id, pairs).await;
    write_app(&state, &headers, &app, StatusCode::OK, merge).await
}
