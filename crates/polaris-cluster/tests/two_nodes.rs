//! Two nodes in one process, each with its own SQL store (its own pool) on one real database,
//! its own domain services and its own follower: writes on one node reach the other's caches
//! through the change feed, on MariaDB and on PostgreSQL. The databases come from
//! `tests/sql/ensure-databases.sh`; each test creates and drops its own.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use polaris_auth::{Auth, AuthOptions};
use polaris_cluster::{Domains, Follower, FollowerOptions};
use polaris_config::{ConfigCenter, FileSpec, PublishSpec, WatchedFile};
use polaris_governance::Governance;
use polaris_naming::{InstanceSpec, NamespaceSpec, Naming, NamingOptions, ServiceSpec};
use polaris_store::NamingStore;
use polaris_store_sql::{Dialect, SqlOptions, SqlStore, drop_database};
use polaris_types::{Code, ConfigFileKey, FileAttrs, Rule, RuleKind, ServiceContract, ServiceKey};
use tokio::time::Instant;

static NEXT: AtomicU32 = AtomicU32::new(0);

/// How long a change may take to reach the other node before the test fails (polling alone
/// answers within about a second).
const PROPAGATION: Duration = Duration::from_secs(5);

struct Node {
    store: Arc<SqlStore>,
    domains: Domains,
    follower: Option<Follower>,
}

impl Node {
    async fn open(options: &SqlOptions) -> Node {
        let store = Arc::new(SqlStore::open(options).await.unwrap_or_else(|e| {
            panic!(
                "cannot open {} ({e}); start the databases with tests/sql/ensure-databases.sh",
                options.addr
            )
        }));
        let dyn_store: Arc<dyn NamingStore> = store.clone();
        let start = store.change_feed().unwrap().revisions().await.unwrap();
        let domains = Domains {
            naming: Arc::new(
                Naming::open(dyn_store.clone(), NamingOptions::default())
                    .await
                    .unwrap(),
            ),
            governance: Arc::new(Governance::open(dyn_store.clone()).await.unwrap()),
            config: Arc::new(ConfigCenter::open(dyn_store.clone()).await.unwrap()),
            auth: Auth::open(dyn_store.clone(), AuthOptions::default())
                .await
                .unwrap(),
        };
        let follower = Follower::start(
            dyn_store,
            domains.clone(),
            start,
            FollowerOptions::default(),
        )
        .unwrap();
        Node {
            store,
            domains,
            follower: Some(follower),
        }
    }
}

