//! The governance rule console API: v2 routing rules (`/naming/v2/routings`), rate limits,
//! circuit breakers, fault detectors and lane groups (`/naming/v1/...`), in the official
//! shapes and codes of `docs/wire/governance.md`.
//!
//! Every write endpoint takes a JSON array whose items are parsed through prost-reflect
//! ([`json`]) into the prost messages of `polaris-proto`; the kind's codec in
//! `polaris_discovery::rules` checks each item with the official codes and turns it into a
//! [`polaris_types::Rule`] (as written) for [`polaris_governance::Governance`], and the same codec
//! stamps stored rules for lists (and for Discover). This module holds what the five kinds'
//! handlers share: the batch runner, codec-driven create, update and enable, and delete by id;
//! [`by_id`] holds the write handlers of the kinds written by id, [`list`] the one list
//! handler and its paging.

mod by_id;
mod circuitbreaker;
mod faultdetect;
pub(crate) mod json;
mod lane;
mod list;
mod ratelimit;
mod routing;

use std::future::Future;
use std::sync::Arc;

use axum::Router;
use axum::response::Response;
use polaris_discovery::rules::checks::require_id;
use polaris_discovery::rules::{Refusal, RuleCodec, Write};
use polaris_governance::Governance;
use polaris_types::{Code, Result, Rule, RuleKind};
use serde_json::Value;

pub(crate) use crate::listing::contains;
pub(crate) use list::{EnableKey, ListKind, Listed, list};

use crate::AppState;
use crate::batch::answer_each;
use crate::body::Payload;
use crate::reply::{BatchRule, Reply};

/// Every governance route.
pub fn routes() -> Router<AppState> {
    Router::new()
        .merge(routing::routes())
        .merge(ratelimit::routes())
        .merge(circuitbreaker::routes())
        .merge(faultdetect::routes())
        .merge(lane::routes())
}

/// How the console API shows a kind's rules: as an `Any` (`{"@type": ..., fields}`, every kind
/// but rate limits) or as the plain message.
pub(crate) trait ConsoleKind: RuleCodec {
    fn echo(rule: &Self::Message) -> Value
    where
        Self::Message: serde::Serialize,
    {
        json::to_any_json(rule, Self::MESSAGE)
    }
}

/// How a batch's items are read: `rewrite_v2` and `prepare` as in [`json::read_items`].
pub(crate) type Reading = (bool, fn(&mut Value));

/// Items read as they are.
pub(crate) const AS_IS: Reading = (false, |_| {});

/// Runs a governance batch of `C` items: parse every item (any failure answers 400001 for the
/// whole batch), then run `each` on the items in order and collect their replies
/// (naming-http §4).
pub(crate) async fn run_batch<C, F, Fut>(
    state: AppState,
    body: Payload,
    (rewrite_v2, prepare): Reading,
    each: F,
) -> Response
where
    C: RuleCodec,
    F: Fn(AppState, C::Message) -> Fut,
    Fut: Future<Output = Reply>,
{
    let read = json::read_items::<C::Message>(body, C::MESSAGE, rewrite_v2, prepare).await;
    let items = match read {
        Ok(items) => items,
        Err(response) => return response,
    };
    answer_each(items, BatchRule::Uniform, |item| each(state.clone(), item)).await
}

/// Checks a new rule with its codec and creates it (with `id` when the client's is kept).
pub(crate) async fn create<C: RuleCodec>(
    governance: &Governance,
    rule: &C::Message,
    id: Option<String>,
) -> std::result::Result<Arc<Rule>, Refusal> {
    let spec = C::spec(rule, id, Write::Create)?;
    Ok(governance.create(spec).await?)
}

/// Checks a changed rule with its codec and updates rule `id`.
pub(crate) async fn update<C: RuleCodec>(
    governance: &Governance,
    rule: &C::Message,
    id: &str,
) -> std::result::Result<Arc<Rule>, Refusal> {
    let spec = C::spec(rule, Some(id.to_string()), Write::Update)?;
    Ok(governance.update(spec).await?)
}

/// Turns rule `id` of `C` on or off, refusing an empty id with `missing_id`.
pub(crate) async fn enable<C: RuleCodec>(
    governance: &Governance,
    id: &str,
    missing_id: Code,
    on: bool,
) -> Result<Arc<Rule>> {
    require_id(id, missing_id)?;
    governance.enable(C::KIND, id, on).await
}

/// The order of the official update checks of circuit breakers and fault detectors: the
/// envelope's lengths and name first, then the id.
pub(crate) fn checks_first(envelope: Result<()>, id: &str, missing_id: Code) -> Result<()> {
    envelope.and_then(|()| require_id(id, missing_id))
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
        return Reply::error(&err);
    }
    if governance.get(kind, id).is_none() {
        let mut reply = Reply::ok();
        reply.info = not_found.info().to_string();
        return reply;
    }
    match governance.delete(kind, id).await {
        Ok(()) => Reply::ok().with("data", data),
        Err(err) => Reply::error(&err),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_without_official_text_have_no_info() {
        assert_eq!(Reply::error(&Code::InvalidRoutingPriority.into()).info, "");
        assert!(!Reply::error(&Code::InvalidRoutingId.into()).info.is_empty());
    }
}
