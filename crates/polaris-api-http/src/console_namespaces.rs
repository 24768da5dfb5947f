//! `/naming/v1/namespaces` and `/core/v1/namespaces`.

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use polaris_naming::{NamespaceFilter, Page};
use polaris_types::{Code, PolarisError};
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::AppState;
use crate::auth::guard::Visibility;
use crate::batch::{echoing_batch, naming_batch, shown};
use crate::body::{Payload, Query};
use crate::reply::{BatchRule, Reply, json_reply, query_error};
use crate::wire::naming::{NamespaceIn, namespace_created, namespace_out};

/// How this module's batches pick their code.
const RULE: BatchRule = BatchRule::HighestFailure;

pub fn routes() -> Router<AppState> {
    let mut router = Router::new();
    for prefix in ["/naming/v1", "/core/v1"] {
        router = router
            .route(
                &format!("{prefix}/namespaces"),
                get(list).post(create).put(update),
            )
            .route(&format!("{prefix}/namespaces/delete"), post(delete));
    }
    router
        .route("/naming/v1/namespace/token", get(get_token))
        .route("/core/v1/namespaces/token", get(get_token))
}

/// Decodes one JSON object body, or answers with a parse error reply.
pub(crate) async fn one<T: DeserializeOwned>(body: Payload) -> Result<T, Reply> {
    body.object().await.map_err(Reply::from)
}

async fn create(State(state): State<AppState>, body: Payload) -> Response {
    naming_batch(&state, body, RULE, |naming, ns: NamespaceIn| async move {
        shown(
            naming.create_namespace(ns.spec()).await,
            &ns,
            namespace_created,
        )
    })
    .await
}

async fn update(State(state): State<AppState>, body: Payload) -> Response {
    echoing_batch(&state, body, RULE, |naming, ns: NamespaceIn| async move {
        naming.update_namespace(ns.spec()).await
    })
    .await
}

async fn delete(State(state): State<AppState>, body: Payload) -> Response {
    echoing_batch(&state, body, RULE, |naming, ns: NamespaceIn| async move {
        let name = ns.name.clone().unwrap_or_default();
        if polaris_types::validate::is_valid_name(&name, usize::MAX) {
            naming.delete_namespace(&name).await
        } else {
            Err(PolarisError::from(Code::InvalidNamespaceName))
        }
    })
    .await
}

async fn list(
    State(state): State<AppState>,
    Visibility(visible): Visibility,
    query: Query,
) -> Response {
    let page = match query.page() {
        // For namespaces, as officially, `limit=0` means "no limit".
        Ok(page) if query.get("limit") == Some("0") => Page {
            offset: page.offset,
            limit: usize::MAX,
        },
        Ok(page) => page,
        Err(err) => return query_error(&err),
    };
    let filter = NamespaceFilter {
        visible,
        names: query.all("name"),
        owners: query.all("owner"),
    };
    let paged = state.naming.list_namespaces(&filter, page);
    let (mut services, mut instances, mut healthy) = (0, 0, 0);
    let items: Vec<_> = paged
        .items
        .iter()
        .inspect(|s| {
            services += s.service_count;
            instances += s.instance_count;
            healthy += s.healthy_instance_count;
        })
        .map(namespace_out)
        .collect();
    let body = json!({
        "code": Code::ExecuteSuccess.value(),
        "info": Code::ExecuteSuccess.info(),
        "amount": paged.total,
        "size": items.len(),
        "namespaces": items,
        "summary": {
            "total_service_count": services,
            "total_instance_count": instances,
            "total_health_instance_count": healthy,
        },
    });
    json_reply(
        Code::ExecuteSuccess.value(),
        Code::ExecuteSuccess.info(),
        &body,
    )
}

async fn get_token(State(state): State<AppState>, query: Query) -> Response {
    let name = query.text("name");
    match state.naming.snapshot().namespaces.get(&name) {
        Some(ns) => Reply::ok()
            .with("namespace", namespace_created(ns))
            .into_response(),
        None => Reply::from(PolarisError::new(
            Code::NotFoundResource,
            format!("namespace {name}"),
        ))
        .into_response(),
    }
}
