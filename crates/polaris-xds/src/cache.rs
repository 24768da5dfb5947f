//! The xDS read model: per Polaris namespace, the encoded clusters, endpoints and route
//! configurations of its services, each with a content fingerprint, and a generation per
//! resource type that moves only when a resource of that type changed. One builder task keeps
//! it current from the registry's and the rule service's change feeds; streams read it.

use std::collections::HashMap;
use std::hash::{DefaultHasher, Hash, Hasher};
use std::sync::Arc;

use envoy_types::pb::google::protobuf::Any;
use imbl::OrdMap;
use parking_lot::RwLock;
use polaris_types::ServiceKey;
use tokio::sync::watch;

use crate::build::rules::ServiceRules;

/// The resource types served.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum XdsType {
    Cluster,
    Endpoint,
    Listener,
    Route,
}

impl XdsType {
    /// In the order a change is pushed: clusters before their endpoints, listeners before
    /// their routes.
    pub const ALL: [XdsType; 4] = [
        XdsType::Cluster,
        XdsType::Endpoint,
        XdsType::Listener,
        XdsType::Route,
    ];

    pub fn type_url(self) -> &'static str {
        match self {
            XdsType::Cluster => "type.googleapis.com/envoy.config.cluster.v3.Cluster",
            XdsType::Endpoint => {
                "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment"
            }
            XdsType::Listener => "type.googleapis.com/envoy.config.listener.v3.Listener",
            XdsType::Route => "type.googleapis.com/envoy.config.route.v3.RouteConfiguration",
        }
    }

    pub fn parse(type_url: &str) -> Option<XdsType> {
        XdsType::ALL.into_iter().find(|t| t.type_url() == type_url)
    }
}

/// One encoded resource.
#[derive(Clone, Debug, PartialEq)]
pub struct Resource {
    pub name: String,
    pub body: Any,
    /// Equal fingerprints mean equal content (map fields make the encoding itself unstable).
    pub fingerprint: u64,
}

impl Resource {
    /// A resource fingerprinted by its encoding (for messages without map fields).
    pub fn encoded(name: String, body: Any) -> Resource {
        let fingerprint = fingerprint(&body.value);
        Resource {
            name,
            body,
            fingerprint,
        }
    }

    /// A resource fingerprinted by the inputs it was built from.
    pub fn built_from(name: String, body: Any, inputs: impl Hash) -> Resource {
        let fingerprint = fingerprint((&name, inputs));
        Resource {
            name,
            body,
            fingerprint,
        }
    }
}

/// A stable hash (SipHash with fixed keys).
pub fn fingerprint(value: impl Hash) -> u64 {
    let mut hasher = DefaultHasher::new();
    value.hash(&mut hasher);
    hasher.finish()
}

/// What per-node resources (listeners, proxyless routes) need to know of a service.
#[derive(Clone, Debug)]
pub struct ServiceEntry {
    pub key: ServiceKey,
    /// Distinct instance ports, ascending.
    pub ports: Vec<u32>,
    pub rules: ServiceRules,
    pub fingerprint: u64,
}

pub type Resources = OrdMap<String, Arc<Resource>>;

/// Everything one namespace serves.
#[derive(Clone, Debug, Default)]
pub struct NamespaceResources {
    pub clusters: Resources,
    pub endpoints: Resources,
    pub routes: Resources,
    pub services: OrdMap<String, Arc<ServiceEntry>>,
    /// Generations of clusters, endpoints, routes and services.
    pub generations: [u64; 4],
}

/// The generation slot that stamps what a resource type depends on.
pub fn generation_slot(ty: XdsType) -> usize {
    match ty {
        XdsType::Cluster => 0,
        XdsType::Endpoint => 1,
        XdsType::Route => 2,
        XdsType::Listener => 3,
    }
}

impl NamespaceResources {
    pub fn of(&self, ty: XdsType) -> Option<&Resources> {
        match ty {
            XdsType::Cluster => Some(&self.clusters),
            XdsType::Endpoint => Some(&self.endpoints),
            XdsType::Route => Some(&self.routes),
            XdsType::Listener => None,
        }
    }
}

/// The shared read model.
pub struct XdsCache {
    namespaces: RwLock<HashMap<String, Arc<NamespaceResources>>>,
    empty: Arc<NamespaceResources>,
    version: watch::Sender<u64>,
}

impl XdsCache {
    /// A cache where every namespace serves `empty` until built.
    pub fn new(empty: NamespaceResources) -> XdsCache {
        XdsCache {
            namespaces: RwLock::new(HashMap::new()),
            empty: Arc::new(empty),
            version: watch::channel(0).0,
        }
    }

    /// The resources of `namespace` (the defaults when it has none).
    pub fn namespace(&self, namespace: &str) -> Arc<NamespaceResources> {
        self.namespaces
            .read()
            .get(namespace)
            .cloned()
            .unwrap_or_else(|| self.empty.clone())
    }

    /// Replaces the resources of `namespace`.
    pub fn store(&self, namespace: &str, resources: NamespaceResources) {
        self.namespaces
            .write()
            .insert(namespace.to_string(), Arc::new(resources));
    }

    /// The namespaces built so far.
    pub fn namespace_names(&self) -> Vec<String> {
        self.namespaces.read().keys().cloned().collect()
    }

    /// Wakes every stream after a batch of stores.
    pub fn publish(&self) {
        self.version.send_modify(|v| *v += 1);
    }

    /// Tells a stream when anything changed.
    pub fn subscribe(&self) -> watch::Receiver<u64> {
        self.version.subscribe()
    }
}
