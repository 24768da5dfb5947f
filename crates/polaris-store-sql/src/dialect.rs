//! What differs between the two SQL engines: connection URLs, column types, identifier quoting,
//! bind placeholders and upserts. Every statement is written once with `?` placeholders and
//! double-quoted identifiers; MySQL sessions run with `ANSI_QUOTES`, PostgreSQL gets `$n`.

use std::fmt::Write as _;
use std::sync::Arc;

use crate::schema::{Table, Ty};

/// The database engine behind a store, as `store.option.master.dbType` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    /// MySQL 8 or MariaDB >= 10.6 (`dbType: mysql`).
    MySql,
    /// PostgreSQL >= 13 (`dbType: postgresql`).
    Postgres,
}

impl Dialect {
    /// Parses `dbType`: `mysql` (also `mariadb`) or `postgresql` (also `postgres`, `pg`).
    pub fn parse(name: &str) -> Option<Dialect> {
        match name.to_ascii_lowercase().as_str() {
            "mysql" | "mariadb" => Some(Dialect::MySql),
            "postgresql" | "postgres" | "pg" => Some(Dialect::Postgres),
            _ => None,
        }
    }

    /// The port the engine listens on by default.
    pub fn default_port(self) -> u16 {
        match self {
            Dialect::MySql => 3306,
            Dialect::Postgres => 5432,
        }
    }

    /// Rewrites `?` placeholders for this engine (the statements hold no `?` literal).
    pub(crate) fn sql(self, text: &str) -> Arc<str> {
        match self {
            Dialect::MySql => Arc::from(text),
            Dialect::Postgres => {
                let mut out = String::with_capacity(text.len() + 16);
                let mut n = 0;
                for c in text.chars() {
                    if c == '?' {
                        n += 1;
                        let _ = write!(out, "${n}");
                    } else {
                        out.push(c);
                    }
                }
                Arc::from(out)
            }
        }
    }

    fn column_type(self, ty: Ty) -> String {
        match (self, ty) {
            (Dialect::MySql, Ty::Str(n)) => format!("VARCHAR({n})"),
            // Byte order, as MySQL's utf8mb4_bin and the in-memory maps sort keys.
            (Dialect::Postgres, Ty::Str(n)) => format!("VARCHAR({n}) COLLATE \"C\""),
            (Dialect::MySql, Ty::Text) => "LONGTEXT".into(),
            (Dialect::Postgres, Ty::Text) => "TEXT".into(),
            (Dialect::MySql, Ty::Blob) => "LONGBLOB".into(),
            (Dialect::Postgres, Ty::Blob) => "BYTEA".into(),
            (_, Ty::Int) => "INTEGER".into(),
            (_, Ty::Big) => "BIGINT".into(),
        }
    }

    /// `CREATE TABLE` for `table`: its columns, the soft-delete flag, the times, the change-feed
    /// stamp `seq`, the primary key, and indexes on the mtime and `seq` columns.
    pub(crate) fn create_table(self, table: &Table) -> String {
        let mut sql = format!("CREATE TABLE IF NOT EXISTS \"{}\" (\n", table.name);
        for col in table.columns() {
            let _ = writeln!(
                sql,
                "  \"{}\" {} NOT NULL,",
                col.name,
                self.column_type(col.ty)
            );
        }
        let key = quoted_list(table.key.iter().map(|c| c.name));
        let _ = write!(sql, "  PRIMARY KEY ({key})\n)");
        if self == Dialect::MySql {
            sql.push_str(" ENGINE=InnoDB DEFAULT CHARSET=utf8mb4 COLLATE=utf8mb4_bin");
        }
        sql.push_str(";\n");
        let mut indexes = vec![table.mtime, "seq"];
        indexes.extend(table.indexes);
        for col in indexes {
            let index = format!("{}_{}", table.name, col.replace(',', "_"));
            let cols = quoted_list(col.split(','));
            match self {
                // MySQL has no `CREATE INDEX IF NOT EXISTS`; MariaDB has. Index creation lives in
                // the same migration as its table, which runs exactly once.
                Dialect::MySql => {
                    let _ = writeln!(
                        sql,
                        "CREATE INDEX \"{index}\" ON \"{}\" ({cols});",
                        table.name
                    );
                }
                Dialect::Postgres => {
                    let _ = writeln!(
                        sql,
                        "CREATE INDEX IF NOT EXISTS \"{index}\" ON \"{}\" ({cols});",
                        table.name
                    );
                }
            }
        }
        sql
    }

    /// Inserts `rows` rows of every column, each replacing the row with the same primary key
    /// (the rows' keys must differ: PostgreSQL refuses to update one row twice in a statement).
    pub(crate) fn upsert(self, table: &Table, rows: usize) -> String {
        let names: Vec<&str> = table.columns().map(|c| c.name).collect();
        let row = format!("({})", vec!["?"; names.len()].join(", "));
        let values = vec![row.as_str(); rows.max(1)].join(", ");
        let update = |template: &str| {
            names
                .iter()
                .filter(|name| !table.key.iter().any(|k| k.name == **name))
                .map(|name| template.replace('@', name))
                .collect::<Vec<_>>()
                .join(", ")
        };
        let head = format!(
            "INSERT INTO \"{}\" ({}) VALUES {values}",
            table.name,
            quoted_list(names.iter().copied())
        );
        match self {
            Dialect::MySql => format!(
                "{head} ON DUPLICATE KEY UPDATE {}",
                update("\"@\" = VALUES(\"@\")")
            ),
            Dialect::Postgres => format!(
                "{head} ON CONFLICT ({}) DO UPDATE SET {}",
                quoted_list(table.key.iter().map(|c| c.name)),
                update("\"@\" = EXCLUDED.\"@\"")
            ),
        }
    }

    /// Inserts a tombstone row, or turns the existing row into one: only the flag, the mtime and
    /// `seq` of an existing row change.
    pub(crate) fn tombstone(self, table: &Table) -> String {
        let names: Vec<&str> = table.columns().map(|c| c.name).collect();
        let values = vec!["?"; names.len()].join(", ");
        let head = format!(
            "INSERT INTO \"{}\" ({}) VALUES ({values})",
            table.name,
            quoted_list(names.iter().copied())
        );
        let changed = ["flag", table.mtime, "seq"];
        let set = |template: &str| {
            changed
                .iter()
                .map(|name| template.replace('@', name))
                .collect::<Vec<_>>()
                .join(", ")
        };
        match self {
            Dialect::MySql => format!(
                "{head} ON DUPLICATE KEY UPDATE {}",
                set("\"@\" = VALUES(\"@\")")
            ),
            Dialect::Postgres => format!(
                "{head} ON CONFLICT ({}) DO UPDATE SET {}",
                quoted_list(table.key.iter().map(|c| c.name)),
                set("\"@\" = EXCLUDED.\"@\"")
            ),
        }
    }
}

fn quoted_list<'a>(names: impl Iterator<Item = &'a str>) -> String {
    names
        .map(|n| format!("\"{n}\""))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_numbers_placeholders() {
        assert_eq!(
            &*Dialect::Postgres.sql("SELECT a FROM t WHERE b = ? AND c >= ?"),
            "SELECT a FROM t WHERE b = $1 AND c >= $2"
        );
        assert_eq!(&*Dialect::MySql.sql("b = ?"), "b = ?");
    }

    #[test]
    fn db_types_parse() {
        assert_eq!(Dialect::parse("mysql"), Some(Dialect::MySql));
        assert_eq!(Dialect::parse("PostgreSQL"), Some(Dialect::Postgres));
        assert_eq!(Dialect::parse("oracle"), None);
    }
}
