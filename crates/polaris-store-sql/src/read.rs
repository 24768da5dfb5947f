//! The load path: one statement per table, so each load reads one consistent snapshot.

use polaris_store::{Change, ConfigGroupKey, ConfigReleaseKey, StoreResult};
use polaris_types::{
    ConfigFile, ConfigFileKey, ConfigGroup, ConfigRelease, ConfigTemplate, Instance, Millis,
    Namespace, ReleaseHistory, Rule, RuleKind, Service, ServiceContract, ServiceKey, Strategy,
    User, UserGroup,
};
use sqlx::AssertSqlSafe;
use sqlx::any::AnyRow;

use crate::codec::{self, Cursor};
use crate::schema::{self, Table};
use crate::{SqlStore, unavailable};

/// Rows of `table` modified at or after `since`, tombstones included.
async fn since(store: &SqlStore, table: &Table, since: Millis) -> StoreResult<Vec<AnyRow>> {
    let text = format!(
        "SELECT {} FROM \"{}\" WHERE \"{}\" >= ?",
        table.select_list(),
        table.name,
        table.mtime
    );
    sqlx::query(AssertSqlSafe(store.dialect.sql(&text)))
        .bind(since)
        .fetch_all(&store.pool)
        .await
        .map_err(unavailable)
}

/// Live rows of `table` in key order.
async fn live(store: &SqlStore, table: &Table) -> StoreResult<Vec<AnyRow>> {
    let order: Vec<String> = table
        .key
        .iter()
        .map(|c| format!("\"{}\"", c.name))
        .collect();
    let text = format!(
        "SELECT {} FROM \"{}\" WHERE \"flag\" = 0 ORDER BY {}",
        table.select_list(),
        table.name,
        order.join(", ")
    );
    sqlx::query(AssertSqlSafe(store.dialect.sql(&text)))
        .fetch_all(&store.pool)
        .await
        .map_err(unavailable)
}

fn changes<T, K>(
    table: &Table,
    rows: &[AnyRow],
    key: impl Fn(&mut Cursor) -> StoreResult<K>,
    record: impl Fn(&mut Cursor) -> StoreResult<T>,
) -> StoreResult<Vec<Change<T, K>>> {
    rows.iter()
        .map(|row| codec::change(table, row, &key, &record))
        .collect()
}

fn records<T>(
    rows: &[AnyRow],
    record: impl Fn(&mut Cursor) -> StoreResult<T>,
) -> StoreResult<Vec<T>> {
    rows.iter()
        .map(|row| record(&mut Cursor::new(row)))
        .collect()
}

fn first_text(c: &mut Cursor) -> StoreResult<String> {
    codec::text(c)
}

pub(crate) async fn namespaces(
    store: &SqlStore,
    from: Millis,
) -> StoreResult<Vec<Change<Namespace, String>>> {
    let table = &schema::NAMESPACE;
    let rows = since(store, table, from).await?;
    changes(table, &rows, first_text, codec::decode_namespace)
}

pub(crate) async fn services(
    store: &SqlStore,
    from: Millis,
) -> StoreResult<Vec<Change<Service, ServiceKey>>> {
    let table = &schema::SERVICE;
    let rows = since(store, table, from).await?;
    changes(
        table,
        &rows,
        codec::decode_service_key,
        codec::decode_service,
    )
}

pub(crate) async fn instances(
    store: &SqlStore,
    from: Millis,
) -> StoreResult<Vec<Change<Instance, String>>> {
    let table = &schema::INSTANCE;
    let rows = since(store, table, from).await?;
    changes(table, &rows, first_text, codec::decode_instance)
}

pub(crate) async fn rules(
    store: &SqlStore,
    from: Millis,
) -> StoreResult<Vec<Change<Rule, (RuleKind, String)>>> {
    let mut out = Vec::new();
    for (kind, table) in RuleKind::ALL.into_iter().zip(&schema::RULES) {
        let rows = since(store, table, from).await?;
        out.extend(changes(
            table,
            &rows,
            |c| Ok((kind, codec::text(c)?)),
            |c| codec::decode_rule(kind, c),
        )?);
    }
    Ok(out)
}

pub(crate) async fn config_groups(
    store: &SqlStore,
    from: Millis,
) -> StoreResult<Vec<Change<ConfigGroup, ConfigGroupKey>>> {
    let table = &schema::CONFIG_GROUP;
    let rows = since(store, table, from).await?;
    changes(
        table,
        &rows,
        |c| Ok((codec::text(c)?, codec::text(c)?)),
        codec::decode_config_group,
    )
}

pub(crate) async fn config_files(
    store: &SqlStore,
    from: Millis,
) -> StoreResult<Vec<Change<ConfigFile, ConfigFileKey>>> {
    let table = &schema::CONFIG_FILE;
    let rows = since(store, table, from).await?;
    changes(
        table,
        &rows,
        codec::decode_file_key,
        codec::decode_config_file,
    )
}

pub(crate) async fn config_releases(
    store: &SqlStore,
    from: Millis,
) -> StoreResult<Vec<Change<ConfigRelease, ConfigReleaseKey>>> {
    let table = &schema::CONFIG_RELEASE;
    let rows = since(store, table, from).await?;
    changes(
        table,
        &rows,
        codec::decode_release_key,
        codec::decode_config_release,
    )
}

pub(crate) async fn release_history(
    store: &SqlStore,
    from: Millis,
) -> StoreResult<Vec<ReleaseHistory>> {
    let table = &schema::RELEASE_HISTORY;
    let text = format!(
        "SELECT {} FROM \"{}\" WHERE \"flag\" = 0 AND \"{}\" >= ? ORDER BY \"id\"",
        table.select_list(),
        table.name,
        table.ctime
    );
    let rows = sqlx::query(AssertSqlSafe(store.dialect.sql(&text)))
        .bind(from)
        .fetch_all(&store.pool)
        .await
        .map_err(unavailable)?;
    records(&rows, codec::decode_release_history)
}

pub(crate) async fn config_templates(store: &SqlStore) -> StoreResult<Vec<ConfigTemplate>> {
    let rows = live(store, &schema::CONFIG_TEMPLATE).await?;
    records(&rows, codec::decode_config_template)
}

pub(crate) async fn service_contracts(store: &SqlStore) -> StoreResult<Vec<ServiceContract>> {
    let rows = live(store, &schema::SERVICE_CONTRACT).await?;
    records(&rows, codec::decode_service_contract)
}

pub(crate) async fn users(store: &SqlStore) -> StoreResult<Vec<User>> {
    let rows = live(store, &schema::USER).await?;
    records(&rows, codec::decode_user)
}

pub(crate) async fn user_groups(store: &SqlStore) -> StoreResult<Vec<UserGroup>> {
    let rows = live(store, &schema::USER_GROUP).await?;
    records(&rows, codec::decode_user_group)
}

pub(crate) async fn strategies(store: &SqlStore) -> StoreResult<Vec<Strategy>> {
    let rows = live(store, &schema::AUTH_STRATEGY).await?;
    records(&rows, codec::decode_strategy)
}
