//! The conformance suite every [`NamingStore`](crate::NamingStore) backend runs.
//!
//! A backend implements [`StoreHarness`] for a fixture that owns one store location (a temporary
//! directory, a scratch database) and invokes [`naming_store_conformance!`](crate::naming_store_conformance)
//! with an expression building a fresh fixture. Every check below is a plain `pub async fn` so a
//! backend can also call one directly while debugging. The calling crate needs `tokio` (features
//! `macros` and `rt-multi-thread`) among its dev-dependencies.

mod auth;

use std::sync::Arc;

use async_trait::async_trait;
use polaris_types::{
    ConfigFile, ConfigFileKey, ConfigGroup, ConfigRelease, ConfigTemplate, ContractInterface,
    FileAttrs, GrayLabel, GroupAttrs, HealthCheck, Instance, Location, Millis, Namespace,
    ReleaseHistory, ReleaseKind, Revision, Rule, RuleKind, RuleTarget, Service, ServiceContract,
    ServiceKey, TargetRole,
};

use crate::{Change, Mutation, NamingStore, StoreError};

pub use auth::auth_records_round_trip;

/// Opens the store under test.
#[async_trait]
pub trait StoreHarness: Send + Sync {
    /// Opens the store at the fixture's location. Every call opens the SAME location, so data
    /// written through an earlier (closed) handle must be visible. Panics on failure.
    async fn open(&self) -> Arc<dyn NamingStore>;
}

/// Expands to one `#[tokio::test]` per conformance check, in a module `naming_store_conformance`.
/// `$harness` is evaluated once per test and must yield a [`StoreHarness`]. A check that hangs
/// (for instance a `close` that never returns) fails after two minutes.
#[macro_export]
macro_rules! naming_store_conformance {
    (@tests $harness:expr; $($name:ident),* $(,)?) => {
        mod naming_store_conformance {
            #[allow(unused_imports)]
            use super::*;
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let harness = $harness;
                    let check = $crate::conformance::$name(&harness);
                    let limit = ::std::time::Duration::from_secs(120);
                    if tokio::time::timeout(limit, check).await.is_err() {
                        panic!("conformance check {} hung", stringify!($name));
                    }
                }
            )*
        }
    };
    ($harness:expr) => {
        $crate::naming_store_conformance!(@tests $harness;
            round_trip_every_field, load_since_is_incremental, delete_leaves_tombstone,
            re_put_clears_tombstone, batch_is_applied_in_order, concurrent_applies_all_visible,
            data_survives_reopen, apply_after_close_is_refused, purge_removes_old_tombstones_only,
            rules_round_trip_with_tombstones, config_records_round_trip,
            service_contracts_replace_by_key, auth_records_round_trip);
    };
}

fn namespace(name: &str, mtime: Millis) -> Namespace {
    Namespace {
        name: name.to_string(),
        comment: format!("comment of {name}"),
        owners: "alice,bob".to_string(),
        token: format!("token-{name}"),
        service_export_to: vec!["ns-a".to_string(), "ns-b".to_string()],
        ctime: mtime - 7,
        mtime,
    }
}

fn service(namespace: &str, name: &str, mtime: Millis) -> Service {
    Service {
        id: format!("id-{namespace}-{name}"),
        namespace: namespace.to_string(),
        name: name.to_string(),
        metadata: [
            ("env".to_string(), "prod".to_string()),
            ("k".to_string(), String::new()),
        ]
        .into_iter()
        .collect(),
        ports: "8080,9090".to_string(),
        business: "biz".to_string(),
        department: "dept".to_string(),
        cmdb_mod1: "m1".to_string(),
        cmdb_mod2: "m2".to_string(),
        cmdb_mod3: "m3".to_string(),
        comment: "a comment".to_string(),
        owners: "carol".to_string(),
        token: "svc-token".to_string(),
        platform_id: "platform".to_string(),
        export_to: vec!["other-ns".to_string()],
        reference: None,
        ctime: mtime - 11,
        mtime,
    }
}

fn alias(namespace: &str, name: &str, target: ServiceKey, mtime: Millis) -> Service {
    Service {
        reference: Some(target),
        export_to: Vec::new(),
        ..service(namespace, name, mtime)
    }
}

