//! The one list endpoint of every governance kind: the query checked against the kind's keys,
//! the domain filter, the kind's own filters and order, and the page in the official reply
//! shape. A kind states what differs as a [`ListKind`].

use std::sync::Arc;

use axum::extract::State;
use axum::response::Response;
use polaris_discovery::rules::RuleCodec;
use polaris_governance::{Governance, RuleFilter};
use polaris_types::{PolarisError, Rule};
use serde_json::Value;

use super::ConsoleKind;
use crate::AppState;
use crate::auth::guard::Visibility;
use crate::body::Query;
use crate::listing::page_reply;
use crate::reply::{query_error, query_reply};

/// A stored rule with its console form.
pub(crate) type Listed<M> = (Arc<Rule>, M);

/// How a kind's list query filters by the rules' enabled state.
pub(crate) enum EnableKey {
    /// It does not: enabled and disabled rules alike.
    None,
    /// `enable`, a boolean (an unparsable value filters nothing).
    Enable,
    /// `disable`, read with Go's ParseBool, where an unparsable value counts as false.
    Disable,
}

/// The keys every kind's list accepts: the id, the name, and the page.
pub(crate) const EVERY_LIST_KEY: [&str; 4] = ["id", "name", "offset", "limit"];

impl EnableKey {
    /// The query key, if any.
    fn key(&self) -> Option<&'static str> {
        match self {
            EnableKey::None => None,
            EnableKey::Enable => Some("enable"),
            EnableKey::Disable => Some("disable"),
        }
    }

    fn read(&self, query: &Query) -> Option<bool> {
        match self {
            EnableKey::None => None,
            EnableKey::Enable => query.boolean("enable"),
            EnableKey::Disable => query
                .get("disable")
                .map(|_| !query.boolean("disable").unwrap_or(false)),
        }
    }
}

/// What a kind's list endpoint reads and how it filters, orders and answers.
pub(crate) trait ListKind: ConsoleKind {
    /// The query keys the endpoint accepts beside [`EVERY_LIST_KEY`] and the keys of the
    /// domain filter ([`BY_NAMESPACE`](Self::BY_NAMESPACE), [`ENABLE_KEY`](Self::ENABLE_KEY));
    /// others are refused with the official code.
    const LIST_KEYS: &'static [&'static str];
    /// The reply field of the page.
    const LIST_FIELD: &'static str = "data";
    /// The boltdb store's quirk for circuit breakers and fault detectors: `limit=0` or an
    /// offset past the end returns every match instead of an empty page.
    const ALL_OUT_OF_RANGE: bool = false;

    /// The error a bad offset or limit answers.
    fn bad_page(err: PolarisError) -> PolarisError {
        err
    }

    /// Whether the `namespace` key filters by the rule's own namespace.
    const BY_NAMESPACE: bool = false;
    /// The key that filters by the enabled state, if any.
    const ENABLE_KEY: EnableKey = EnableKey::None;

    /// The kind's filters that the domain filter does not cover.
    fn keep(_found: &Listed<Self::Message>, _query: &Query) -> bool {
        true
    }

    /// Orders the matches (they come in the store's order).
    fn order(_found: &mut [Listed<Self::Message>], _query: &Query) {}
}

/// `GET` on a kind's rules.
pub(crate) async fn list<C>(
    State(state): State<AppState>,
    Visibility(visible): Visibility,
    query: Query,
) -> Response
where
    C: ListKind,
    C::Message: serde::Serialize,
{
    let allowed: Vec<&str> = (EVERY_LIST_KEY.iter().chain(C::LIST_KEYS).copied())
        .chain(C::BY_NAMESPACE.then_some("namespace"))
        .chain(C::ENABLE_KEY.key())
        .collect();
    if let Err(err) = query.check_keys(&allowed, &allowed) {
        return query_error(&err);
    }
    let page = match query.page() {
        Ok(page) => page,
        Err(err) => return query_error(&C::bad_page(err)),
    };
    let filter = RuleFilter {
        visible,
        id: query.text("id"),
        namespace: match C::BY_NAMESPACE {
            true => query.text("namespace"),
            false => String::new(),
        },
        enable: C::ENABLE_KEY.read(&query),
        ..RuleFilter::default()
    };
    let mut found: Vec<_> = listed::<C>(&state.governance, &filter)
        .into_iter()
        .filter(|found| C::keep(found, &query))
        .collect();
    C::order(&mut found, &query);
    let items: Vec<Value> = found.iter().map(|(_, out)| C::echo(out)).collect();
    if C::ALL_OUT_OF_RANGE && (page.limit == 0 || page.offset >= items.len()) {
        return query_reply(C::LIST_FIELD, items.len(), items);
    }
    page_reply(C::LIST_FIELD, items, page)
}

/// The stored rules of `C` that pass `filter`, in their console form.
fn listed<C: RuleCodec>(governance: &Governance, filter: &RuleFilter) -> Vec<Listed<C::Message>> {
    governance
        .list(C::KIND, filter)
        .into_iter()
        .filter_map(|r| C::console(&r).map(|out| (r, out)))
        .collect()
}
