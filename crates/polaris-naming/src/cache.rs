//! The read side of the registry: one immutable [`Snapshot`] swapped atomically on every change.
//!
//! Readers load the current snapshot without locking and keep using it for as long as they like.
//! Writers build the next snapshot from the current one under a short mutex (no `.await` inside)
//! and publish it; the persistent maps of `imbl` make each step O(log n), not a copy.

use std::sync::Arc;

use arc_swap::ArcSwap;
use imbl::{HashMap, OrdMap};
use parking_lot::Mutex;
use polaris_types::{Instance, Namespace, Service, ServiceKey, new_revision};
use tokio::sync::broadcast;

/// A service with its instances, as one consistent value.
#[derive(Clone, Debug)]
pub struct ServiceView {
    pub service: Arc<Service>,
    /// The service's key, shared by every entry of [`Snapshot::instance_owner`] that points here.
    pub key: Arc<ServiceKey>,
    /// Instances by id, in id order.
    pub instances: OrdMap<String, Arc<Instance>>,
    /// Changes whenever the service or any of its instances changes.
    pub revision: Arc<str>,
    pub healthy_count: usize,
    pub isolated_count: usize,
}

impl ServiceView {
    pub fn new(service: Service) -> Self {
        ServiceView {
            key: Arc::new(service.key()),
            service: Arc::new(service),
            instances: OrdMap::new(),
            revision: new_revision().into(),
            healthy_count: 0,
            isolated_count: 0,
        }
    }

    fn count(&mut self, instance: &Instance, sign: isize) {
        let apply = |n: &mut usize| *n = n.saturating_add_signed(sign);
        if instance.healthy {
            apply(&mut self.healthy_count);
        }
        if instance.isolate {
            apply(&mut self.isolated_count);
        }
    }

    fn put_instance(&mut self, instance: Arc<Instance>) {
        if let Some(old) = self.instances.insert(instance.id.clone(), instance.clone()) {
            self.count(&old, -1);
        }
        self.count(&instance, 1);
        self.revision = new_revision().into();
    }

    fn remove_instance(&mut self, id: &str) -> bool {
        match self.instances.remove(id) {
            Some(old) => {
                self.count(&old, -1);
                self.revision = new_revision().into();
                true
            }
            None => false,
        }
    }
}

/// Everything the registry knows at one point in time.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub namespaces: OrdMap<String, Arc<Namespace>>,
    pub services: OrdMap<ServiceKey, Arc<ServiceView>>,
    /// Which service each instance id belongs to (the key is shared with the service's view, so
    /// an entry costs no allocation beyond its id).
    pub instance_owner: HashMap<String, Arc<ServiceKey>>,
}

impl Snapshot {
    pub fn service(&self, key: &ServiceKey) -> Option<&Arc<ServiceView>> {
        self.services.get(key)
    }

    pub fn instance(&self, id: &str) -> Option<&Arc<Instance>> {
        let key = self.instance_owner.get(id)?;
        self.services.get(&**key)?.instances.get(id)
    }

    /// Services and aliases of one namespace, in name order.
    pub fn namespace_services<'a>(
        &'a self,
        namespace: &'a str,
    ) -> impl Iterator<Item = &'a Arc<ServiceView>> + 'a {
        let start = ServiceKey::new(namespace, "");
        self.services
            .range(start..)
            .take_while(move |(k, _)| k.namespace == namespace)
            .map(|(_, v)| v)
    }
}

/// What changed in the registry. Events are hints published after the snapshot that contains
/// the change; a consumer that lags behind (and so misses some) re-reads the snapshot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegistryEvent {
    /// A service's fields or instances changed: its view has a new revision.
    ServiceChanged(ServiceKey),
    /// A service was removed together with its instances.
    ServiceRemoved(ServiceKey),
    /// An instance was created or replaced (its service also gets `ServiceChanged`).
    InstanceUpserted { id: String, key: ServiceKey },
    /// An instance was removed (its service also gets `ServiceChanged`).
    InstanceRemoved { id: String, key: ServiceKey },
    /// A namespace was created, updated or removed.
    NamespacesChanged,
}

/// How many events a slow consumer may fall behind before it is told it lagged (it then
/// rescans the snapshot). Every slot is allocated up front (~100 bytes each): 65,536 slots held
/// 6.5 MiB of an idle server's 11 MiB heap.
const EVENT_CAPACITY: usize = 16_384;

/// The shared, atomically swapped registry view.
pub struct NamingCache {
    current: ArcSwap<Snapshot>,
    writer: Mutex<()>,
    events: broadcast::Sender<RegistryEvent>,
}

