//! What one node sees of one resource type: its namespace's resources (a wildcard request), or
//! the resources it names wherever they live (a cluster name carries its namespace; a listener
//! or route name that is no sidecar resource is a proxyless gRPC target). Each view carries a
//! stamp of the generations it was computed from, so a stream recomputes it only when one of
//! them moved.

use std::sync::Arc;

use polaris_types::ServiceKey;

use crate::build::{
    Direction, INBOUND_ROUTE_CONFIG, any, gateway, grpc, listener, parse_service_cluster_name,
};
use crate::cache::{NamespaceResources, Resource, XdsCache, XdsType, fingerprint, generation_slot};
use crate::node::NodeInfo;

/// The generations a view depends on: (namespace, generation) pairs.
pub type Stamp = Vec<(String, u64)>;

/// A computed view.
pub struct View {
    pub resources: Vec<Arc<Resource>>,
    pub stamp: Stamp,
}

impl View {
    /// The version of this set of resources: a fingerprint of their names and contents.
    pub fn version(&self) -> String {
        let parts: Vec<(&str, u64)> = self
            .resources
            .iter()
            .map(|r| (r.name.as_str(), r.fingerprint))
            .collect();
        format!("{:016x}", fingerprint(parts))
    }
}

/// Reads views for one node.
pub struct Viewer<'a> {
    pub cache: &'a XdsCache,
    pub node: &'a NodeInfo,
}

impl Viewer<'_> {
    fn touch(&self, stamp: &mut Stamp, namespace: &str, ty: XdsType) -> Arc<NamespaceResources> {
        let ns = self.cache.namespace(namespace);
        let generation = ns.generations[generation_slot(ty)];
        if !stamp.iter().any(|(n, _)| n == namespace) {
            stamp.push((namespace.to_string(), generation));
        }
        ns
    }

    /// `stamp` with the current generations: equal to `stamp` when nothing the view was
    /// computed from moved.
    pub fn refresh(&self, ty: XdsType, stamp: &Stamp) -> Stamp {
        stamp
            .iter()
            .map(|(namespace, _)| {
                let generation = self.cache.namespace(namespace).generations[generation_slot(ty)];
                (namespace.clone(), generation)
            })
            .collect()
    }

    /// The first candidate service a target names that exists.
    fn resolve_target(
        &self,
        stamp: &mut Stamp,
        ty: XdsType,
        target: &str,
    ) -> Option<Arc<crate::cache::ServiceEntry>> {
        grpc::target_candidates(target, self.node.namespace())
            .into_iter()
            .find_map(|key: ServiceKey| {
                let ns = self.touch(stamp, &key.namespace, ty);
                ns.services.get(&key.name).cloned()
            })
    }

    /// The sidecar listeners of the node.
    fn sidecar_listeners(&self, stamp: &mut Stamp) -> Vec<Arc<Resource>> {
        let ns = self.touch(stamp, self.node.namespace(), XdsType::Listener);
        let own = self.node.self_service();
        if self.node.is_gateway() {
            let l = gateway::listener(&own);
            return vec![Arc::new(Resource::encoded(l.name.clone(), any(&l)))];
        }
        let ports = match ns.services.get(&own.name) {
            Some(entry) => entry.ports.clone(),
            None => self.node.bind_ports(),
        };
        [Direction::Outbound, Direction::Inbound]
            .into_iter()
            .map(|d| {
                let l = listener::sidecar_listener(&own, d, &ports);
                Arc::new(Resource::encoded(l.name.clone(), any(&l)))
            })
            .collect()
    }

    /// The resources of `ty` the node sees for `names` (empty: wildcard).
    pub fn view(&self, ty: XdsType, names: &[String]) -> View {
        let mut stamp = Stamp::new();
        let home = self.touch(&mut stamp, self.node.namespace(), ty);
        let mut resources = Vec::new();
        if names.is_empty() {
            match home.of(ty) {
                Some(map) => resources.extend(map.values().cloned()),
                None => resources = self.sidecar_listeners(&mut stamp),
            }
        } else {
            let mut listeners = None;
            for name in names {
                if let Some(found) = self.named(&mut stamp, &home, ty, name, &mut listeners) {
                    resources.push(found);
                }
            }
            resources.sort_by(|a, b| a.name.cmp(&b.name));
            resources.dedup_by(|a, b| a.name == b.name);
        }
        View { resources, stamp }
    }

    fn named(
        &self,
        stamp: &mut Stamp,
        home: &NamespaceResources,
        ty: XdsType,
        name: &str,
        listeners: &mut Option<Vec<Arc<Resource>>>,
    ) -> Option<Arc<Resource>> {
        if let Some(found) = home.of(ty).and_then(|m| m.get(name)) {
            return Some(found.clone());
        }
        if let Some((_, key)) = parse_service_cluster_name(name) {
            let ns = self.touch(stamp, &key.namespace, ty);
            return ns.of(ty).and_then(|m| m.get(name)).cloned();
        }
        match ty {
            XdsType::Listener => {
                let sidecar = listeners.get_or_insert_with(|| self.sidecar_listeners(stamp));
                if let Some(found) = sidecar.iter().find(|l| l.name == name) {
                    return Some(found.clone());
                }
                self.resolve_target(stamp, ty, name)?;
                let l = grpc::api_listener(name);
                Some(Arc::new(Resource::encoded(name.to_string(), any(&l))))
            }
            XdsType::Route => {
                if name == gateway::route_config_name() {
                    let own = self.node.self_service();
                    let ns = self.touch(stamp, &own.namespace, ty);
                    let entry = ns.services.get(&own.name);
                    let rules = entry.map(|e| e.rules.clone()).unwrap_or_default();
                    let config = gateway::route_config(&own, &rules);
                    let inputs = entry.map(|e| e.fingerprint);
                    return Some(Arc::new(Resource::built_from(
                        name.to_string(),
                        any(&config),
                        (&own, inputs),
                    )));
                }
                if let Some(domain) = name
                    .strip_prefix(INBOUND_ROUTE_CONFIG)
                    .and_then(|n| n.strip_prefix('|'))
                {
                    let entry = self.resolve_target(stamp, ty, domain)?;
                    let ns = self.touch(stamp, &entry.key.namespace, ty);
                    return ns.routes.get(name).cloned();
                }
                let entry = self.resolve_target(stamp, ty, name)?;
                let config = grpc::route_config(name, &entry.key, &entry.ports, &entry.rules);
                Some(Arc::new(Resource::built_from(
                    name.to_string(),
                    any(&config),
                    entry.fingerprint,
                )))
            }
            _ => None,
        }
    }
}

/// The types whose views moved since their stamps were taken.
pub fn stale<'a>(
    cache: &XdsCache,
    node: Option<&NodeInfo>,
    stamps: impl IntoIterator<Item = (XdsType, &'a Stamp)>,
) -> Vec<XdsType> {
    let fallback;
    let node = match node {
        Some(node) => node,
        None => {
            fallback = anonymous();
            &fallback
        }
    };
    let viewer = Viewer { cache, node };
    stamps
        .into_iter()
        .filter(|(ty, stamp)| viewer.refresh(*ty, stamp) != **stamp)
        .map(|(ty, _)| ty)
        .collect()
}

/// The node of a stream that has not sent one.
pub fn anonymous() -> NodeInfo {
    NodeInfo::parse(&envoy_types::pb::envoy::config::core::v3::Node::default())
}
