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

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use polaris_store::StoreResult;
use polaris_types::Millis;
use sqlx::{AnyPool, AssertSqlSafe, Row};
use tokio::time::Instant;

use crate::codec::Value;
use crate::dialect::Dialect;
use crate::schema::Domain;
use crate::write::{Statements, bind};
use crate::{SqlStore, lock, unavailable};

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

/// The cluster tables as one statement read them.
#[derive(Clone, Debug)]
pub struct ClusterReading {
    /// When the statement was sent: its lease ages are at least this old.
    pub at: Instant,
    /// Every node ever registered, in id order.
    pub nodes: Vec<NodeRow>,
    /// Every lease, in key order.
    pub leases: Vec<Lease>,
}

/// How old the latest reading may grow before the change-feed probe reads the cluster tables
/// again in its own statement.
const PROBE_READS_AFTER: Duration = Duration::from_millis(500);

/// The latest [`ClusterReading`], shared by membership and the change-feed probe: once a node
/// runs membership, the probe that every node sends each second anyway also reads the nodes and
/// leases (one statement, `UNION ALL`), so membership need not read them again.
#[derive(Default)]
pub(crate) struct ClusterSeen {
    wanted: AtomicBool,
    latest: Mutex<Option<ClusterReading>>,
}

impl ClusterSeen {
    /// Whether the next probe should read the cluster tables too.
    pub(crate) fn due(&self) -> bool {
        self.wanted.load(Ordering::Relaxed)
            && lock(&self.latest)
                .as_ref()
                .is_none_or(|r| r.at.elapsed() >= PROBE_READS_AFTER)
    }

    fn fresh(&self, max_age: Duration) -> Option<ClusterReading> {
        lock(&self.latest)
            .as_ref()
            .filter(|r| r.at.elapsed() < max_age)
            .cloned()
    }

    pub(crate) fn keep(&self, reading: ClusterReading) {
        let mut latest = lock(&self.latest);
        if latest.as_ref().is_none_or(|old| old.at <= reading.at) {
            *latest = Some(reading);
        }
    }
}

/// The probe's statement with the cluster tables: revisions (`r`), nodes (`n`) and leases
/// (`l`) in rows of one shape.
pub(crate) fn probe_with_cluster(dialect: Dialect) -> String {
    format!(
        "SELECT 'r', \"domain\", \"revision\", \"purged_revision\", '', '' FROM \"polaris_revision\" \
         UNION ALL {}",
        cluster_rows(dialect)
    )
}

fn cluster_rows(dialect: Dialect) -> String {
    let now = now_ms(dialect);
    format!(
        "SELECT 'n', \"id\", \"port\", \"lease_until\" - {now}, \"host\", \"detail\" FROM \"cluster_node\" \
         UNION ALL SELECT 'l', \"elect_key\", \"version\", \"lease_until\" - {now}, \"leader\", '' FROM \"leader_election\""
    )
}

/// Each domain's committed revision and purge watermark, as the probe reads them.
pub(crate) type Revisions = Vec<(Domain, i64, i64)>;

/// Splits the rows of [`probe_with_cluster`] (or of the cluster part alone) into revisions
/// and a reading taken at `at`.
pub(crate) fn split_probe(
    rows: &[sqlx::any::AnyRow],
    at: Instant,
) -> Result<(Revisions, ClusterReading), sqlx::Error> {
    let mut revisions = Vec::new();
    let mut reading = ClusterReading {
        at,
        nodes: Vec::new(),
        leases: Vec::new(),
    };
    for row in rows {
        let tag: String = row.try_get(0)?;
        let name: String = row.try_get(1)?;
        let (a, b): (i64, i64) = (row.try_get(2)?, row.try_get(3)?);
        let (c, d): (String, String) = (row.try_get(4)?, row.try_get(5)?);
        match tag.as_str() {
            "r" => {
                if let Some(domain) = Domain::parse(&name) {
                    revisions.push((domain, a, b));
                }
            }
            "n" => reading.nodes.push(NodeRow {
                id: name,
                host: c,
                port: u32::try_from(a).unwrap_or(0),
                detail: d,
                lease_left_ms: b,
            }),
            "l" => reading.leases.push(Lease {
                key: name,
                leader: c,
                version: a,
                lease_left_ms: b,
            }),
            _ => {}
        }
    }
    revisions.sort();
    reading.nodes.sort_by(|x, y| x.id.cmp(&y.id));
    reading.leases.sort_by(|x, y| x.key.cmp(&y.key));
    Ok((revisions, reading))
}

