//! A scratch database per test on the real engines (see `conformance.rs`).

// Each test binary uses a different part of this module.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};

use async_trait::async_trait;
use polaris_store::NamingStore;
use polaris_store::conformance::StoreHarness;
use polaris_store_sql::{Dialect, SqlOptions, SqlStore, drop_database};

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A scratch database on one engine, dropped when the harness is.
pub struct SqlHarness {
    pub options: SqlOptions,
}

impl SqlHarness {
    pub fn new(dialect: Dialect) -> Self {
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

    /// A plain connection pool on the scratch database, for inspecting rows directly.
    pub async fn inspect(&self) -> sqlx::AnyPool {
        sqlx::any::install_default_drivers();
        let o = &self.options;
        let url = match o.dialect {
            Dialect::MySql => format!("mysql://root@{}/{}", o.addr, o.database),
            Dialect::Postgres => format!("postgres://postgres@{}/{}", o.addr, o.database),
        };
        sqlx::AnyPool::connect(&url).await.expect("inspection pool")
    }
    /// Opens the store, panicking with a hint when the database is unreachable.
    pub async fn open_sql(&self) -> SqlStore {
        match SqlStore::open(&self.options).await {
            Ok(store) => store,
            Err(error) => panic!(
                "cannot open the SQL store on {} ({error}); start the databases with \
                 tests/sql/ensure-databases.sh",
                self.options.addr
            ),
        }
    }
}

#[async_trait]
impl StoreHarness for SqlHarness {
    async fn open(&self) -> Arc<dyn NamingStore> {
        Arc::new(self.open_sql().await)
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

/// Defines `mariadb::<check>` and `postgres::<check>` tests that run `<check>(dialect)`; the
/// test file must import `Dialect`.
#[allow(unused_macros)] // not every test file runs on both engines
macro_rules! on_both_engines {
    ($($check:ident),*) => {
        mod mariadb {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    super::$check(super::Dialect::MySql).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $check() {
                    super::$check(super::Dialect::Postgres).await;
                }
            )*
        }
    };
}
