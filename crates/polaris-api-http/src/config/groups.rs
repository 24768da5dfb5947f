//! `/config/v1/configfilegroups`: create, update, list and delete config groups.

use axum::Router;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use polaris_config::GroupSpec;
use polaris_proto::v1;
use polaris_types::validate::is_valid_name;
use polaris_types::{Code, GroupAttrs, PolarisError, Result};

use super::convert::group_json;
use super::{PREFIX, page, query_error, query_reply, read_one, text, wildcard};
use crate::AppState;
use crate::auth::guard::Visibility;
use crate::body::Query;
use crate::reply::Reply;

pub(super) fn routes() -> Router<AppState> {
    Router::new().route(
        &format!("{PREFIX}/configfilegroups"),
        get(list).post(create).put(update).delete(delete),
    )
}

/// Namespace (400110) and group (400801) names, as the official `CheckResourceName`.
pub(crate) fn check_names(namespace: &str, group: &str) -> Result<()> {
    if !is_valid_name(namespace, 64) {
        return Err(Code::InvalidNamespaceName.into());
    }
    if !is_valid_name(group, 128) {
        return Err(Code::InvalidConfigFileGroupName.into());
    }
    Ok(())
}

fn spec_of(group: &v1::ConfigFileGroup) -> Result<GroupSpec> {
    let spec = GroupSpec {
        namespace: text(&group.namespace),
        name: text(&group.name),
        attrs: GroupAttrs {
            comment: text(&group.comment),
            owners: text(&group.owner),
            business: text(&group.business),
            department: text(&group.department),
            metadata: group
                .metadata
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        },
    };
    check_names(&spec.namespace, &spec.name)?;
    if spec.attrs.metadata.len() > 64 {
        return Err(Code::InvalidMetadata.into());
    }
    Ok(spec)
}

async fn create(State(state): State<AppState>, body: Body) -> Response {
    let group = match read_one::<v1::ConfigFileGroup>(body, "v1.ConfigFileGroup").await {
        Ok(group) => group,
        Err(reply) => return reply,
    };
    let outcome = async {
        let spec = spec_of(&group)?;
        state.config.create_group(spec).await
    }
    .await;
    match outcome {
        Ok(_) => Reply::ok(),
        Err(err) => Reply::from(err),
    }
    .into_response()
}

/// Update: `NotFoundResource` for an unknown group, `NoNeedUpdate` when nothing changes.
async fn update(State(state): State<AppState>, body: Body) -> Response {
    let group = match read_one::<v1::ConfigFileGroup>(body, "v1.ConfigFileGroup").await {
        Ok(group) => group,
        Err(reply) => return reply,
    };
    let spec = match spec_of(&group) {
        Ok(spec) => spec,
        Err(err) => return Reply::from(err).into_response(),
    };
    let snapshot = state.config.snapshot();
    let Some(current) = snapshot
        .groups
        .get(&(spec.namespace.clone(), spec.name.clone()))
    else {
        return Reply::from(PolarisError::from(Code::NotFoundResource)).into_response();
    };
    let (now, next) = (&current.attrs, &spec.attrs);
    let unchanged = now.comment == next.comment
        && now.business == next.business
        && now.department == next.department
        && now.metadata == next.metadata;
    if unchanged {
        return Reply::from(PolarisError::from(Code::NoNeedUpdate)).into_response();
    }
    match state.config.update_group(spec).await {
        Ok(_) => Reply::ok(),
        Err(err) => Reply::from(err),
    }
    .into_response()
}

async fn delete(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Response {
    let query = Query::parse(raw.as_deref());
    let (namespace, name) = (query.text("namespace"), query.text("group"));
    let outcome = async {
        check_names(&namespace, &name)?;
        let snapshot = state.config.snapshot();
        if !snapshot
            .groups
            .contains_key(&(namespace.clone(), name.clone()))
        {
            return Err(PolarisError::from(Code::NotFoundResource));
        }
        state.config.delete_group(&namespace, &name).await
    }
    .await;
    match outcome {
        Ok(()) => Reply::ok(),
        Err(err) => Reply::from(err),
    }
    .into_response()
}

async fn list(
    State(state): State<AppState>,
    Visibility(visible): Visibility,
    RawQuery(raw): RawQuery,
) -> Response {
    const FIELD: &str = "configFileGroups";
    let query = Query::parse(raw.as_deref());
    let paging = match page(&query) {
        Ok(paging) => paging,
        Err(err) => return query_error(&err, FIELD),
    };
    let name = query
        .get("group")
        .filter(|g| !g.is_empty())
        .or(query.get("name"))
        .unwrap_or_default()
        .to_string();
    let snapshot = state.config.snapshot();
    let mut groups: Vec<_> = snapshot
        .groups
        .values()
        .filter(|g| {
            wildcard(&g.namespace, &query.text("namespace"))
                && wildcard(&g.name, &name)
                && wildcard(&g.attrs.business, &query.text("business"))
                && wildcard(&g.attrs.department, &query.text("department"))
                && visible.config_group(&g.namespace, &g.name)
        })
        .cloned()
        .collect();
    if query.get("order_field") == Some("name") {
        groups.sort_by(|a, b| a.name.cmp(&b.name));
    } else {
        groups.sort_by_key(|g| (g.mtime, g.id));
    }
    if query.get("order_type") == Some("desc") {
        groups.reverse();
    }
    let total = groups.len();
    let items = paging
        .apply(groups)
        .items
        .iter()
        .map(|g| group_json(g, snapshot.files_of(&g.namespace, &g.name).count()))
        .collect();
    query_reply(FIELD, total, items)
}
