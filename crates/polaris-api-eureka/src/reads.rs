//! The discovery routes: `/apps`, `/apps/delta`, one application, one instance, VIPs. All are
//! answered from the namespace's current read model.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::Response;
use bytes::Bytes;
use polaris_auth::{Access, Origin, ResourceRef};
use polaris_types::{Code, PolarisError, Result};

use crate::EurekaState;
use crate::docs::{AppDoc, AppsDoc, Format};
use crate::http::{self, answer_format, document, refuse, wants_gzip};
use crate::registry::Apps;

impl EurekaState {
    /// Establishes the caller under the client switches and, when `app` is named, checks that
    /// it may read it. Whole-namespace lists are not trimmed per caller (they are one cached
    /// body for everyone); the official server checks none of these reads.
    pub(crate) fn check(
        &self,
        headers: &HeaderMap,
        namespace: &str,
        app: Option<&str>,
        access: Access,
    ) -> Result<()> {
        let token = http::token(headers)?;
        let operator = self.auth.authenticate(Origin::Client, token.as_deref())?;
        let resource = match app {
            Some(app) => ResourceRef::service(namespace, app.to_lowercase()),
            None if access == Access::Write => ResourceRef::namespace(namespace),
            None => return Ok(()),
        };
        self.auth.authorize(&operator, access, &[resource])
    }

    fn read_model(&self, headers: &HeaderMap, app: Option<&str>) -> Result<Arc<Apps>> {
        let namespace = http::namespace(headers, &self.ids.default_namespace);
        self.check(headers, &namespace, app, Access::Read)?;
        Ok(self.registry.apps(&namespace))
    }
}

fn apps_answer(headers: &HeaderMap, doc: &AppsDoc) -> Response {
    let format = answer_format(headers);
    let (body, gzipped) = doc.body(format, wants_gzip(headers));
    document(format, body, gzipped)
}

fn answer(result: Result<Response>) -> Response {
    result.unwrap_or_else(|err| refuse(&err))
}

fn not_found(what: String) -> PolarisError {
    PolarisError::new(Code::NotFoundResource, what)
}

pub async fn all_apps(State(state): State<EurekaState>, headers: HeaderMap) -> Response {
    answer(
        state
            .read_model(&headers, None)
            .map(|apps| apps_answer(&headers, &apps.full)),
    )
}

pub async fn delta(State(state): State<EurekaState>, headers: HeaderMap) -> Response {
    answer(
        state
            .read_model(&headers, None)
            .map(|apps| apps_answer(&headers, &apps.delta)),
    )
}

/// A single document (one application or one instance) in the format the client accepts,
/// never gzipped.
fn single(headers: &HeaderMap, render: impl FnOnce(Format) -> Bytes) -> Result<Response> {
    let format = answer_format(headers);
    Ok(document(format, render(format), false))
}

fn app_of<'a>(apps: &'a Apps, app: &str) -> Result<&'a Arc<AppDoc>> {
    apps.app(app)
        .ok_or_else(|| not_found(format!("application {app}")))
}

pub async fn one_app(
    State(state): State<EurekaState>,
    Path(app): Path<String>,
    headers: HeaderMap,
) -> Response {
    answer(state.read_model(&headers, Some(&app)).and_then(|apps| {
        let doc = app_of(&apps, &app)?;
        single(&headers, |format| doc.document(format))
    }))
}

pub async fn app_instance(
    State(state): State<EurekaState>,
    Path((app, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> Response {
    answer(state.read_model(&headers, Some(&app)).and_then(|apps| {
        let instance = app_of(&apps, &app)?
            .instance(&id)
            .ok_or_else(|| not_found(format!("instance {id} of {app}")))?;
        single(&headers, |format| instance.document(format))
    }))
}

pub async fn instance(
    State(state): State<EurekaState>,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> Response {
    answer(state.read_model(&headers, None).and_then(|apps| {
        let instance = apps
            .instance(&id)
            .ok_or_else(|| not_found(format!("instance {id}")))?;
        single(&headers, |format| instance.document(format))
    }))
}

fn by_vip(state: &EurekaState, headers: &HeaderMap, secure: bool, vip: &str) -> Response {
    answer(
        state
            .read_model(headers, None)
            .map(|apps| apps_answer(headers, &apps.by_vip(secure, vip))),
    )
}

pub async fn vip(
    State(state): State<EurekaState>,
    Path(vip): Path<String>,
    headers: HeaderMap,
) -> Response {
    by_vip(&state, &headers, false, &vip)
}

pub async fn svip(
    State(state): State<EurekaState>,
    Path(vip): Path<String>,
    headers: HeaderMap,
) -> Response {
    by_vip(&state, &headers, true, &vip)
}