/// Statements of the cluster tables, rendered once for the engine.
pub struct ClusterTables {
    pool: AnyPool,
    sql: Arc<Statements>,
    dialect: Dialect,
    seen: Arc<ClusterSeen>,
    read_cluster: Arc<str>,
    upsert_node: Arc<str>,
    ensure_key: Arc<str>,
    take: Arc<str>,
    renew: Arc<str>,
    resign: Arc<str>,
    now: Arc<str>,
}

impl ClusterTables {
    pub(crate) fn new(store: &SqlStore) -> Self {
        store.cluster_seen.wanted.store(true, Ordering::Relaxed);
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
            seen: store.cluster_seen.clone(),
            read_cluster: d.sql(&cluster_rows(d)),
            upsert_node: d.sql(&upsert_node),
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
            now: d.sql(&format!("SELECT {now}")),
        }
    }

    /// Runs one of the handle's statements with `values` bound in order; returns the number of
    /// rows it changed.
    async fn execute(
        &self,
        sql: &str,
        values: impl IntoIterator<Item = Value>,
    ) -> StoreResult<u64> {
        let query = bind(sqlx::query(AssertSqlSafe(sql.to_owned())), values);
        let done = query.execute(&self.pool).await.map_err(unavailable)?;
        Ok(done.rows_affected())
    }

    /// Nodes and leases no older than `max_age`: the latest reading (most often the change-feed
    /// probe's), else a new one.
    pub async fn reading(&self, max_age: Duration) -> StoreResult<ClusterReading> {
        if let Some(reading) = self.seen.fresh(max_age) {
            return Ok(reading);
        }
        let at = Instant::now();
        let rows = sqlx::query(AssertSqlSafe(self.read_cluster.clone()))
            .fetch_all(&self.pool)
            .await
            .map_err(unavailable)?;
        let (_, reading) = split_probe(&rows, at).map_err(unavailable)?;
        self.seen.keep(reading.clone());
        Ok(reading)
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

    /// Renews `key`'s lease when `me` holds it at `fence`, else takes it for `me` when it is
    /// free or has ended. Returns whether it did (a lease read afterwards tells the fence).
    pub async fn lead(
        &self,
        key: &str,
        me: &str,
        fence: Option<i64>,
        lease_ms: i64,
    ) -> StoreResult<bool> {
        let changed = if let Some(version) = fence {
            self.execute(
                &self.renew,
                [
                    Value::Int(lease_ms),
                    text(key),
                    text(me),
                    Value::Int(version),
                ],
            )
            .await?
        } else {
            self.execute(&self.ensure_key, [text(key)]).await?;
            self.execute(&self.take, [text(me), Value::Int(lease_ms), text(key)])
                .await?
        };
        Ok(changed > 0)
    }

    /// Gives up `key`'s lease if `me` holds it at `version`.
    pub async fn resign(&self, key: &str, me: &str, version: i64) -> StoreResult<()> {
        self.execute(&self.resign, [text(key), text(me), Value::Int(version)])
            .await?;
        Ok(())
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

/// Version 2 of the schema: the membership and lease tables.
pub(crate) fn schema_v2() -> &'static str {
    "CREATE TABLE IF NOT EXISTS \"cluster_node\" (\n  \"id\" VARCHAR(255) NOT NULL,\n  \
     \"host\" VARCHAR(255) NOT NULL,\n  \"port\" BIGINT NOT NULL,\n  \"detail\" VARCHAR(1024) NOT NULL,\n  \
     \"lease_until\" BIGINT NOT NULL,\n  PRIMARY KEY (\"id\")\n);\n\
     CREATE TABLE IF NOT EXISTS \"leader_election\" (\n  \"elect_key\" VARCHAR(128) NOT NULL,\n  \
     \"version\" BIGINT NOT NULL,\n  \"leader\" VARCHAR(255) NOT NULL,\n  \"lease_until\" BIGINT NOT NULL,\n  \
     PRIMARY KEY (\"elect_key\")\n);\n"
}
