//! On-disk encoding of records: one format version byte, then JSON of a private serde mirror of
//! the domain type. The domain types stay free of serde on purpose; this module owns the format.

use polaris_store::{StoreError, StoreResult};
use polaris_types::{
    HealthCheck, Instance, Location, Metadata, Millis, Namespace, Revision, Rule, RuleKind,
    RuleTarget, Service, ServiceKey, TargetRole,
};
use serde::{Deserialize, Serialize, de::DeserializeOwned};

/// Version of the record encoding written by this build.
const FORMAT_V1: u8 = 1;

/// Separates namespace and name in service keys; names never contain NUL.
pub(crate) const KEY_SEPARATOR: char = '\u{0}';

#[derive(Serialize, Deserialize)]
struct NamespaceV1 {
    name: String,
    comment: String,
    owners: String,
    token: String,
    service_export_to: Vec<String>,
    ctime: Millis,
    mtime: Millis,
}

#[derive(Serialize, Deserialize)]
struct ServiceV1 {
    id: String,
    namespace: String,
    name: String,
    metadata: Metadata,
    ports: String,
    business: String,
    department: String,
    cmdb_mod1: String,
    cmdb_mod2: String,
    cmdb_mod3: String,
    comment: String,
    owners: String,
    token: String,
    platform_id: String,
    export_to: Vec<String>,
    /// `(namespace, name)` of the source service, for an alias.
    reference: Option<(String, String)>,
    ctime: Millis,
    mtime: Millis,
}

#[derive(Serialize, Deserialize)]
struct InstanceV1 {
    id: String,
    namespace: String,
    service: String,
    vpc_id: String,
    host: String,
    port: u32,
    protocol: String,
    version: String,
    priority: u32,
    weight: u32,
    /// Heartbeat TTL in seconds when health checking is enabled.
    health_check_ttl: Option<u32>,
    healthy: bool,
    isolate: bool,
    region: String,
    zone: String,
    campus: String,
    metadata: Metadata,
    logic_set: String,
    revision: String,
    ctime: Millis,
    mtime: Millis,
}

pub(crate) fn encode<T: Serialize>(value: &T) -> Vec<u8> {
    let mut bytes = vec![FORMAT_V1];
    // Serializing plain structs of strings, integers and string maps into a Vec cannot fail.
    if let Err(error) = serde_json::to_writer(&mut bytes, value) {
        tracing::error!(%error, "record encoding failed");
    }
    bytes
}

pub(crate) fn decode<T: DeserializeOwned>(kind: &str, bytes: &[u8]) -> StoreResult<T> {
    match bytes.split_first() {
        Some((&FORMAT_V1, json)) => serde_json::from_slice(json)
            .map_err(|e| StoreError::Corrupt(format!("undecodable {kind} record: {e}"))),
        Some((version, _)) => Err(StoreError::Corrupt(format!(
            "{kind} record has unknown format version {version}"
        ))),
        None => Err(StoreError::Corrupt(format!("empty {kind} record"))),
    }
}

pub(crate) fn encode_namespace(ns: &Namespace) -> Vec<u8> {
    encode(&NamespaceV1 {
        name: ns.name.clone(),
        comment: ns.comment.clone(),
        owners: ns.owners.clone(),
        token: ns.token.clone(),
        service_export_to: ns.service_export_to.clone(),
        ctime: ns.ctime,
        mtime: ns.mtime,
    })
}

pub(crate) fn decode_namespace(bytes: &[u8]) -> StoreResult<Namespace> {
    let r: NamespaceV1 = decode("namespace", bytes)?;
    Ok(Namespace {
        name: r.name,
        comment: r.comment,
        owners: r.owners,
        token: r.token,
        service_export_to: r.service_export_to,
        ctime: r.ctime,
        mtime: r.mtime,
    })
}

