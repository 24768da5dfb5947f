//! The write path: one transaction per `apply`, revisions bumped first, then every mutation in
//! order, acknowledged after COMMIT.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use polaris_store::{Mutation, Precondition, StoreError, StoreResult};
use polaris_types::{Millis, RuleKind};
use sqlx::any::AnyArguments;
use sqlx::query::Query;
use sqlx::{Any, AnyPool, AssertSqlSafe, Row};

use crate::codec::{self, Encoded, Value};
use crate::dialect::Dialect;
use crate::revision::RevisionSql;
use crate::schema::{self, Domain, Table};
use crate::unavailable;

/// The statements of one table.
struct TableSql {
    /// Upserts of 1, 2, 4, ... [`MAX_ROWS`] rows: a run of puts is written in as few statements
    /// as its size in binary has ones, each of a shape the connections' statement caches keep.
    upserts: Vec<Arc<str>>,
    tombstone: Arc<str>,
    /// Soft-deletes a row by id without a tombstone time (users, groups, strategies).
    forget: Arc<str>,
    /// Highest `seq` among the tombstones a purge removes, then the purge itself.
    purge_max: Arc<str>,
    purge: Arc<str>,
}

/// Every statement the writer runs, rendered once for the engine.
pub(crate) struct Statements {
    tables: HashMap<&'static str, TableSql>,
    /// Revision bumps (on PostgreSQL with the change-feed hint).
    revision: RevisionSql,
    /// Precondition probes.
    service_live: Arc<str>,
    namespace_used: Arc<str>,
}

/// The most rows one upsert writes (a power of two).
const MAX_ROWS: usize = 64;

/// The PostgreSQL channel that carries change-feed hints (payload: the domain's name).
pub(crate) const HINT_CHANNEL: &str = "polaris_feed";

impl Statements {
    pub fn new(dialect: Dialect) -> Self {
        let tables = schema::all_tables()
            .map(|table| {
                let mtime = table.mtime;
                let sql = TableSql {
                    upserts: (0..=MAX_ROWS.trailing_zeros())
                        .map(|power| dialect.sql(&dialect.upsert(table, 1 << power)))
                        .collect(),
                    tombstone: dialect.sql(&dialect.tombstone(table)),
                    forget: dialect.sql(&format!(
                        "UPDATE \"{}\" SET \"flag\" = 1, \"seq\" = ? WHERE \"id\" = ?",
                        table.name
                    )),
                    purge_max: dialect.sql(&format!(
                        "SELECT COALESCE(MAX(\"seq\"), 0) FROM \"{}\" WHERE \"flag\" = 1 AND \"{mtime}\" < ?",
                        table.name
                    )),
                    purge: dialect.sql(&format!(
                        "DELETE FROM \"{}\" WHERE \"flag\" = 1 AND \"{mtime}\" < ?",
                        table.name
                    )),
                };
                (table.name, sql)
            })
            .collect();
        Statements {
            tables,
            revision: RevisionSql::new(dialect),
            service_live: dialect.sql(
                "SELECT 1 FROM \"service\" WHERE \"namespace\" = ? AND \"name\" = ? AND \"flag\" = 0",
            ),
            namespace_used: dialect.sql(
                "SELECT 1 FROM \"service\" WHERE \"namespace\" = ? AND \"flag\" = 0 LIMIT 1",
            ),
        }
    }

    fn table(&self, table: &Table) -> &TableSql {
        &self.tables[table.name]
    }
}

