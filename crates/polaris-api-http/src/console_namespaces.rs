//! `/naming/v1/namespaces` and `/core/v1/namespaces`.

use std::future::Future;

use axum::Router;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use polaris_naming::{NamespaceFilter, Page};
use polaris_types::{Code, PolarisError};
use serde::de::DeserializeOwned;
use serde_json::json;

use crate::AppState;
use crate::auth::guard::Visibility;
use crate::body::{Payload, Query};
use crate::reply::{BatchReply, BatchRule, Reply, json_reply, query_error};
use crate::wire::naming::{NamespaceIn, namespace_created, namespace_out};

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

/// Runs a console batch: decode an array, run each item in order, collect the replies.
pub(crate) async fn run_batch<T, F, Fut>(body: Payload, rule: BatchRule, mut each: F) -> Response
where
    T: DeserializeOwned,
    F: FnMut(T) -> Fut,
    Fut: Future<Output = Reply>,
{
    let items = match decode_batch::<T>(body).await {
        Ok(items) => items,
        Err(response) => return response,
    };
    let mut reply = BatchReply::new(rule);
    for item in items {
        reply.push(each(item).await);
    }
    reply.into_response()
}

/// Decodes a console batch body, or answers with the batch-level error.
pub(crate) async fn decode_batch<T: DeserializeOwned>(body: Payload) -> Result<Vec<T>, Response> {
    body.array::<T>()
        .await
        .map_err(|err| BatchReply::failed(&err))
}

/// Runs the items' futures concurrently (so their store writes share commits) and returns the
/// replies in request order.
pub(crate) async fn join_in_order<Fut>(futures: Vec<Fut>) -> Vec<Reply>
where
    Fut: Future<Output = Reply> + Send + 'static,
{
    let mut tasks = tokio::task::JoinSet::new();
    let count = futures.len();
    for (index, future) in futures.into_iter().enumerate() {
        tasks.spawn(async move { (index, future.await) });
    }
    let mut replies: Vec<Option<Reply>> = (0..count).map(|_| None).collect();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((index, reply)) => replies[index] = Some(reply),
            Err(err) => tracing::error!(target: "polaris_api_http", %err, "batch item task failed"),
        }
    }
    replies
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Reply::of(Code::ExecuteException)))
        .collect()
}

/// Decodes one JSON object body, or answers with a parse error reply.
pub(crate) async fn one<T: DeserializeOwned>(body: Payload) -> Result<T, Reply> {
    body.object().await.map_err(Reply::from)
}

async fn create(State(state): State<AppState>, body: Payload) -> Response {
    run_batch(body, BatchRule::HighestFailure, |ns: NamespaceIn| {
        let naming = state.naming.clone();
        async move {
            match naming.create_namespace(ns.spec()).await {
                Ok(created) => Reply::ok().with("namespace", namespace_created(&created)),
                Err(err) => Reply::from(err).with("namespace", ns.echo()),
            }
        }
    })
    .await
}

async fn update(State(state): State<AppState>, body: Payload) -> Response {
    run_batch(body, BatchRule::HighestFailure, |ns: NamespaceIn| {
        let naming = state.naming.clone();
        async move {
            match naming.update_namespace(ns.spec()).await {
                Ok(_) => Reply::ok().with("namespace", ns.echo()),
                Err(err) => Reply::from(err).with("namespace", ns.echo()),
            }
        }
    })
    .await
}

async fn delete(State(state): State<AppState>, body: Payload) -> Response {
    run_batch(body, BatchRule::HighestFailure, |ns: NamespaceIn| {
        let naming = state.naming.clone();
        async move {
            let name = ns.name.clone().unwrap_or_default();
            let result = if polaris_types::validate::is_valid_name(&name, usize::MAX) {
                naming.delete_namespace(&name).await
            } else {
                Err(PolarisError::from(Code::InvalidNamespaceName))
            };
            match result {
                Ok(()) => Reply::ok().with("namespace", ns.echo()),
                Err(err) => Reply::from(err).with("namespace", ns.echo()),
            }
        }
    })
    .await
}

async fn list(
    State(state): State<AppState>,
    Visibility(visible): Visibility,
    RawQuery(raw): RawQuery,
) -> Response {
    let query = Query::parse(raw.as_deref());
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

async fn get_token(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Response {
    let query = Query::parse(raw.as_deref());
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
