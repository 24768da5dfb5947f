//! Membership and leader leases in the shared database, on the database's clock.
//!
//! `cluster_node` holds one row per node (identity `host:port`) with a lease end in database
//! milliseconds; a node is alive while its lease has not ended. `leader_election` (the official
//! table name) holds one row per job key: the holder, its `version` and when its lease ends.
//! Taking over an expired lease increments `version`, which is the **fencing token**: a
//! leader-only write re-checks, in its own transaction, that the key's row still names this
//! holder at that version ([`ClusterTables::purge_fenced`]), so a deposed leader that has not
//! noticed yet can never write. Renewal keeps the version. Every age is computed by the
//! database itself (`now_ms` below), so node clocks never matter.

use std::sync::Arc;

use polaris_store::StoreResult;
use polaris_types::Millis;
use sqlx::{AnyPool, AssertSqlSafe, Row};

use crate::codec::Value;
use crate::dialect::Dialect;
use crate::write::{Statements, bind};
use crate::{SqlStore, unavailable};

/// The database's clock in Unix milliseconds, as an SQL expression.
fn now_ms(dialect: Dialect) -> &'static str {
    match dialect {
        Dialect::MySql => "CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED)",
        Dialect::Postgres => "CAST(EXTRACT(EPOCH FROM clock_timestamp()) * 1000 AS BIGINT)",
    }
}

fn text(value: &str) -> Value {
    Value::Text(value.to_owned())
}

/// One node as the membership table lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeRow {
    /// `host:port` of the node's naming gRPC (else HTTP) listener.
    pub id: String,
    pub host: String,
    pub port: u32,
    /// Free-form description: listener ports and version.
    pub detail: String,
    /// Milliseconds until the lease ends (negative: ended that long ago).
    pub lease_left_ms: i64,
}

/// A leader lease as held.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    pub key: String,
    pub leader: String,
    /// The fencing token: increments on every change of holder.
    pub version: i64,
    pub lease_left_ms: i64,
}

/// Statements of the cluster tables, rendered once for the engine.
pub struct ClusterTables {
    pool: AnyPool,
    sql: Arc<Statements>,
    dialect: Dialect,
    upsert_node: Arc<str>,
    list_nodes: Arc<str>,
    ensure_key: Arc<str>,
    take: Arc<str>,
    renew: Arc<str>,
    resign: Arc<str>,
    read_lease: Arc<str>,
    list_leases: Arc<str>,
    now: Arc<str>,
}