/// Polls `seen` until it holds or [`PROPAGATION`] passes; returns how long it took.
async fn eventually(what: &str, mut seen: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !seen() {
        assert!(
            start.elapsed() < PROPAGATION,
            "{what}: not seen within {PROPAGATION:?}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    start.elapsed()
}

fn scratch(dialect: Dialect) -> SqlOptions {
    let (addr, tag) = match dialect {
        Dialect::MySql => ("127.0.0.1:3306", "my"),
        Dialect::Postgres => ("127.0.0.1:5432", "pg"),
    };
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    let mut options = SqlOptions::new(
        dialect,
        addr,
        format!("polaris_t_feed_{tag}_{}_{n}", std::process::id()),
    );
    options.max_open_conns = 8;
    options.max_idle_conns = 1;
    options
}

fn instance(port: u32) -> InstanceSpec {
    InstanceSpec {
        namespace: "default".into(),
        service: "orders".into(),
        host: "10.0.0.1".into(),
        port: Some(port),
        ..Default::default()
    }
}

async fn writes_on_one_node_reach_the_other(dialect: Dialect) {
    let options = scratch(dialect);
    let a = Node::open(&options).await;
    let b = Node::open(&options).await;
    let key = ServiceKey::new("default", "orders");

    // Naming: a registration (with its auto-created service), then a deregistration.
    let registered = a
        .domains
        .naming
        .register_instance(instance(80))
        .await
        .unwrap();
    eventually("instance on b", || {
        b.domains
            .naming
            .snapshot()
            .instance(&registered.id)
            .is_some()
    })
    .await;
    let seen = b
        .domains
        .naming
        .snapshot()
        .instance(&registered.id)
        .cloned()
        .unwrap();
    assert_eq!(*seen, *registered);
    assert!(b.domains.naming.snapshot().service(&key).is_some());
    // The other direction, and a delete.
    let from_b = b
        .domains
        .naming
        .register_instance(instance(81))
        .await
        .unwrap();
    eventually("b's instance on a", || {
        a.domains.naming.snapshot().instance(&from_b.id).is_some()
    })
    .await;
    a.domains
        .naming
        .deregister_instance(&instance(80))
        .await
        .unwrap();
    eventually("deregistration on b", || {
        b.domains
            .naming
            .snapshot()
            .instance(&registered.id)
            .is_none()
    })
    .await;

    // Governance: a rule created on a is served by b.
    let rule = a
        .domains
        .governance
        .create(Rule::new(
            RuleKind::RateLimit,
            "limit-orders",
            vec![],
            vec![1, 2, 3],
        ))
        .await
        .unwrap();
    eventually("rule on b", || {
        b.domains
            .governance
            .get(RuleKind::RateLimit, &rule.id)
            .is_some()
    })
    .await;

    // Config: a watcher parked on b is woken by a publish on a.
    let file = ConfigFileKey {
        namespace: "default".into(),
        group: "app".into(),
        name: "app.yaml".into(),
    };
    a.domains
        .config
        .create_file(FileSpec {
            key: file.clone(),
            content: "a: 1".into(),
            attrs: FileAttrs {
                format: "yaml".into(),
                ..Default::default()
            },
        })
        .await
        .unwrap();
    let config_b = b.domains.config.clone();
    let watched = vec![WatchedFile {
        key: file.clone(),
        version: 0,
    }];
    let watcher =
        tokio::spawn(async move { config_b.watch(&watched, &[], Duration::from_secs(10)).await });
    // Whether the publish lands before or after the watcher parks, it must answer with it.
    let published = a
        .domains
        .config
        .publish(PublishSpec {
            key: file.clone(),
            ..Default::default()
        })
        .await
        .unwrap();
    let woken = watcher
        .await
        .unwrap()
        .unwrap()
        .expect("the watcher is woken");
    assert_eq!(woken.version, published.version);
    assert_eq!(woken.md5, published.md5);

    // Contracts.
    let contract = ServiceContract {
        namespace: "default".into(),
        service: "orders".into(),
        name: "api".into(),
        version: "v1".into(),
        protocol: "http".into(),
        ..Default::default()
    };
    a.domains
        .naming
        .report_contract(contract.clone())
        .await
        .unwrap();
    eventually("contract on b", || {
        b.domains.naming.contract(&contract.key()).is_some()
    })
    .await;

    for node in [&a, &b] {
        let status = node.follower.as_ref().unwrap().status();
        assert_eq!(status.last_error, None);
        for (domain, state) in &status.domains {
            assert!(state.held <= state.store, "{domain:?}: {state:?}");
        }
    }
    drop((a, b));
    drop_database(&options).await.unwrap();
}

/// A node whose follower was stopped while another deleted an instance and the tombstone was
/// purged reloads fully when it comes back, and drops the ghost.
async fn a_node_behind_the_purge_reloads_and_drops_ghosts(dialect: Dialect) {
    let options = scratch(dialect);
    let a = Node::open(&options).await;
    let mut b = Node::open(&options).await;
    let gone = a
        .domains
        .naming
        .register_instance(instance(90))
        .await
        .unwrap();
    let kept = a
        .domains
        .naming
        .register_instance(instance(91))
        .await
        .unwrap();
    eventually("both instances on b", || {
        let s = b.domains.naming.snapshot();
        s.instance(&gone.id).is_some() && s.instance(&kept.id).is_some()
    })
    .await;
    let before = b.follower.take().unwrap();
    let stalled_at = before.status().domains.clone();
    before.stop();
    drop(before);

    a.domains
        .naming
        .deregister_instance(&instance(90))
        .await
        .unwrap();
    // Purge everything deleted so far.
    a.store
        .purge_tombstones(polaris_naming::now_millis() + 1)
        .await
        .unwrap();
    let revisions = a.store.revisions().await.unwrap();
    let naming = revisions
        .iter()
        .find(|(d, _, _)| *d == polaris_store::feed::FeedDomain::Naming)
        .unwrap();
    assert!(naming.2 > stalled_at[&polaris_store::feed::FeedDomain::Naming].held);
    assert!(
        b.domains.naming.snapshot().instance(&gone.id).is_some(),
        "b is stale"
    );

    let start = stalled_at
        .iter()
        .map(|(domain, s)| polaris_store::feed::DomainRevision {
            domain: *domain,
            revision: s.held,
            purged: s.purged,
        })
        .collect();
    let dyn_store: Arc<dyn NamingStore> = b.store.clone();
    let follower = Follower::start(
        dyn_store,
        b.domains.clone(),
        start,
        FollowerOptions::default(),
    )
    .unwrap();
    eventually("the ghost is dropped", || {
        b.domains.naming.snapshot().instance(&gone.id).is_none()
    })
    .await;
    assert!(b.domains.naming.snapshot().instance(&kept.id).is_some());
    eventually("one full reload", || follower.status().reloads >= 1).await;
    drop(follower);
    drop((a, b));
    drop_database(&options).await.unwrap();
}

/// Two nodes racing to create one service get one winner and the official code for the loser;
/// a namespace cannot be deleted on a node that has not yet seen the service another node just
/// created in it.
async fn the_database_decides_races(dialect: Dialect) {
    let options = scratch(dialect);
    let a = Node::open(&options).await;
    let mut b = Node::open(&options).await;
    for round in 0..5 {
        let spec = ServiceSpec {
            namespace: "default".into(),
            name: format!("raced-{round}"),
            ..Default::default()
        };
        let (left, right) = tokio::join!(
            a.domains.naming.create_service(spec.clone()),
            b.domains.naming.create_service(spec.clone())
        );
        let codes: Vec<_> = [&left, &right]
            .iter()
            .map(|r| r.as_ref().err().map(|e| e.code))
            .collect();
        assert_eq!(
            codes.iter().filter(|c| c.is_none()).count(),
            1,
            "round {round}: {codes:?}"
        );
        assert!(codes.contains(&Some(Code::ExistedResource)), "{codes:?}");
    }

    a.domains
        .naming
        .create_namespace(NamespaceSpec {
            name: "short-lived".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    eventually("namespace on b", || {
        b.domains
            .naming
            .snapshot()
            .namespaces
            .contains_key("short-lived")
    })
    .await;
    b.follower.take().unwrap().stop();
    a.domains
        .naming
        .create_service(ServiceSpec {
            namespace: "short-lived".into(),
            name: "inside".into(),
            ..Default::default()
        })
        .await
        .unwrap();
    let refused = b
        .domains
        .naming
        .delete_namespace("short-lived")
        .await
        .unwrap_err();
    assert_eq!(refused.code, Code::NamespaceExistedServices);
    drop((a, b));
    drop_database(&options).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_races_have_one_winner() {
    the_database_decides_races(Dialect::MySql).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_races_have_one_winner() {
    the_database_decides_races(Dialect::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_writes_on_one_node_reach_the_other() {
    writes_on_one_node_reach_the_other(Dialect::MySql).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_writes_on_one_node_reach_the_other() {
    writes_on_one_node_reach_the_other(Dialect::Postgres).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mariadb_node_behind_the_purge_reloads_and_drops_ghosts() {
    a_node_behind_the_purge_reloads_and_drops_ghosts(Dialect::MySql).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_node_behind_the_purge_reloads_and_drops_ghosts() {
    a_node_behind_the_purge_reloads_and_drops_ghosts(Dialect::Postgres).await;
}
