//! The local cache: one entry per (resource kind, service), each an atomically swapped snapshot
//! plus a watch channel for the readers that wait for changes.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::sync::Arc;

use arc_swap::{ArcSwap, ArcSwapOption};
use parking_lot::Mutex;
use polaris_proto::v1;
use polaris_proto::v1::discover_request::DiscoverRequestType;
use polaris_traffic::{Instance, Location, ServiceInstances};
use tokio::sync::watch;

use crate::error::Error;

/// FNV-1a: the cache maps are keyed by short names hashed on every read, where SipHash's
/// flooding resistance buys nothing (keys come from the application, not from peers).
#[derive(Default, Clone, Copy)]
pub(crate) struct Fnv(u64);

impl std::hash::Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h ^= u64::from(*b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

/// A `HashMap` with the [`Fnv`] hasher.
pub(crate) type FastMap<K, V> = HashMap<K, V, std::hash::BuildHasherDefault<Fnv>>;

/// A service's identity: namespace and name.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceKey {
    /// The namespace (`default` when in doubt).
    pub namespace: Arc<str>,
    /// The service name.
    pub name: Arc<str>,
}

impl ServiceKey {
    /// A key from a namespace and a service name.
    pub fn new(namespace: impl AsRef<str>, name: impl AsRef<str>) -> ServiceKey {
        ServiceKey {
            namespace: Arc::from(namespace.as_ref()),
            name: Arc::from(name.as_ref()),
        }
    }
}

impl fmt::Debug for ServiceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

impl fmt::Display for ServiceKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// What the cache holds for a service: its instances or one kind of governance rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum ResourceKind {
    /// The instance list.
    Instances,
    /// Routing rules (v1 `Routing` shape).
    Routing,
    /// Rate-limit rules.
    RateLimit,
    /// Circuit-breaker rules.
    CircuitBreaker,
    /// Fault-detection (active probe) rules.
    FaultDetector,
    /// Lane groups.
    Lane,
}

impl ResourceKind {
    /// Every kind, in a fixed order.
    pub const ALL: [ResourceKind; 6] = [
        ResourceKind::Instances,
        ResourceKind::Routing,
        ResourceKind::RateLimit,
        ResourceKind::CircuitBreaker,
        ResourceKind::FaultDetector,
        ResourceKind::Lane,
    ];

    pub(crate) fn request_type(self) -> DiscoverRequestType {
        match self {
            ResourceKind::Instances => DiscoverRequestType::Instance,
            ResourceKind::Routing => DiscoverRequestType::Routing,
            ResourceKind::RateLimit => DiscoverRequestType::RateLimit,
            ResourceKind::CircuitBreaker => DiscoverRequestType::CircuitBreaker,
            ResourceKind::FaultDetector => DiscoverRequestType::FaultDetector,
            ResourceKind::Lane => DiscoverRequestType::Lane,
        }
    }

    pub(crate) fn from_response_type(value: i32) -> Option<ResourceKind> {
        let t = DiscoverRequestType::try_from(value).ok()?;
        ResourceKind::ALL
            .into_iter()
            .find(|k| k.request_type() == t)
    }

    /// A short stable name, used in file names.
    pub fn as_str(self) -> &'static str {
        match self {
            ResourceKind::Instances => "instance",
            ResourceKind::Routing => "routing",
            ResourceKind::RateLimit => "ratelimit",
            ResourceKind::CircuitBreaker => "circuitbreaker",
            ResourceKind::FaultDetector => "faultdetector",
            ResourceKind::Lane => "lane",
        }
    }
}

/// One resource as last received: the raw answer, and for instances the decoded view.
#[derive(Debug)]
pub struct Snapshot {
    /// The server's revision of this answer.
    pub revision: String,
    /// The Discover answer as received (rules are read from here).
    pub response: Arc<v1::DiscoverResponse>,
    /// The decoded instances (empty for rule kinds).
    pub instances: Arc<ServiceInstances>,
    /// True when this answer was read from the persisted copy, not from the server.
    pub from_disk: bool,
}

impl Snapshot {
    pub(crate) fn new(
        kind: ResourceKind,
        key: &ServiceKey,
        response: v1::DiscoverResponse,
        from_disk: bool,
    ) -> Snapshot {
        let revision = revision_of(kind, &response);
        let instances = if kind == ResourceKind::Instances {
            decode_instances(key, &revision, &response)
        } else {
            ServiceInstances {
                namespace: key.namespace.clone(),
                service: key.name.clone(),
                revision: revision.clone(),
                ..ServiceInstances::default()
            }
        };
        Snapshot {
            revision,
            response: Arc::new(response),
            instances: Arc::new(instances),
            from_disk,
        }
    }
}

