//! `/naming/v1/services` and `/naming/v1/service/alias(es)`.

use axum::Router;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use polaris_naming::ServiceFilter;
use polaris_types::{Code, PolarisError, ServiceKey};
use serde_json::json;

use crate::AppState;
use crate::auth::guard::Visibility;
use crate::batch::{Echo, echoing_batch, naming_batch, shown};
use crate::body::{Payload, Query};
use crate::console_namespaces::one;
use crate::reply::{BatchRule, Reply, query_error, query_reply};
use crate::wire::naming::{AliasIn, ServiceIn, alias_out, service_created, service_out};

/// How this module's batches pick their code.
const RULE: BatchRule = BatchRule::Uniform;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/naming/v1/services", get(list).post(create).put(update))
        .route("/naming/v1/services/delete", post(delete))
        .route("/naming/v1/services/all", get(list_all))
        .route("/naming/v1/services/count", get(count))
        .route("/naming/v1/service/token", get(get_token))
        .route(
            "/naming/v1/service/alias",
            post(create_alias).put(update_alias),
        )
        .route("/naming/v1/service/aliases", get(list_aliases))
        .route("/naming/v1/service/aliases/delete", post(delete_aliases))
}

async fn create(State(state): State<AppState>, body: Payload) -> Response {
    naming_batch(&state, body, RULE, |naming, svc: ServiceIn| async move {
        match naming.create_service(svc.spec()).await {
            Err(err) if err.code == Code::ExistedResource => {
                let mut echo = svc.echo();
                echo["id"] = err.detail.clone().into();
                Reply::of(Code::ExistedResource).with("service", echo)
            }
            result => shown(result, &svc, service_created),
        }
    })
    .await
}

async fn update(State(state): State<AppState>, body: Payload) -> Response {
    echoing_batch(&state, body, RULE, |naming, svc: ServiceIn| async move {
        naming.update_service(svc.spec()).await
    })
    .await
}

async fn delete(State(state): State<AppState>, body: Payload) -> Response {
    echoing_batch(&state, body, RULE, |naming, svc: ServiceIn| async move {
        let key = ServiceKey::new(
            svc.namespace.clone().unwrap_or_default(),
            svc.name.clone().unwrap_or_default(),
        );
        naming.delete_service(&key).await
    })
    .await
}

const LIST_KEYS: &[&str] = &[
    "name",
    "namespace",
    "business",
    "department",
    "cmdb_mod1",
    "cmdb_mod2",
    "cmdb_mod3",
    "owner",
    "offset",
    "limit",
    "platform_id",
    "only_exist_health_instance",
    "host",
    "port",
    "keys",
    "values",
    "instance_keys",
    "instance_values",
];

