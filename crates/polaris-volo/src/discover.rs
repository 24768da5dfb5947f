//! [`PolarisDiscover`]: Volo's `Discover` over the SDK's instance cache, with `watch` fed by
//! the SDK's push watch.

use std::borrow::Cow;
use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use async_broadcast::{InactiveReceiver, Receiver, Sender};
use parking_lot::{Mutex, RwLock};
use polaris_sdk::{Client, Consumer, Error, Instance, ServiceKey};
use volo::context::Endpoint;
use volo::discovery::{Change, Discover};
use volo::loadbalance::error::LoadBalanceError;
use volo::net::Address;

/// How many changes a slow `watch` receiver may fall behind before the oldest are dropped
/// (the load balancer needs only the newest list).
const WATCH_CAPACITY: usize = 64;

/// How long an instance that refused a connection is avoided (unless nothing else is left).
pub(crate) const DOWN_FOR: Duration = Duration::from_secs(2);

/// Service discovery for Volo clients: `discover` answers from the SDK's cache (a snapshot
/// read, no IO once the service is loaded) and `watch` delivers every pushed change of the
/// services discovered so far.
///
/// The callee endpoint's service name is the Polaris service name, in the namespace given
/// here (`default` unless set). Instances are those that may take traffic (healthy, not
/// isolated, weight above 0), with their metadata as tags. Cheap to clone.
#[derive(Clone)]
pub struct PolarisDiscover {
    pub(crate) shared: Arc<DiscoverShared>,
}

pub(crate) struct DiscoverShared {
    pub(crate) consumer: Consumer,
    namespace: Arc<str>,
    changes: Sender<Change<ServiceKey>>,
    /// Keeps the change channel open while no receiver listens.
    _open: InactiveReceiver<Change<ServiceKey>>,
    watched: Mutex<crate::FastSet<ServiceKey>>,
    /// The keys of the service names seen (so a call allocates none).
    keys: RwLock<crate::FastMap<Arc<str>, ServiceKey>>,
    /// Instances that refused a connection lately, until when they are avoided.
    down: Mutex<crate::FastMap<SocketAddr, Instant>>,
}

impl PolarisDiscover {
    /// Discovery for services of namespace `default`.
    pub fn new(client: &Client) -> PolarisDiscover {
        PolarisDiscover::in_namespace(client, "default")
    }

    /// Discovery for services of `namespace`.
    pub fn in_namespace(client: &Client, namespace: &str) -> PolarisDiscover {
        let (mut changes, open) = async_broadcast::broadcast(WATCH_CAPACITY);
        changes.set_overflow(true);
        PolarisDiscover {
            shared: Arc::new(DiscoverShared {
                consumer: client.consumer(),
                namespace: Arc::from(namespace),
                changes,
                _open: open.deactivate(),
                watched: Mutex::default(),
                keys: RwLock::default(),
                down: Mutex::default(),
            }),
        }
    }

    /// The namespace of the services discovered.
    pub fn namespace(&self) -> &str {
        &self.shared.namespace
    }

    /// The Polaris service an endpoint names.
    pub fn service_key(&self, endpoint: &Endpoint) -> ServiceKey {
        let name = endpoint.service_name_ref();
        if let Some(key) = self.shared.keys.read().get(name) {
            return key.clone();
        }
        let key = ServiceKey {
            namespace: self.shared.namespace.clone(),
            name: Arc::from(name),
        };
        let mut keys = self.shared.keys.write();
        keys.insert(key.name.clone(), key.clone());
        key
    }

    /// Starts following `key`'s pushed changes (once per service).
    fn follow(&self, key: &ServiceKey) {
        {
            let mut watched = self.shared.watched.lock();
            if watched.contains(key) || !watched.insert(key.clone()) {
                return;
            }
        }
        let weak = Arc::downgrade(&self.shared);
        let key = key.clone();
        tokio::spawn(follow_changes(weak, key));
    }
}

impl DiscoverShared {
    /// Marks an instance as refusing connections.
    pub(crate) fn mark_down(&self, address: SocketAddr) {
        self.down.lock().insert(address, Instant::now() + DOWN_FOR);
    }

    /// Forgets a refusal (the instance answered).
    pub(crate) fn mark_up(&self, address: &SocketAddr) {
        let mut down = self.down.lock();
        if !down.is_empty() {
            down.remove(address);
        }
    }

    /// Whether an instance refused a connection within the last [`DOWN_FOR`].
    pub(crate) fn is_down(&self, address: &SocketAddr) -> bool {
        let down = self.down.lock();
        !down.is_empty()
            && down
                .get(address)
                .is_some_and(|until| Instant::now() < *until)
    }
}

/// Sends a [`Change`] for every new instance list of `key` until the discover or the client
/// is gone.
async fn follow_changes(weak: Weak<DiscoverShared>, key: ServiceKey) {
    let Some(consumer) = weak.upgrade().map(|s| s.consumer.clone()) else {
        return;
    };
    let mut watch = match consumer.watch(&key).await {
        Ok(watch) => watch,
        Err(e) => {
            tracing::debug!(service = %key, error = %e, "not following the service");
            if let Some(shared) = weak.upgrade() {
                shared.watched.lock().remove(&key);
            }
            return;
        }
    };
    let mut previous = usable(&watch.current().instances);
    while let Ok(next) = watch.changed().await {
        let Some(shared) = weak.upgrade() else {
            return;
        };
        let next = usable(&next.instances);
        if let Some(change) = diff(&key, &previous, &next) {
            let _ = shared.changes.try_broadcast(change);
        }
        previous = next;
    }
}

