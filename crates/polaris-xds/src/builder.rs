//! The builder task: keeps [`XdsCache`] current. It subscribes to the registry's events and the
//! rule service's announcements, coalesces whatever arrived since it last ran, rebuilds only the
//! services named (all of them after a rule change or a lagged feed), and publishes once per
//! batch. A resource whose fingerprint did not change keeps its generation, so streams that
//! only see unchanged resources send nothing.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use envoy_types::pb::envoy::config::route::v3::VirtualHost;
use polaris_governance::Governance;
use polaris_naming::{Naming, RegistryEvent, ServiceView, Snapshot};
use polaris_types::ServiceKey;
use tokio::sync::broadcast::error::RecvError;

use crate::build::rules::ServiceRules;
use crate::build::{
    Direction, OUTBOUND_ROUTE_CONFIG, PASSTHROUGH_CLUSTER, any, cluster, endpoint,
    inbound_route_config_name, route, service_cluster_name,
};
use crate::cache::{NamespaceResources, Resource, Resources, ServiceEntry, XdsCache, fingerprint};

/// The resources of a namespace with no service.
pub fn empty_namespace() -> NamespaceResources {
    let mut ns = NamespaceResources::default();
    let passthrough = cluster::passthrough();
    ns.clusters.insert(
        PASSTHROUGH_CLUSTER.into(),
        Arc::new(Resource::encoded(
            PASSTHROUGH_CLUSTER.into(),
            any(&passthrough),
        )),
    );
    ns.routes
        .insert(OUTBOUND_ROUTE_CONFIG.into(), outbound_router(&[]));
    ns
}

fn outbound_router(hosts: &[(u64, VirtualHost)]) -> Arc<Resource> {
    let config = route::outbound_router(hosts.iter().map(|(_, h)| h.clone()));
    let inputs: Vec<u64> = hosts.iter().map(|(f, _)| *f).collect();
    Arc::new(Resource::built_from(
        OUTBOUND_ROUTE_CONFIG.into(),
        any(&config),
        inputs,
    ))
}

/// What one service contributes to its namespace.
struct ServiceParts {
    entry: Arc<ServiceEntry>,
    clusters: [Arc<Resource>; 2],
    endpoints: [Arc<Resource>; 2],
    inbound_route: Arc<Resource>,
}

/// The instances a service serves: its own, or its source's for an alias.
fn instances_of<'a>(snapshot: &'a Snapshot, view: &'a ServiceView) -> &'a ServiceView {
    view.service
        .reference
        .as_ref()
        .and_then(|source| snapshot.service(source))
        .map(Arc::as_ref)
        .unwrap_or(view)
}

fn build_service(snapshot: &Snapshot, governance: &Governance, view: &ServiceView) -> ServiceParts {
    let key = view.key.as_ref().clone();
    let source = instances_of(snapshot, view);
    let rules = ServiceRules::load(governance, &key);
    let ports: Vec<u32> = source
        .instances
        .values()
        .map(|i| i.port)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let entry = Arc::new(ServiceEntry {
        fingerprint: fingerprint((&key, &ports, &rules.revision)),
        key: key.clone(),
        ports,
        rules,
    });
    let clusters = [Direction::Outbound, Direction::Inbound].map(|direction| {
        let c = cluster::service_cluster(&key, direction, &entry.rules);
        Arc::new(Resource::encoded(c.name.clone(), any(&c)))
    });
    let served: Vec<_> = source
        .instances
        .values()
        .filter(|i| endpoint::is_served(i))
        .map(|i| {
            let l = &i.location;
            (
                &i.id,
                &i.host,
                i.port,
                i.weight,
                i.healthy,
                &l.region,
                &l.zone,
                &l.campus,
                &i.metadata,
            )
        })
        .collect();
    let outbound = endpoint::outbound(&key, source.instances.values().map(Arc::as_ref));
    let inbound = endpoint::inbound(&key, &entry.ports);
    let endpoints = [
        Arc::new(Resource::built_from(
            outbound.cluster_name.clone(),
            any(&outbound),
            served,
        )),
        Arc::new(Resource::encoded(
            inbound.cluster_name.clone(),
            any(&inbound),
        )),
    ];
    let config = route::inbound_route_config(&key, &entry.rules);
    let inbound_route = Arc::new(Resource::built_from(
        config.name.clone(),
        any(&config),
        &entry.rules.revision,
    ));
    ServiceParts {
        entry,
        clusters,
        endpoints,
        inbound_route,
    }
}

/// Puts `resource` into `map`; true when its content changed.
fn upsert(map: &mut Resources, resource: Arc<Resource>) -> bool {
    let same = map
        .get(&resource.name)
        .is_some_and(|old| old.fingerprint == resource.fingerprint);
    if !same {
        map.insert(resource.name.clone(), resource);
    }
    !same
}

