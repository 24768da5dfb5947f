//! Who is asking: the Polaris view of an xDS `Node` (run type, namespace, own service, TLS mode),
//! parsed as the official server does from the node id `[<runType>~]<ns>/<uuid>~<ip>` and the
//! metadata overrides.

use std::collections::BTreeMap;

use envoy_types::pb::envoy::config::core::v3::Node;
use envoy_types::pb::google::protobuf::{Struct, value::Kind};
use polaris_types::ServiceKey;

/// Metadata key: the sidecar's own namespace.
pub const SIDECAR_NAMESPACE: &str = "sidecar.polarismesh.cn/serviceNamespace";
/// Metadata key: the sidecar's own service.
pub const SIDECAR_SERVICE: &str = "sidecar.polarismesh.cn/serviceName";
/// Metadata key: the sidecar's bind ports when its service is not registered.
pub const SIDECAR_BIND_PORTS: &str = "sidecar.polarismesh.cn/bindPorts";
/// Metadata keys: the gateway's own namespace and service (and their legacy spellings).
pub const GATEWAY_NAMESPACE: &str = "gateway.polarismesh.cn/serviceNamespace";
pub const GATEWAY_SERVICE: &str = "gateway.polarismesh.cn/serviceName";
pub const OLD_GATEWAY_NAMESPACE: &str = "gateway_namespace";
pub const OLD_GATEWAY_SERVICE: &str = "gateway_service";
/// Metadata key: the node's mTLS mode.
pub const TLS_MODE: &str = "polarismesh.cn/tls-mode";

/// How the node runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum RunType {
    Sidecar,
    Gateway,
}

/// The node's mTLS mode (`polarismesh.cn/tls-mode`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub enum TlsMode {
    #[default]
    None,
    Permissive,
    Strict,
}

/// A parsed xDS client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct NodeInfo {
    pub id: String,
    pub run_type: RunType,
    /// The namespace from the node id (empty when the id has another shape).
    pub id_namespace: String,
    pub ip: String,
    pub metadata: BTreeMap<String, String>,
    pub tls: TlsMode,
}

/// Splits a node id the way the official server's pattern does:
/// `^((\S+)~(\S+)|(\S+))/([^~]+)~([^~]+)$`. Returns (run type, namespace, uuid, ip).
pub fn parse_node_id(id: &str) -> Option<(String, String, String, String)> {
    if id.chars().any(char::is_whitespace) {
        return None;
    }
    // The uuid and ip hold no `~`; the last `/` followed by `uuid~ip` ends the prefix.
    let (uuid_ip, prefix) = id.rsplit_once('/').map(|(p, rest)| (rest, p))?;
    let (uuid, ip) = uuid_ip.split_once('~')?;
    if uuid.is_empty() || ip.is_empty() || ip.contains('~') || prefix.is_empty() {
        return None;
    }
    let (run_type, namespace) = match prefix.split_once('~') {
        // Greedy `(\S+)~(\S+)`: the run type extends to the last `~` of the prefix.
        Some(_) => {
            let (run, ns) = prefix.rsplit_once('~')?;
            if run.is_empty() || ns.is_empty() {
                return None;
            }
            (run.to_string(), ns.to_string())
        }
        None => ("sidecar".to_string(), prefix.to_string()),
    };
    Some((run_type, namespace, uuid.to_string(), ip.to_string()))
}

fn metadata_strings(meta: Option<&Struct>) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (key, value) in meta.map(|m| &m.fields).into_iter().flatten() {
        let text = match &value.kind {
            Some(Kind::StringValue(s)) => s.clone(),
            Some(Kind::NumberValue(n)) => (*n as i64).to_string(),
            Some(Kind::BoolValue(b)) => b.to_string(),
            _ => continue,
        };
        out.insert(key.clone(), text);
    }
    out
}