/// What changed between two instance lists (by address; same address with other weight or
/// tags is `updated`), or `None` when nothing did.
fn diff(
    key: &ServiceKey,
    previous: &[Arc<volo::discovery::Instance>],
    next: &[Arc<volo::discovery::Instance>],
) -> Option<Change<ServiceKey>> {
    let before: HashMap<&Address, &Arc<volo::discovery::Instance>> =
        previous.iter().map(|i| (&i.address, i)).collect();
    let after: HashSet<&Address> = next.iter().map(|i| &i.address).collect();
    let mut change = Change {
        key: key.clone(),
        all: next.to_vec(),
        added: Vec::new(),
        updated: Vec::new(),
        removed: Vec::new(),
    };
    for instance in next {
        match before.get(&instance.address) {
            None => change.added.push(instance.clone()),
            Some(old) if old != &instance => change.updated.push(instance.clone()),
            Some(_) => {}
        }
    }
    for instance in previous {
        if !after.contains(&instance.address) {
            change.removed.push(instance.clone());
        }
    }
    let changed =
        !(change.added.is_empty() && change.updated.is_empty() && change.removed.is_empty());
    changed.then_some(change)
}

/// The socket address of an instance (`None` for a host that is not an IP address: Volo
/// dials addresses, not names).
pub(crate) fn socket_addr(instance: &Instance) -> Option<SocketAddr> {
    let ip: IpAddr = instance.host.parse().ok()?;
    let port = u16::try_from(instance.port).ok()?;
    Some(SocketAddr::new(ip, port))
}

/// The instances that may take traffic, as Volo instances.
fn usable(instances: &[Arc<Instance>]) -> Vec<Arc<volo::discovery::Instance>> {
    instances
        .iter()
        .filter(|i| i.healthy && !i.isolate && i.weight > 0)
        .filter_map(|i| {
            let Some(address) = socket_addr(i) else {
                tracing::debug!(host = %i.host, "instance host is not an IP address: left out");
                return None;
            };
            let tags = i
                .metadata
                .iter()
                .map(|(k, v)| (Cow::Owned(k.clone()), Cow::Owned(v.clone())))
                .collect();
            Some(Arc::new(volo::discovery::Instance {
                address: Address::Ip(address),
                weight: i.weight,
                tags,
            }))
        })
        .collect()
}

/// The load-balancing error of an SDK failure.
pub(crate) fn lb_error(e: Error) -> LoadBalanceError {
    LoadBalanceError::Discover(Box::new(e))
}

impl Discover for PolarisDiscover {
    type Key = ServiceKey;
    type Error = LoadBalanceError;

    async fn discover<'s>(
        &'s self,
        endpoint: &'s Endpoint,
    ) -> Result<Vec<Arc<volo::discovery::Instance>>, LoadBalanceError> {
        let key = self.service_key(endpoint);
        let all = self
            .shared
            .consumer
            .get_all_instances(&key)
            .await
            .map_err(lb_error)?;
        self.follow(&key);
        Ok(usable(&all.instances))
    }

    fn key(&self, endpoint: &Endpoint) -> ServiceKey {
        self.service_key(endpoint)
    }

    fn watch(&self, keys: Option<&[ServiceKey]>) -> Option<Receiver<Change<ServiceKey>>> {
        for key in keys.unwrap_or_default() {
            self.follow(key);
        }
        Some(self.shared.changes.new_receiver())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn volo_instance(port: u16, tag: &str) -> Arc<volo::discovery::Instance> {
        let mut tags = HashMap::new();
        tags.insert(Cow::Borrowed("env"), Cow::Owned(tag.to_string()));
        Arc::new(volo::discovery::Instance {
            address: Address::Ip(SocketAddr::from(([127, 0, 0, 1], port))),
            weight: 100,
            tags,
        })
    }

    #[test]
    fn diff_reports_added_updated_and_removed_instances() {
        let key = ServiceKey::new("default", "echo");
        let before = vec![volo_instance(1, "a"), volo_instance(2, "a")];
        let after = vec![volo_instance(2, "b"), volo_instance(3, "a")];
        let change = diff(&key, &before, &after).expect("a change");
        assert_eq!(change.all.len(), 2);
        assert_eq!(change.added, vec![volo_instance(3, "a")]);
        assert_eq!(change.updated, vec![volo_instance(2, "b")]);
        assert_eq!(change.removed, vec![volo_instance(1, "a")]);
        assert!(diff(&key, &after, &after).is_none());
    }

    #[test]
    fn only_instances_that_take_traffic_at_an_ip_are_listed() {
        let base = Instance {
            id: "i".into(),
            host: "10.0.0.1".into(),
            port: 8080,
            weight: 100,
            healthy: true,
            isolate: false,
            protocol: String::new(),
            version: String::new(),
            metadata: [("env".to_string(), "prod".to_string())].into(),
            location: Default::default(),
        };
        let sick = Instance {
            healthy: false,
            ..base.clone()
        };
        let named = Instance {
            host: "echo.local".into(),
            ..base.clone()
        };
        let listed = usable(&[Arc::new(base), Arc::new(sick), Arc::new(named)]);
        assert_eq!(listed.len(), 1);
        assert_eq!(
            listed[0].address,
            Address::Ip("10.0.0.1:8080".parse().unwrap())
        );
        assert_eq!(listed[0].tags.get("env").map(|v| v.as_ref()), Some("prod"));
    }
}
