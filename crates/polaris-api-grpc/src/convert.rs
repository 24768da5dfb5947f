//! Protobuf requests to domain specs, and the unary reply envelopes.

use polaris_discovery::convert::status;
use polaris_naming::{HealthCheckSpec, InstanceSpec};
use polaris_proto::v1;
use polaris_proto::v1::health_check::HealthCheckType;
use polaris_types::{Code, Instance, Location, PolarisError};

/// A `Response` carrying only a code and its text.
pub fn response(code: Code) -> v1::Response {
    let (code, info) = status(code, code.info());
    v1::Response {
        code,
        info,
        ..Default::default()
    }
}

/// A `Response` for a failed operation.
pub fn error_response(err: &PolarisError) -> v1::Response {
    v1::Response {
        code: Some(err.code.value()),
        info: Some(err.info()),
        ..Default::default()
    }
}

/// The spec of an instance as an SDK sends it. Health checking is asked for by the presence of
/// `health_check.heartbeat`, unless `enable_health_check` is explicitly false.
pub fn instance_spec(ins: &v1::Instance) -> InstanceSpec {
    InstanceSpec {
        id: ins.id.clone(),
        namespace: ins.namespace.clone().unwrap_or_default(),
        service: ins.service.clone().unwrap_or_default(),
        vpc_id: ins.vpc_id.clone().unwrap_or_default(),
        host: ins.host.clone().unwrap_or_default(),
        port: ins.port,
        protocol: ins.protocol.clone(),
        version: ins.version.clone(),
        priority: ins.priority,
        weight: ins.weight,
        health_check: ins
            .health_check
            .as_ref()
            .filter(|hc| hc.r#type != HealthCheckType::Unknown as i32 || hc.heartbeat.is_some())
            .and_then(|hc| hc.heartbeat.as_ref())
            .map(|hb| HealthCheckSpec { ttl: hb.ttl }),
        enable_health_check: ins.enable_health_check,
        healthy: ins.healthy,
        isolate: ins.isolate,
        location: ins.location.as_ref().map(|l| Location {
            region: l.region.as_deref().unwrap_or_default().into(),
            zone: l.zone.as_deref().unwrap_or_default().into(),
            campus: l.campus.as_deref().unwrap_or_default().into(),
        }),
        metadata: (!ins.metadata.is_empty()).then(|| ins.metadata.clone().into_iter().collect()),
        logic_set: ins.logic_set.clone(),
    }
}

/// The short instance echo of a registration reply.
pub fn instance_created(ins: &Instance) -> v1::Instance {
    v1::Instance {
        id: Some(ins.id.clone()),
        service: Some(ins.service.to_string()),
        namespace: Some(ins.namespace.to_string()),
        vpc_id: Some(ins.vpc_id.to_string()),
        host: Some(ins.host.clone()),
        port: Some(ins.port),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn health_check_needs_a_heartbeat_section() {
        let mut ins = v1::Instance {
            host: Some("h".into()),
            port: Some(1),
            ..Default::default()
        };
        assert!(instance_spec(&ins).health_check.is_none());
        ins.health_check = Some(v1::HealthCheck {
            r#type: HealthCheckType::Heartbeat as i32,
            heartbeat: Some(v1::HeartbeatHealthCheck { ttl: Some(3) }),
        });
        assert_eq!(
            instance_spec(&ins).health_check.and_then(|h| h.ttl),
            Some(3)
        );
    }
}