impl Default for NamingCache {
    fn default() -> Self {
        NamingCache {
            current: ArcSwap::default(),
            writer: Mutex::new(()),
            events: broadcast::channel(EVENT_CAPACITY).0,
        }
    }
}

impl NamingCache {
    /// Subscribes to registry events from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<RegistryEvent> {
        self.events.subscribe()
    }

    fn emit(&self, events: impl IntoIterator<Item = RegistryEvent>) {
        if self.events.receiver_count() == 0 {
            return;
        }
        for event in events {
            // No receiver left is not an error: events are only hints.
            let _ = self.events.send(event);
        }
    }

    /// The current snapshot. Cheap; never blocks.
    pub fn snapshot(&self) -> Arc<Snapshot> {
        self.current.load_full()
    }

    fn update<R>(&self, change: impl FnOnce(&mut Snapshot) -> R) -> R {
        let _writer = self.writer.lock();
        let mut next = Snapshot::clone(&self.current.load());
        let result = change(&mut next);
        self.current.store(Arc::new(next));
        result
    }

    pub fn put_namespace(&self, namespace: Namespace) {
        self.update(|s| {
            s.namespaces
                .insert(namespace.name.clone(), Arc::new(namespace));
        });
    }

    pub fn remove_namespace(&self, name: &str) {
        self.update(|s| {
            s.namespaces.remove(name);
        });
    }

    /// Inserts or replaces a service, keeping its instances.
    pub fn put_service(&self, service: Service) {
        let key = service.key();
        self.update(|s| {
            let view = match s.services.get(&key) {
                Some(old) => {
                    let mut view = ServiceView::clone(old);
                    view.service = Arc::new(service);
                    view.revision = new_revision().into();
                    view
                }
                None => ServiceView::new(service),
            };
            s.services.insert(key.clone(), Arc::new(view));
        });
        self.emit([RegistryEvent::ServiceChanged(key)]);
    }

    /// Removes a service and forgets its instances.
    pub fn remove_service(&self, key: &ServiceKey) {
        let removed = self.update(|s| {
            let view = s.services.remove(key)?;
            for id in view.instances.keys() {
                s.instance_owner.remove(id);
            }
            Some(view)
        });
        if let Some(view) = removed {
            let instances = view
                .instances
                .keys()
                .map(|id| RegistryEvent::InstanceRemoved {
                    id: id.clone(),
                    key: key.clone(),
                });
            self.emit(instances.chain([RegistryEvent::ServiceRemoved(key.clone())]));
        }
    }

    /// Inserts or replaces an instance. Returns false (and changes nothing) when its service is
    /// not cached, which callers prevent by creating the service first.
    pub fn put_instance(&self, instance: Instance) -> bool {
        let (id, key) = (instance.id.clone(), instance.service_key());
        let moved_from = self.update(|s| {
            if !s.services.contains_key(&key) {
                return None;
            }
            // An id moving to another service leaves its old service first.
            let moved_from = s
                .instance_owner
                .get(&instance.id)
                .filter(|prev| ***prev != key)
                .map(|prev| ServiceKey::clone(prev));
            if let Some(prev_key) = &moved_from {
                remove_from_service(s, prev_key, &instance.id);
            }
            let old = s.services.get(&key)?;
            let mut view = ServiceView::clone(old);
            s.instance_owner
                .insert(instance.id.clone(), old.key.clone());
            view.put_instance(Arc::new(instance));
            s.services.insert(key.clone(), Arc::new(view));
            Some(moved_from)
        });
        let Some(moved_from) = moved_from else {
            return false;
        };
        if let Some(prev) = moved_from {
            self.emit([
                RegistryEvent::InstanceRemoved {
                    id: id.clone(),
                    key: prev.clone(),
                },
                RegistryEvent::ServiceChanged(prev),
            ]);
        }
        self.emit([
            RegistryEvent::InstanceUpserted {
                id,
                key: key.clone(),
            },
            RegistryEvent::ServiceChanged(key),
        ]);
        true
    }

    /// Removes an instance by id; returns whether it was cached.
    pub fn remove_instance(&self, id: &str) -> bool {
        let removed = self.update(|s| {
            let key = s.instance_owner.remove(id)?;
            remove_from_service(s, &key, id).then(|| ServiceKey::clone(&key))
        });
        match removed {
            Some(key) => {
                self.emit([
                    RegistryEvent::InstanceRemoved {
                        id: id.to_string(),
                        key: key.clone(),
                    },
                    RegistryEvent::ServiceChanged(key),
                ]);
                true
            }
            None => false,
        }
    }
}