fn instance(id: &str, mtime: Millis) -> Instance {
    Instance {
        id: id.to_string(),
        namespace: "ns".into(),
        service: "svc".into(),
        vpc_id: "vpc-1".into(),
        host: "10.0.0.1".to_string(),
        port: 8080,
        protocol: "grpc".into(),
        version: "1.2.3".into(),
        priority: 3,
        weight: 77,
        health_check: Some(HealthCheck { ttl_secs: 5 }),
        healthy: true,
        isolate: true,
        location: Location {
            region: "south".into(),
            zone: "sz".into(),
            campus: "c1".into(),
        },
        metadata: [("version".to_string(), "v1".to_string())]
            .into_iter()
            .collect(),
        logic_set: "set-a".into(),
        revision: Revision::parse(&format!("rev-{id}")),
        ctime: mtime - 13,
        mtime,
    }
}

/// Every change of the three kinds, sorted so that comparisons do not depend on scan order.
#[derive(Debug, Default, PartialEq, Eq)]
struct Snapshot {
    namespaces: Vec<Change<Namespace, String>>,
    services: Vec<Change<Service, ServiceKey>>,
    instances: Vec<Change<Instance, String>>,
}

impl Snapshot {
    fn sorted(mut self) -> Self {
        self.namespaces.sort_by_key(|c| format!("{c:?}"));
        self.services.sort_by_key(|c| format!("{c:?}"));
        self.instances.sort_by_key(|c| format!("{c:?}"));
        self
    }

    fn and(mut self, other: Snapshot) -> Self {
        self.extend(other);
        self.sorted()
    }

    fn extend(&mut self, other: Snapshot) {
        self.namespaces.extend(other.namespaces);
        self.services.extend(other.services);
        self.instances.extend(other.instances);
    }
}

async fn snapshot(store: &dyn NamingStore, since: Millis) -> Snapshot {
    Snapshot {
        namespaces: store.load_namespaces(since).await.expect("load_namespaces"),
        services: store.load_services(since).await.expect("load_services"),
        instances: store.load_instances(since).await.expect("load_instances"),
    }
    .sorted()
}

async fn apply(store: &dyn NamingStore, batch: Vec<Mutation>) {
    store.apply(batch).await.expect("apply");
}

/// Record set `n`: namespace `ns{n}`, service `ns/svc{n}` and instance `i-{n}`.
fn keys(n: usize) -> (String, ServiceKey, String) {
    (
        format!("ns{n}"),
        ServiceKey::new("ns", format!("svc{n}")),
        format!("i-{n}"),
    )
}

fn put_set(n: usize, mtime: Millis) -> Vec<Mutation> {
    let (ns, svc, id) = keys(n);
    vec![
        Mutation::PutNamespace(namespace(&ns, mtime)),
        Mutation::PutService(service(&svc.namespace, &svc.name, mtime)),
        Mutation::PutInstance(instance(&id, mtime)),
    ]
}

fn delete_set(n: usize, mtime: Millis) -> Vec<Mutation> {
    let (name, key, id) = keys(n);
    vec![
        Mutation::DeleteNamespace { name, mtime },
        Mutation::DeleteService { key, mtime },
        Mutation::DeleteInstance { id, mtime },
    ]
}

fn upserts(n: usize, mtime: Millis) -> Snapshot {
    let (ns, svc, id) = keys(n);
    Snapshot {
        namespaces: vec![Change::Upsert(namespace(&ns, mtime))],
        services: vec![Change::Upsert(service(&svc.namespace, &svc.name, mtime))],
        instances: vec![Change::Upsert(instance(&id, mtime))],
    }
}

fn tombstones(n: usize, mtime: Millis) -> Snapshot {
    let (ns, svc, id) = keys(n);
    Snapshot {
        namespaces: vec![Change::Deleted { key: ns, mtime }],
        services: vec![Change::Deleted { key: svc, mtime }],
        instances: vec![Change::Deleted { key: id, mtime }],
    }
}

/// Every field of every record kind comes back exactly as written, aliases and defaults included.
pub async fn round_trip_every_field(harness: &impl StoreHarness) {
    let store = harness.open().await;
    let ns = namespace("ns", 1_000);
    let bare_ns = Namespace {
        name: "bare".to_string(),
        ..Namespace::default()
    };
    let svc = service("ns", "svc", 1_001);
    let ali = alias("ns", "alias", svc.key(), 1_002);
    let ins = instance("i-1", 1_003);
    let plain = Instance {
        health_check: None,
        healthy: false,
        isolate: false,
        ..instance("i-2", 5)
    };
    let batch = vec![
        Mutation::PutNamespace(ns.clone()),
        Mutation::PutNamespace(bare_ns.clone()),
        Mutation::PutService(svc.clone()),
        Mutation::PutService(ali.clone()),
        Mutation::PutInstance(ins.clone()),
        Mutation::PutInstance(plain.clone()),
    ];
    apply(&*store, batch).await;
    let expected = Snapshot {
        namespaces: vec![Change::Upsert(ns), Change::Upsert(bare_ns)],
        services: vec![Change::Upsert(svc), Change::Upsert(ali)],
        instances: vec![Change::Upsert(ins), Change::Upsert(plain)],
    };
    assert_eq!(snapshot(&*store, 0).await, expected.sorted());
    store.close().await.expect("close");
}