impl ClusterTables {
    pub(crate) fn new(store: &SqlStore) -> Self {
        let d = store.dialect;
        let now = now_ms(d);
        let upsert_node = match d {
            Dialect::MySql => format!(
                "INSERT INTO \"cluster_node\" (\"id\", \"host\", \"port\", \"detail\", \"lease_until\") \
                 VALUES (?, ?, ?, ?, {now} + ?) ON DUPLICATE KEY UPDATE \"host\" = VALUES(\"host\"), \
                 \"port\" = VALUES(\"port\"), \"detail\" = VALUES(\"detail\"), \"lease_until\" = VALUES(\"lease_until\")"
            ),
            Dialect::Postgres => format!(
                "INSERT INTO \"cluster_node\" (\"id\", \"host\", \"port\", \"detail\", \"lease_until\") \
                 VALUES (?, ?, ?, ?, {now} + ?) ON CONFLICT (\"id\") DO UPDATE SET \"host\" = EXCLUDED.\"host\", \
                 \"port\" = EXCLUDED.\"port\", \"detail\" = EXCLUDED.\"detail\", \"lease_until\" = EXCLUDED.\"lease_until\""
            ),
        };
        let ensure_key = match d {
            Dialect::MySql => "INSERT IGNORE INTO \"leader_election\" (\"elect_key\", \"version\", \"leader\", \"lease_until\") VALUES (?, 0, '', 0)".to_string(),
            Dialect::Postgres => "INSERT INTO \"leader_election\" (\"elect_key\", \"version\", \"leader\", \"lease_until\") VALUES (?, 0, '', 0) ON CONFLICT DO NOTHING".to_string(),
        };
        ClusterTables {
            pool: store.pool.clone(),
            sql: store.sql.clone(),
            dialect: d,
            upsert_node: d.sql(&upsert_node),
            list_nodes: d.sql(&format!(
                "SELECT \"id\", \"host\", \"port\", \"detail\", \"lease_until\" - {now} FROM \"cluster_node\" ORDER BY \"id\""
            )),
            ensure_key: d.sql(&ensure_key),
            take: d.sql(&format!(
                "UPDATE \"leader_election\" SET \"leader\" = ?, \"version\" = \"version\" + 1, \
                 \"lease_until\" = {now} + ? WHERE \"elect_key\" = ? AND \"lease_until\" < {now}"
            )),
            renew: d.sql(&format!(
                "UPDATE \"leader_election\" SET \"lease_until\" = {now} + ? \
                 WHERE \"elect_key\" = ? AND \"leader\" = ? AND \"version\" = ? AND \"lease_until\" >= {now}"
            )),
            resign: d.sql(
                "UPDATE \"leader_election\" SET \"lease_until\" = 0 \
                 WHERE \"elect_key\" = ? AND \"leader\" = ? AND \"version\" = ?",
            ),
            read_lease: d.sql(&format!(
                "SELECT \"elect_key\", \"leader\", \"version\", \"lease_until\" - {now} FROM \"leader_election\" WHERE \"elect_key\" = ?"
            )),
            list_leases: d.sql(&format!(
                "SELECT \"elect_key\", \"leader\", \"version\", \"lease_until\" - {now} FROM \"leader_election\" ORDER BY \"elect_key\""
            )),
            now: d.sql(&format!("SELECT {now}")),
        }
    }

    /// Runs one of the handle's statements with `values` bound in order.
    async fn execute(&self, sql: &str, values: impl IntoIterator<Item = Value>) -> StoreResult<()> {
        let query = bind(sqlx::query(AssertSqlSafe(sql.to_owned())), values);
        query.execute(&self.pool).await.map_err(unavailable)?;
        Ok(())
    }

    /// The database's clock, in Unix milliseconds.
    pub async fn db_now(&self) -> StoreResult<Millis> {
        sqlx::query(AssertSqlSafe(self.now.clone()))
            .fetch_one(&self.pool)
            .await
            .and_then(|row| row.try_get(0))
            .map_err(unavailable)
    }

    /// Registers or renews this node for `lease_ms` from now (database time).
    pub async fn renew_node(
        &self,
        id: &str,
        host: &str,
        port: u32,
        detail: &str,
        lease_ms: i64,
    ) -> StoreResult<()> {
        self.execute(
            &self.upsert_node,
            [
                text(id),
                text(host),
                Value::Int(i64::from(port)),
                text(detail),
                Value::Int(lease_ms),
            ],
        )
        .await?;
        Ok(())
    }

