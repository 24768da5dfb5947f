//! The hub's shared answers: built once per change of a resource, rebuilt after one.

use std::sync::Arc;

use parking_lot::Mutex;
use polaris_discovery::Discovery;
use polaris_governance::Governance;
use polaris_naming::{InstanceSpec, Naming, NamingOptions};
use polaris_proto::v1;
use polaris_proto::v1::discover_request::DiscoverRequestType;
use polaris_store::memory::MemoryStore;

use super::{PushFrame, PushHub, Resource, SubKey};

async fn backends() -> Discovery {
    let store = Arc::new(MemoryStore::new());
    let naming = Naming::open(store.clone(), NamingOptions::default());
    Discovery {
        naming: Arc::new(naming.await.unwrap()),
        governance: Arc::new(Governance::open(store).await.unwrap()),
    }
}

async fn register(backends: &Discovery, port: u32) {
    let spec = InstanceSpec {
        namespace: "default".into(),
        service: "svc".into(),
        host: "10.0.0.1".into(),
        port: Some(port),
        ..Default::default()
    };
    backends.naming.register_instance(spec).await.unwrap();
}

fn request(kind: DiscoverRequestType, revision: Option<&str>) -> v1::DiscoverRequest {
    v1::DiscoverRequest {
        r#type: kind as i32,
        service: Some(v1::Service {
            name: Some("svc".into()),
            namespace: Some("default".into()),
            revision: revision.map(str::to_string),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn resource(request: &v1::DiscoverRequest) -> Resource {
    Resource {
        key: SubKey::of(request).unwrap(),
        answer: Mutex::default(),
    }
}

fn answer(
    resource: &Resource,
    backends: &Discovery,
    asked: &v1::DiscoverRequest,
) -> Arc<PushFrame> {
    PushHub::shared_answer(resource, backends, asked)
}

#[tokio::test]
async fn an_instance_answer_is_shared_until_its_resource_changes() {
    let backends = backends().await;
    register(&backends, 1).await;
    let asked = request(DiscoverRequestType::Instance, None);
    let resource = resource(&asked);
    let first = answer(&resource, &backends, &asked);
    assert!(Arc::ptr_eq(&first, &answer(&resource, &backends, &asked)));
    // The revision a stream last saw does not make its own answer: the full one is shared.
    let seen = request(DiscoverRequestType::Instance, first.revision.as_deref());
    assert!(Arc::ptr_eq(&first, &answer(&resource, &backends, &seen)));

    register(&backends, 2).await;
    // Until the hub invalidates the resource, the memoised answer stands.
    assert!(Arc::ptr_eq(&first, &answer(&resource, &backends, &asked)));
    resource.invalidate();
    let rebuilt = answer(&resource, &backends, &asked);
    assert!(!Arc::ptr_eq(&first, &rebuilt));
    assert_ne!(first.revision, rebuilt.revision);
    assert!(Arc::ptr_eq(&rebuilt, &answer(&resource, &backends, &asked)));
}

#[tokio::test]
async fn a_service_list_answer_is_never_memoised() {
    let backends = backends().await;
    register(&backends, 1).await;
    let asked = request(DiscoverRequestType::Services, None);
    let resource = resource(&asked);
    let first = answer(&resource, &backends, &asked);
    assert!(!Arc::ptr_eq(&first, &answer(&resource, &backends, &asked)));
    assert!(resource.answer.lock().frame.is_none());
}