impl NodeInfo {
    pub fn parse(node: &Node) -> NodeInfo {
        let parsed = parse_node_id(&node.id);
        let (run_type, id_namespace, ip) = match parsed {
            Some((run, ns, _, ip)) => (run, ns, ip),
            None => ("sidecar".to_string(), String::new(), String::new()),
        };
        let metadata = metadata_strings(node.metadata.as_ref());
        let tls = match metadata.get(TLS_MODE).map(String::as_str) {
            Some("permissive") => TlsMode::Permissive,
            Some("strict") => TlsMode::Strict,
            _ => TlsMode::None,
        };
        NodeInfo {
            id: node.id.clone(),
            run_type: if run_type == "gateway" {
                RunType::Gateway
            } else {
                RunType::Sidecar
            },
            id_namespace,
            ip,
            metadata,
            tls,
        }
    }

    fn meta(&self, key: &str) -> Option<&str> {
        self.metadata.get(key).map(String::as_str)
    }

    /// A gateway node that names its service (new or legacy keys).
    pub fn is_gateway(&self) -> bool {
        let both = |ns: &str, svc: &str| {
            self.meta(ns).is_some_and(|v| !v.is_empty())
                && self.meta(svc).is_some_and(|v| !v.is_empty())
        };
        self.run_type == RunType::Gateway
            && (both(GATEWAY_NAMESPACE, GATEWAY_SERVICE)
                || both(OLD_GATEWAY_NAMESPACE, OLD_GATEWAY_SERVICE))
    }

    /// The namespace whose resources the node sees.
    pub fn namespace(&self) -> &str {
        let keys: &[&str] = if self.is_gateway() {
            &[GATEWAY_NAMESPACE, OLD_GATEWAY_NAMESPACE]
        } else {
            &[SIDECAR_NAMESPACE]
        };
        keys.iter()
            .find_map(|k| self.meta(k))
            .unwrap_or(&self.id_namespace)
    }

    /// The node's own service (its name may be empty).
    pub fn self_service(&self) -> ServiceKey {
        let name = if self.is_gateway() {
            self.meta(GATEWAY_SERVICE)
                .or_else(|| self.meta(OLD_GATEWAY_SERVICE))
        } else {
            self.meta(SIDECAR_SERVICE)
        };
        ServiceKey::new(self.namespace(), name.unwrap_or_default())
    }

    /// Ports from `sidecar.polarismesh.cn/bindPorts` (for an unregistered own service).
    pub fn bind_ports(&self) -> Vec<u32> {
        self.meta(SIDECAR_BIND_PORTS)
            .unwrap_or_default()
            .split(',')
            .filter_map(|p| p.trim().parse::<u32>().ok())
            .filter(|p| *p <= 65535)
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ids_parse_like_the_official_pattern() {
        let p = |id: &str| parse_node_id(id).map(|(r, n, u, i)| format!("{r} {n} {u} {i}"));
        assert_eq!(
            p("default/abc-1~10.0.0.1").as_deref(),
            Some("sidecar default abc-1 10.0.0.1")
        );
        assert_eq!(
            p("gateway~prod/uuid~1.2.3.4").as_deref(),
            Some("gateway prod uuid 1.2.3.4")
        );
        assert_eq!(p("no-slash"), None);
        assert_eq!(p("ns/uuid"), None);
        assert_eq!(p("ns/uuid~ip~x"), None);
        assert_eq!(p("n s/uuid~ip"), None);
    }

    #[test]
    fn metadata_overrides_the_namespace_and_names_the_service() {
        let mut node = Node {
            id: "default/u~1.1.1.1".into(),
            ..Default::default()
        };
        let mut meta = Struct::default();
        let text = |s: &str| envoy_types::pb::google::protobuf::Value {
            kind: Some(Kind::StringValue(s.into())),
        };
        meta.fields.insert(SIDECAR_NAMESPACE.into(), text("prod"));
        meta.fields.insert(SIDECAR_SERVICE.into(), text("orders"));
        meta.fields.insert(TLS_MODE.into(), text("strict"));
        node.metadata = Some(meta);
        let info = NodeInfo::parse(&node);
        assert_eq!(info.namespace(), "prod");
        assert_eq!(info.self_service(), ServiceKey::new("prod", "orders"));
        assert_eq!(info.tls, TlsMode::Strict);
        assert_eq!(info.run_type, RunType::Sidecar);
    }
}
