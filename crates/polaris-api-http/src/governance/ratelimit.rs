//! Rate-limit rules: `/naming/v1/ratelimits` (+ `/delete`, `/enable`), item `v1.Rule`, replies
//! under `rateLimit` / `rateLimits` (governance.md §3).

use std::collections::HashSet;

use axum::Router;
use axum::body::Body;
use axum::extract::{RawQuery, State};
use axum::response::Response;
use axum::routing::{get, post, put};
use polaris_governance::{RuleFilter, RuleSpec};
use polaris_proto::v1;
use polaris_types::validate::is_valid_name;
use polaris_types::{Code, PolarisError, Result, Rule, RuleKind, TargetRole};
use prost::Message;
use serde_json::Value;

use super::json::{decode_body, to_json};
use super::{
    add_target, as_is, check_count, check_match, failure, list_query, page_reply, require_id,
    run_batch, runes, time,
};
use crate::AppState;
use crate::reply::{Reply, query_error};

const MESSAGE: &str = "v1.Rule";
const KIND: RuleKind = RuleKind::RateLimit;
/// The largest `google.protobuf.Duration`, in seconds (10,000 years).
const MAX_DURATION_SECS: i64 = 315_576_000_000;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/naming/v1/ratelimits", get(list).post(create).put(update))
        .route("/naming/v1/ratelimits/delete", post(delete))
        .route("/naming/v1/ratelimits/enable", put(enable))
}

fn text(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or_default()
}

/// The amounts check of the official server: every amount has a valid `validDuration`, and no
/// two amounts share one.
fn check_amounts(rule: &v1::Rule) -> Result<()> {
    let mut seen = HashSet::new();
    for amount in &rule.amounts {
        let Some(d) = amount.valid_duration.as_ref() else {
            return Err(PolarisError::new(
                Code::InvalidRateLimitAmounts,
                "validDuration is required",
            ));
        };
        let in_range = d.seconds.abs() <= MAX_DURATION_SECS
            && d.nanos.abs() < 1_000_000_000
            && !(d.seconds > 0 && d.nanos < 0 || d.seconds < 0 && d.nanos > 0);
        if !in_range {
            return Err(PolarisError::new(
                Code::InvalidRateLimitAmounts,
                "validDuration is out of range",
            ));
        }
        if !seen.insert((d.seconds, d.nanos)) {
            return Err(PolarisError::new(
                Code::InvalidRateLimitAmounts,
                "duplicate validDuration in amounts",
            ));
        }
    }
    Ok(())
}

/// Our own checks: sizes, and match strings that compile (400152).
fn check_matches(rule: &v1::Rule) -> Result<()> {
    check_count(rule.arguments.len(), "arguments")?;
    check_count(rule.labels.len() + rule.subset.len(), "labels")?;
    check_count(rule.amounts.len(), "amounts")?;
    let code = Code::InvalidRateLimitLabels;
    check_match(rule.method.as_ref(), code, "method")?;
    for arg in &rule.arguments {
        check_match(arg.value.as_ref(), code, &format!("argument {:?}", arg.key))?;
    }
    for (key, label) in rule.labels.iter().chain(rule.subset.iter()) {
        check_match(Some(label), code, &format!("label {key:?}"))?;
    }
    Ok(())
}

/// Validates a rule; `create` adds the name-regex checks of namespace and service.
fn spec(rule: &v1::Rule, id: Option<String>, create: bool) -> Result<RuleSpec> {
    let (namespace, service) = (text(&rule.namespace), text(&rule.service));
    if create && !is_valid_name(namespace, usize::MAX) || runes(namespace) > 64 {
        return Err(Code::InvalidNamespaceName.into());
    }
    if create && !is_valid_name(service, usize::MAX) || runes(service) > 128 {
        return Err(Code::InvalidServiceName.into());
    }
    if runes(text(&rule.name)) > 64 {
        return Err(Code::InvalidRateLimitName.into());
    }
    check_amounts(rule)?;
    check_matches(rule)?;
    let mut targets = Vec::new();
    add_target(&mut targets, namespace, service, TargetRole::Callee);
    let mut stored = rule.clone();
    stored.id = None;
    // The token only authorises the write; it is never stored or listed.
    stored.service_token = None;
    Ok(RuleSpec {
        kind: KIND,
        id,
        name: text(&rule.name).to_string(),
        namespace: namespace.to_string(),
        enable: !rule.disable.unwrap_or(false),
        priority: rule.priority.unwrap_or(0),
        description: String::new(),
        targets,
        body: stored.encode_to_vec(),
    })
}

fn echo(rule: &v1::Rule) -> Value {
    to_json(rule, MESSAGE)
}

async fn create(State(state): State<AppState>, body: Body) -> Response {
    run_batch(body, MESSAGE, false, as_is, |rule: v1::Rule| {
        let governance = state.governance.clone();
        async move {
            // A client id is ignored: the official server always assigns a new one.
            let result = match spec(&rule, None, true) {
                Ok(spec) => governance.create(spec).await,
                Err(err) => Err(err),
            };
            match result {
                Ok(created) => {
                    let mut out = rule.clone();
                    out.id = Some(created.id.clone());
                    Reply::ok().with("rateLimit", echo(&out))
                }
                Err(err) => failure(&err).with("rateLimit", echo(&rule)),
            }
        }
    })
    .await
}