fn remove_from_service(s: &mut Snapshot, key: &ServiceKey, id: &str) -> bool {
    let Some(old) = s.services.get(key) else {
        return false;
    };
    let mut view = ServiceView::clone(old);
    let removed = view.remove_instance(id);
    s.services.insert(key.clone(), Arc::new(view));
    removed
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(ns: &str, name: &str) -> Service {
        Service {
            namespace: ns.into(),
            name: name.into(),
            ..Default::default()
        }
    }

    fn instance(id: &str, svc: &str, healthy: bool) -> Instance {
        Instance {
            id: id.into(),
            namespace: "default".into(),
            service: svc.into(),
            host: "10.0.0.1".into(),
            port: 80,
            healthy,
            ..Default::default()
        }
    }

    #[test]
    fn revision_changes_on_every_instance_change() {
        let cache = NamingCache::default();
        cache.put_service(service("default", "a"));
        let key = ServiceKey::new("default", "a");
        let r0 = cache.snapshot().service(&key).unwrap().revision.clone();
        assert!(cache.put_instance(instance("i1", "a", true)));
        let r1 = cache.snapshot().service(&key).unwrap().revision.clone();
        assert_ne!(r0, r1);
        assert!(cache.put_instance(instance("i1", "a", false)));
        let r2 = cache.snapshot().service(&key).unwrap().revision.clone();
        assert_ne!(r1, r2);
        assert!(cache.remove_instance("i1"));
        let r3 = cache.snapshot().service(&key).unwrap().revision.clone();
        assert_ne!(r2, r3);
        assert!(!cache.remove_instance("i1"));
        assert_eq!(cache.snapshot().service(&key).unwrap().revision, r3);
    }

    #[test]
    fn readers_keep_their_snapshot_while_writers_publish() {
        let cache = NamingCache::default();
        cache.put_service(service("default", "a"));
        let before = cache.snapshot();
        cache.put_instance(instance("i1", "a", true));
        let key = ServiceKey::new("default", "a");
        assert!(before.service(&key).unwrap().instances.is_empty());
        assert_eq!(cache.snapshot().service(&key).unwrap().instances.len(), 1);
    }

    #[test]
    fn counts_follow_replacements_and_removals() {
        let cache = NamingCache::default();
        cache.put_service(service("default", "a"));
        let key = ServiceKey::new("default", "a");
        cache.put_instance(instance("i1", "a", true));
        cache.put_instance(instance("i2", "a", true));
        cache.put_instance(instance("i2", "a", false));
        let view = cache.snapshot().service(&key).unwrap().clone();
        assert_eq!((view.instances.len(), view.healthy_count), (2, 1));
        cache.remove_instance("i1");
        assert_eq!(cache.snapshot().service(&key).unwrap().healthy_count, 0);
    }

    #[test]
    fn changes_are_announced_after_they_are_visible() {
        let cache = NamingCache::default();
        let mut events = cache.subscribe();
        cache.put_service(service("default", "a"));
        cache.put_instance(instance("i1", "a", true));
        cache.remove_instance("i1");
        let key = ServiceKey::new("default", "a");
        let seen: Vec<_> = std::iter::from_fn(|| events.try_recv().ok()).collect();
        assert_eq!(
            seen,
            [
                RegistryEvent::ServiceChanged(key.clone()),
                RegistryEvent::InstanceUpserted {
                    id: "i1".into(),
                    key: key.clone()
                },
                RegistryEvent::ServiceChanged(key.clone()),
                RegistryEvent::InstanceRemoved {
                    id: "i1".into(),
                    key: key.clone()
                },
                RegistryEvent::ServiceChanged(key),
            ]
        );
    }

    #[test]
    fn instance_without_cached_service_is_refused() {
        let cache = NamingCache::default();
        assert!(!cache.put_instance(instance("i1", "missing", true)));
        assert!(cache.snapshot().instance("i1").is_none());
    }

    #[test]
    fn removing_a_service_forgets_its_instances() {
        let cache = NamingCache::default();
        cache.put_service(service("default", "a"));
        cache.put_instance(instance("i1", "a", true));
        cache.remove_service(&ServiceKey::new("default", "a"));
        assert!(cache.snapshot().instance("i1").is_none());
        assert!(cache.snapshot().instance_owner.is_empty());
    }

    #[test]
    fn namespace_services_are_ranged_by_namespace() {
        let cache = NamingCache::default();
        for (ns, name) in [("a", "x"), ("b", "y"), ("b", "z"), ("c", "w")] {
            cache.put_service(service(ns, name));
        }
        let snap = cache.snapshot();
        let names: Vec<_> = snap
            .namespace_services("b")
            .map(|v| v.service.name.clone())
            .collect();
        assert_eq!(names, ["y", "z"]);
    }
}
