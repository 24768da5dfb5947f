//! The governance rule console API: v2 routing rules (`/naming/v2/routings`), rate limits,
//! circuit breakers, fault detectors and lane groups (`/naming/v1/...`), in the official
//! shapes and codes of `docs/wire/governance.md`.
//!
//! Every write endpoint takes a JSON array whose items are parsed through prost-reflect
//! ([`json`]) into the prost messages of `polaris-proto`, validated here with the official
//! per-kind codes, and handed to [`polaris_governance::Governance`] as a [`RuleSpec`]: the
//! envelope (name, namespace, enable flag, priority, description, the services the rule names)
//! plus the rule's protobuf encoding as its opaque body. Lists decode the stored bodies again,
//! overwrite the envelope fields with the domain's values, filter and page them.
//!
//! Beyond the official checks, every `MatchString` of a rule is compiled with
//! `polaris-matcher` (a bad regular expression or range is refused; the official server stores
//! it and lets SDKs fail to match), and a rule may carry at most [`MAX_CONDITIONS`] arguments,
//! sources or destinations.

mod circuitbreaker;
mod faultdetect;
pub(crate) mod json;
mod lane;
mod ratelimit;
mod routing;

use std::future::Future;

use axum::Router;
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use polaris_governance::Governance;
use polaris_matcher::{MatchKind, MatchString, Matcher};
use polaris_naming::Page;
use polaris_proto::v1;
use polaris_types::validate::is_valid_name;
use polaris_types::{Code, Millis, PolarisError, Result, RuleKind, RuleTarget, TargetRole};
use serde_json::Value;

use crate::AppState;
use crate::reply::{BatchReply, BatchRule, Reply, query_reply};

/// Most arguments, labels, sources or destinations one rule may carry (each counted apart).
pub(crate) const MAX_CONDITIONS: usize = 1000;

/// Longest rule description (circuit breakers, fault detectors).
pub(crate) const MAX_DESCRIPTION: usize = 1024;

/// Every governance route.
pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(routing::routes())
        .merge(ratelimit::routes())
        .merge(circuitbreaker::routes())
        .merge(faultdetect::routes())
        .merge(lane::routes())
}

/// Codes for which the official code table has no text, so `info` is `""`.
fn has_no_info(code: Code) -> bool {
    matches!(
        code,
        Code::InvalidRateLimitName
            | Code::InvalidRoutingPriority
            | Code::FaultDetectRuleExisted
            | Code::CircuitBreakerRuleExisted
    )
}

/// The reply of a failed item: the official code, and its text (with our detail) unless the
/// official table has no text for it.
pub(crate) fn failure(err: &PolarisError) -> Reply {
    let mut reply = Reply::error(err);
    if has_no_info(err.code) {
        reply.info = String::new();
    }
    reply
}

/// Runs a governance batch: parse every item as `message` (any failure answers 400001 for the
/// whole batch), then run the items in order and collect their replies (naming-http §4).
pub(crate) async fn run_batch<T, F, Fut>(
    body: Body,
    message: &str,
    rewrite_v2: bool,
    prepare: fn(&mut Value),
    mut each: F,
) -> Response
where
    T: prost::Message + Default,
    F: FnMut(T) -> Fut,
    Fut: Future<Output = Reply>,
{
    let items = match json::read_items::<T>(body, message, rewrite_v2, prepare).await {
        Ok(items) => items,
        Err(response) => return response,
    };
    let mut reply = BatchReply::new(BatchRule::Uniform);
    for item in items {
        reply.push(each(item).await);
    }
    reply.into_response()
}

/// Leaves an item's JSON as it is.
pub(crate) fn as_is(_: &mut Value) {}

/// The number of Unicode scalar values, as Go's `utf8.RuneCountInString`.
pub(crate) fn runes(text: &str) -> usize {
    text.chars().count()
}

/// Refuses an empty id with the kind's code.
pub(crate) fn require_id(id: &str, code: Code) -> Result<()> {
    if id.is_empty() {
        return Err(PolarisError::new(code, "id is required"));
    }
    Ok(())
}

/// Refuses more than [`MAX_CONDITIONS`] entries of one sort.
pub(crate) fn check_count(count: usize, what: &str) -> Result<()> {
    if count > MAX_CONDITIONS {
        return Err(PolarisError::new(
            Code::InvalidParameter,
            format!("at most {MAX_CONDITIONS} {what} per rule, got {count}"),
        ));
    }
    Ok(())
}

