//! The tables, described once and rendered for either engine. Names follow the official MySQL
//! schema (`namespace`, `service`, `instance`, `routing_config_v2`, `config_file_release`, `user`,
//! `auth_strategy`, ...). Nested collections (metadata, tags, targets, principals, resources) are
//! JSON text columns; rule bodies are bytes. Times are Unix milliseconds as the domain passes
//! them. Every table ends with the soft-delete `flag`, its two times and `seq`, the revision of
//! its domain that last changed the row (see [`crate::revision`]).

use std::borrow::Cow;

use sqlx::SqlSafeStr;
use sqlx::migrate::{Migration, MigrationType, Migrator};

use crate::dialect::Dialect;

/// The table that records applied schema versions.
pub const SCHEMA_VERSION_TABLE: &str = "polaris_schema_version";

/// A column type, rendered per engine by [`Dialect`].
#[derive(Clone, Copy, Debug)]
pub(crate) enum Ty {
    /// `VARCHAR(n)`: keys and indexed columns.
    Str(u16),
    Text,
    Blob,
    Int,
    Big,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Col {
    pub name: &'static str,
    pub ty: Ty,
}

const fn col(name: &'static str, ty: Ty) -> Col {
    Col { name, ty }
}

const fn text(name: &'static str) -> Col {
    col(name, Ty::Text)
}

const fn int(name: &'static str) -> Col {
    col(name, Ty::Int)
}

const fn big(name: &'static str) -> Col {
    col(name, Ty::Big)
}

/// The change-feed domains; each has one row in `polaris_revision`.
pub use polaris_store::feed::FeedDomain as Domain;

/// One table: primary key columns, data columns, then `flag`, `ctime`, `mtime` and `seq` under
/// the table's own names for the two times.
#[derive(Debug)]
pub(crate) struct Table {
    pub name: &'static str,
    pub domain: Domain,
    pub key: &'static [Col],
    pub data: &'static [Col],
    pub ctime: &'static str,
    pub mtime: &'static str,
    /// Extra indexes, each a comma-separated column list.
    pub indexes: &'static [&'static str],
}

