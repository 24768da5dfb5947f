//! Registry rules against the in-memory store backend (which passes the same conformance suite
//! as the real ones).

use std::collections::BTreeMap;
use std::sync::Arc;

use polaris_store::NamingStore;
use polaris_store::memory::MemoryStore;
use polaris_types::{Code, Instance, ServiceKey};

use crate::*;

async fn stored_instances(store: &MemoryStore) -> BTreeMap<String, Instance> {
    let loaded = store.load_instances(0).await.unwrap();
    loaded
        .into_iter()
        .filter_map(|c| c.upserted())
        .map(|i| (i.id.clone(), i))
        .collect()
}

async fn stored_namespaces(store: &MemoryStore) -> Vec<String> {
    let loaded = store.load_namespaces(0).await.unwrap();
    loaded
        .into_iter()
        .filter_map(|c| c.upserted())
        .map(|n| n.name)
        .collect()
}

async fn naming_with(options: NamingOptions) -> (Arc<MemoryStore>, Naming) {
    let store = Arc::new(MemoryStore::new());
    let naming = Naming::open(store.clone(), options).await.unwrap();
    (store, naming)
}

async fn naming() -> (Arc<MemoryStore>, Naming) {
    naming_with(NamingOptions::default()).await
}

fn instance(ns: &str, svc: &str, host: &str, port: u32) -> InstanceSpec {
    InstanceSpec {
        namespace: ns.into(),
        service: svc.into(),
        host: host.into(),
        port: Some(port),
        ..Default::default()
    }
}

fn code<T: std::fmt::Debug>(result: polaris_types::Result<T>) -> Code {
    result.unwrap_err().code
}

#[tokio::test]
async fn builtin_namespaces_exist_and_names_are_unique() {
    let (store, naming) = naming().await;
    let stored = stored_namespaces(&store).await;
    assert!(stored.contains(&"default".to_string()));
    assert!(stored.contains(&"Polaris".to_string()));
    let spec = NamespaceSpec {
        name: "default".into(),
        ..Default::default()
    };
    assert_eq!(
        code(naming.create_namespace(spec).await),
        Code::ExistedResource
    );
    let bad = NamespaceSpec {
        name: "has space".into(),
        ..Default::default()
    };
    assert_eq!(
        code(naming.create_namespace(bad).await),
        Code::InvalidNamespaceName
    );
}

#[tokio::test]
async fn registration_is_an_upsert_that_keeps_isolation() {
    let (_, naming) = naming().await;
    let mut spec = instance("default", "svc", "10.0.0.1", 80);
    spec.isolate = Some(true);
    let first = naming.register_instance(spec.clone()).await.unwrap();
    assert_eq!(
        first.id,
        polaris_types::instance_id("default", "svc", "", "10.0.0.1", 80)
    );
    assert_eq!((first.weight, first.healthy), (100, true));
    spec.isolate = None;
    spec.weight = Some(7);
    let second = naming.register_instance(spec).await.unwrap();
    assert!(second.isolate, "isolation kept when omitted");
    assert_eq!(second.weight, 7);
    assert_eq!(second.ctime, first.ctime);
    assert_ne!(second.revision, first.revision);
    assert_eq!(naming.count_instances(), 1);
}

#[tokio::test]
async fn auto_creation_follows_the_switches() {
    let (_, naming) = naming().await;
    naming
        .register_instance(instance("newns", "svc", "h", 1))
        .await
        .unwrap();
    assert!(naming.snapshot().namespaces.contains_key("newns"));

    let off = NamingOptions {
        auto_create_service: false,
        auto_create_namespace: false,
    };
    let (_, strict) = naming_with(off).await;
    assert_eq!(
        code(
            strict
                .register_instance(instance("default", "svc", "h", 1))
                .await
        ),
        Code::NotFoundService
    );
    let spec = ServiceSpec {
        namespace: "nons".into(),
        name: "svc".into(),
        ..Default::default()
    };
    assert_eq!(
        code(strict.create_service(spec).await),
        Code::NotFoundNamespace
    );
}

