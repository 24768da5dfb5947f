//! Namespace, Service, ServiceAlias and Instance in proto-JSON.

use std::collections::BTreeMap;

use polaris_naming::{
    AliasSpec, HealthCheckSpec, InstanceSpec, NamespaceSpec, NamespaceSummary, ServiceSpec,
    ServiceView,
};
use polaris_types::{Instance, Location, Namespace, Service};
use serde::Deserialize;
use serde_json::{Value, json};

use super::json::{opt_u32, time};
use crate::batch::Echo;

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct NamespaceIn {
    pub name: Option<String>,
    pub comment: Option<String>,
    pub owners: Option<String>,
    pub token: Option<String>,
    #[serde(alias = "serviceExportTo")]
    pub service_export_to: Option<Vec<String>>,
}

impl NamespaceIn {
    pub fn spec(&self) -> NamespaceSpec {
        NamespaceSpec {
            name: self.name.clone().unwrap_or_default(),
            comment: self.comment.clone(),
            owners: self.owners.clone(),
            service_export_to: self.service_export_to.clone(),
        }
    }
}

impl Echo for NamespaceIn {
    const FIELD: &'static str = "namespace";

    fn echo(&self) -> Value {
        json!({ "name": self.name, "comment": self.comment, "owners": self.owners, "token": self.token })
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct ServiceIn {
    pub id: Option<String>,
    pub name: Option<String>,
    pub namespace: Option<String>,
    pub metadata: Option<BTreeMap<String, String>>,
    pub ports: Option<String>,
    pub business: Option<String>,
    pub department: Option<String>,
    #[serde(alias = "cmdbMod1")]
    pub cmdb_mod1: Option<String>,
    #[serde(alias = "cmdbMod2")]
    pub cmdb_mod2: Option<String>,
    #[serde(alias = "cmdbMod3")]
    pub cmdb_mod3: Option<String>,
    pub comment: Option<String>,
    pub owners: Option<String>,
    pub token: Option<String>,
    #[serde(alias = "platformId")]
    pub platform_id: Option<String>,
    #[serde(alias = "exportTo")]
    pub export_to: Option<Vec<String>>,
    pub revision: Option<String>,
}

impl ServiceIn {
    pub fn spec(&self) -> ServiceSpec {
        ServiceSpec {
            namespace: self.namespace.clone().unwrap_or_default(),
            name: self.name.clone().unwrap_or_default(),
            metadata: self.metadata.clone(),
            ports: self.ports.clone(),
            business: self.business.clone(),
            department: self.department.clone(),
            cmdb_mod1: self.cmdb_mod1.clone(),
            cmdb_mod2: self.cmdb_mod2.clone(),
            cmdb_mod3: self.cmdb_mod3.clone(),
            comment: self.comment.clone(),
            owners: self.owners.clone(),
            platform_id: self.platform_id.clone(),
            export_to: self.export_to.clone(),
        }
    }
}

impl Echo for ServiceIn {
    const FIELD: &'static str = "service";

    fn echo(&self) -> Value {
        json!({ "id": self.id, "name": self.name, "namespace": self.namespace })
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct AliasIn {
    pub service: Option<String>,
    pub namespace: Option<String>,
    pub alias: Option<String>,
    #[serde(alias = "aliasNamespace")]
    pub alias_namespace: Option<String>,
    #[serde(rename = "type")]
    pub kind: Option<Value>,
    pub owners: Option<String>,
    pub comment: Option<String>,
    #[serde(alias = "serviceToken")]
    pub service_token: Option<String>,
}

impl AliasIn {
    pub fn spec(&self) -> AliasSpec {
        AliasSpec {
            service: self.service.clone().unwrap_or_default(),
            namespace: self.namespace.clone().unwrap_or_default(),
            alias: self.alias.clone().unwrap_or_default(),
            alias_namespace: self.alias_namespace.clone().unwrap_or_default(),
            comment: self.comment.clone(),
            owners: self.owners.clone(),
        }
    }
}

impl Echo for AliasIn {
    const FIELD: &'static str = "alias";

    fn echo(&self) -> Value {
        json!({
            "service": self.service, "namespace": self.namespace,
            "alias": self.alias, "alias_namespace": self.alias_namespace,
        })
    }
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct HeartbeatIn {
    #[serde(deserialize_with = "opt_u32")]
    pub ttl: Option<u32>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct HealthCheckIn {
    #[serde(rename = "type")]
    pub kind: Option<Value>,
    pub heartbeat: Option<HeartbeatIn>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct LocationIn {
    pub region: Option<String>,
    pub zone: Option<String>,
    pub campus: Option<String>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default)]
pub struct InstanceIn {
    pub id: Option<String>,
    pub service: Option<String>,
    pub namespace: Option<String>,
    #[serde(alias = "vpcId")]
    pub vpc_id: Option<String>,
    pub host: Option<String>,
    #[serde(deserialize_with = "opt_u32")]
    pub port: Option<u32>,
    pub protocol: Option<String>,
    pub version: Option<String>,
    #[serde(deserialize_with = "opt_u32")]
    pub priority: Option<u32>,
    #[serde(deserialize_with = "opt_u32")]
    pub weight: Option<u32>,
    #[serde(rename = "enableHealthCheck", alias = "enable_health_check")]
    pub enable_health_check: Option<bool>,
    #[serde(rename = "healthCheck", alias = "health_check")]
    pub health_check: Option<HealthCheckIn>,
    pub healthy: Option<bool>,
    pub isolate: Option<bool>,
    pub location: Option<LocationIn>,
    pub metadata: Option<BTreeMap<String, String>>,
    #[serde(alias = "logicSet")]
    pub logic_set: Option<String>,
    #[serde(alias = "serviceToken")]
    pub service_token: Option<String>,
}

impl InstanceIn {
    pub fn spec(&self) -> InstanceSpec {
        InstanceSpec {
            id: self.id.clone(),
            namespace: self.namespace.clone().unwrap_or_default(),
            service: self.service.clone().unwrap_or_default(),
            vpc_id: self.vpc_id.clone().unwrap_or_default(),
            host: self.host.clone().unwrap_or_default(),
            port: self.port,
            protocol: self.protocol.clone(),
            version: self.version.clone(),
            priority: self.priority,
            weight: self.weight,
            health_check: self.health_check.as_ref().and_then(|hc| {
                hc.heartbeat
                    .as_ref()
                    .map(|hb| HealthCheckSpec { ttl: hb.ttl })
            }),
            enable_health_check: self.enable_health_check,
            healthy: self.healthy,
            isolate: self.isolate,
            location: self.location.as_ref().map(|l| Location {
                region: l.region.as_deref().unwrap_or_default().into(),
                zone: l.zone.as_deref().unwrap_or_default().into(),
                campus: l.campus.as_deref().unwrap_or_default().into(),
            }),
            metadata: self.metadata.clone(),
            logic_set: self.logic_set.clone(),
        }
    }
}

impl Echo for InstanceIn {
    const FIELD: &'static str = "instance";

    fn echo(&self) -> Value {
        json!({
            "id": self.id, "service": self.service, "namespace": self.namespace,
            "vpc_id": self.vpc_id, "host": self.host, "port": self.port,
        })
    }
}

/// A namespace as listed.
pub fn namespace_out(summary: &NamespaceSummary) -> Value {
    let ns = &summary.namespace;
    json!({
        "id": ns.name,
        "name": ns.name,
        "comment": ns.comment,
        "owners": ns.owners,
        "token": null,
        "ctime": time(ns.ctime),
        "mtime": time(ns.mtime),
        "total_service_count": summary.service_count,
        "total_health_instance_count": summary.healthy_instance_count,
        "total_instance_count": summary.instance_count,
        "user_ids": [],
        "group_ids": [],
        "remove_user_ids": [],
        "remove_group_ids": [],
        "editable": true,
        "deleteable": true,
        "service_export_to": ns.service_export_to,
        "metadata": {},
    })
}

/// `{name, token}` of a created namespace.
pub fn namespace_created(ns: &Namespace) -> Value {
    json!({ "name": ns.name, "token": ns.token })
}

/// A service with its instance counts, as listed by the console.
pub fn service_out(view: &ServiceView) -> Value {
    let s = &view.service;
    json!({
        "id": s.id,
        "name": s.name,
        "namespace": s.namespace,
        "metadata": s.metadata,
        "ports": s.ports,
        "business": s.business,
        "department": s.department,
        "cmdb_mod1": s.cmdb_mod1,
        "cmdb_mod2": s.cmdb_mod2,
        "cmdb_mod3": s.cmdb_mod3,
        "comment": s.comment,
        "owners": s.owners,
        "token": null,
        "ctime": time(s.ctime),
        "mtime": time(s.mtime),
        "revision": &*view.revision,
        "platform_id": s.platform_id,
        "total_instance_count": view.instances.len(),
        "healthy_instance_count": view.healthy_count,
        "user_ids": [],
        "group_ids": [],
        "editable": true,
        "deleteable": true,
        "export_to": s.export_to,
    })
}

/// `{id, name, namespace, token}` of a created service.
pub fn service_created(s: &Service) -> Value {
    json!({ "id": s.id, "name": s.name, "namespace": s.namespace, "token": s.token })
}

/// An alias as listed.
pub fn alias_out(alias: &Service) -> Value {
    let (service, namespace) = alias
        .reference
        .as_ref()
        .map_or((String::new(), String::new()), |r| {
            (r.name.clone(), r.namespace.clone())
        });
    json!({
        "id": alias.id,
        "service": service,
        "namespace": namespace,
        "alias": alias.name,
        "alias_namespace": alias.namespace,
        "type": "DEFAULT",
        "owners": alias.owners,
        "comment": alias.comment,
        "service_token": null,
        "ctime": time(alias.ctime),
        "mtime": time(alias.mtime),
        "editable": true,
        "deleteable": true,
    })
}

/// Every field of an instance. `service_token` is filled only where the official server does.
pub fn instance_out(i: &Instance, service_token: Option<&str>) -> Value {
    let health_check = i
        .health_check
        .map(|hc| json!({ "type": "HEARTBEAT", "heartbeat": { "ttl": hc.ttl_secs } }));
    json!({
        "id": i.id,
        "service": i.service.as_str(),
        "namespace": i.namespace.as_str(),
        "vpc_id": i.vpc_id.as_str(),
        "host": i.host,
        "port": i.port,
        "protocol": i.protocol.as_str(),
        "version": i.version.as_str(),
        "priority": i.priority,
        "weight": i.weight,
        "enableHealthCheck": i.health_check.is_some(),
        "healthCheck": health_check,
        "healthy": i.healthy,
        "isolate": i.isolate,
        "location": {
            "region": i.location.region.as_str(),
            "zone": i.location.zone.as_str(),
            "campus": i.location.campus.as_str(),
        },
        "metadata": i.metadata.to_map(),
        "logic_set": i.logic_set.as_str(),
        "ctime": time(i.ctime),
        "mtime": time(i.mtime),
        "revision": i.revision.to_string(),
        "service_token": service_token,
    })
}

/// `{id, service, namespace, vpc_id, host, port}` of a registered instance.
pub fn instance_created(i: &Instance) -> Value {
    json!({
        "id": i.id, "service": i.service.as_str(), "namespace": i.namespace.as_str(),
        "vpc_id": i.vpc_id.as_str(), "host": i.host, "port": i.port,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn instance_accepts_snake_and_camel_names_and_ignores_unknown_fields() {
        let camel: InstanceIn = serde_json::from_str(
            r#"{"service":"s","namespace":"n","host":"h","port":"80","vpcId":"v","logicSet":"l",
                "enableHealthCheck":true,"healthCheck":{"type":"HEARTBEAT","heartbeat":{"ttl":7}},
                "unknown":{"deep":[1,2]}}"#,
        )
        .unwrap();
        let snake: InstanceIn = serde_json::from_str(
            r#"{"service":"s","namespace":"n","host":"h","port":80,"vpc_id":"v","logic_set":"l",
                "enable_health_check":true,"health_check":{"type":1,"heartbeat":{"ttl":"7"}}}"#,
        )
        .unwrap();
        for parsed in [camel, snake] {
            let spec = parsed.spec();
            assert_eq!(spec.port, Some(80));
            assert_eq!(spec.vpc_id, "v");
            assert_eq!(spec.logic_set.as_deref(), Some("l"));
            assert_eq!(spec.health_check.and_then(|h| h.ttl), Some(7));
            assert_eq!(spec.enable_health_check, Some(true));
        }
    }

    #[test]
    fn wrong_types_are_refused() {
        assert!(serde_json::from_str::<InstanceIn>(r#"{"port":-1}"#).is_err());
        assert!(serde_json::from_str::<InstanceIn>(r#"{"host":5}"#).is_err());
        assert!(serde_json::from_str::<InstanceIn>(r#"{"metadata":{"a":1}}"#).is_err());
        assert!(serde_json::from_str::<ServiceIn>(r#"{"name":["x"]}"#).is_err());
    }
}