impl Table {
    /// Every column in row order.
    pub fn columns(&self) -> impl Iterator<Item = Col> + '_ {
        let tail = [int("flag"), big(self.ctime), big(self.mtime), big("seq")];
        self.key.iter().chain(self.data).copied().chain(tail)
    }

    /// The comma-separated, quoted column list of a `SELECT`.
    pub fn select_list(&self) -> String {
        self.columns()
            .map(|c| format!("\"{}\"", c.name))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

const NS: Col = col("namespace", Ty::Str(64));
const NAME: Col = col("name", Ty::Str(128));
const ID: Col = col("id", Ty::Str(128));

const fn naming(name: &'static str, key: &'static [Col], data: &'static [Col]) -> Table {
    Table {
        name,
        domain: Domain::Naming,
        key,
        data,
        ctime: "ctime",
        mtime: "mtime",
        indexes: &[],
    }
}

pub(crate) const NAMESPACE: Table = naming(
    "namespace",
    &[col("name", Ty::Str(64))],
    &[
        text("comment"),
        text("token"),
        text("owner"),
        text("service_export_to"),
    ],
);

pub(crate) const SERVICE: Table = Table {
    indexes: &["id"],
    ..naming(
        "service",
        &[NS, col("name", Ty::Str(128))],
        &[
            ID,
            text("ports"),
            text("business"),
            text("department"),
            text("cmdb_mod1"),
            text("cmdb_mod2"),
            text("cmdb_mod3"),
            text("comment"),
            text("token"),
            text("owner"),
            text("platform_id"),
            text("export_to"),
            text("reference"),
            text("metadata"),
        ],
    )
};

pub(crate) const INSTANCE: Table = Table {
    indexes: &["namespace,service", "host"],
    ..naming(
        "instance",
        &[ID],
        &[
            NS,
            col("service", Ty::Str(128)),
            text("vpc_id"),
            col("host", Ty::Str(128)),
            int("port"),
            text("protocol"),
            text("version"),
            int("health_status"),
            int("isolate"),
            int("weight"),
            int("enable_health_check"),
            int("health_check_ttl"),
            text("logic_set"),
            text("cmdb_region"),
            text("cmdb_zone"),
            text("cmdb_idc"),
            int("priority"),
            text("revision"),
            text("metadata"),
        ],
    )
};

const RULE_DATA: &[Col] = &[
    text("name"),
    NS,
    int("enable"),
    int("priority"),
    text("description"),
    text("targets"),
    col("body", Ty::Blob),
    text("revision"),
];

const fn rule(name: &'static str) -> Table {
    Table {
        domain: Domain::Governance,
        ..naming(name, &[ID], RULE_DATA)
    }
}

/// One table per rule kind, in [`polaris_types::RuleKind::ALL`] order.
pub(crate) const RULES: [Table; 5] = [
    rule("routing_config_v2"),
    rule("ratelimit_config"),
    rule("circuitbreaker_rule_v2"),
    rule("fault_detect_rule"),
    rule("lane_group"),
];

const fn config(name: &'static str, key: &'static [Col], data: &'static [Col]) -> Table {
    Table {
        name,
        domain: Domain::Config,
        key,
        data,
        ctime: "create_time",
        mtime: "modify_time",
        indexes: &[],
    }
}

const GROUP: Col = col("group", Ty::Str(128));
const FILE_NAME: Col = col("file_name", Ty::Str(255));

pub(crate) const CONFIG_GROUP: Table = config(
    "config_file_group",
    &[NS, NAME],
    &[
        big("id"),
        text("comment"),
        text("owner"),
        text("business"),
        text("department"),
        text("metadata"),
    ],
);

/// `head` followed by the [`FILE_BODY`] columns (`N` is their count together).
const fn with_file_body<const N: usize>(head: &[Col]) -> [Col; N] {
    assert!(
        head.len() + FILE_BODY.len() == N,
        "N must count head and FILE_BODY"
    );
    let mut out = [FILE_BODY[0]; N];
    let mut i = 0;
    while i < N {
        out[i] = if i < head.len() {
            head[i]
        } else {
            FILE_BODY[i - head.len()]
        };
        i += 1;
    }
    out
}

/// The columns a config file and its releases share, in the codec's order.
const FILE_BODY: [Col; 7] = [
    text("format"),
    text("comment"),
    text("tags"),
    int("encrypted"),
    text("encrypt_algo"),
    text("data_key"),
    text("content"),
];

pub(crate) const CONFIG_FILE: Table = config(
    "config_file",
    &[NS, GROUP, col("name", Ty::Str(255))],
    &with_file_body::<8>(&[big("id")]),
);

pub(crate) const CONFIG_RELEASE: Table = config(
    "config_file_release",
    &[NS, GROUP, FILE_NAME, NAME],
    &with_file_body::<13>(&[
        big("id"),
        text("md5"),
        big("version"),
        int("active"),
        text("release_type"),
        text("gray_labels"),
    ]),
);
pub(crate) const RELEASE_HISTORY: Table = config(
    "config_file_release_history",
    &[big("id")],
    &[
        NS,
        GROUP,
        FILE_NAME,
        text("name"),
        text("type"),
        text("status"),
        text("content"),
        text("md5"),
        big("version"),
        text("format"),
        text("comment"),
        text("tags"),
    ],
);

pub(crate) const CONFIG_TEMPLATE: Table = config(
    "config_file_template",
    &[NAME],
    &[big("id"), text("content"), text("format"), text("comment")],
);

pub(crate) const SERVICE_CONTRACT: Table = Table {
    domain: Domain::Contracts,
    ..naming(
        "service_contract",
        &[
            NS,
            col("service", Ty::Str(128)),
            NAME,
            col("version", Ty::Str(64)),
            col("protocol", Ty::Str(64)),
        ],
        &[
            text("contract_name"),
            text("type"),
            text("content"),
            text("interfaces"),
            text("revision"),
        ],
    )
};

const fn auth(name: &'static str, data: &'static [Col]) -> Table {
    Table {
        domain: Domain::Auth,
        ..naming(name, &[ID], data)
    }
}

pub(crate) const USER: Table = auth(
    "user",
    &[
        text("name"),
        text("password"),
        text("owner"),
        text("source"),
        text("token"),
        int("token_enable"),
        text("comment"),
        text("mobile"),
        text("email"),
        int("user_type"),
    ],
);

pub(crate) const USER_GROUP: Table = auth(
    "user_group",
    &[
        text("name"),
        text("owner"),
        text("source"),
        text("token"),
        int("token_enable"),
        text("comment"),
        text("user_ids"),
    ],
);

pub(crate) const AUTH_STRATEGY: Table = auth(
    "auth_strategy",
    &[
        text("name"),
        text("principal_users"),
        text("principal_groups"),
        text("resources"),
        int("action"),
        text("comment"),
        text("owner"),
        int("default"),
        text("source"),
    ],
);

pub(crate) fn all_tables() -> impl Iterator<Item = &'static Table> {
    const NAMED: [&Table; 12] = [
        &NAMESPACE,
        &SERVICE,
        &INSTANCE,
        &CONFIG_GROUP,
        &CONFIG_FILE,
        &CONFIG_RELEASE,
        &RELEASE_HISTORY,
        &CONFIG_TEMPLATE,
        &SERVICE_CONTRACT,
        &USER,
        &USER_GROUP,
        &AUTH_STRATEGY,
    ];
    NAMED.into_iter().chain(RULES.iter())
}

/// Version 1: the revision table with one row per domain, and every record table.
fn initial_schema(dialect: Dialect) -> String {
    let mut sql = String::from(
        "CREATE TABLE IF NOT EXISTS \"polaris_revision\" (\n  \"domain\" VARCHAR(32) NOT NULL,\n  \
         \"revision\" BIGINT NOT NULL,\n  \"purged_revision\" BIGINT NOT NULL,\n  PRIMARY KEY (\"domain\")\n);\n",
    );
    let (insert, tail) = match dialect {
        Dialect::MySql => ("INSERT IGNORE INTO", ""),
        Dialect::Postgres => ("INSERT INTO", " ON CONFLICT DO NOTHING"),
    };
    for domain in Domain::ALL {
        sql.push_str(&format!(
            "{insert} \"polaris_revision\" (\"domain\", \"revision\", \"purged_revision\") VALUES ('{}', 0, 0){tail};\n",
            domain.as_str()
        ));
    }
    for table in all_tables() {
        sql.push_str(&dialect.create_table(table));
    }
    sql
}

/// The ordered schema migrations for `dialect`, recorded in [`SCHEMA_VERSION_TABLE`].
pub(crate) fn migrator(dialect: Dialect) -> Migrator {
    let migrations = vec![
        Migration::new(
            1,
            Cow::Borrowed("initial schema"),
            MigrationType::Simple,
            sqlx::AssertSqlSafe(initial_schema(dialect)).into_sql_str(),
            false,
        ),
        Migration::new(
            2,
            Cow::Borrowed("cluster membership and leader leases"),
            MigrationType::Simple,
            sqlx::AssertSqlSafe(crate::cluster::schema_v2()).into_sql_str(),
            false,
        ),
    ];
    let mut migrator = Migrator::with_migrations(migrations);
    migrator.dangerous_set_table_name(SCHEMA_VERSION_TABLE);
    migrator
}
