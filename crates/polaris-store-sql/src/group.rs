//! Group commit: one writer task owns the write side. It takes every request queued while the
//! previous transaction ran (up to `max_batch`) and commits them in one transaction, then answers
//! each caller. Writers of a domain are serialised by its revision row anyway, so batching is
//! where throughput comes from. When a group fails, its requests are retried one transaction
//! each, so one bad request never fails the others.

use std::collections::BTreeSet;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use polaris_store::feed::FeedDomain;
use polaris_store::{Mutation, Precondition, StoreError, StoreResult};
use sqlx::AnyPool;
use tokio::sync::{mpsc, oneshot};

use crate::write::{self, Op, Statements};

/// One `apply` waiting for the writer.
pub(crate) struct Request {
    pub batch: Vec<Mutation>,
    pub checks: Vec<Precondition>,
    pub done: oneshot::Sender<StoreResult<()>>,
}

/// Called after each COMMIT with every domain it touched (e.g. to publish a change-feed hint).
pub type CommitHook = Box<dyn Fn(&BTreeSet<FeedDomain>) + Send + Sync>;

fn touched(batches: &[Vec<Op>]) -> BTreeSet<FeedDomain> {
    batches
        .iter()
        .flatten()
        .map(|op| op.table().domain)
        .collect()
}

/// Runs until every sender is dropped and the queue is drained.
pub(crate) async fn writer(
    pool: AnyPool,
    sql: Arc<Statements>,
    mut queue: mpsc::Receiver<Request>,
    max_batch: usize,
    deadline: Duration,
    hook: Arc<OnceLock<CommitHook>>,
) {
    let notify = |batches: &[Vec<Op>]| {
        if let Some(hook) = hook.get() {
            hook(&touched(batches));
        }
    };
    let mut waiting = Vec::with_capacity(max_batch);
    while queue.recv_many(&mut waiting, max_batch.max(1)).await > 0 {
        let (batches, answers): (Vec<Vec<Op>>, Vec<_>) = waiting
            .drain(..)
            .map(|r: Request| (write::ops(r.batch, r.checks), r.done))
            .unzip();
        let result = commit(&pool, &sql, &batches, deadline).await;
        if result.is_ok() {
            notify(&batches);
        }
        if result.is_ok() || batches.len() == 1 || unreachable(&result) {
            for answer in answers {
                let _ = answer.send(clone_result(&result));
            }
            continue;
        }
        for (batch, answer) in batches.into_iter().zip(answers) {
            let batch = [batch];
            let result = commit(&pool, &sql, &batch, deadline).await;
            if result.is_ok() {
                notify(&batch);
            }
            let _ = answer.send(result);
        }
    }
}

/// One transaction for `batches`, failed when it does not finish within `deadline`.
async fn commit(
    pool: &AnyPool,
    sql: &Statements,
    batches: &[Vec<Op>],
    deadline: Duration,
) -> StoreResult<()> {
    tokio::time::timeout(deadline, write::commit(pool, sql, batches))
        .await
        .unwrap_or_else(|_| {
            Err(StoreError::Unavailable(format!(
                "{DEADLINE_PREFIX} {deadline:?}"
            )))
        })
}

/// True when the failure says the database could not be reached in time: retrying each request
/// alone would only multiply the wait.
fn unreachable(result: &StoreResult<()>) -> bool {
    match result {
        Err(StoreError::Unavailable(m)) => {
            m.starts_with(DEADLINE_PREFIX)
                || m.contains("pool timed out")
                || m.contains("error communicating with database")
        }
        _ => false,
    }
}

const DEADLINE_PREFIX: &str = "the database did not commit within";

fn clone_result(result: &StoreResult<()>) -> StoreResult<()> {
    match result {
        Ok(()) => Ok(()),
        Err(StoreError::Unavailable(m)) => Err(StoreError::Unavailable(m.clone())),
        Err(StoreError::Corrupt(m)) => Err(StoreError::Corrupt(m.clone())),
        Err(StoreError::Closed) => Err(StoreError::Closed),
        Err(StoreError::Conflict(m)) => Err(StoreError::Conflict(m.clone())),
    }
}