/// Rebuilds the services `names` of `namespace` (all of them when `None`) into `current`.
/// Returns whether anything changed.
fn rebuild_namespace(
    snapshot: &Snapshot,
    governance: &Governance,
    namespace: &str,
    names: Option<&BTreeSet<String>>,
    current: &mut NamespaceResources,
) -> bool {
    let mut changed = [false; 4];
    let names: BTreeSet<String> = match names {
        Some(names) => names.clone(),
        None => snapshot
            .namespace_services(namespace)
            .map(|v| v.key.name.clone())
            .chain(current.services.keys().cloned())
            .collect(),
    };
    for name in &names {
        let key = ServiceKey::new(namespace, name.as_str());
        match snapshot.service(&key) {
            Some(view) => {
                let parts = build_service(snapshot, governance, view);
                for c in parts.clusters {
                    changed[0] |= upsert(&mut current.clusters, c);
                }
                for e in parts.endpoints {
                    changed[1] |= upsert(&mut current.endpoints, e);
                }
                changed[2] |= upsert(&mut current.routes, parts.inbound_route);
                let same = current
                    .services
                    .get(name)
                    .is_some_and(|old| old.fingerprint == parts.entry.fingerprint);
                if !same {
                    current.services.insert(name.clone(), parts.entry);
                    changed[3] = true;
                }
            }
            None => {
                for direction in [Direction::Outbound, Direction::Inbound] {
                    let resource = service_cluster_name(&key, direction);
                    changed[0] |= current.clusters.remove(&resource).is_some();
                    changed[1] |= current.endpoints.remove(&resource).is_some();
                }
                changed[2] |= current
                    .routes
                    .remove(&inbound_route_config_name(&key))
                    .is_some();
                changed[3] |= current.services.remove(name).is_some();
            }
        }
    }
    if changed[3] {
        let hosts: Vec<(u64, VirtualHost)> = current
            .services
            .values()
            .map(|e| {
                let host = route::outbound_virtual_host(&e.key, &e.ports, &e.rules);
                (e.fingerprint, host)
            })
            .collect();
        changed[2] |= upsert(&mut current.routes, outbound_router(&hosts));
    }
    for (slot, moved) in changed.iter().enumerate() {
        if *moved {
            current.generations[slot] += 1;
        }
    }
    changed.iter().any(|c| *c)
}

/// What a batch of events asks to rebuild.
#[derive(Default)]
struct Dirty {
    all: bool,
    services: BTreeMap<String, BTreeSet<String>>,
}

impl Dirty {
    fn add(&mut self, event: RegistryEvent) {
        match event {
            RegistryEvent::ServiceChanged(key) | RegistryEvent::ServiceRemoved(key) => {
                self.services
                    .entry(key.namespace)
                    .or_default()
                    .insert(key.name);
            }
            RegistryEvent::InstanceUpserted { .. } | RegistryEvent::InstanceRemoved { .. } => {}
            RegistryEvent::NamespacesChanged => {}
        }
    }
}

/// Builds everything once, then follows the change feeds until the registry closes.
pub async fn run(cache: Arc<XdsCache>, naming: Arc<Naming>, governance: Arc<Governance>) {
    let mut events = naming.cache().subscribe();
    let mut rules = governance.subscribe();
    let mut dirty = Dirty {
        all: true,
        ..Dirty::default()
    };
    loop {
        apply(&cache, &naming, &governance, std::mem::take(&mut dirty));
        tokio::select! {
            event = events.recv() => match event {
                Ok(event) => dirty.add(event),
                Err(RecvError::Lagged(_)) => dirty.all = true,
                Err(RecvError::Closed) => return,
            },
            rule = rules.recv() => match rule {
                Ok(_) | Err(RecvError::Lagged(_)) => dirty.all = true,
                Err(RecvError::Closed) => return,
            },
        }
        // Coalesce whatever else is already queued.
        loop {
            match events.try_recv() {
                Ok(event) => dirty.add(event),
                Err(tokio::sync::broadcast::error::TryRecvError::Lagged(_)) => dirty.all = true,
                Err(_) => break,
            }
        }
        while rules.try_recv().is_ok() {
            dirty.all = true;
        }
    }
}

/// Adds the aliases of the services named (they serve their source's instances).
fn with_aliases(snapshot: &Snapshot, services: &mut BTreeMap<String, BTreeSet<String>>) {
    let aliases: Vec<ServiceKey> = snapshot
        .services
        .values()
        .filter(|view| {
            view.service.reference.as_ref().is_some_and(|source| {
                services
                    .get(&source.namespace)
                    .is_some_and(|names| names.contains(&source.name))
            })
        })
        .map(|view| view.key.as_ref().clone())
        .collect();
    for alias in aliases {
        services
            .entry(alias.namespace)
            .or_default()
            .insert(alias.name);
    }
}

fn apply(cache: &XdsCache, naming: &Naming, governance: &Governance, dirty: Dirty) {
    let snapshot = naming.snapshot();
    let mut changed = false;
    if dirty.all {
        let namespaces: BTreeSet<String> = snapshot
            .services
            .keys()
            .map(|k| k.namespace.clone())
            .chain(cache.namespace_names())
            .collect();
        for namespace in namespaces {
            let mut current = NamespaceResources::clone(&cache.namespace(&namespace));
            if rebuild_namespace(&snapshot, governance, &namespace, None, &mut current) {
                cache.store(&namespace, current);
                changed = true;
            }
        }
    } else {
        let mut services = dirty.services;
        with_aliases(&snapshot, &mut services);
        for (namespace, names) in &services {
            let mut current = NamespaceResources::clone(&cache.namespace(namespace));
            if rebuild_namespace(&snapshot, governance, namespace, Some(names), &mut current) {
                cache.store(namespace, current);
                changed = true;
            }
        }
    }
    if changed {
        cache.publish();
    }
}