fn service_filter(query: &Query) -> Result<ServiceFilter, PolarisError> {
    query.check_keys(LIST_KEYS, &["values"])?;
    let keys = query.all("keys").join(",");
    let metadata = (!keys.is_empty()).then(|| (keys, query.all("values").join(",")));
    let instance_keys = query.list("instance_keys");
    let instance_values = query.list("instance_values");
    if instance_keys.len() != instance_values.len() {
        return Err(PolarisError::new(
            Code::InvalidParameter,
            "instance_keys and instance_values differ in length",
        ));
    }
    let ports = query
        .list("port")
        .iter()
        .map(|p| {
            p.parse::<u32>()
                .map_err(|_| PolarisError::new(Code::InvalidParameter, "port must be a number"))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let hosts = query.list("host");
    if !ports.is_empty() && hosts.is_empty() {
        return Err(PolarisError::new(
            Code::InvalidParameter,
            "port parameter can not be used alone without host",
        ));
    }
    Ok(ServiceFilter {
        visible: Default::default(),
        namespace: query.text("namespace"),
        name: query.text("name"),
        business: query.text("business"),
        department: query.text("department"),
        owner: query.text("owner"),
        metadata,
        instance_metadata: instance_keys.into_iter().zip(instance_values).collect(),
        hosts,
        ports,
        only_with_healthy_instances: query.boolean("only_exist_health_instance").unwrap_or(false),
    })
}

async fn list(
    State(state): State<AppState>,
    Visibility(visible): Visibility,
    query: Query,
) -> Response {
    let (mut filter, page) = match service_filter(&query).and_then(|f| Ok((f, query.page()?))) {
        Ok(parsed) => parsed,
        Err(err) => return query_error(&err),
    };
    filter.visible = visible;
    let paged = state.naming.list_services(&filter, page);
    query_reply(
        "services",
        paged.total,
        paged.items.iter().map(|v| service_out(v)).collect(),
    )
}

async fn list_all(
    State(state): State<AppState>,
    Visibility(visible): Visibility,
    query: Query,
) -> Response {
    let filter = ServiceFilter {
        visible,
        namespace: query.text("namespace"),
        ..Default::default()
    };
    let all = state.naming.list_services(
        &filter,
        polaris_naming::Page {
            offset: 0,
            limit: usize::MAX,
        },
    );
    let items: Vec<_> = all
        .items
        .iter()
        .map(|v| {
            json!({
                "namespace": v.service.namespace,
                "name": v.service.name,
                "metadata": v.service.metadata,
                "total_instance_count": v.instances.len(),
                "healthy_instance_count": v.healthy_count,
            })
        })
        .collect();
    query_reply("services", items.len(), items)
}

async fn count(State(state): State<AppState>) -> Response {
    query_reply("services", state.naming.count_services(), Vec::new())
}

async fn get_token(State(state): State<AppState>, query: Query) -> Response {
    let key = ServiceKey::new(query.text("namespace"), query.text("name"));
    match state.naming.snapshot().service(&key) {
        Some(view) => Reply::ok()
            .with("service", json!({ "name": key.name, "namespace": key.namespace, "token": view.service.token }))
            .into_response(),
        None => Reply::from(PolarisError::new(Code::NotFoundResource, format!("service {key}"))).into_response(),
    }
}

fn alias_reply(alias: &polaris_types::Service) -> serde_json::Value {
    let mut value = alias_out(alias);
    value["service_token"] = alias.token.clone().into();
    value
}

async fn create_alias(State(state): State<AppState>, body: Payload) -> Response {
    let alias = match one::<AliasIn>(body).await {
        Ok(alias) => alias,
        Err(reply) => return reply.into_response(),
    };
    shown(
        state.naming.create_alias(alias.spec()).await,
        &alias,
        alias_reply,
    )
    .into_response()
}

async fn update_alias(State(state): State<AppState>, body: Payload) -> Response {
    let alias = match one::<AliasIn>(body).await {
        Ok(alias) => alias,
        Err(reply) => return reply.into_response(),
    };
    shown(
        state.naming.update_alias(alias.spec()).await,
        &alias,
        alias_out,
    )
    .into_response()
}

async fn delete_aliases(State(state): State<AppState>, body: Payload) -> Response {
    echoing_batch(&state, body, RULE, |naming, alias: AliasIn| async move {
        let spec = alias.spec();
        naming
            .delete_alias(&ServiceKey::new(spec.alias_namespace, spec.alias))
            .await
    })
    .await
}

async fn list_aliases(
    State(state): State<AppState>,
    Visibility(visible): Visibility,
    query: Query,
) -> Response {
    let allowed = [
        "alias",
        "alias_namespace",
        "namespace",
        "service",
        "owner",
        "offset",
        "limit",
    ];
    let page = match query.check_keys(&allowed, &[]).and_then(|()| query.page()) {
        Ok(page) => page,
        Err(err) => return query_error(&err),
    };
    let filter = ServiceFilter {
        visible,
        name: query.text("alias"),
        namespace: query.text("alias_namespace"),
        owner: query.text("owner"),
        ..Default::default()
    };
    let paged = state.naming.list_aliases(
        &filter,
        &query.text("service"),
        &query.text("namespace"),
        page,
    );
    query_reply(
        "aliases",
        paged.total,
        paged.items.iter().map(|a| alias_out(a)).collect(),
    )
}
