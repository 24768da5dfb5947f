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

/// What a kind's list endpoint reads and how it filters, orders and answers.
pub(crate) trait ListKind: ConsoleKind {
    /// The query keys the endpoint accepts (others are refused with the official code).
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

    /// The domain filter: `base` holds the caller's visibility and the `id` key.
    fn filter(_query: &Query, base: RuleFilter) -> RuleFilter {
        base
    }

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
    if let Err(err) = query.check_keys(C::LIST_KEYS, C::LIST_KEYS) {
        return query_error(&err);
    }
    let page = match query.page() {
        Ok(page) => page,
        Err(err) => return query_error(&C::bad_page(err)),
    };
    let base = RuleFilter {
        visible,
        id: query.text("id"),
        ..RuleFilter::default()
    };
    let filter = C::filter(&query, base);
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
