//! The SQL store runs the same conformance suite as every other backend, against the real
//! MariaDB (127.0.0.1:3306, root without password) and PostgreSQL (127.0.0.1:5432, postgres with
//! trust auth) that `tests/sql/ensure-databases.sh` starts. Each test gets a fresh database with
//! a unique name, created by the store itself at open and dropped afterwards. An unreachable
//! database fails the tests: they never skip.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use async_trait::async_trait;
use polaris_store::NamingStore;
use polaris_store::conformance::StoreHarness;
use polaris_store_sql::{Dialect, SqlOptions, SqlStore, drop_database};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A scratch database on one engine, dropped when the harness is.
struct SqlHarness {
    options: SqlOptions,
}

impl SqlHarness {
    fn new(dialect: Dialect) -> Self {
        let (addr, tag) = match dialect {
            Dialect::MySql => ("127.0.0.1:3306", "my"),
            Dialect::Postgres => ("127.0.0.1:5432", "pg"),
        };
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let database = format!("polaris_t_{tag}_{}_{n}", std::process::id());
        let mut options = SqlOptions::new(dialect, addr, database);
        options.max_open_conns = 8;
        options.max_idle_conns = 1;
        SqlHarness { options }
    }
}

#[async_trait]
impl StoreHarness for SqlHarness {
    async fn open(&self) -> Arc<dyn NamingStore> {
        match SqlStore::open(&self.options).await {
            Ok(store) => Arc::new(store),
            Err(error) => panic!(
                "cannot open the SQL store on {} ({error}); start the databases with \
                 tests/sql/ensure-databases.sh",
                self.options.addr
            ),
        }
    }
}

impl Drop for SqlHarness {
    fn drop(&mut self) {
        let options = self.options.clone();
        // Drop runs inside the test's runtime; drop the database from a runtime of its own.
        let dropped = std::thread::spawn(move || {
            tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime")
                .block_on(drop_database(&options))
        })
        .join()
        .expect("drop thread");
        if let Err(error) = dropped {
            eprintln!("could not drop {}: {error}", self.options.database);
        }
    }
}

mod mariadb {
    use super::*;
    polaris_store::naming_store_conformance!(SqlHarness::new(Dialect::MySql));
}

mod postgres {
    use super::*;
    polaris_store::naming_store_conformance!(SqlHarness::new(Dialect::Postgres));
}
