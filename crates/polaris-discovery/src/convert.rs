//! Domain values as protobuf messages.

use polaris_naming::ServiceView;
use polaris_proto::v1;
use polaris_proto::v1::health_check::HealthCheckType;
use polaris_types::{Code, Instance, Millis, Service};

/// The code and info of a reply, as wrapper values.
pub fn status(code: Code, info: &str) -> (Option<u32>, Option<String>) {
    (Some(code.value()), Some(info.to_string()))
}

fn time(ms: Millis) -> Option<String> {
    polaris_types::time::format_millis(ms)
}

/// Every field of an instance except its token, as discovery returns it.
pub fn instance(ins: &Instance) -> v1::Instance {
    let health_check = ins.health_check.map(|hc| v1::HealthCheck {
        r#type: HealthCheckType::Heartbeat as i32,
        heartbeat: Some(v1::HeartbeatHealthCheck {
            ttl: Some(hc.ttl_secs),
        }),
    });
    v1::Instance {
        id: Some(ins.id.clone()),
        service: Some(ins.service.to_string()),
        namespace: Some(ins.namespace.to_string()),
        host: Some(ins.host.clone()),
        port: Some(ins.port),
        protocol: Some(ins.protocol.to_string()),
        version: Some(ins.version.to_string()),
        priority: Some(ins.priority),
        weight: Some(ins.weight),
        health_check,
        healthy: Some(ins.healthy),
        isolate: Some(ins.isolate),
        location: Some(v1::Location {
            region: Some(ins.location.region.to_string()),
            zone: Some(ins.location.zone.to_string()),
            campus: Some(ins.location.campus.to_string()),
        }),
        metadata: ins
            .metadata
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        logic_set: Some(ins.logic_set.to_string()),
        ctime: time(ins.ctime),
        mtime: time(ins.mtime),
        revision: Some(ins.revision.to_string()),
        service_token: None,
        enable_health_check: Some(ins.health_check.is_some()),
        vpc_id: Some(ins.vpc_id.to_string()),
    }
}

/// A service with its counts and revision. Never carries the token.
pub fn service(view: &ServiceView) -> v1::Service {
    let s = &view.service;
    v1::Service {
        revision: Some(view.revision.to_string()),
        total_instance_count: Some(view.instances.len() as u32),
        healthy_instance_count: Some(view.healthy_count as u32),
        isolate_instance_count: Some(view.isolated_count as u32),
        ..service_fields(s)
    }
}

/// A service's name, namespace and metadata, as service lists show it.
pub fn service_entry(s: &Service) -> v1::Service {
    v1::Service {
        name: Some(s.name.clone()),
        namespace: Some(s.namespace.clone()),
        metadata: s
            .metadata
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect(),
        ..Default::default()
    }
}

/// The stored fields of a service.
pub fn service_fields(s: &Service) -> v1::Service {
    v1::Service {
        ports: Some(s.ports.clone()),
        business: Some(s.business.clone()),
        department: Some(s.department.clone()),
        cmdb_mod1: Some(s.cmdb_mod1.clone()),
        cmdb_mod2: Some(s.cmdb_mod2.clone()),
        cmdb_mod3: Some(s.cmdb_mod3.clone()),
        comment: Some(s.comment.clone()),
        owners: Some(s.owners.clone()),
        ctime: time(s.ctime),
        mtime: time(s.mtime),
        platform_id: Some(s.platform_id.clone()),
        id: Some(s.id.clone()),
        export_to: s.export_to.clone(),
        ..service_entry(s)
    }
}