/// `load_*(since)` returns exactly the records with `mtime >= since`.
pub async fn load_since_is_incremental(harness: &impl StoreHarness) {
    let store = harness.open().await;
    let batch = [put_set(0, 100), put_set(1, 200), put_set(2, 300)].concat();
    apply(&*store, batch).await;
    assert_eq!(
        snapshot(&*store, 200).await,
        upserts(1, 200).and(upserts(2, 300))
    );
    assert_eq!(snapshot(&*store, 0).await.instances.len(), 3);
    assert_eq!(snapshot(&*store, 301).await, Snapshot::default());
    store.close().await.expect("close");
}

/// A delete removes the record and leaves a tombstone carrying the delete's mtime.
pub async fn delete_leaves_tombstone(harness: &impl StoreHarness) {
    let store = harness.open().await;
    apply(&*store, put_set(1, 100)).await;
    apply(&*store, delete_set(1, 200)).await;
    assert_eq!(snapshot(&*store, 0).await, tombstones(1, 200));
    assert_eq!(snapshot(&*store, 200).await, tombstones(1, 200));
    assert_eq!(snapshot(&*store, 201).await, Snapshot::default());
    store.close().await.expect("close");
}

/// Putting a deleted record again removes its tombstone.
pub async fn re_put_clears_tombstone(harness: &impl StoreHarness) {
    let store = harness.open().await;
    apply(&*store, put_set(1, 100)).await;
    apply(&*store, delete_set(1, 200)).await;
    apply(&*store, put_set(1, 300)).await;
    assert_eq!(snapshot(&*store, 0).await, upserts(1, 300));
    store.close().await.expect("close");
}

/// Mutations of one batch apply in order: put then delete leaves a tombstone, delete then put a
/// record.
pub async fn batch_is_applied_in_order(harness: &impl StoreHarness) {
    let store = harness.open().await;
    apply(&*store, [put_set(1, 100), delete_set(1, 150)].concat()).await;
    assert_eq!(snapshot(&*store, 0).await, tombstones(1, 150));
    apply(&*store, [delete_set(1, 200), put_set(1, 250)].concat()).await;
    assert_eq!(snapshot(&*store, 0).await, upserts(1, 250));
    store.close().await.expect("close");
}

/// Many concurrent `apply` calls all succeed and all their records are visible afterwards.
pub async fn concurrent_applies_all_visible(harness: &impl StoreHarness) {
    const TASKS: usize = 200;
    let store = harness.open().await;
    let tasks: Vec<_> = (0..TASKS)
        .map(|i| {
            let store = Arc::clone(&store);
            tokio::spawn(async move { store.apply(put_set(i, 1_000 + i as Millis)).await })
        })
        .collect();
    for task in tasks {
        task.await.expect("task panicked").expect("apply");
    }
    let mut expected = Snapshot::default();
    for i in 0..TASKS {
        expected.extend(upserts(i, 1_000 + i as Millis));
    }
    assert_eq!(snapshot(&*store, 0).await, expected.sorted());
    store.close().await.expect("close");
}

/// What was acknowledged survives closing the store and opening the same location again.
pub async fn data_survives_reopen(harness: &impl StoreHarness) {
    let store = harness.open().await;
    apply(&*store, [put_set(1, 100), put_set(2, 110)].concat()).await;
    apply(&*store, delete_set(2, 120)).await;
    store.close().await.expect("close");
    drop(store);
    let store = harness.open().await;
    assert_eq!(
        snapshot(&*store, 0).await,
        upserts(1, 100).and(tombstones(2, 120))
    );
    store.close().await.expect("close");
}

/// After `close`, `apply` fails with [`StoreError::Closed`].
pub async fn apply_after_close_is_refused(harness: &impl StoreHarness) {
    let store = harness.open().await;
    apply(&*store, put_set(1, 100)).await;
    store.close().await.expect("close");
    match store.apply(put_set(1, 200)).await {
        Err(StoreError::Closed) => {}
        other => panic!("apply after close returned {other:?}, expected Err(Closed)"),
    }
}

