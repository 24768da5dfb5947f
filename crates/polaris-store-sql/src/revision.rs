//! Per-domain revisions: the commit order of writes.
//!
//! `polaris_revision` holds one row per [`Domain`]. A write transaction first increments the row
//! of every domain it touches (in [`Domain`] order, so two transactions never wait on each other
//! in a cycle), gets the new value back from the same statement and stamps it into the `seq`
//! column of every row it changes. The increment takes the row's exclusive lock, held until
//! COMMIT or ROLLBACK: a second writer of the same domain blocks on its own increment until the
//! first has finished, and then reads the committed value. Revisions of one domain are
//! therefore handed out one transaction at a time, in commit order and without gaps (a rollback
//! undoes its increment). A reader that has seen revision R of a domain has seen every row
//! stamped <= R, so "changed since R" is `seq > R`. `purged_revision` is the highest `seq` a
//! purge of soft-deleted rows removed: a reader behind it must reload fully.

use sqlx::{Any, AnyPool, Row, Transaction};

use polaris_store::{StoreError, StoreResult};

use crate::dialect::Dialect;
use crate::schema::Domain;
use crate::unavailable;
use crate::write::HINT_CHANNEL;

/// Statements on `polaris_revision`, with placeholders for the engine.
pub(crate) struct RevisionSql {
    dialect: Dialect,
    /// Increments a domain's revision and yields the new value in one round trip: on
    /// PostgreSQL through `RETURNING`, where the same statement also queues the change-feed
    /// hint (`pg_notify`, delivered at COMMIT); on MySQL as `LAST_INSERT_ID(expr)`, which the
    /// server reports in the statement's OK packet.
    bump: std::sync::Arc<str>,
    lock: std::sync::Arc<str>,
    purged: std::sync::Arc<str>,
}

impl RevisionSql {
    pub fn new(dialect: Dialect) -> Self {
        let bump = match dialect {
            Dialect::Postgres => format!(
                "UPDATE \"polaris_revision\" SET \"revision\" = \"revision\" + 1 WHERE \"domain\" = ? \
                 RETURNING \"revision\", (SELECT count(*) FROM pg_notify('{HINT_CHANNEL}', ?))"
            ),
            Dialect::MySql => {
                "UPDATE \"polaris_revision\" SET \"revision\" = LAST_INSERT_ID(\"revision\" + 1) \
                 WHERE \"domain\" = ?"
                    .to_string()
            }
        };
        RevisionSql {
            dialect,
            bump: dialect.sql(&bump),
            lock: dialect.sql(
                "SELECT \"revision\" FROM \"polaris_revision\" WHERE \"domain\" = ? FOR UPDATE",
            ),
            purged: dialect.sql(
                "UPDATE \"polaris_revision\" SET \"purged_revision\" = GREATEST(\"purged_revision\", ?) \
                 WHERE \"domain\" = ?",
            ),
        }
    }

    /// Increments `domain`'s revision inside `tx` and returns the new value (on PostgreSQL also
    /// queueing the change-feed hint).
    pub async fn bump(&self, tx: &mut Transaction<'_, Any>, domain: Domain) -> StoreResult<i64> {
        let query = sqlx::query(sqlx::AssertSqlSafe(self.bump.clone())).bind(domain.as_str());
        match self.dialect {
            Dialect::Postgres => {
                let row = query
                    .bind(domain.as_str())
                    .fetch_one(&mut **tx)
                    .await
                    .map_err(unavailable)?;
                row.try_get(0).map_err(unavailable)
            }
            Dialect::MySql => {
                let done = query.execute(&mut **tx).await.map_err(unavailable)?;
                match (done.rows_affected(), done.last_insert_id()) {
                    (1, Some(revision)) => Ok(revision),
                    other => Err(StoreError::Corrupt(format!(
                        "revision of {} not bumped: {other:?}",
                        domain.as_str()
                    ))),
                }
            }
        }
    }

    /// Takes `domain`'s revision lock without changing it (purges do, to order themselves with
    /// writers).
    pub async fn lock(&self, tx: &mut Transaction<'_, Any>, domain: Domain) -> StoreResult<()> {
        sqlx::query(sqlx::AssertSqlSafe(self.lock.clone()))
            .bind(domain.as_str())
            .fetch_one(&mut **tx)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    /// Raises `domain`'s purge watermark to `seq`.
    pub async fn purged(
        &self,
        tx: &mut Transaction<'_, Any>,
        domain: Domain,
        seq: i64,
    ) -> StoreResult<()> {
        sqlx::query(sqlx::AssertSqlSafe(self.purged.clone()))
            .bind(seq)
            .bind(domain.as_str())
            .execute(&mut **tx)
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}

/// Every domain's current revision and purge watermark.
pub(crate) async fn current(pool: &AnyPool) -> StoreResult<Vec<(Domain, i64, i64)>> {
    let rows = sqlx::query(
        "SELECT \"domain\", \"revision\", \"purged_revision\" FROM \"polaris_revision\"",
    )
    .fetch_all(pool)
    .await
    .map_err(unavailable)?;
    let mut out = Vec::new();
    for row in rows {
        let name: String = row.try_get(0).map_err(unavailable)?;
        if let Some(domain) = Domain::parse(&name) {
            out.push((
                domain,
                row.try_get(1).map_err(unavailable)?,
                row.try_get(2).map_err(unavailable)?,
            ));
        }
    }
    out.sort();
    Ok(out)
}
