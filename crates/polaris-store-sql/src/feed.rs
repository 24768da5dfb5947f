//! The read side of the change feed: what a domain changed after a revision, read in one
//! REPEATABLE READ snapshot together with the revision it reaches.
//!
//! Writers bump their domain's revision first and hold that row's lock until COMMIT (see
//! [`crate::revision`]), so a snapshot that sees revision R sees every row stamped `<= R` and
//! none above it: `seq > after` in that snapshot is exactly the changes between `after` and R.
//! Rows come back as [`Mutation`]s: puts of live records parents first, then deletes of
//! tombstones children first, so a follower can apply them in order.

use polaris_store::feed::{FeedBatch, FeedDomain};
use polaris_store::{Change, Mutation, StoreResult};
use polaris_types::RuleKind;
use sqlx::any::AnyRow;
use sqlx::{Any, AssertSqlSafe, Executor, Row, SqlSafeStr, Transaction};

use crate::codec::{self, Cursor};
use crate::dialect::Dialect;
use crate::schema::{self, Table};
use crate::{SqlStore, unavailable};

/// Turns one row of a table into a mutation (`None`: nothing to apply).
type Decode = fn(&Table, &AnyRow) -> StoreResult<Option<Mutation>>;

/// A table of a domain and how its rows become mutations.
struct Source {
    table: &'static Table,
    decode: Decode,
}

/// The tables of `domain`, parents before children.
fn sources(domain: FeedDomain) -> Vec<Source> {
    let one = |table, decode| Source { table, decode };
    match domain {
        FeedDomain::Naming => vec![
            one(&schema::NAMESPACE, namespace),
            one(&schema::SERVICE, service),
            one(&schema::INSTANCE, instance),
        ],
        FeedDomain::Governance => {
            let decoders: [Decode; 5] = [
                |t, r| rule(RuleKind::ALL[0], t, r),
                |t, r| rule(RuleKind::ALL[1], t, r),
                |t, r| rule(RuleKind::ALL[2], t, r),
                |t, r| rule(RuleKind::ALL[3], t, r),
                |t, r| rule(RuleKind::ALL[4], t, r),
            ];
            schema::RULES
                .iter()
                .zip(decoders)
                .map(|(table, decode)| one(table, decode))
                .collect()
        }
        FeedDomain::Config => vec![
            one(&schema::CONFIG_GROUP, config_group),
            one(&schema::CONFIG_FILE, config_file),
            one(&schema::CONFIG_RELEASE, config_release),
            one(&schema::RELEASE_HISTORY, release_history),
            one(&schema::CONFIG_TEMPLATE, config_template),
        ],
        FeedDomain::Auth => vec![
            one(&schema::USER, user),
            one(&schema::USER_GROUP, user_group),
            one(&schema::AUTH_STRATEGY, strategy),
        ],
        FeedDomain::Contracts => vec![one(&schema::SERVICE_CONTRACT, contract)],
    }
}

fn namespace(t: &Table, row: &AnyRow) -> StoreResult<Option<Mutation>> {
    Ok(Some(
        match codec::change(t, row, codec::text, codec::decode_namespace)? {
            Change::Upsert(ns) => Mutation::PutNamespace(ns),
            Change::Deleted { key, mtime } => Mutation::DeleteNamespace { name: key, mtime },
        },
    ))
}

fn service(t: &Table, row: &AnyRow) -> StoreResult<Option<Mutation>> {
    let change = codec::change(t, row, codec::decode_service_key, codec::decode_service)?;
    Ok(Some(match change {
        Change::Upsert(svc) => Mutation::PutService(svc),
        Change::Deleted { key, mtime } => Mutation::DeleteService { key, mtime },
    }))
}

fn instance(t: &Table, row: &AnyRow) -> StoreResult<Option<Mutation>> {
    Ok(Some(
        match codec::change(t, row, codec::text, codec::decode_instance)? {
            Change::Upsert(ins) => Mutation::PutInstance(ins),
            Change::Deleted { key, mtime } => Mutation::DeleteInstance { id: key, mtime },
        },
    ))
}

fn rule(kind: RuleKind, t: &Table, row: &AnyRow) -> StoreResult<Option<Mutation>> {
    let change = codec::change(t, row, codec::text, |c| codec::decode_rule(kind, c))?;
    Ok(Some(match change {
        Change::Upsert(rule) => Mutation::PutRule(rule),
        Change::Deleted { key, mtime } => Mutation::DeleteRule {
            kind,
            id: key,
            mtime,
        },
    }))
}

fn config_group(t: &Table, row: &AnyRow) -> StoreResult<Option<Mutation>> {
    let key = |c: &mut Cursor| Ok((codec::text(c)?, codec::text(c)?));
    Ok(Some(
        match codec::change(t, row, key, codec::decode_config_group)? {
            Change::Upsert(g) => Mutation::PutConfigGroup(g),
            Change::Deleted {
                key: (namespace, name),
                mtime,
            } => Mutation::DeleteConfigGroup {
                namespace,
                name,
                mtime,
            },
        },
    ))
}

fn config_file(t: &Table, row: &AnyRow) -> StoreResult<Option<Mutation>> {
    let change = codec::change(t, row, codec::decode_file_key, codec::decode_config_file)?;
    Ok(Some(match change {
        Change::Upsert(f) => Mutation::PutConfigFile(f),
        Change::Deleted { key, mtime } => Mutation::DeleteConfigFile { key, mtime },
    }))
}

fn config_release(t: &Table, row: &AnyRow) -> StoreResult<Option<Mutation>> {
    let change = codec::change(
        t,
        row,
        codec::decode_release_key,
        codec::decode_config_release,
    )?;
    Ok(Some(match change {
        Change::Upsert(r) => Mutation::PutConfigRelease(r),
        Change::Deleted {
            key: (key, name),
            mtime,
        } => Mutation::DeleteConfigRelease { key, name, mtime },
    }))
}