/// The revision an answer carries, wherever its kind keeps it.
pub(crate) fn revision_of(kind: ResourceKind, r: &v1::DiscoverResponse) -> String {
    let from_rules = match kind {
        ResourceKind::Routing => r.routing.as_ref().and_then(|x| x.revision.clone()),
        ResourceKind::RateLimit => r.rate_limit.as_ref().and_then(|x| x.revision.clone()),
        ResourceKind::CircuitBreaker => r.circuit_breaker.as_ref().and_then(|x| x.revision.clone()),
        ResourceKind::FaultDetector => r
            .fault_detector
            .as_ref()
            .map(|x| x.revision.clone())
            .filter(|r| !r.is_empty()),
        _ => None,
    };
    let from_service = r.service.as_ref().and_then(|s| s.revision.clone());
    from_service
        .filter(|s| !s.is_empty())
        .or(from_rules)
        .unwrap_or_default()
}

fn decode_instances(
    key: &ServiceKey,
    revision: &str,
    response: &v1::DiscoverResponse,
) -> ServiceInstances {
    let instances: Vec<Arc<Instance>> = response
        .instances
        .iter()
        .map(|i| Arc::new(decode_instance(i)))
        .collect();
    ServiceInstances {
        namespace: key.namespace.clone(),
        service: key.name.clone(),
        revision: revision.to_string(),
        metadata: response
            .service
            .as_ref()
            .map(|s| s.metadata.clone().into_iter().collect())
            .unwrap_or_default(),
        instances: instances.into(),
    }
}

/// The SDK view of one wire instance; absent fields take the server's defaults.
pub(crate) fn decode_instance(i: &v1::Instance) -> Instance {
    let location = i.location.as_ref();
    let loc = |f: fn(&v1::Location) -> &Option<String>| {
        location.and_then(|l| f(l).clone()).unwrap_or_default()
    };
    Instance {
        id: Arc::from(i.id.as_deref().unwrap_or_default()),
        host: Arc::from(i.host.as_deref().unwrap_or_default()),
        port: i.port.unwrap_or_default(),
        weight: i.weight.unwrap_or(100),
        healthy: i.healthy.unwrap_or(true),
        isolate: i.isolate.unwrap_or(false),
        protocol: i.protocol.clone().unwrap_or_default(),
        version: i.version.clone().unwrap_or_default(),
        metadata: i.metadata.clone().into_iter().collect::<BTreeMap<_, _>>(),
        location: Location {
            region: loc(|l| &l.region),
            zone: loc(|l| &l.zone),
            campus: loc(|l| &l.campus),
        },
    }
}

/// What a reader of an entry sees: the snapshot if any, and the last failure to refresh it.
#[derive(Clone, Default)]
pub(crate) struct EntryState {
    pub(crate) snapshot: Option<Arc<Snapshot>>,
    pub(crate) error: Option<Error>,
}

/// The outcome of offering a new answer to an entry.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Applied {
    /// The snapshot was replaced.
    Changed,
    /// Same revision: nothing to do.
    Unchanged,
    /// An empty instance list was refused because the current one is not empty.
    Protected,
}

/// One cached resource.
pub(crate) struct Entry {
    pub(crate) kind: ResourceKind,
    pub(crate) key: ServiceKey,
    current: ArcSwapOption<Snapshot>,
    tx: watch::Sender<EntryState>,
    /// Set once the persisted copy was looked for, so an outage reads the disk only once.
    pub(crate) disk_checked: std::sync::atomic::AtomicBool,
}

