//! Fault detectors: `/naming/v1/faultdetectors` (+ `/delete`; there is no `/enable`), item
//! `v1.FaultDetectRule`, replies `data` = Any (governance.md §5). Fault detectors have no
//! enable flag: the domain keeps them enabled.

use axum::Router;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use axum::routing::{get, post};
use polaris_governance::{RuleFilter, RuleSpec};
use polaris_proto::v1;
use polaris_types::{Code, PolarisError, Result, Rule, RuleKind, TargetRole};
use prost::Message;
use serde_json::Value;

use super::json::{decode_body, to_any_json};
use super::{
    MAX_DESCRIPTION, add_target, as_is, check_count, check_match, contains, delete_by_id, failure,
    list_query, page_reply, require_id, run_batch, runes, time,
};
use crate::AppState;
use crate::body::Query;
use crate::reply::{Reply, query_error};

const MESSAGE: &str = "v1.FaultDetectRule";
const KIND: RuleKind = RuleKind::FaultDetector;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/naming/v1/faultdetectors",
            get(list).post(create).put(update),
        )
        .route("/naming/v1/faultdetectors/delete", post(delete))
}

/// The official length checks, then the required name (create and update).
fn check_envelope(rule: &v1::FaultDetectRule) -> Result<()> {
    let target = rule.target_service.clone().unwrap_or_default();
    if runes(&target.service) > 128 {
        return Err(Code::InvalidServiceName.into());
    }
    if runes(&target.namespace) > 64 || runes(&rule.namespace) > 64 {
        return Err(Code::InvalidNamespaceName.into());
    }
    if runes(&rule.name) > 64 {
        return Err(Code::InvalidRateLimitName.into());
    }
    if runes(&rule.description) > MAX_DESCRIPTION {
        return Err(Code::InvalidServiceComment.into());
    }
    if rule.name.is_empty() {
        return Err(PolarisError::new(
            Code::InvalidCircuitBreakerName,
            "name is required",
        ));
    }
    Ok(())
}

/// Our own checks: sizes, and match strings that compile (400103).
fn check_matches(rule: &v1::FaultDetectRule) -> Result<()> {
    if let Some(http) = rule.http_config.as_ref() {
        check_count(http.headers.len(), "http headers")?;
    }
    let tcp = rule.tcp_config.as_ref().map_or(0, |c| c.receive.len());
    let udp = rule.udp_config.as_ref().map_or(0, |c| c.receive.len());
    check_count(tcp.max(udp), "receive values")?;
    let target = rule.target_service.as_ref();
    check_match(
        target.and_then(|t| t.method.as_ref()),
        Code::InvalidParameter,
        "target method",
    )?;
    check_match(
        target
            .and_then(|t| t.api.as_ref())
            .and_then(|a| a.path.as_ref()),
        Code::InvalidParameter,
        "target api path",
    )
}

fn spec(rule: &v1::FaultDetectRule, id: Option<String>) -> Result<RuleSpec> {
    check_envelope(rule)?;
    check_matches(rule)?;
    let namespace = if rule.namespace.is_empty() {
        "default".to_string()
    } else {
        rule.namespace.clone()
    };
    let target = rule.target_service.clone().unwrap_or_default();
    let mut targets = Vec::new();
    if target.namespace.is_empty() && target.service.is_empty() {
        add_target(&mut targets, "*", "*", TargetRole::Callee);
    } else {
        add_target(
            &mut targets,
            &target.namespace,
            &target.service,
            TargetRole::Callee,
        );
    }
    let mut stored = rule.clone();
    stored.namespace = namespace.clone();
    Ok(RuleSpec {
        kind: KIND,
        id,
        name: rule.name.clone(),
        namespace,
        enable: true,
        priority: rule.priority,
        description: rule.description.clone(),
        targets,
        body: stored.encode_to_vec(),
    })
}

fn echo(rule: &v1::FaultDetectRule) -> Value {
    to_any_json(rule, MESSAGE)
}

fn id_only(id: &str) -> Value {
    echo(&v1::FaultDetectRule {
        id: id.to_string(),
        ..Default::default()
    })
}

