//! The one batch runner of the console API: every item of a JSON array gets one reply, in
//! order, and the batch answers with the code its [`BatchRule`] picks. The naming, auth and
//! governance handlers differ only in how they decode the items and in the rule.

use std::future::Future;
use std::sync::Arc;

use axum::response::{IntoResponse, Response};
use polaris_naming::Naming;
use polaris_types::{Code, Result};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::AppState;
use crate::body::Payload;
use crate::reply::{BatchReply, BatchRule, Reply};

/// Runs `each` on `items` in order and answers the collected replies under `rule`.
pub(crate) async fn answer_each<T, F, Fut>(items: Vec<T>, rule: BatchRule, mut each: F) -> Response
where
    F: FnMut(T) -> Fut,
    Fut: Future<Output = Reply>,
{
    let mut reply = BatchReply::new(rule);
    for item in items {
        reply.push(each(item).await);
    }
    reply.into_response()
}

/// Runs a console batch: decode an array (a failure answers for the whole batch), then
/// [`answer_each`].
pub(crate) async fn run_batch<T, F, Fut>(body: Payload, rule: BatchRule, each: F) -> Response
where
    T: DeserializeOwned,
    F: FnMut(T) -> Fut,
    Fut: Future<Output = Reply>,
{
    match decode_batch::<T>(body).await {
        Ok(items) => answer_each(items, rule, each).await,
        Err(response) => response,
    }
}

/// [`run_batch`] of naming writes: `each` gets the naming domain with every item.
pub(crate) async fn naming_batch<T, F, Fut>(
    state: &AppState,
    body: Payload,
    rule: BatchRule,
    each: F,
) -> Response
where
    T: DeserializeOwned,
    F: Fn(Arc<Naming>, T) -> Fut,
    Fut: Future<Output = Reply>,
{
    run_batch(body, rule, |item| each(state.naming.clone(), item)).await
}

/// Decodes a console batch body, or answers with the batch-level error.
pub(crate) async fn decode_batch<T: DeserializeOwned>(
    body: Payload,
) -> std::result::Result<Vec<T>, Response> {
    body.array::<T>()
        .await
        .map_err(|err| BatchReply::failed(&err))
}

/// A console item that its replies echo back, under one field.
pub(crate) trait Echo {
    /// The reply field of the echo (`namespace`, `service`, `alias`, `instance`).
    const FIELD: &'static str;

    /// The item as echoed back.
    fn echo(&self) -> Value;
}

/// The reply of one item that echoes it, succeeded or not.
pub(crate) fn echoed<T, I: Echo>(result: Result<T>, item: &I) -> Reply {
    echoing(result, I::FIELD, item.echo())
}

/// The reply of one write that answers with what it wrote: `show` of it under the item's field,
/// or the error with the item echoed.
pub(crate) fn shown<T, I: Echo>(result: Result<Arc<T>>, item: &I, show: fn(&T) -> Value) -> Reply {
    match result {
        Ok(written) => Reply::ok().with(I::FIELD, show(&written)),
        Err(err) => Reply::from(err).with(I::FIELD, item.echo()),
    }
}

fn echoing<T>(result: Result<T>, field: &str, echo: Value) -> Reply {
    match result {
        Ok(_) => Reply::ok().with(field, echo),
        Err(err) => Reply::from(err).with(field, echo),
    }
}

/// [`naming_batch`] of writes whose every reply is [`echoed`]: `write` gets the naming domain
/// with every item and answers the write's result.
pub(crate) async fn echoing_batch<T, R, F, Fut>(
    state: &AppState,
    body: Payload,
    rule: BatchRule,
    write: F,
) -> Response
where
    T: DeserializeOwned + Echo,
    F: Fn(Arc<Naming>, T) -> Fut,
    Fut: Future<Output = Result<R>>,
{
    naming_batch(state, body, rule, |naming, item: T| {
        let echo = item.echo();
        let written = write(naming, item);
        async move { echoing(written.await, T::FIELD, echo) }
    })
    .await
}

/// Runs the items' futures concurrently (so their store writes share commits) and returns the
/// replies in request order (a task that fails answers `ExecuteException`).
pub(crate) async fn join_in_order<Fut>(futures: Vec<Fut>) -> Vec<Reply>
where
    Fut: Future<Output = Reply> + Send + 'static,
{
    let mut tasks = tokio::task::JoinSet::new();
    let count = futures.len();
    for (index, future) in futures.into_iter().enumerate() {
        tasks.spawn(async move { (index, future.await) });
    }
    let mut replies: Vec<Option<Reply>> = (0..count).map(|_| None).collect();
    while let Some(joined) = tasks.join_next().await {
        match joined {
            Ok((index, reply)) => replies[index] = Some(reply),
            Err(err) => tracing::error!(target: "polaris_api_http", %err, "batch item task failed"),
        }
    }
    replies
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Reply::of(Code::ExecuteException)))
        .collect()
}