/// `purge_tombstones(before)` forgets tombstones with `mtime < before` and keeps the rest.
pub async fn purge_removes_old_tombstones_only(harness: &impl StoreHarness) {
    let store = harness.open().await;
    apply(
        &*store,
        [put_set(1, 100), put_set(2, 100), put_set(3, 50)].concat(),
    )
    .await;
    apply(&*store, delete_set(1, 200)).await;
    apply(&*store, delete_set(2, 300)).await;
    store.purge_tombstones(300).await.expect("purge_tombstones");
    assert_eq!(
        snapshot(&*store, 0).await,
        tombstones(2, 300).and(upserts(3, 50))
    );
    store.close().await.expect("close");
}

fn rule(kind: RuleKind, id: &str, mtime: Millis) -> Rule {
    Rule {
        kind,
        id: id.to_string(),
        name: format!("name of {id}"),
        namespace: "ns".to_string(),
        enable: true,
        priority: 7,
        description: "a rule".to_string(),
        targets: vec![
            RuleTarget {
                namespace: "ns".into(),
                service: "*".into(),
                role: TargetRole::Caller,
            },
            RuleTarget {
                namespace: "*".into(),
                service: "svc".into(),
                role: TargetRole::Callee,
            },
        ],
        // Arbitrary bytes, including NUL and invalid UTF-8: bodies are opaque.
        body: vec![0, 159, 146, 150, 10, 255].into(),
        revision: format!("rev-{id}"),
        ctime: mtime - 1,
        mtime,
    }
}

/// Rules keep every field, are keyed by (kind, id), load incrementally, leave tombstones when
/// deleted, and survive a reopen.
pub async fn rules_round_trip_with_tombstones(harness: &impl StoreHarness) {
    let store = harness.open().await;
    let routing = rule(RuleKind::Routing, "r1", 100);
    let same_id_other_kind = rule(RuleKind::RateLimit, "r1", 200);
    let doomed = rule(RuleKind::CircuitBreaker, "c1", 150);
    let batch = vec![
        Mutation::PutRule(routing.clone()),
        Mutation::PutRule(same_id_other_kind.clone()),
        Mutation::PutRule(doomed.clone()),
    ];
    apply(&*store, batch).await;
    let delete = Mutation::DeleteRule {
        kind: RuleKind::CircuitBreaker,
        id: "c1".into(),
        mtime: 300,
    };
    apply(&*store, vec![delete]).await;
    store.close().await.expect("close");
    let store = harness.open().await;
    let mut all = store.load_rules(0).await.expect("load rules");
    all.sort_by_key(|c| match c {
        Change::Upsert(r) => (r.kind, r.id.clone(), 0),
        Change::Deleted { key, .. } => (key.0, key.1.clone(), 1),
    });
    assert_eq!(
        all,
        vec![
            Change::Upsert(routing),
            Change::Upsert(same_id_other_kind.clone()),
            Change::Deleted {
                key: (RuleKind::CircuitBreaker, "c1".into()),
                mtime: 300
            },
        ]
    );
    let mut recent = store.load_rules(200).await.expect("load rules");
    recent.sort_by_key(|c| matches!(c, Change::Deleted { .. }));
    assert_eq!(
        recent,
        vec![
            Change::Upsert(same_id_other_kind),
            Change::Deleted {
                key: (RuleKind::CircuitBreaker, "c1".into()),
                mtime: 300
            },
        ]
    );
    store.close().await.expect("close");
}

/// A config group's attributes with every field set (for this suite and for a backend's tests
/// of its stored format).
pub fn group_attrs() -> GroupAttrs {
    GroupAttrs {
        comment: "c".into(),
        owners: "o".into(),
        business: "b".into(),
        department: "d".into(),
        metadata: [("k".to_string(), "v".to_string())].into_iter().collect(),
    }
}