/// Records that are only ever put: a tombstone (a purged or forgotten row) yields nothing.
fn put_only<T>(
    t: &Table,
    row: &AnyRow,
    decode: fn(&mut Cursor) -> StoreResult<T>,
    put: fn(T) -> Mutation,
) -> StoreResult<Option<Mutation>> {
    Ok(codec::change(t, row, |_| Ok(()), decode)?
        .upserted()
        .map(put))
}

fn release_history(t: &Table, row: &AnyRow) -> StoreResult<Option<Mutation>> {
    put_only(
        t,
        row,
        codec::decode_release_history,
        Mutation::AppendReleaseHistory,
    )
}

fn config_template(t: &Table, row: &AnyRow) -> StoreResult<Option<Mutation>> {
    put_only(
        t,
        row,
        codec::decode_config_template,
        Mutation::PutConfigTemplate,
    )
}

fn contract(t: &Table, row: &AnyRow) -> StoreResult<Option<Mutation>> {
    put_only(
        t,
        row,
        codec::decode_service_contract,
        Mutation::PutServiceContract,
    )
}

/// The first key column of auth tables is the id; their tombstones are "forget" rows.
fn id_key(c: &mut Cursor) -> StoreResult<String> {
    codec::text(c)
}

fn user(t: &Table, row: &AnyRow) -> StoreResult<Option<Mutation>> {
    Ok(Some(
        match codec::change(t, row, id_key, codec::decode_user)? {
            Change::Upsert(u) => Mutation::PutUser(u),
            Change::Deleted { key, .. } => Mutation::DeleteUser { id: key },
        },
    ))
}

fn user_group(t: &Table, row: &AnyRow) -> StoreResult<Option<Mutation>> {
    Ok(Some(
        match codec::change(t, row, id_key, codec::decode_user_group)? {
            Change::Upsert(g) => Mutation::PutUserGroup(g),
            Change::Deleted { key, .. } => Mutation::DeleteUserGroup { id: key },
        },
    ))
}

fn strategy(t: &Table, row: &AnyRow) -> StoreResult<Option<Mutation>> {
    Ok(Some(
        match codec::change(t, row, id_key, codec::decode_strategy)? {
            Change::Upsert(s) => Mutation::PutStrategy(s),
            Change::Deleted { key, .. } => Mutation::DeleteStrategy { id: key },
        },
    ))
}

fn is_delete(m: &Mutation) -> bool {
    matches!(
        m,
        Mutation::DeleteNamespace { .. }
            | Mutation::DeleteService { .. }
            | Mutation::DeleteInstance { .. }
            | Mutation::DeleteRule { .. }
            | Mutation::DeleteConfigGroup { .. }
            | Mutation::DeleteConfigFile { .. }
            | Mutation::DeleteConfigRelease { .. }
            | Mutation::DeleteUser { .. }
            | Mutation::DeleteUserGroup { .. }
            | Mutation::DeleteStrategy { .. }
    )
}

/// Opens a read-only REPEATABLE READ transaction whose snapshot is taken at once.
async fn snapshot(store: &SqlStore) -> StoreResult<Transaction<'static, Any>> {
    let mut conn = store.pool.acquire().await.map_err(unavailable)?;
    let begin = match store.dialect {
        Dialect::MySql => {
            // Applies to the next transaction only; sessions otherwise run READ COMMITTED.
            conn.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                .await
                .map_err(unavailable)?;
            "START TRANSACTION WITH CONSISTENT SNAPSHOT"
        }
        Dialect::Postgres => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
    };
    Transaction::begin(conn, Some(begin.into_sql_str()))
        .await
        .map_err(unavailable)
}

/// Reads what `domain` changed after `after` (everything live when `None`).
pub(crate) async fn changes_since(
    store: &SqlStore,
    domain: FeedDomain,
    after: Option<i64>,
) -> StoreResult<FeedBatch> {
    let mut tx = snapshot(store).await?;
    // PostgreSQL takes the snapshot at the first statement: read the revision first.
    let revision: i64 =
        sqlx::query(AssertSqlSafe(store.dialect.sql(
            "SELECT \"revision\" FROM \"polaris_revision\" WHERE \"domain\" = ?",
        )))
        .bind(domain.as_str())
        .fetch_one(&mut *tx)
        .await
        .and_then(|row| row.try_get(0))
        .map_err(unavailable)?;
    let mut puts = Vec::new();
    let mut deletes = Vec::new();
    for source in sources(domain) {
        let table = source.table;
        let filter = match after {
            Some(_) => "\"seq\" > ?",
            None => "\"flag\" = 0",
        };
        let text = format!(
            "SELECT {} FROM \"{}\" WHERE {filter} ORDER BY \"seq\"",
            table.select_list(),
            table.name,
        );
        let mut query = sqlx::query(AssertSqlSafe(store.dialect.sql(&text)));
        if let Some(after) = after {
            query = query.bind(after);
        }
        let rows = query.fetch_all(&mut *tx).await.map_err(unavailable)?;
        let mut table_deletes = Vec::new();
        for row in &rows {
            match (source.decode)(table, row)? {
                Some(m) if is_delete(&m) => table_deletes.push(m),
                Some(m) => puts.push(m),
                None => {}
            }
        }
        deletes.push(table_deletes);
    }
    tx.commit().await.map_err(unavailable)?;
    puts.extend(deletes.into_iter().rev().flatten());
    Ok(FeedBatch {
        domain,
        revision,
        full: after.is_none(),
        mutations: puts,
    })
}