    /// Every node ever registered (live ones have `lease_left_ms > 0`).
    pub async fn nodes(&self) -> StoreResult<Vec<NodeRow>> {
        let rows = sqlx::query(AssertSqlSafe(self.list_nodes.clone()))
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        rows.iter()
            .map(|row| {
                Ok(NodeRow {
                    id: row.try_get(0)?,
                    host: row.try_get(1)?,
                    port: u32::try_from(row.try_get::<i64, _>(2)?).unwrap_or(0),
                    detail: row.try_get(3)?,
                    lease_left_ms: row.try_get(4)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(unavailable)
    }

    /// Renews `key`'s lease when `me` holds it at `fence`, else takes it for `me` when it is
    /// free or has ended. Either may change nothing: [`leases`](Self::leases) tells who holds
    /// it afterwards.
    pub async fn lead(
        &self,
        key: &str,
        me: &str,
        fence: Option<i64>,
        lease_ms: i64,
    ) -> StoreResult<()> {
        if let Some(version) = fence {
            self.execute(
                &self.renew,
                [
                    Value::Int(lease_ms),
                    text(key),
                    text(me),
                    Value::Int(version),
                ],
            )
            .await?;
        } else {
            self.execute(&self.ensure_key, [text(key)]).await?;
            self.execute(&self.take, [text(me), Value::Int(lease_ms), text(key)])
                .await?;
        }
        Ok(())
    }

    /// Gives up `key`'s lease if `me` holds it at `version`.
    pub async fn resign(&self, key: &str, me: &str, version: i64) -> StoreResult<()> {
        self.execute(&self.resign, [text(key), text(me), Value::Int(version)])
            .await?;
        Ok(())
    }

    /// The lease of `key`, if it was ever taken.
    pub async fn lease(&self, key: &str) -> StoreResult<Option<Lease>> {
        let row = sqlx::query(AssertSqlSafe(self.read_lease.clone()))
            .bind(key)
            .fetch_optional(&self.pool)
            .await
            .map_err(unavailable)?;
        row.map(|row| lease(&row)).transpose().map_err(unavailable)
    }

    /// Every lease.
    pub async fn leases(&self) -> StoreResult<Vec<Lease>> {
        let rows = sqlx::query(AssertSqlSafe(self.list_leases.clone()))
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        rows.iter()
            .map(lease)
            .collect::<Result<_, _>>()
            .map_err(unavailable)
    }

    /// Purges tombstones older than `before` (database-independent: the domain's mtimes) only
    /// while `me` still holds `key` at `version`, checked inside the purge's transaction.
    /// Returns false, changing nothing, when the fence no longer holds.
    pub async fn purge_fenced(
        &self,
        key: &str,
        me: &str,
        version: i64,
        before: Millis,
    ) -> StoreResult<bool> {
        let fence = self.dialect.sql(&format!(
            "SELECT \"version\" FROM \"leader_election\" WHERE \"elect_key\" = ? AND \"leader\" = ? \
             AND \"version\" = ? AND \"lease_until\" >= {} FOR UPDATE",
            now_ms(self.dialect)
        ));
        let mut tx = self.pool.begin().await.map_err(unavailable)?;
        let held = sqlx::query(AssertSqlSafe(fence))
            .bind(key)
            .bind(me)
            .bind(version)
            .fetch_optional(&mut *tx)
            .await
            .map_err(unavailable)?
            .is_some();
        if !held {
            tx.rollback().await.map_err(unavailable)?;
            return Ok(false);
        }
        crate::write::purge_in(&mut tx, &self.sql, before).await?;
        tx.commit().await.map_err(unavailable)?;
        Ok(true)
    }
}

fn lease(row: &sqlx::any::AnyRow) -> Result<Lease, sqlx::Error> {
    Ok(Lease {
        key: row.try_get(0)?,
        leader: row.try_get(1)?,
        version: row.try_get(2)?,
        lease_left_ms: row.try_get(3)?,
    })
}

/// Version 2 of the schema: the membership and lease tables.
pub(crate) fn schema_v2() -> &'static str {
    "CREATE TABLE IF NOT EXISTS \"cluster_node\" (\n  \"id\" VARCHAR(255) NOT NULL,\n  \
     \"host\" VARCHAR(255) NOT NULL,\n  \"port\" BIGINT NOT NULL,\n  \"detail\" VARCHAR(1024) NOT NULL,\n  \
     \"lease_until\" BIGINT NOT NULL,\n  PRIMARY KEY (\"id\")\n);\n\
     CREATE TABLE IF NOT EXISTS \"leader_election\" (\n  \"elect_key\" VARCHAR(128) NOT NULL,\n  \
     \"version\" BIGINT NOT NULL,\n  \"leader\" VARCHAR(255) NOT NULL,\n  \"lease_until\" BIGINT NOT NULL,\n  \
     PRIMARY KEY (\"elect_key\")\n);\n"
}