/// One mutation as a statement on one table.
pub(crate) enum Op {
    Put(&'static Table, Encoded),
    Tombstone(&'static Table, Vec<Value>, Millis),
    Forget(&'static Table, String),
    /// A precondition, checked after the revision bumps (which serialise the domain's writers
    /// across nodes) and before any row changes.
    Check(Precondition),
}

impl Op {
    pub(crate) fn table(&self) -> &'static Table {
        match self {
            Op::Put(table, _) | Op::Tombstone(table, _, _) | Op::Forget(table, _) => table,
            Op::Check(_) => &schema::SERVICE,
        }
    }
}

fn rule_table(kind: RuleKind) -> &'static Table {
    let at = RuleKind::ALL
        .iter()
        .position(|k| *k == kind)
        .expect("listed kind");
    &schema::RULES[at]
}

fn text(value: &str) -> Value {
    Value::Text(value.to_string())
}

/// The statements of a batch, in order.
pub(crate) fn ops(batch: Vec<Mutation>, checks: Vec<Precondition>) -> Vec<Op> {
    checks
        .into_iter()
        .map(Op::Check)
        .chain(batch.into_iter().map(op))
        .collect()
}

/// The statement that finds a row violating `check`, with its binds.
fn violation(dialect_sql: &Statements, check: &Precondition) -> (Arc<str>, Vec<Value>) {
    match check {
        Precondition::ServiceAbsent(key) => (
            dialect_sql.service_live.clone(),
            vec![
                Value::Text(key.namespace.clone()),
                Value::Text(key.name.clone()),
            ],
        ),
        Precondition::NamespaceEmpty(name) => (
            dialect_sql.namespace_used.clone(),
            vec![Value::Text(name.clone())],
        ),
    }
}

fn op(mutation: Mutation) -> Op {
    use schema::*;
    match mutation {
        Mutation::PutNamespace(ns) => Op::Put(&NAMESPACE, codec::namespace(&ns)),
        Mutation::DeleteNamespace { name, mtime } => {
            Op::Tombstone(&NAMESPACE, vec![Value::Text(name)], mtime)
        }
        Mutation::PutService(svc) => Op::Put(&SERVICE, codec::service(&svc)),
        Mutation::DeleteService { key, mtime } => Op::Tombstone(
            &SERVICE,
            vec![Value::Text(key.namespace), Value::Text(key.name)],
            mtime,
        ),
        Mutation::PutInstance(ins) => Op::Put(&INSTANCE, codec::instance(&ins)),
        Mutation::DeleteInstance { id, mtime } => {
            Op::Tombstone(&INSTANCE, vec![Value::Text(id)], mtime)
        }
        Mutation::PutRule(rule) => Op::Put(rule_table(rule.kind), codec::rule(&rule)),
        Mutation::DeleteRule { kind, id, mtime } => {
            Op::Tombstone(rule_table(kind), vec![Value::Text(id)], mtime)
        }
        Mutation::PutConfigGroup(g) => Op::Put(&CONFIG_GROUP, codec::config_group(&g)),
        Mutation::DeleteConfigGroup {
            namespace,
            name,
            mtime,
        } => Op::Tombstone(
            &CONFIG_GROUP,
            vec![Value::Text(namespace), Value::Text(name)],
            mtime,
        ),
        Mutation::PutConfigFile(f) => Op::Put(&CONFIG_FILE, codec::config_file(&f)),
        Mutation::DeleteConfigFile { key, mtime } => Op::Tombstone(
            &CONFIG_FILE,
            vec![text(&key.namespace), text(&key.group), text(&key.name)],
            mtime,
        ),
        Mutation::PutConfigRelease(r) => Op::Put(&CONFIG_RELEASE, codec::config_release(&r)),
        Mutation::DeleteConfigRelease { key, name, mtime } => Op::Tombstone(
            &CONFIG_RELEASE,
            vec![
                text(&key.namespace),
                text(&key.group),
                text(&key.name),
                Value::Text(name),
            ],
            mtime,
        ),
        Mutation::AppendReleaseHistory(h) => Op::Put(&RELEASE_HISTORY, codec::release_history(&h)),
        Mutation::PutConfigTemplate(t) => Op::Put(&CONFIG_TEMPLATE, codec::config_template(&t)),
        Mutation::PutServiceContract(c) => Op::Put(&SERVICE_CONTRACT, codec::service_contract(&c)),
        Mutation::PutUser(u) => Op::Put(&USER, codec::user(&u)),
        Mutation::DeleteUser { id } => Op::Forget(&USER, id),
        Mutation::PutUserGroup(g) => Op::Put(&USER_GROUP, codec::user_group(&g)),
        Mutation::DeleteUserGroup { id } => Op::Forget(&USER_GROUP, id),
        Mutation::PutStrategy(s) => Op::Put(&AUTH_STRATEGY, codec::strategy(&s)),
        Mutation::DeleteStrategy { id } => Op::Forget(&AUTH_STRATEGY, id),
    }
}

pub(crate) fn bind<'q>(
    mut query: Query<'q, Any, AnyArguments>,
    values: impl IntoIterator<Item = Value>,
) -> Query<'q, Any, AnyArguments> {
    for value in values {
        query = match value {
            Value::Int(v) => query.bind(v),
            Value::Text(v) => query.bind(v),
            Value::Bytes(v) => query.bind(v),
        };
    }
    query
}

/// The flag, times and seq that end every row.
fn tail(flag: i64, ctime: Millis, mtime: Millis, seq: i64) -> [Value; 4] {
    [flag, ctime, mtime, seq].map(Value::Int)
}

