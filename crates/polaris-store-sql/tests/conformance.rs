//! The SQL store runs the same conformance suite as every other backend, against the real
//! MariaDB (127.0.0.1:3306, root without password) and PostgreSQL (127.0.0.1:5432, postgres with
//! trust auth) that `tests/sql/ensure-databases.sh` starts. Each test gets a fresh database with
//! a unique name, created by the store itself at open and dropped afterwards. An unreachable
//! database fails the tests: they never skip.

mod common;

use common::SqlHarness;
use polaris_store_sql::Dialect;

mod mariadb {
    use super::*;
    polaris_store::naming_store_conformance!(SqlHarness::new(Dialect::MySql));
}

mod postgres {
    use super::*;
    polaris_store::naming_store_conformance!(SqlHarness::new(Dialect::Postgres));
}