/// Compiles a rule's match string, refusing bad regular expressions, ranges and match types
/// with `code`. Values that name a parameter or variable (`value_type` ≠ TEXT), and empty or
/// `*` values (which match anything), are not compiled.
pub(crate) fn check_match(ms: Option<&v1::MatchString>, code: Code, what: &str) -> Result<()> {
    let Some(ms) = ms else { return Ok(()) };
    let value = ms.value.as_deref().unwrap_or_default();
    if ms.value_type != 0 || value.is_empty() || value == "*" {
        return Ok(());
    }
    let kind = MatchKind::from_number(ms.r#type).ok_or_else(|| {
        PolarisError::new(code, format!("{what}: unknown match type {}", ms.r#type))
    })?;
    Matcher::compile(&MatchString::new(kind, value))
        .map(|_| ())
        .map_err(|err| PolarisError::new(code, format!("{what}: {err}")))
}

/// Adds a target once. Entries without a usable name (empty, or outside the official name
/// characters) cannot name a registered service and are left out of the index.
pub(crate) fn add_target(targets: &mut Vec<RuleTarget>, ns: &str, svc: &str, role: TargetRole) {
    let usable = |v: &str, max| v == "*" || is_valid_name(v, max);
    if !usable(ns, 64) || !usable(svc, 128) {
        return;
    }
    let target = RuleTarget {
        namespace: ns.to_string(),
        service: svc.to_string(),
        role,
    };
    if !targets.contains(&target) {
        targets.push(target);
    }
}

/// Deletes a rule by id the way the official server does for circuit breakers and fault
/// detectors: an empty id is `missing_id`; an unknown id is a success that keeps the `not_found`
/// text and carries no data; otherwise the reply carries `data` (the `{id}`-only Any echo).
pub(crate) async fn delete_by_id(
    governance: &Governance,
    kind: RuleKind,
    id: &str,
    (missing_id, not_found): (Code, Code),
    data: Value,
) -> Reply {
    if let Err(err) = require_id(id, missing_id) {
        return failure(&err);
    }
    if governance.get(kind, id).is_none() {
        let mut reply = Reply::ok();
        reply.info = not_found.info().to_string();
        return reply;
    }
    match governance.delete(kind, id).await {
        Ok(()) => Reply::ok().with("data", data),
        Err(err) => failure(&err),
    }
}

/// A domain time as the official server prints it, `""` when unset.
pub(crate) fn time(ms: Millis) -> String {
    polaris_types::time::format_millis(ms).unwrap_or_default()
}

/// `value` contains `needle` (an empty needle matches everything).
pub(crate) fn contains(value: &str, needle: &str) -> bool {
    needle.is_empty() || value.contains(needle)
}

/// Reads a list query, refusing keys outside `keys` and a bad offset or limit with the official
/// codes.
pub(crate) fn list_query(raw: Option<&str>, keys: &[&str]) -> Result<(crate::body::Query, Page)> {
    let query = crate::body::Query::parse(raw);
    query.check_keys(keys, keys)?;
    let page = query.page()?;
    Ok((query, page))
}

/// Cuts a page out of the matching items and answers a `BatchQueryResponse` under `field`.
/// With `all_out_of_range` (the boltdb store's quirk for circuit breakers and fault detectors)
/// `limit=0` or an offset past the end returns every match instead of an empty page.
pub(crate) fn page_reply(
    field: &str,
    items: Vec<Value>,
    page: Page,
    all_out_of_range: bool,
) -> Response {
    let total = items.len();
    if all_out_of_range && (page.limit == 0 || page.offset >= total) {
        return query_reply(field, total, items);
    }
    let paged = page.apply(items);
    query_reply(field, paged.total, paged.items)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(kind: i32, value: &str) -> v1::MatchString {
        v1::MatchString {
            r#type: kind,
            value: Some(value.into()),
            value_type: 0,
        }
    }

    #[test]
    fn match_strings_compile_or_are_refused() {
        let code = Code::InvalidParameter;
        assert!(check_match(Some(&ms(1, "^a.*b$")), code, "x").is_ok());
        assert!(check_match(Some(&ms(1, "(")), code, "x").is_err());
        assert!(check_match(Some(&ms(5, "1~10")), code, "x").is_ok());
        assert!(check_match(Some(&ms(5, "ten")), code, "x").is_err());
        assert!(check_match(Some(&ms(5, "")), code, "x").is_ok());
        assert!(check_match(Some(&ms(42, "a")), code, "x").is_err());
        let parameter = v1::MatchString {
            value_type: 1,
            ..ms(1, "(")
        };
        assert!(check_match(Some(&parameter), code, "x").is_ok());
        assert!(check_match(None, code, "x").is_ok());
    }

    #[test]
    fn targets_are_deduplicated_and_filtered() {
        let mut targets = Vec::new();
        add_target(&mut targets, "ns", "a", TargetRole::Callee);
        add_target(&mut targets, "ns", "a", TargetRole::Callee);
        add_target(&mut targets, "ns", "", TargetRole::Callee);
        add_target(&mut targets, "*", "*", TargetRole::Caller);
        add_target(&mut targets, "ns", "bad name", TargetRole::Caller);
        assert_eq!(targets.len(), 2);
    }

    #[test]
    fn counts_and_ids() {
        assert!(check_count(MAX_CONDITIONS, "x").is_ok());
        assert!(check_count(MAX_CONDITIONS + 1, "x").is_err());
        assert_eq!(
            require_id("", Code::InvalidRoutingId).unwrap_err().code,
            Code::InvalidRoutingId
        );
        assert_eq!(failure(&Code::InvalidRoutingPriority.into()).info, "");
    }
}