pub(crate) fn encode_service(s: &Service) -> Vec<u8> {
    encode(&ServiceV1 {
        id: s.id.clone(),
        namespace: s.namespace.clone(),
        name: s.name.clone(),
        metadata: s.metadata.clone(),
        ports: s.ports.clone(),
        business: s.business.clone(),
        department: s.department.clone(),
        cmdb_mod1: s.cmdb_mod1.clone(),
        cmdb_mod2: s.cmdb_mod2.clone(),
        cmdb_mod3: s.cmdb_mod3.clone(),
        comment: s.comment.clone(),
        owners: s.owners.clone(),
        token: s.token.clone(),
        platform_id: s.platform_id.clone(),
        export_to: s.export_to.clone(),
        reference: s
            .reference
            .as_ref()
            .map(|k| (k.namespace.clone(), k.name.clone())),
        ctime: s.ctime,
        mtime: s.mtime,
    })
}

pub(crate) fn decode_service(bytes: &[u8]) -> StoreResult<Service> {
    let r: ServiceV1 = decode("service", bytes)?;
    Ok(Service {
        id: r.id,
        namespace: r.namespace,
        name: r.name,
        metadata: r.metadata,
        ports: r.ports,
        business: r.business,
        department: r.department,
        cmdb_mod1: r.cmdb_mod1,
        cmdb_mod2: r.cmdb_mod2,
        cmdb_mod3: r.cmdb_mod3,
        comment: r.comment,
        owners: r.owners,
        token: r.token,
        platform_id: r.platform_id,
        export_to: r.export_to,
        reference: r
            .reference
            .map(|(namespace, name)| ServiceKey { namespace, name }),
        ctime: r.ctime,
        mtime: r.mtime,
    })
}

pub(crate) fn encode_instance(i: &Instance) -> Vec<u8> {
    encode(&InstanceV1 {
        id: i.id.clone(),
        namespace: i.namespace.to_string(),
        service: i.service.to_string(),
        vpc_id: i.vpc_id.to_string(),
        host: i.host.clone(),
        port: i.port,
        protocol: i.protocol.to_string(),
        version: i.version.to_string(),
        priority: i.priority,
        weight: i.weight,
        health_check_ttl: i.health_check.map(|h| h.ttl_secs),
        healthy: i.healthy,
        isolate: i.isolate,
        region: i.location.region.to_string(),
        zone: i.location.zone.to_string(),
        campus: i.location.campus.to_string(),
        metadata: i.metadata.to_map(),
        logic_set: i.logic_set.to_string(),
        revision: i.revision.to_string(),
        ctime: i.ctime,
        mtime: i.mtime,
    })
}

pub(crate) fn decode_instance(bytes: &[u8]) -> StoreResult<Instance> {
    let r: InstanceV1 = decode("instance", bytes)?;
    Ok(Instance {
        id: r.id,
        namespace: r.namespace.into(),
        service: r.service.into(),
        vpc_id: r.vpc_id.into(),
        host: r.host,
        port: r.port,
        protocol: r.protocol.into(),
        version: r.version.into(),
        priority: r.priority,
        weight: r.weight,
        health_check: r.health_check_ttl.map(|ttl_secs| HealthCheck { ttl_secs }),
        healthy: r.healthy,
        isolate: r.isolate,
        location: Location {
            region: r.region.into(),
            zone: r.zone.into(),
            campus: r.campus.into(),
        },
        metadata: r.metadata.into(),
        logic_set: r.logic_set.into(),
        revision: Revision::parse(&r.revision),
        ctime: r.ctime,
        mtime: r.mtime,
    })
}

#[derive(Serialize, Deserialize)]
struct RuleV1 {
    kind: String,
    id: String,
    name: String,
    namespace: String,
    enable: bool,
    priority: u32,
    description: String,
    /// `(namespace, service, role)` with role `caller` or `callee`.
    targets: Vec<(String, String, String)>,
    /// The opaque body, hex-encoded.
    body: String,
    revision: String,
    ctime: Millis,
    mtime: Millis,
}