async fn update(State(state): State<AppState>, body: Body) -> Response {
    run_batch(body, MESSAGE, false, as_is, |rule: v1::Rule| {
        let governance = state.governance.clone();
        async move {
            let id = text(&rule.id).to_string();
            let result = match require_id(&id, Code::InvalidRateLimitId)
                .and_then(|()| spec(&rule, Some(id.clone()), false))
            {
                Ok(spec) => governance.update(spec).await.map(|_| ()),
                Err(err) => Err(err),
            };
            match result {
                Ok(()) => Reply::ok().with("rateLimit", echo(&rule)),
                Err(err) => failure(&err).with("rateLimit", echo(&rule)),
            }
        }
    })
    .await
}

async fn enable(State(state): State<AppState>, body: Body) -> Response {
    run_batch(body, MESSAGE, false, as_is, |rule: v1::Rule| {
        let governance = state.governance.clone();
        async move {
            let id = text(&rule.id).to_string();
            let result = match require_id(&id, Code::InvalidRateLimitId) {
                Ok(()) => governance
                    .enable(KIND, &id, !rule.disable.unwrap_or(false))
                    .await
                    .map(|_| ()),
                Err(err) => Err(err),
            };
            match result {
                Ok(()) => Reply::ok().with("rateLimit", echo(&rule)),
                Err(err) => failure(&err).with("rateLimit", echo(&rule)),
            }
        }
    })
    .await
}

async fn delete(State(state): State<AppState>, body: Body) -> Response {
    run_batch(body, MESSAGE, false, as_is, |rule: v1::Rule| {
        let governance = state.governance.clone();
        async move {
            let id = text(&rule.id).to_string();
            let result = match require_id(&id, Code::InvalidRateLimitId) {
                Ok(()) => governance.delete(KIND, &id).await,
                Err(err) => Err(err),
            };
            match result {
                Ok(()) => Reply::ok().with("rateLimit", echo(&rule)),
                Err(err) => failure(&err).with("rateLimit", echo(&rule)),
            }
        }
    })
    .await
}

/// A stored rule in the console form of §3.3.
fn render(rule: &Rule) -> Option<v1::Rule> {
    let mut out: v1::Rule = decode_body(&rule.body)?;
    out.id = Some(rule.id.clone());
    out.name = Some(rule.name.clone());
    out.namespace = Some(rule.namespace.clone());
    out.disable = Some(!rule.enable);
    out.priority = Some(rule.priority);
    out.revision = Some(rule.revision.clone());
    out.ctime = Some(time(rule.ctime));
    out.mtime = Some(time(rule.mtime));
    out.etime = Some(if rule.enable {
        time(rule.mtime)
    } else {
        String::new()
    });
    if text(&out.action).is_empty() {
        out.action = Some("REJECT".into());
    }
    let mut labels: Vec<_> = std::mem::take(&mut out.labels).into_iter().collect();
    labels.sort_by(|a, b| a.0.cmp(&b.0));
    out.arguments
        .extend(labels.into_iter().map(|(key, value)| v1::MatchArgument {
            r#type: v1::match_argument::Type::Custom as i32,
            key,
            value: Some(value),
        }));
    out.editable = true;
    out.deleteable = true;
    Some(out)
}

const LIST_KEYS: &[&str] = &[
    "id",
    "name",
    "service",
    "namespace",
    "brief",
    "method",
    "labels",
    "disable",
    "offset",
    "limit",
];

async fn list(State(state): State<AppState>, RawQuery(raw): RawQuery) -> Response {
    let (query, page) = match list_query(raw.as_deref(), LIST_KEYS) {
        Ok(read) => read,
        Err(err) => return query_error(&err),
    };
    // `disable` is read with ParseBool; an unparsable value counts as false.
    let enable = query
        .get("disable")
        .map(|_| !query.boolean("disable").unwrap_or(false));
    let filter = RuleFilter {
        id: query.text("id"),
        namespace: query.text("namespace"),
        enable,
        ..RuleFilter::default()
    };
    let name = query.text("name");
    let name = name.strip_suffix('*').unwrap_or(&name);
    let service = query.text("service");
    let items = state
        .governance
        .list(KIND, &filter)
        .iter()
        .filter(|r| r.name.contains(name))
        .filter_map(|r| render(r))
        .filter(|out| service.is_empty() || text(&out.service) == service)
        .map(|out| echo(&out))
        .collect();
    page_reply("rateLimits", items, page, false)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amount(seconds: i64) -> v1::Amount {
        let mut amount = v1::Amount::default();
        amount.valid_duration.get_or_insert_default().seconds = seconds;
        amount
    }

    #[test]
    fn amounts_need_distinct_valid_durations() {
        let mut rule = v1::Rule {
            amounts: vec![amount(1), amount(2)],
            ..Default::default()
        };
        assert!(check_amounts(&rule).is_ok());
        rule.amounts.push(amount(1));
        assert_eq!(
            check_amounts(&rule).unwrap_err().code,
            Code::InvalidRateLimitAmounts
        );
        rule.amounts = vec![v1::Amount::default()];
        assert!(check_amounts(&rule).is_err());
    }
}
