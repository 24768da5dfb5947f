//! Group commit: one writer task owns the write side. It takes every request queued while the
//! previous transaction ran (up to `max_batch`) and commits them in one transaction, then answers
//! each caller. Writers of a domain are serialised by its revision row anyway, so batching is
//! where throughput comes from. When a group fails, its requests are retried one transaction
//! each, so one bad request never fails the others.

use std::sync::Arc;

use polaris_store::{Mutation, StoreError, StoreResult};
use sqlx::AnyPool;
use tokio::sync::{mpsc, oneshot};

use crate::write::{self, Op, Statements};

/// One `apply` waiting for the writer.
pub(crate) struct Request {
    pub batch: Vec<Mutation>,
    pub done: oneshot::Sender<StoreResult<()>>,
}

/// Runs until every sender is dropped and the queue is drained.
pub(crate) async fn writer(
    pool: AnyPool,
    sql: Arc<Statements>,
    mut queue: mpsc::Receiver<Request>,
    max_batch: usize,
) {
    let mut waiting = Vec::with_capacity(max_batch);
    while queue.recv_many(&mut waiting, max_batch.max(1)).await > 0 {
        let (batches, answers): (Vec<Vec<Op>>, Vec<_>) = waiting
            .drain(..)
            .map(|r: Request| (write::ops(r.batch), r.done))
            .unzip();
        let result = write::commit(&pool, &sql, &batches).await;
        if result.is_ok() || batches.len() == 1 {
            for answer in answers {
                let _ = answer.send(clone_result(&result));
            }
            continue;
        }
        for (batch, answer) in batches.into_iter().zip(answers) {
            let _ = answer.send(write::commit(&pool, &sql, &[batch]).await);
        }
    }
}

fn clone_result(result: &StoreResult<()>) -> StoreResult<()> {
    match result {
        Ok(()) => Ok(()),
        Err(StoreError::Unavailable(m)) => Err(StoreError::Unavailable(m.clone())),
        Err(StoreError::Corrupt(m)) => Err(StoreError::Corrupt(m.clone())),
        Err(StoreError::Closed) => Err(StoreError::Closed),
    }
}
