//! Client discovery reads: a service's instances and a namespace's service list, each with a
//! revision so that clients holding the current one get a cheap "no change".

use std::sync::Arc;

use sha1::{Digest, Sha1};

use polaris_types::{Code, PolarisError, Result, Service, ServiceKey};

use crate::Naming;
use crate::cache::ServiceView;

/// The answer to an instance discovery.
#[derive(Clone, Debug)]
pub struct InstancesDiscovery {
    /// The service that holds the instances (the alias target when an alias was asked for).
    pub view: Arc<ServiceView>,
    /// The alias that was asked for, when it was one.
    pub alias: Option<Arc<Service>>,
    /// True when the client's revision is current: send no payload.
    pub unchanged: bool,
}

/// The answer to a service-list discovery.
#[derive(Clone, Debug)]
pub struct ServicesDiscovery {
    pub services: Vec<Arc<Service>>,
    /// Empty when there are no services.
    pub revision: String,
    pub unchanged: bool,
}

impl Naming {
    /// The instances of a service (or of the service an alias points to).
    pub fn discover_instances(
        &self,
        key: &ServiceKey,
        client_revision: &str,
    ) -> Result<InstancesDiscovery> {
        // As officially, only a missing name is refused: a name that could never be registered
        // is simply not found (400202), with the request echoed by the adapter.
        if key.name.is_empty() {
            return Err(PolarisError::new(Code::InvalidServiceName, "name is empty"));
        }
        if key.namespace.is_empty() {
            return Err(PolarisError::new(
                Code::InvalidNamespaceName,
                "namespace is empty",
            ));
        }
        let snapshot = self.snapshot();
        let Some(asked) = snapshot.service(key) else {
            return Err(PolarisError::new(
                Code::NotFoundResource,
                format!("service {key}"),
            ));
        };
        let (view, alias) = match &asked.service.reference {
            Some(target) => match snapshot.service(target) {
                Some(view) => (view.clone(), Some(asked.service.clone())),
                None => {
                    return Err(PolarisError::new(
                        Code::NotFoundSourceService,
                        key.to_string(),
                    ));
                }
            },
            None => (asked.clone(), None),
        };
        let unchanged = !client_revision.is_empty() && *view.revision == *client_revision;
        Ok(InstancesDiscovery {
            view,
            alias,
            unchanged,
        })
    }

    /// The services of one namespace, or of all namespaces when `namespace` is empty.
    pub fn discover_services(&self, namespace: &str, client_revision: &str) -> ServicesDiscovery {
        let snapshot = self.snapshot();
        let services: Vec<Arc<Service>> = snapshot
            .services
            .values()
            .filter(|v| !v.service.is_alias())
            .filter(|v| namespace.is_empty() || v.service.namespace == namespace)
            .map(|v| v.service.clone())
            .collect();
        let revision = if services.is_empty() {
            String::new()
        } else {
            // SHA-1 of every listed service's identity and mtime: the same on every node of a
            // cluster and in every build (a std hasher promises neither).
            let mut hasher = Sha1::new();
            for service in &services {
                for part in [&service.namespace, &service.name, &service.id] {
                    hasher.update(part.as_bytes());
                    hasher.update([0]);
                }
                hasher.update(service.mtime.to_le_bytes());
            }
            hex::encode(hasher.finalize())
        };
        let unchanged = !revision.is_empty() && revision == client_revision;
        ServicesDiscovery {
            services,
            revision,
            unchanged,
        }
    }
}
