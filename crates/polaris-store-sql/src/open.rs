//! Connecting: the pool, per-session settings, creating a missing database, migrating.

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::mysql::MySqlConnectOptions;
use sqlx::postgres::PgConnectOptions;
use sqlx::{AnyPool, ConnectOptions, Connection, Executor};

use crate::SqlOptions;
use crate::dialect::Dialect;
use crate::schema;

/// Why [`SqlStore::open`](crate::SqlStore::open) failed.
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    #[error("invalid store address {0:?}: expected host:port")]
    Address(String),
    #[error("invalid database name {0:?}: use letters, digits, '_', '-' or '$'")]
    DatabaseName(String),
    #[error("cannot connect to {dialect:?} at {addr}: {source}")]
    Connect {
        dialect: Dialect,
        addr: String,
        source: sqlx::Error,
    },
    #[error("cannot create or drop database {database}: {source}")]
    CreateDatabase {
        database: String,
        source: sqlx::Error,
    },
    #[error("cannot migrate the schema: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

fn host_port(options: &SqlOptions) -> Result<(String, u16), OpenError> {
    let bad = || OpenError::Address(options.addr.clone());
    match options.addr.rsplit_once(':') {
        Some((host, port)) => Ok((host.to_string(), port.parse().map_err(|_| bad())?)),
        None if !options.addr.is_empty() => {
            Ok((options.addr.clone(), options.dialect.default_port()))
        }
        None => Err(bad()),
    }
}

/// Connect options for `database` (`None`: the engine's maintenance database).
fn connect_options(
    options: &SqlOptions,
    database: Option<&str>,
) -> Result<AnyConnectOptions, OpenError> {
    let (host, port) = host_port(options)?;
    let url = match options.dialect {
        Dialect::MySql => {
            let mut o = MySqlConnectOptions::new()
                .host(&host)
                .port(port)
                .username(&options.user)
                .password(&options.password);
            if let Some(db) = database {
                o = o.database(db);
            }
            o.to_url_lossy()
        }
        Dialect::Postgres => PgConnectOptions::new()
            .host(&host)
            .port(port)
            .username(&options.user)
            .password(&options.password)
            .database(database.unwrap_or("postgres"))
            .to_url_lossy(),
    };
    AnyConnectOptions::from_url(&url).map_err(|source| OpenError::Connect {
        dialect: options.dialect,
        addr: options.addr.clone(),
        source,
    })
}

/// PostgreSQL options of the store's database, for the change-feed hint listener.
pub(crate) fn pg_options(options: &SqlOptions) -> Result<PgConnectOptions, OpenError> {
    let (host, port) = host_port(options)?;
    Ok(PgConnectOptions::new()
        .host(&host)
        .port(port)
        .username(&options.user)
        .password(&options.password)
        .database(&options.database))
}

/// True when the error says the database does not exist (MySQL 1049, PostgreSQL 3D000).
fn is_unknown_database(error: &sqlx::Error) -> bool {
    let Some(error) = error.as_database_error() else {
        return false;
    };
    if let Some(mysql) = error.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>() {
        return mysql.number() == 1049;
    }
    error.code().as_deref() == Some("3D000")
}

/// Opens the pool on the store's database, creating the database first when it is missing, then
/// brings the schema to the current version (concurrent starters serialise on the migrator's
/// advisory lock).
pub(crate) async fn connect(options: &SqlOptions) -> Result<AnyPool, OpenError> {
    sqlx::any::install_default_drivers();
    let target = connect_options(options, Some(&options.database))?;
    let connect_failed = |source| OpenError::Connect {
        dialect: options.dialect,
        addr: options.addr.clone(),
        source,
    };
    // One plain connection first: the pool retries failed connects until its timeout and would
    // hide the "unknown database" answer.
    match sqlx::AnyConnection::connect_with(&target).await {
        Ok(conn) => drop(conn.close().await),
        Err(error) if is_unknown_database(&error) => create_database(options).await?,
        Err(error) => return Err(connect_failed(error)),
    }
    let pool = pool(options, target).await.map_err(connect_failed)?;
    schema::migrator(options.dialect).run(&pool).await?;
    Ok(pool)
}

async fn pool(options: &SqlOptions, target: AnyConnectOptions) -> Result<AnyPool, sqlx::Error> {
    let dialect = options.dialect;
    let pool = AnyPoolOptions::new()
        .max_connections(options.max_open_conns.max(1))
        .min_connections(options.max_idle_conns.min(options.max_open_conns))
        .max_lifetime(options.conn_max_lifetime)
        .acquire_timeout(options.acquire_timeout)
        .after_connect(move |conn, _meta| {
            Box::pin(async move {
                if dialect == Dialect::MySql {
                    // Double-quoted identifiers in every statement, strict inserts, and the
                    // official READ COMMITTED isolation (txIsolationLevel 2).
                    conn.execute(
                        "SET SESSION sql_mode = CONCAT(@@SESSION.sql_mode, ',ANSI_QUOTES,STRICT_ALL_TABLES')",
                    )
                    .await?;
                    conn.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
                        .await?;
                }
                Ok(())
            })
        })
        .connect_with(target)
        .await?;
    Ok(pool)
}

/// The database name, when it is safe to splice into `CREATE DATABASE` (letters, digits, `_`,
/// `-` and `$`).
fn database_name(options: &SqlOptions) -> Result<&str, OpenError> {
    let name = options.database.as_str();
    let valid = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '$');
    if name.is_empty() || name.len() > 63 || !name.chars().all(valid) {
        return Err(OpenError::DatabaseName(name.to_string()));
    }
    Ok(name)
}

/// Runs `statement` on the engine's maintenance connection (no database selected, or
/// PostgreSQL's `postgres`). `tolerated` is an SQLSTATE that counts as success.
async fn on_server(
    options: &SqlOptions,
    statement: String,
    tolerated: Option<&str>,
) -> Result<(), OpenError> {
    let failed = |source| OpenError::CreateDatabase {
        database: options.database.clone(),
        source,
    };
    let admin = connect_options(options, None)?;
    let mut conn = sqlx::AnyConnection::connect_with(&admin)
        .await
        .map_err(failed)?;
    let result = conn.execute(sqlx::AssertSqlSafe(statement)).await;
    drop(conn.close().await);
    match result {
        Ok(_) => Ok(()),
        Err(error)
            if tolerated.is_some()
                && error.as_database_error().and_then(|e| e.code()).as_deref() == tolerated =>
        {
            Ok(())
        }
        Err(error) => Err(failed(error)),
    }
}

async fn create_database(options: &SqlOptions) -> Result<(), OpenError> {
    let name = database_name(options)?;
    let statement = match options.dialect {
        Dialect::MySql => format!(
            "CREATE DATABASE IF NOT EXISTS `{name}` DEFAULT CHARACTER SET utf8mb4 COLLATE utf8mb4_bin"
        ),
        Dialect::Postgres => format!("CREATE DATABASE \"{name}\" ENCODING 'UTF8'"),
    };
    // 42P04: another node created it first.
    on_server(options, statement, Some("42P04")).await
}

/// Drops the store's database (for tests and tooling); PostgreSQL's remaining connections to it
/// are ended by force.
pub async fn drop_database(options: &SqlOptions) -> Result<(), OpenError> {
    sqlx::any::install_default_drivers();
    let name = database_name(options)?;
    let statement = match options.dialect {
        Dialect::MySql => format!("DROP DATABASE IF EXISTS `{name}`"),
        Dialect::Postgres => format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"),
    };
    on_server(options, statement, None).await
}