#[tokio::test]
async fn non_empty_containers_are_not_deleted() {
    let (_, naming) = naming().await;
    naming
        .register_instance(instance("default", "svc", "h", 1))
        .await
        .unwrap();
    assert_eq!(
        code(naming.delete_namespace("default").await),
        Code::NamespaceExistedServices
    );
    let key = ServiceKey::new("default", "svc");
    assert_eq!(
        code(naming.delete_service(&key).await),
        Code::ServiceExistedInstances
    );
    naming
        .deregister_instance(&instance("default", "svc", "h", 1))
        .await
        .unwrap();
    let alias = AliasSpec {
        service: "svc".into(),
        namespace: "default".into(),
        alias: "svc-alias".into(),
        alias_namespace: "default".into(),
        ..Default::default()
    };
    naming.create_alias(alias).await.unwrap();
    assert_eq!(
        code(naming.delete_service(&key).await),
        Code::ServiceExistedAlias
    );
    naming
        .delete_alias(&ServiceKey::new("default", "svc-alias"))
        .await
        .unwrap();
    naming.delete_service(&key).await.unwrap();
    // Deleting what is gone succeeds, as officially.
    naming.delete_service(&key).await.unwrap();
    naming
        .deregister_instance(&instance("default", "svc", "h", 1))
        .await
        .unwrap();
}

#[tokio::test]
async fn failed_writes_are_not_visible() {
    let (store, naming) = naming().await;
    naming
        .register_instance(instance("default", "svc", "h", 1))
        .await
        .unwrap();
    let before = naming.snapshot();
    store.fail_writes(true);
    let err = naming
        .register_instance(instance("default", "svc", "h", 2))
        .await
        .unwrap_err();
    assert_eq!(err.code, Code::StoreLayerException);
    assert_eq!(
        code(
            naming
                .deregister_instance(&instance("default", "svc", "h", 1))
                .await
        ),
        Code::StoreLayerException
    );
    let spec = NamespaceSpec {
        name: "x".into(),
        ..Default::default()
    };
    assert_eq!(
        code(naming.create_namespace(spec).await),
        Code::StoreLayerException
    );
    let after = naming.snapshot();
    assert_eq!(after.instance_owner.len(), before.instance_owner.len());
    assert!(
        after
            .instance(&polaris_types::instance_id("default", "svc", "", "h", 1))
            .is_some()
    );
    assert!(!after.namespaces.contains_key("x"));
}

#[tokio::test]
async fn a_reopened_registry_sees_what_was_stored() {
    let (store, naming) = naming().await;
    naming
        .register_instance(instance("ns", "svc", "h", 1))
        .await
        .unwrap();
    let reopened = Naming::open(
        Arc::new(MemoryStore::open(store.data())),
        NamingOptions::default(),
    )
    .await
    .unwrap();
    let found = reopened
        .discover_instances(&ServiceKey::new("ns", "svc"), "")
        .unwrap();
    assert_eq!(found.view.instances.len(), 1);
}

#[tokio::test]
async fn discovery_reports_unchanged_revisions() {
    let (_, naming) = naming().await;
    naming
        .register_instance(instance("default", "svc", "h", 1))
        .await
        .unwrap();
    let key = ServiceKey::new("default", "svc");
    let first = naming.discover_instances(&key, "").unwrap();
    assert!(!first.unchanged);
    let again = naming
        .discover_instances(&key, &first.view.revision)
        .unwrap();
    assert!(again.unchanged);
    naming
        .register_instance(instance("default", "svc", "h", 2))
        .await
        .unwrap();
    assert!(
        !naming
            .discover_instances(&key, &first.view.revision)
            .unwrap()
            .unchanged
    );
    assert_eq!(
        code(naming.discover_instances(&ServiceKey::new("default", "nope"), "")),
        Code::NotFoundResource
    );

    let services = naming.discover_services("default", "");
    assert_eq!(services.services.len(), 1);
    assert!(
        naming
            .discover_services("default", &services.revision)
            .unchanged
    );
    assert!(naming.discover_services("empty", "").revision.is_empty());
}

#[tokio::test]
async fn heartbeats_for_unknown_instances_are_tolerated_three_times() {
    let (_, naming) = naming().await;
    let ghost = instance("default", "svc", "h", 9);
    for _ in 0..3 {
        naming.heartbeat_target(&ghost).unwrap();
    }
    assert_eq!(
        code(naming.heartbeat_target(&ghost)),
        Code::NotFoundResource
    );
    naming.register_instance(ghost.clone()).await.unwrap();
    assert_eq!(
        code(naming.heartbeat_target(&ghost)),
        Code::HeartbeatOnDisabledIns
    );
}