/// Config groups, files, releases and history keep every field, files and releases leave
/// tombstones, history is kept in id order, and all of it survives a reopen.
pub async fn config_records_round_trip(harness: &impl StoreHarness) {
    let store = harness.open().await;
    let key = ConfigFileKey::new("ns", "group", "dir/app.yaml");
    let group = ConfigGroup {
        id: 7,
        namespace: "ns".into(),
        name: "group".into(),
        attrs: group_attrs(),
        ctime: 10,
        mtime: 11,
    };
    let file = ConfigFile {
        id: 8,
        key: key.clone(),
        content: "a: 1\nzh: 中文".into(),
        attrs: FileAttrs {
            format: "yaml".into(),
            comment: "c".into(),
            tags: vec![("t".into(), "1".into()), ("t".into(), "2".into())],
            encrypted: true,
            encrypt_algo: "AES".into(),
            data_key: "k3y".into(),
        },
        ctime: 12,
        mtime: 13,
    };
    let release = ConfigRelease {
        id: 9,
        key: key.clone(),
        name: "app-1".into(),
        content: "a: 1".into(),
        md5: "0123".into(),
        version: 3,
        active: true,
        kind: ReleaseKind::Gray,
        gray_labels: vec![GrayLabel {
            key: "CLIENT_IP".into(),
            match_type: "IN".into(),
            value: "1.1.1.1".into(),
        }],
        attrs: FileAttrs {
            format: "yaml".into(),
            comment: "r".into(),
            tags: vec![("t".into(), "1".into())],
            encrypted: true,
            encrypt_algo: "AES".into(),
            data_key: "k3y".into(),
        },
        ctime: 14,
        mtime: 15,
    };
    let history = |id: u64| ReleaseHistory {
        id,
        key: key.clone(),
        release_name: "app-1".into(),
        kind: "normal".into(),
        status: "success".into(),
        content: "a: 1".into(),
        md5: "0123".into(),
        version: id,
        format: "yaml".into(),
        comment: String::new(),
        tags: vec![],
        ctime: 100 + id as Millis,
    };
    let batch = vec![
        Mutation::PutConfigGroup(group.clone()),
        Mutation::PutConfigFile(file.clone()),
        Mutation::PutConfigRelease(release.clone()),
        Mutation::AppendReleaseHistory(history(2)),
        Mutation::AppendReleaseHistory(history(1)),
    ];
    apply(&*store, batch).await;
    let template = ConfigTemplate {
        id: 11,
        name: "spring".into(),
        content: "server.port: 8080".into(),
        format: "properties".into(),
        comment: "t".into(),
        ctime: 16,
        mtime: 17,
    };
    apply(&*store, vec![Mutation::PutConfigTemplate(template.clone())]).await;
    let doomed = ConfigFile {
        key: ConfigFileKey::new("ns", "group", "gone"),
        ..file.clone()
    };
    apply(&*store, vec![Mutation::PutConfigFile(doomed.clone())]).await;
    apply(
        &*store,
        vec![Mutation::DeleteConfigFile {
            key: doomed.key.clone(),
            mtime: 50,
        }],
    )
    .await;
    store.close().await.expect("close");
    let store = harness.open().await;
    assert_eq!(
        store.load_config_groups(0).await.expect("groups"),
        vec![Change::Upsert(group)]
    );
    let mut files = store.load_config_files(0).await.expect("files");
    files.sort_by_key(|c| matches!(c, Change::Deleted { .. }));
    assert_eq!(
        files,
        vec![
            Change::Upsert(file),
            Change::Deleted {
                key: doomed.key,
                mtime: 50
            }
        ]
    );
    assert_eq!(
        store.load_config_releases(0).await.expect("releases"),
        vec![Change::Upsert(release)]
    );
    assert_eq!(
        store.load_release_history(0).await.expect("history"),
        vec![history(1), history(2)]
    );
    assert_eq!(
        store.load_release_history(102).await.expect("history"),
        vec![history(2)]
    );
    assert_eq!(
        store.load_config_templates().await.expect("templates"),
        vec![template]
    );
    store.close().await.expect("close");
}

fn contract(name: &str, kind: &str, version: &str, revision: &str) -> ServiceContract {
    ServiceContract {
        namespace: "default".to_string(),
        service: "orders".to_string(),
        name: name.to_string(),
        kind: kind.to_string(),
        version: version.to_string(),
        protocol: "http".to_string(),
        content: format!("content {revision}"),
        interfaces: vec![ContractInterface {
            name: "get".to_string(),
            method: "GET".to_string(),
            path: "/orders/{id}".to_string(),
            content: "{}".to_string(),
            kind: "rest".to_string(),
        }],
        revision: revision.to_string(),
        mtime: 100,
    }
}

/// A contract put under an existing key replaces it (an empty name keys by kind), other keys
/// stay, and all of it survives reopening.
pub async fn service_contracts_replace_by_key(harness: &impl StoreHarness) {
    let store = harness.open().await;
    let first = contract("api", "", "1.0", "r1");
    let replaced = contract("api", "", "1.0", "r2");
    let other_version = contract("api", "", "2.0", "r3");
    let by_kind = contract("", "rest", "1.0", "r4");
    let batch = [&first, &other_version, &by_kind, &replaced]
        .map(|c| Mutation::PutServiceContract(c.clone()))
        .to_vec();
    apply(&*store, batch).await;
    store.close().await.expect("close");
    drop(store);
    let store = harness.open().await;
    let mut loaded = store.load_service_contracts().await.expect("contracts");
    loaded.sort_by_key(|c| c.revision.clone());
    assert_eq!(loaded, vec![replaced, other_version, by_kind]);
    store.close().await.expect("close");
}
