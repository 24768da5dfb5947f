//! The SDK's view of a service's instances: what routers filter and balancers pick from.

use std::collections::BTreeMap;
use std::sync::Arc;

/// Where an instance runs, as the server reports it (`Instance.location`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash)]
pub struct Location {
    /// Region, the widest level.
    pub region: String,
    /// Zone inside the region.
    pub zone: String,
    /// Campus inside the zone, the narrowest level.
    pub campus: String,
}

impl Location {
    /// The location `region` / `zone` / `campus`.
    pub fn new(region: &str, zone: &str, campus: &str) -> Location {
        Location {
            region: region.into(),
            zone: zone.into(),
            campus: campus.into(),
        }
    }
}

/// One instance of a service, decoded from the Discover answer.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Instance {
    /// The server's instance id.
    pub id: Arc<str>,
    /// Host (IP or name) the instance listens on.
    pub host: Arc<str>,
    /// Port the instance listens on.
    pub port: u32,
    /// Load-balancing weight; 0 means "receives no traffic".
    pub weight: u32,
    /// Health as the server last saw it.
    pub healthy: bool,
    /// Isolated instances receive no traffic.
    pub isolate: bool,
    /// Protocol label (`grpc`, `http`, ...), possibly empty.
    pub protocol: String,
    /// Version label, possibly empty.
    pub version: String,
    /// Instance metadata (labels).
    pub metadata: BTreeMap<String, String>,
    /// Region, zone and campus.
    pub location: Location,
}

/// An immutable snapshot of one service: its instances and revision, shared by every reader.
#[derive(Debug, Clone, Default)]
pub struct ServiceInstances {
    /// Namespace of the service.
    pub namespace: Arc<str>,
    /// Name of the service.
    pub service: Arc<str>,
    /// The server's revision for this instance list.
    pub revision: String,
    /// Service metadata.
    pub metadata: BTreeMap<String, String>,
    /// The instances, in the server's order.
    pub instances: Arc<[Arc<Instance>]>,
}

impl ServiceInstances {
    /// The namespace and name of the service.
    pub fn key(&self) -> crate::ServiceKey {
        crate::ServiceKey::new(&*self.namespace, &*self.service)
    }
}
