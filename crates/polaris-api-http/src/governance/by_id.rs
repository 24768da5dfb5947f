//! The write endpoints of the kinds whose items carry a plain `id` and whose replies carry the
//! `{id}`-only echo (circuit breakers and fault detectors, governance.md §4 and §5): one
//! handler per verb, the kind's codes and quirks stated as an [`IdKind`].

use axum::Router;
use axum::extract::State;
use axum::response::Response;
use axum::routing::{get, post};
use polaris_types::Code;
use serde_json::Value;

use super::{AS_IS, ConsoleKind, ListKind, checks_first, delete_by_id, list, run_batch};
use crate::AppState;
use crate::body::Payload;
use crate::reply::Reply;

/// A kind written by id with `{id}`-only replies.
pub(crate) trait IdKind: ConsoleKind<Message = <Self as IdKind>::Rule> {
    /// The kind's message, as the console shows it.
    type Rule: serde::Serialize + prost::Message + Default + Clone + Send + Sync + 'static;

    /// An empty id.
    const MISSING_ID: Code;
    /// The info an unknown id's (successful) delete keeps.
    const NOT_FOUND: Code;
    /// The refusal of an update that still carries `data{id}`.
    const ECHO_REFUSED_UPDATE: Option<Code> = None;

    /// The envelope's lengths and name, checked before the id on update.
    fn check_envelope(rule: &Self::Message) -> polaris_types::Result<()>;
    fn id(rule: &Self::Message) -> &str;
    fn set_id(rule: &mut Self::Message, id: String);
    /// Whether an `/enable` item turns the rule on.
    fn enabled(rule: &Self::Message) -> bool;
}

/// The message type, envelope check and `id` accessors of an [`IdKind`] whose message has a
/// plain `id` string and whose codec has its own `check_envelope`.
macro_rules! plain_id {
    ($message:ty) => {
        type Rule = $message;

        fn check_envelope(rule: &$message) -> polaris_types::Result<()> {
            Self::check_envelope(rule)
        }
        fn id(rule: &$message) -> &str {
            &rule.id
        }
        fn set_id(rule: &mut $message, id: String) {
            rule.id = id;
        }
    };
}
pub(crate) use plain_id;

/// The routes of a kind written by id: list, create and update at `path`, delete at
/// `{path}/delete`.
pub(crate) fn routes<C: IdKind + ListKind>(path: &str) -> Router<AppState> {
    Router::new()
        .route(path, get(list::<C>).post(create::<C>).put(update::<C>))
        .route(&format!("{path}/delete"), post(delete::<C>))
}

/// The `{id}`-only payload of update, enable and delete replies.
fn id_only<C: IdKind>(id: &str) -> Value {
    let mut rule = C::Message::default();
    C::set_id(&mut rule, id.to_string());
    C::echo(&rule)
}

/// `POST`: creates each item (a client id is ignored) and echoes it with its new id.
pub(crate) async fn create<C: IdKind>(State(state): State<AppState>, body: Payload) -> Response {
    run_batch::<C, _, _>(state, body, AS_IS, |state, rule| async move {
        match super::create::<C>(&state.governance, &rule, None).await {
            Ok(created) => {
                let mut out = rule;
                C::set_id(&mut out, created.id.clone());
                Reply::ok().with("data", C::echo(&out))
            }
            Err(refusal) => Reply::error(&refusal.err),
        }
    })
    .await
}

/// `PUT`: the envelope checks first, then the id, then the update.
pub(crate) async fn update<C: IdKind>(State(state): State<AppState>, body: Payload) -> Response {
    run_batch::<C, _, _>(state, body, AS_IS, |state, rule| async move {
        let id = C::id(&rule);
        let result = match checks_first(C::check_envelope(&rule), id, C::MISSING_ID) {
            Ok(()) => super::update::<C>(&state.governance, &rule, id).await,
            Err(err) => Err(err.into()),
        };
        match result {
            Ok(_) => Reply::ok().with("data", id_only::<C>(id)),
            Err(refusal) if Some(refusal.err.code) == C::ECHO_REFUSED_UPDATE => {
                Reply::error(&refusal.err).with("data", id_only::<C>(id))
            }
            Err(refusal) => Reply::error(&refusal.err),
        }
    })
    .await
}

/// `PUT .../enable`: turns each rule on or off.
pub(crate) async fn enable<C: IdKind>(State(state): State<AppState>, body: Payload) -> Response {
    run_batch::<C, _, _>(state, body, AS_IS, |state, rule| async move {
        let (id, on) = (C::id(&rule), C::enabled(&rule));
        match super::enable::<C>(&state.governance, id, C::MISSING_ID, on).await {
            Ok(_) => Reply::ok().with("data", id_only::<C>(id)),
            Err(err) => Reply::error(&err),
        }
    })
    .await
}

/// `POST .../delete`: deletes each rule by id ([`delete_by_id`]).
pub(crate) async fn delete<C: IdKind>(State(state): State<AppState>, body: Payload) -> Response {
    run_batch::<C, _, _>(state, body, AS_IS, |state, rule| async move {
        let id = C::id(&rule);
        let codes = (C::MISSING_ID, C::NOT_FOUND);
        delete_by_id(&state.governance, C::KIND, id, codes, id_only::<C>(id)).await
    })
    .await
}
