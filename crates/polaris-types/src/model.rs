//! The naming model: namespaces hold services, services hold instances.
//!
//! Records carry `ctime`/`mtime` in Unix milliseconds. Stores persist them as they are; caches
//! and adapters read them. None of these types is serializable: each adapter owns its wire form.

use std::collections::BTreeMap;

use crate::{InstanceMetadata, Revision, Sym};

/// Unix time in milliseconds.
pub type Millis = i64;

/// Key/value labels on services and instances.
pub type Metadata = BTreeMap<String, String>;

/// A namespace: the isolation unit for services (and later config groups and rules).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Namespace {
    pub name: String,
    pub comment: String,
    pub owners: String,
    pub token: String,
    /// Namespaces that may see this namespace's services (service visibility).
    pub service_export_to: Vec<String>,
    pub ctime: Millis,
    pub mtime: Millis,
}

/// Identifies a service: (namespace, name).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ServiceKey {
    pub namespace: String,
    pub name: String,
}

impl ServiceKey {
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        ServiceKey {
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

impl std::fmt::Display for ServiceKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// A service, or a service alias when `reference` names the service it points to.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Service {
    pub id: String,
    pub namespace: String,
    pub name: String,
    pub metadata: Metadata,
    pub ports: String,
    pub business: String,
    pub department: String,
    pub cmdb_mod1: String,
    pub cmdb_mod2: String,
    pub cmdb_mod3: String,
    pub comment: String,
    pub owners: String,
    pub token: String,
    pub platform_id: String,
    /// Namespaces this service is exported to (service visibility).
    pub export_to: Vec<String>,
    /// For an alias: the key of the source service. `None` for ordinary services.
    pub reference: Option<ServiceKey>,
    pub ctime: Millis,
    pub mtime: Millis,
}

impl Service {
    pub fn key(&self) -> ServiceKey {
        ServiceKey::new(self.namespace.clone(), self.name.clone())
    }

    pub fn is_alias(&self) -> bool {
        self.reference.is_some()
    }
}

/// Identifies an instance within the whole server (its id is global).
pub type InstanceKey = String;

/// Where an instance runs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Location {
    pub region: Sym,
    pub zone: Sym,
    pub campus: Sym,
}

/// Heartbeat health checking of an instance.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HealthCheck {
    /// Seconds between heartbeats; the instance turns unhealthy after three missed ones.
    pub ttl_secs: u32,
}

/// One registered endpoint of a service.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
///
/// The texts that repeat across instances are interned [`Sym`]s and the metadata is compact
/// ([`InstanceMetadata`]): a registry holds hundreds of thousands of these.
pub struct Instance {
    pub id: String,
    pub namespace: Sym,
    pub service: Sym,
    pub vpc_id: Sym,
    pub host: String,
    pub port: u32,
    pub protocol: Sym,
    pub version: Sym,
    pub priority: u32,
    pub weight: u32,
    /// `Some` when heartbeat health checking is enabled for the instance.
    pub health_check: Option<HealthCheck>,
    pub healthy: bool,
    pub isolate: bool,
    pub location: Location,
    pub metadata: InstanceMetadata,
    pub logic_set: Sym,
    /// Changes on every update of the instance; rendered as 16 hex digits on the wire.
    pub revision: Revision,
    pub ctime: Millis,
    pub mtime: Millis,
}

impl Instance {
    pub fn service_key(&self) -> ServiceKey {
        ServiceKey::new(self.namespace.as_str(), self.service.as_str())
    }
}