#[tokio::test]
async fn host_operations() {
    let (_, naming) = naming().await;
    for port in [1, 2] {
        naming
            .register_instance(instance("default", "svc", "h1", port))
            .await
            .unwrap();
    }
    naming
        .register_instance(instance("default", "svc", "h2", 1))
        .await
        .unwrap();
    let key = ServiceKey::new("default", "svc");
    assert_eq!(
        naming.isolate_host(&key, "h1", Some(true)).await.unwrap(),
        2
    );
    assert_eq!(
        code(naming.isolate_host(&key, "h1", Some(true)).await),
        Code::NoNeedUpdate
    );
    assert_eq!(
        code(naming.isolate_host(&key, "h9", Some(true)).await),
        Code::NotFoundInstance
    );
    assert_eq!(
        code(naming.isolate_host(&key, "h1", None).await),
        Code::InvalidInstanceIsolate
    );
    assert_eq!(
        naming.delete_instances_by_host(&key, "h1").await.unwrap(),
        2
    );
    assert_eq!(naming.count_instances(), 1);
    let missing = ServiceKey::new("default", "nope");
    assert_eq!(
        code(naming.delete_instances_by_host(&missing, "h1").await),
        Code::NotFoundService
    );
}

#[tokio::test]
async fn instance_update_merges_and_detects_no_change() {
    let (_, naming) = naming().await;
    let created = naming
        .register_instance(instance("default", "svc", "h", 1))
        .await
        .unwrap();
    let mut update = InstanceSpec {
        id: Some(created.id.clone()),
        weight: Some(5),
        ..Default::default()
    };
    let updated = naming.update_instance(update.clone()).await.unwrap();
    assert_eq!((updated.weight, updated.host.as_str()), (5, "h"));
    assert_eq!(
        code(naming.update_instance(update.clone()).await),
        Code::NoNeedUpdate
    );
    update.id = Some("missing".into());
    assert_eq!(
        code(naming.update_instance(update).await),
        Code::NotFoundInstance
    );
    let enable = InstanceSpec {
        id: Some(created.id.clone()),
        health_check: Some(HealthCheckSpec { ttl: Some(100) }),
        ..Default::default()
    };
    let checked = naming.update_instance(enable).await.unwrap();
    assert_eq!(
        checked.health_check.map(|h| h.ttl_secs),
        Some(5),
        "TTL outside (0, 60] becomes 5"
    );
    assert!(
        !checked.healthy,
        "newly checked instances wait for a heartbeat"
    );
}

#[tokio::test]
async fn concurrent_registrations_all_land() {
    let (store, naming) = naming().await;
    let naming = Arc::new(naming);
    let tasks: Vec<_> = (0..200)
        .map(|port| {
            let naming = naming.clone();
            tokio::spawn(async move {
                naming
                    .register_instance(instance("default", "svc", "h", port))
                    .await
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap().unwrap();
    }
    assert_eq!(naming.count_instances(), 200);
    assert_eq!(stored_instances(&store).await.len(), 200);
}

#[tokio::test]
async fn validation_codes() {
    let (_, naming) = naming().await;
    let mut spec = instance("default", "svc", "", 1);
    assert_eq!(
        code(naming.register_instance(spec.clone()).await),
        Code::InvalidInstanceHost
    );
    spec.host = "h".into();
    spec.port = Some(70000);
    assert_eq!(
        code(naming.register_instance(spec.clone()).await),
        Code::InvalidInstancePort
    );
    spec.port = Some(1);
    spec.metadata = Some((0..65).map(|i| (format!("k{i}"), "v".into())).collect());
    assert_eq!(
        code(naming.register_instance(spec.clone()).await),
        Code::InvalidMetadata
    );
    spec.metadata = None;
    spec.service = "bad name".into();
    assert_eq!(
        code(naming.register_instance(spec.clone()).await),
        Code::InvalidServiceName
    );
    spec.service = "a".repeat(129);
    assert_eq!(
        code(naming.register_instance(spec).await),
        Code::InvalidServiceName
    );
    assert_eq!(naming.count_instances(), 0);
}

#[tokio::test]
async fn health_verdicts_flip_only_checked_instances() {
    let (store, naming) = naming().await;
    let mut checked = instance("default", "svc", "h", 1);
    checked.health_check = Some(HealthCheckSpec { ttl: Some(2) });
    let checked = naming.register_instance(checked).await.unwrap();
    let plain = naming
        .register_instance(instance("default", "svc", "h", 2))
        .await
        .unwrap();
    let verdicts = [
        (checked.id.clone(), false),
        (plain.id.clone(), false),
        ("ghost".to_string(), false),
    ];
    let changed = naming.set_health(&verdicts).await.unwrap();
    assert_eq!(changed.len(), 1);
    assert!(
        !stored_instances(&store).await[&checked.id].healthy,
        "the flip is durable"
    );
    let flipped = naming.snapshot().instance(&checked.id).unwrap().clone();
    assert!(!flipped.healthy);
    assert!(
        flipped
            .metadata
            .contains_key(crate::instances::LAST_HEARTBEAT_KEY)
    );
    assert!(
        naming.set_health(&verdicts).await.unwrap().is_empty(),
        "already unhealthy"
    );
}