/// Applies the batches, in order, in one transaction, acknowledged after COMMIT.
pub(crate) async fn commit(
    pool: &AnyPool,
    sql: &Statements,
    batches: &[Vec<Op>],
) -> StoreResult<()> {
    let all = || batches.iter().flatten();
    let domains: BTreeSet<Domain> = all().map(|op| op.table().domain).collect();
    if domains.is_empty() {
        return Ok(());
    }
    let mut tx = pool.begin().await.map_err(unavailable)?;
    let mut seqs = BTreeMap::new();
    for domain in domains {
        seqs.insert(domain, sql.revision.bump(&mut tx, domain).await?);
    }
    // Consecutive puts on one table (within a batch and across the grouped batches) are
    // written together; every other op first writes the puts before it, so statements keep
    // their order.
    let mut run = PutRun::default();
    for op in all() {
        if let Op::Put(table, encoded) = op {
            if !run.takes(table, encoded) {
                run.write(&mut tx, sql, &seqs).await?;
            }
            run.push(table, encoded);
            continue;
        }
        run.write(&mut tx, sql, &seqs).await?;
        let table = op.table();
        let seq = seqs[&table.domain];
        let statements = sql.table(table);
        let query = match op {
            Op::Check(check) => {
                let (text, values) = violation(sql, check);
                let found = bind(sqlx::query(AssertSqlSafe(text)), values)
                    .fetch_optional(&mut *tx)
                    .await
                    .map_err(unavailable)?;
                if found.is_some() {
                    return Err(StoreError::Conflict(format!("{check:?}")));
                }
                continue;
            }
            Op::Put(..) => unreachable!("puts are written as runs"),
            Op::Tombstone(_, key, mtime) => {
                let empty = table.data.iter().map(|c| Value::empty(c.ty));
                bind(
                    sqlx::query(AssertSqlSafe(statements.tombstone.clone())),
                    key.iter()
                        .cloned()
                        .chain(empty)
                        .chain(tail(1, 0, *mtime, seq)),
                )
            }
            Op::Forget(_, id) => bind(
                sqlx::query(AssertSqlSafe(statements.forget.clone())),
                [Value::Int(seq), Value::Text(id.clone())],
            ),
        };
        query.execute(&mut *tx).await.map_err(unavailable)?;
    }
    run.write(&mut tx, sql, &seqs).await?;
    tx.commit().await.map_err(unavailable)
}

/// Puts waiting to be written together: one table, distinct keys, at most [`MAX_ROWS`].
#[derive(Default)]
struct PutRun<'a> {
    table: Option<&'static Table>,
    rows: Vec<&'a Encoded>,
}

impl<'a> PutRun<'a> {
    /// Whether a put of `row` on `table` can join the run.
    fn takes(&self, table: &'static Table, row: &Encoded) -> bool {
        let keys = table.key.len();
        let same_table = self.table.is_none_or(|t| std::ptr::eq(t, table));
        same_table
            && self.rows.len() < MAX_ROWS
            && !self
                .rows
                .iter()
                .any(|r| r.values[..keys] == row.values[..keys])
    }

    fn push(&mut self, table: &'static Table, row: &'a Encoded) {
        self.table = Some(table);
        self.rows.push(row);
    }

    /// Writes the run (largest statements first) and empties it.
    async fn write(
        &mut self,
        tx: &mut sqlx::Transaction<'_, Any>,
        sql: &Statements,
        seqs: &BTreeMap<Domain, i64>,
    ) -> StoreResult<()> {
        let Some(table) = self.table.take() else {
            return Ok(());
        };
        let seq = seqs[&table.domain];
        let statements = sql.table(table);
        let mut rows = &self.rows[..];
        while !rows.is_empty() {
            let power = rows.len().ilog2();
            let (chunk, rest) = rows.split_at(1 << power);
            let values = chunk.iter().flat_map(|row| {
                row.values
                    .iter()
                    .cloned()
                    .chain(tail(0, row.ctime, row.mtime, seq))
            });
            let statement = statements.upserts[power as usize].clone();
            bind(sqlx::query(AssertSqlSafe(statement)), values)
                .execute(&mut **tx)
                .await
                .map_err(unavailable)?;
            rows = rest;
        }
        self.rows.clear();
        Ok(())
    }
}

/// Deletes soft-deleted rows older than `before` and raises each domain's purge watermark to the
/// highest `seq` removed, in one transaction that holds every domain's revision lock.
pub(crate) async fn purge(pool: &AnyPool, sql: &Statements, before: Millis) -> StoreResult<()> {
    let mut tx = pool.begin().await.map_err(unavailable)?;
    purge_in(&mut tx, sql, before).await?;
    tx.commit().await.map_err(unavailable)
}

/// The purge, inside a transaction the caller opened (and commits).
pub(crate) async fn purge_in(
    tx: &mut sqlx::Transaction<'_, Any>,
    sql: &Statements,
    before: Millis,
) -> StoreResult<()> {
    for domain in Domain::ALL {
        sql.revision.lock(tx, domain).await?;
    }
    let mut purged: BTreeMap<Domain, i64> = BTreeMap::new();
    for table in schema::all_tables() {
        let statements = sql.table(table);
        let max: i64 = sqlx::query(AssertSqlSafe(statements.purge_max.clone()))
            .bind(before)
            .fetch_one(&mut **tx)
            .await
            .and_then(|row| row.try_get(0))
            .map_err(unavailable)?;
        sqlx::query(AssertSqlSafe(statements.purge.clone()))
            .bind(before)
            .execute(&mut **tx)
            .await
            .map_err(unavailable)?;
        let entry = purged.entry(table.domain).or_default();
        *entry = (*entry).max(max);
    }
    for (domain, seq) in purged {
        if seq > 0 {
            sql.revision.purged(tx, domain, seq).await?;
        }
    }
    Ok(())
}
