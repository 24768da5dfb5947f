//! EDS: a `ClusterLoadAssignment` per cluster. Outbound: the service's instances grouped by
//! location (region, zone, campus), isolated and weight-0 instances left out, instance metadata
//! under `envoy.lb`. Inbound: the sidecar's own ports on 127.0.0.1. Unlike the official server,
//! every locality group carries a `load_balancing_weight` (the sum of its endpoints' weights):
//! gRPC's xDS client ignores a locality without one.

use std::collections::BTreeMap;

use envoy_types::pb::envoy::config::core::v3::{
    Address, HealthStatus, Locality, Metadata, SocketAddress, address, socket_address,
};
use envoy_types::pb::envoy::config::endpoint::v3::{
    ClusterLoadAssignment, Endpoint, LbEndpoint, LocalityLbEndpoints, endpoint::HealthCheckConfig,
    lb_endpoint::HostIdentifier,
};
use polaris_types::{Instance, ServiceKey};

use super::{Direction, service_cluster_name, string_struct, u32_value};

/// The metadata key that marks an instance as accepting mTLS.
const TLS_MODE_TAG: &str = "polarismesh.cn/tls-mode";

/// Whether the official server delivers the instance: not isolated and not weight 0.
pub fn is_served(instance: &Instance) -> bool {
    !instance.isolate && instance.weight != 0
}

pub(crate) fn socket(host: &str, port: u32) -> Address {
    Address {
        address: Some(address::Address::SocketAddress(SocketAddress {
            address: host.to_string(),
            port_specifier: Some(socket_address::PortSpecifier::PortValue(port)),
            ..Default::default()
        })),
    }
}

fn endpoint_metadata(instance: &Instance) -> Metadata {
    let mut metadata = Metadata::default();
    metadata
        .filter_metadata
        .insert("envoy.lb".into(), string_struct(&instance.metadata));
    if matches!(
        instance.metadata.get(TLS_MODE_TAG),
        Some("permissive" | "strict")
    ) {
        let accept = ("acceptMTLS".to_string(), "true".to_string());
        metadata.filter_metadata.insert(
            "envoy.transport_socket_match".into(),
            string_struct([(&accept.0, &accept.1)]),
        );
    }
    metadata
}

fn lb_endpoint(instance: &Instance) -> LbEndpoint {
    LbEndpoint {
        host_identifier: Some(HostIdentifier::Endpoint(Endpoint {
            address: Some(socket(&instance.host, instance.port)),
            health_check_config: Some(HealthCheckConfig {
                disable_active_health_check: true,
                ..Default::default()
            }),
            ..Default::default()
        })),
        health_status: if instance.healthy {
            HealthStatus::Healthy as i32
        } else {
            HealthStatus::Unhealthy as i32
        },
        load_balancing_weight: Some(u32_value(instance.weight)),
        metadata: Some(endpoint_metadata(instance)),
    }
}

/// The outbound assignment of `key` from its instances.
pub fn outbound<'a>(
    key: &ServiceKey,
    instances: impl IntoIterator<Item = &'a Instance>,
) -> ClusterLoadAssignment {
    let mut groups: BTreeMap<(&str, &str, &str), Vec<&Instance>> = BTreeMap::new();
    for instance in instances.into_iter().filter(|i| is_served(i)) {
        let l = &instance.location;
        groups
            .entry((&l.region, &l.zone, &l.campus))
            .or_default()
            .push(instance);
    }
    let endpoints = groups
        .into_iter()
        .map(|((region, zone, campus), members)| {
            let weight: u32 = members
                .iter()
                .fold(0u32, |sum, i| sum.saturating_add(i.weight));
            LocalityLbEndpoints {
                locality: Some(Locality {
                    region: region.into(),
                    zone: zone.into(),
                    sub_zone: campus.into(),
                }),
                lb_endpoints: members.into_iter().map(lb_endpoint).collect(),
                load_balancing_weight: Some(u32_value(weight.max(1))),
                ..Default::default()
            }
        })
        .collect();
    ClusterLoadAssignment {
        cluster_name: service_cluster_name(key, Direction::Outbound),
        endpoints,
        ..Default::default()
    }
}

/// The inbound assignment of the sidecar's own service: its ports on 127.0.0.1.
pub fn inbound(key: &ServiceKey, ports: &[u32]) -> ClusterLoadAssignment {
    let lb_endpoints = ports
        .iter()
        .map(|port| LbEndpoint {
            host_identifier: Some(HostIdentifier::Endpoint(Endpoint {
                address: Some(socket("127.0.0.1", *port)),
                ..Default::default()
            })),
            health_status: HealthStatus::Healthy as i32,
            load_balancing_weight: Some(u32_value(100)),
            ..Default::default()
        })
        .collect();
    ClusterLoadAssignment {
        cluster_name: service_cluster_name(key, Direction::Inbound),
        endpoints: vec![LocalityLbEndpoints {
            lb_endpoints,
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn instance(id: &str, host: &str, weight: u32, isolate: bool, healthy: bool) -> Instance {
        let mut i = Instance {
            id: id.into(),
            host: host.into(),
            port: 8080,
            weight,
            isolate,
            healthy,
            ..Default::default()
        };
        i.location.region = "r1".into();
        i.metadata.insert("version", "v1");
        i
    }

    #[test]
    fn isolated_and_weight_zero_instances_are_left_out() {
        let key = ServiceKey::new("default", "orders");
        let all = [
            instance("a", "10.0.0.1", 100, false, true),
            instance("b", "10.0.0.2", 100, true, true),
            instance("c", "10.0.0.3", 0, false, true),
            instance("d", "10.0.0.4", 50, false, false),
        ];
        let cla = outbound(&key, all.iter());
        assert_eq!(cla.cluster_name, "OUTBOUND|default|orders");
        assert_eq!(cla.endpoints.len(), 1);
        let group = &cla.endpoints[0];
        assert_eq!(group.locality.as_ref().unwrap().region, "r1");
        assert_eq!(group.load_balancing_weight.as_ref().unwrap().value, 150);
        let hosts: Vec<_> = group.lb_endpoints.iter().map(|e| e.health_status).collect();
        assert_eq!(
            hosts,
            [HealthStatus::Healthy as i32, HealthStatus::Unhealthy as i32]
        );
        let meta = group.lb_endpoints[0].metadata.as_ref().unwrap();
        assert!(
            meta.filter_metadata["envoy.lb"]
                .fields
                .contains_key("version")
        );
    }

    #[test]
    fn inbound_endpoints_are_local_ports() {
        let cla = inbound(&ServiceKey::new("ns", "svc"), &[8080, 9090]);
        assert_eq!(cla.cluster_name, "INBOUND|ns|svc");
        assert_eq!(cla.endpoints[0].lb_endpoints.len(), 2);
    }
}
