//! `/config/v1/configfiletemplates`: reusable starting points for new files.

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use polaris_config::TemplateSpec;
use polaris_proto::v1;
use polaris_types::ConfigTemplate;
use serde_json::Value;

use super::{query_reply, read_one, some};
use crate::AppState;
use crate::governance::json::to_json;
use crate::reply::Reply;
use polaris_types::time::format_or_empty as time;

pub(crate) fn routes() -> Router<AppState> {
    Router::new().route("/config/v1/configfiletemplates", get(list).post(create))
}

fn template_json(t: &ConfigTemplate) -> Value {
    let proto = v1::ConfigFileTemplate {
        id: Some(t.id),
        name: some(&t.name),
        content: some(&t.content),
        format: some(&t.format),
        comment: some(&t.comment),
        create_time: some(&time(t.ctime)),
        create_by: some(""),
        modify_time: some(&time(t.mtime)),
        modify_by: some(""),
    };
    to_json(&proto, "v1.ConfigFileTemplate")
}

async fn list(State(state): State<AppState>) -> Response {
    let snapshot = state.config.snapshot();
    let items: Vec<Value> = snapshot
        .templates
        .values()
        .map(|t| template_json(t))
        .collect();
    query_reply("configFileTemplates", items.len(), items)
}

async fn create(State(state): State<AppState>, body: Body) -> Response {
    let template = match read_one::<v1::ConfigFileTemplate>(body, "v1.ConfigFileTemplate").await {
        Ok(template) => template,
        Err(reply) => return reply,
    };
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    let spec = TemplateSpec {
        name: text(&template.name),
        content: text(&template.content),
        format: text(&template.format),
        comment: text(&template.comment),
    };
    match state.config.create_template(spec).await {
        Ok(created) => Reply::ok().with("configFileTemplate", template_json(&created)),
        Err(err) => Reply::from(err),
    }
    .into_response()
}
