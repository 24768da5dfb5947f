//! The builder against a real registry on the in-memory store: a registration changes only the
//! endpoints' generation and fingerprint; the cluster keeps its fingerprint.

use std::sync::Arc;
use std::time::Duration;

use polaris_governance::Governance;
use polaris_naming::{InstanceSpec, Naming, NamingOptions};
use polaris_store::memory::MemoryStore;

use crate::cache::{XdsType, generation_slot};
use crate::node::NodeInfo;
use crate::view::Viewer;

fn spec(host: &str) -> InstanceSpec {
    InstanceSpec {
        namespace: "default".into(),
        service: "orders".into(),
        host: host.into(),
        port: Some(8080),
        ..Default::default()
    }
}

async fn wait_for(cache: &crate::XdsCache, check: impl Fn(&crate::XdsCache) -> bool) {
    let mut changes = cache.subscribe();
    for _ in 0..100 {
        if check(cache) {
            return;
        }
        let _ = tokio::time::timeout(Duration::from_millis(50), changes.changed()).await;
    }
    panic!("the cache did not reach the expected state");
}

#[tokio::test]
async fn a_registration_moves_only_the_endpoints() {
    let store = Arc::new(MemoryStore::new());
    let options = NamingOptions {
        auto_create_service: true,
        ..NamingOptions::default()
    };
    let naming = Arc::new(Naming::open(store.clone(), options).await.unwrap());
    let governance = Arc::new(Governance::open(store).await.unwrap());
    let cache = crate::start(naming.clone(), governance);
    naming.register_instance(spec("10.0.0.1")).await.unwrap();
    let cluster = "OUTBOUND|default|orders".to_string();
    wait_for(&cache, |c| {
        c.namespace("default").endpoints.contains_key(&cluster)
    })
    .await;
    let before = cache.namespace("default");

    naming.register_instance(spec("10.0.0.2")).await.unwrap();
    let old = before.endpoints[&cluster].fingerprint;
    wait_for(&cache, |c| {
        c.namespace("default").endpoints[&cluster].fingerprint != old
    })
    .await;
    let after = cache.namespace("default");
    assert_eq!(
        after.clusters[&cluster].fingerprint,
        before.clusters[&cluster].fingerprint
    );
    let slot = generation_slot(XdsType::Cluster);
    assert_eq!(after.generations[slot], before.generations[slot]);
    let slot = generation_slot(XdsType::Endpoint);
    assert!(after.generations[slot] > before.generations[slot]);

    let node = NodeInfo::parse(&envoy_types::pb::envoy::config::core::v3::Node {
        id: "default/u~10.0.0.9".into(),
        ..Default::default()
    });
    let viewer = Viewer {
        cache: &cache,
        node: &node,
    };
    let clusters = viewer.view(XdsType::Cluster, &[]);
    let names: Vec<&str> = clusters.resources.iter().map(|r| r.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "INBOUND|default|orders",
            "OUTBOUND|default|orders",
            "PassthroughCluster"
        ]
    );
    assert_eq!(
        viewer.refresh(XdsType::Cluster, &clusters.stamp),
        clusters.stamp
    );
    let listeners = viewer.view(XdsType::Listener, &[]);
    assert_eq!(listeners.resources.len(), 2);
}

#[tokio::test]
async fn streams_need_a_valid_token_when_client_checks_are_on() {
    use polaris_auth::{Auth, AuthOptions, DEFAULT_ADMIN_TOKEN};
    use tonic::Request;

    let store = Arc::new(MemoryStore::new());
    // Strict: without it a missing or invalid token degrades to anonymous, as officially.
    let options = AuthOptions {
        client_open: true,
        client_strict: true,
        ..AuthOptions::default()
    };
    let auth = Auth::open(store.clone(), options).await.unwrap();
    let naming = Arc::new(
        Naming::open(store.clone(), NamingOptions::default())
            .await
            .unwrap(),
    );
    let governance = Arc::new(Governance::open(store).await.unwrap());
    let service = crate::XdsService {
        cache: crate::start(naming, governance),
        auth,
        limits: crate::Limits::default(),
        metrics: Arc::new(crate::XdsMetrics::default()),
    };
    let refused = service.admit(&Request::new(())).unwrap_err();
    assert_eq!(refused.code(), tonic::Code::Unauthenticated);
    let mut wrong = Request::new(());
    wrong.metadata_mut().insert(
        crate::service::TOKEN_METADATA_KEY,
        "not-a-token".parse().unwrap(),
    );
    assert_eq!(
        service.admit(&wrong).unwrap_err().code(),
        tonic::Code::Unauthenticated
    );
    let mut good = Request::new(());
    good.metadata_mut().insert(
        crate::service::TOKEN_METADATA_KEY,
        DEFAULT_ADMIN_TOKEN.parse().unwrap(),
    );
    service.admit(&good).unwrap();
}