impl Entry {
    fn new(kind: ResourceKind, key: ServiceKey) -> Entry {
        Entry {
            kind,
            key,
            current: ArcSwapOption::empty(),
            tx: watch::channel(EntryState::default()).0,
            disk_checked: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// The current snapshot, without locking.
    pub(crate) fn current(&self) -> Option<Arc<Snapshot>> {
        self.current.load_full()
    }

    /// The revision the next request should carry.
    pub(crate) fn revision(&self) -> String {
        self.current
            .load()
            .as_ref()
            .map(|s| s.revision.clone())
            .unwrap_or_default()
    }

    pub(crate) fn subscribe(&self) -> watch::Receiver<EntryState> {
        self.tx.subscribe()
    }

    /// Offers a successful answer. `protect_empty` refuses to empty a non-empty instance list.
    pub(crate) fn apply(&self, snapshot: Snapshot, protect_empty: bool) -> Applied {
        let current = self.current.load_full();
        if let Some(cur) = &current {
            if cur.revision == snapshot.revision && !cur.from_disk {
                return Applied::Unchanged;
            }
            if protect_empty
                && self.kind == ResourceKind::Instances
                && snapshot.instances.instances.is_empty()
                && !cur.instances.instances.is_empty()
            {
                return Applied::Protected;
            }
        }
        self.install(Arc::new(snapshot));
        Applied::Changed
    }

    /// Replaces the snapshot and wakes readers.
    pub(crate) fn install(&self, snapshot: Arc<Snapshot>) {
        self.current.store(Some(snapshot.clone()));
        self.tx.send_replace(EntryState {
            snapshot: Some(snapshot),
            error: None,
        });
    }

    /// Records a refresh failure (kept snapshots stay); wakes readers waiting for a first load.
    pub(crate) fn fail(&self, error: Error) {
        self.tx.send_modify(|state| state.error = Some(error));
    }
}

/// All cached entries. Reads are lock-free; inserts copy the (small) map.
#[derive(Default)]
pub(crate) struct Cache {
    entries: ArcSwap<FastMap<(ResourceKind, ServiceKey), Arc<Entry>>>,
    insert: Mutex<()>,
}

impl Cache {
    pub(crate) fn get(&self, kind: ResourceKind, key: &ServiceKey) -> Option<Arc<Entry>> {
        self.entries.load().get(&(kind, key.clone())).cloned()
    }

    /// The entry, created if absent; the flag is true when it was created by this call.
    pub(crate) fn get_or_insert(&self, kind: ResourceKind, key: &ServiceKey) -> (Arc<Entry>, bool) {
        if let Some(entry) = self.get(kind, key) {
            return (entry, false);
        }
        let _guard = self.insert.lock();
        if let Some(entry) = self.get(kind, key) {
            return (entry, false);
        }
        let entry = Arc::new(Entry::new(kind, key.clone()));
        let mut map = FastMap::clone(&self.entries.load());
        map.insert((kind, key.clone()), entry.clone());
        self.entries.store(Arc::new(map));
        (entry, true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(revision: &str, hosts: &[&str]) -> v1::DiscoverResponse {
        v1::DiscoverResponse {
            code: Some(200_000),
            r#type: 1,
            service: Some(v1::Service {
                name: Some("svc".into()),
                namespace: Some("default".into()),
                revision: Some(revision.into()),
                ..Default::default()
            }),
            instances: hosts
                .iter()
                .map(|h| v1::Instance {
                    id: Some(format!("id-{h}")),
                    host: Some(h.to_string()),
                    port: Some(80),
                    healthy: Some(true),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        }
    }

    #[test]
    fn empty_lists_are_refused_when_protected() {
        let cache = Cache::default();
        let key = ServiceKey::new("default", "svc");
        let (entry, created) = cache.get_or_insert(ResourceKind::Instances, &key);
        assert!(created);
        assert!(!cache.get_or_insert(ResourceKind::Instances, &key).1);
        let snap =
            |r, h: &[&str]| Snapshot::new(ResourceKind::Instances, &key, answer(r, h), false);
        assert_eq!(entry.apply(snap("r1", &["a", "b"]), true), Applied::Changed);
        assert_eq!(entry.apply(snap("r1", &["a"]), true), Applied::Unchanged);
        assert_eq!(entry.apply(snap("r2", &[]), true), Applied::Protected);
        assert_eq!(entry.current().unwrap().instances.instances.len(), 2);
        assert_eq!(entry.apply(snap("r3", &[]), false), Applied::Changed);
        assert!(entry.current().unwrap().instances.instances.is_empty());
        assert_eq!(entry.revision(), "r3");
    }

    #[test]
    fn instances_take_server_defaults() {
        let i = decode_instance(&v1::Instance {
            host: Some("h".into()),
            ..Default::default()
        });
        assert_eq!((i.weight, i.healthy, i.isolate), (100, true, false));
    }
}