async fn create(State(state): State<AppState>, body: Body) -> Response {
    run_batch(body, MESSAGE, false, as_is, |rule: v1::FaultDetectRule| {
        let governance = state.governance.clone();
        async move {
            let result = match spec(&rule, None) {
                Ok(spec) => governance.create(spec).await,
                Err(err) => Err(err),
            };
            match result {
                Ok(created) => {
                    let mut out = rule.clone();
                    out.id = created.id.clone();
                    Reply::ok().with("data", echo(&out))
                }
                Err(err) => failure(&err),
            }
        }
    })
    .await
}

async fn update(State(state): State<AppState>, body: Body) -> Response {
    run_batch(body, MESSAGE, false, as_is, |rule: v1::FaultDetectRule| {
        let governance = state.governance.clone();
        async move {
            let result = check_envelope(&rule)
                .and_then(|()| require_id(&rule.id, Code::InvalidCircuitBreakerId))
                .and_then(|()| spec(&rule, Some(rule.id.clone())));
            let result = match result {
                Ok(spec) => governance.update(spec).await,
                Err(err) => Err(err),
            };
            match result {
                Ok(_) => Reply::ok().with("data", id_only(&rule.id)),
                // On update a duplicate name carries `data{id}`.
                Err(err) if err.code == Code::FaultDetectRuleExisted => {
                    failure(&err).with("data", id_only(&rule.id))
                }
                Err(err) => failure(&err),
            }
        }
    })
    .await
}

async fn delete(State(state): State<AppState>, body: Body) -> Response {
    run_batch(body, MESSAGE, false, as_is, |rule: v1::FaultDetectRule| {
        let governance = state.governance.clone();
        async move {
            let codes = (Code::InvalidCircuitBreakerId, Code::NotFoundResource);
            delete_by_id(&governance, KIND, &rule.id, codes, id_only(&rule.id)).await
        }
    })
    .await
}

/// A stored rule in its console form.
fn render(rule: &Rule) -> Option<v1::FaultDetectRule> {
    let mut out: v1::FaultDetectRule = decode_body(&rule.body)?;
    out.id = rule.id.clone();
    out.name = rule.name.clone();
    out.namespace = rule.namespace.clone();
    out.priority = rule.priority;
    out.description = rule.description.clone();
    out.revision = rule.revision.clone();
    out.ctime = time(rule.ctime);
    out.mtime = time(rule.mtime);
    out.editable = true;
    out.deleteable = true;
    Some(out)
}

const LIST_KEYS: &[&str] = &[
    "brief",
    "offset",
    "limit",
    "id",
    "name",
    "namespace",
    "service",
    "serviceNamespace",
    "dstService",
    "dstNamespace",
    "dstMethod",
    "description",
];

/// The filters of §5.3 (boltdb flavour) that the domain filter does not cover.
fn matches(rule: &v1::FaultDetectRule, query: &Query) -> bool {
    let target = rule.target_service.clone().unwrap_or_default();
    let method = target
        .method
        .as_ref()
        .and_then(|m| m.value.clone())
        .unwrap_or_default();
    let (service, namespace) = (query.text("service"), query.text("serviceNamespace"));
    // `service` and `serviceNamespace` apply only together, as an exact destination match.
    let by_service = service.is_empty()
        || namespace.is_empty()
        || (target.service == service && target.namespace == namespace);
    by_service
        && contains(&rule.name, &query.text("name"))
        && contains(&rule.description, &query.text("description"))
        && contains(&target.service, &query.text("dstService"))
        && contains(&target.namespace, &query.text("dstNamespace"))
        && contains(&method, &query.text("dstMethod"))
}

async fn list(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Response {
    let (query, page) = match list_query(raw.as_deref(), LIST_KEYS) {
        Ok(read) => read,
        Err(err) => return query_error(&err),
    };
    let filter = RuleFilter {
        id: query.text("id"),
        namespace: query.text("namespace"),
        ..RuleFilter::default()
    };
    let items = state
        .governance
        .list(KIND, &filter)
        .iter()
        .filter_map(|r| render(r))
        .filter(|out| matches(out, &query))
        .map(|out| echo(&out))
        .collect();
    page_reply("data", items, page, true)
}