fn role_name(role: TargetRole) -> &'static str {
    match role {
        TargetRole::Caller => "caller",
        TargetRole::Callee => "callee",
    }
}

pub(crate) fn encode_rule(r: &Rule) -> Vec<u8> {
    encode(&RuleV1 {
        kind: r.kind.as_str().to_string(),
        id: r.id.clone(),
        name: r.name.clone(),
        namespace: r.namespace.clone(),
        enable: r.enable,
        priority: r.priority,
        description: r.description.clone(),
        targets: r
            .targets
            .iter()
            .map(|t| {
                (
                    t.namespace.clone(),
                    t.service.clone(),
                    role_name(t.role).to_string(),
                )
            })
            .collect(),
        body: hex::encode(&r.body),
        revision: r.revision.clone(),
        ctime: r.ctime,
        mtime: r.mtime,
    })
}

pub(crate) fn decode_rule(bytes: &[u8]) -> StoreResult<Rule> {
    let r: RuleV1 = decode("rule", bytes)?;
    let corrupt = |what: &str| StoreError::Corrupt(format!("rule {}: {what}", r.id));
    let kind = RuleKind::parse(&r.kind).ok_or_else(|| corrupt("unknown kind"))?;
    let targets = r
        .targets
        .iter()
        .map(|(namespace, service, role)| {
            let role = match role.as_str() {
                "caller" => TargetRole::Caller,
                "callee" => TargetRole::Callee,
                _ => return Err(corrupt("unknown target role")),
            };
            Ok(RuleTarget {
                namespace: namespace.clone(),
                service: service.clone(),
                role,
            })
        })
        .collect::<StoreResult<Vec<_>>>()?;
    let body = hex::decode(&r.body).map_err(|_| corrupt("body is not hex"))?;
    Ok(Rule {
        kind,
        id: r.id,
        name: r.name,
        namespace: r.namespace,
        enable: r.enable,
        priority: r.priority,
        description: r.description,
        targets,
        body: body.into(),
        revision: r.revision,
        ctime: r.ctime,
        mtime: r.mtime,
    })
}

/// The table key of a rule: `kind NUL id`.
pub(crate) fn rule_key(kind: RuleKind, id: &str) -> String {
    format!("{}{KEY_SEPARATOR}{id}", kind.as_str())
}

/// Parses a key written by [`rule_key`].
pub(crate) fn parse_rule_key(key: &str) -> StoreResult<(RuleKind, String)> {
    key.split_once(KEY_SEPARATOR)
        .and_then(|(kind, id)| Some((RuleKind::parse(kind)?, id.to_string())))
        .ok_or_else(|| StoreError::Corrupt(format!("rule key {key:?} is malformed")))
}

/// The table key of a service: `namespace NUL name`.
pub(crate) fn service_key(key: &ServiceKey) -> String {
    format!("{}{KEY_SEPARATOR}{}", key.namespace, key.name)
}

/// Parses a key written by [`service_key`].
pub(crate) fn parse_service_key(key: &str) -> StoreResult<ServiceKey> {
    key.split_once(KEY_SEPARATOR)
        .map(|(namespace, name)| ServiceKey::new(namespace, name))
        .ok_or_else(|| StoreError::Corrupt(format!("service key {key:?} lacks a separator")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_version_and_garbage_are_corrupt() {
        let mut bytes = encode_namespace(&Namespace::default());
        assert!(decode_namespace(&bytes).is_ok());
        bytes[0] = 9;
        assert!(matches!(
            decode_namespace(&bytes),
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(
            decode_instance(&[FORMAT_V1, b'{']),
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(decode_service(&[]), Err(StoreError::Corrupt(_))));
        assert!(matches!(
            parse_service_key("no-separator"),
            Err(StoreError::Corrupt(_))
        ));
        let key = ServiceKey::new("ns", "a/b");
        assert_eq!(parse_service_key(&service_key(&key)).unwrap(), key);
    }
}
