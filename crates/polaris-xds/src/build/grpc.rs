//! Proxyless gRPC: gRPC's own xDS client asks for a Listener named by its target's authority
//! (`xds:///<svc>.<ns>` asks for `<svc>.<ns>`), then that listener's RouteConfiguration, then
//! the cluster and its endpoints. The listener is an `api_listener` HTTP connection manager with
//! RDS over ADS whose route configuration carries the same name; its one virtual host routes to
//! the service's outbound EDS cluster (through its routing rules, as for sidecars).

use envoy_types::pb::envoy::config::listener::v3::{ApiListener, Listener};
use envoy_types::pb::envoy::config::route::v3::RouteConfiguration;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager;
use envoy_types::pb::google::protobuf::BoolValue;
use polaris_types::ServiceKey;

use super::any;
use super::listener::{rds, router_filter};
use super::route::outbound_virtual_host;
use super::rules::ServiceRules;

/// The Listener named `target` for the service `key`.
pub fn api_listener(target: &str) -> Listener {
    let hcm = HttpConnectionManager {
        stat_prefix: target.to_string(),
        route_specifier: Some(rds(target.to_string())),
        http_filters: vec![router_filter()],
        ..Default::default()
    };
    Listener {
        name: target.to_string(),
        api_listener: Some(ApiListener {
            api_listener: Some(any(&hcm)),
        }),
        ..Default::default()
    }
}

/// The RouteConfiguration named `target`: the service's outbound virtual host, answering the
/// target's own authority besides the service's usual domains.
pub fn route_config(
    target: &str,
    key: &ServiceKey,
    ports: &[u32],
    rules: &ServiceRules,
) -> RouteConfiguration {
    let mut host = outbound_virtual_host(key, ports, rules);
    if !host.domains.iter().any(|d| d == target) {
        host.domains.insert(0, target.to_string());
    }
    RouteConfiguration {
        name: target.to_string(),
        virtual_hosts: vec![host],
        validate_clusters: Some(BoolValue { value: false }),
        ..Default::default()
    }
}

/// The candidate services a target authority may name, most likely first: `<svc>.<ns>` split at
/// each dot from the right, then `<svc>` in `default_namespace`. A `:port` suffix is ignored.
pub fn target_candidates(target: &str, default_namespace: &str) -> Vec<ServiceKey> {
    let host = match target.rsplit_once(':') {
        Some((host, port)) if port.chars().all(|c| c.is_ascii_digit()) => host,
        _ => target,
    };
    let mut candidates: Vec<ServiceKey> = host
        .match_indices('.')
        .rev()
        .map(|(at, _)| ServiceKey::new(&host[at + 1..], &host[..at]))
        .filter(|k| !k.name.is_empty() && !k.namespace.is_empty())
        .collect();
    if !host.is_empty() {
        let namespace = if default_namespace.is_empty() {
            "default"
        } else {
            default_namespace
        };
        candidates.push(ServiceKey::new(namespace, host));
    }
    candidates
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn targets_name_a_service_and_namespace() {
        let c = target_candidates("echo.default:50051", "");
        assert_eq!(c[0], ServiceKey::new("default", "echo"));
        let c = target_candidates("polaris.checker.Polaris", "ns");
        assert_eq!(c[0], ServiceKey::new("Polaris", "polaris.checker"));
        assert_eq!(c[1], ServiceKey::new("checker.Polaris", "polaris"));
        assert_eq!(c[2], ServiceKey::new("ns", "polaris.checker.Polaris"));
    }

    #[test]
    fn the_api_listener_routes_through_rds_of_the_same_name() {
        let l = api_listener("echo.default");
        let hcm = HttpConnectionManager::decode(
            l.api_listener
                .unwrap()
                .api_listener
                .unwrap()
                .value
                .as_slice(),
        )
        .unwrap();
        assert_eq!(hcm.http_filters.len(), 1);
        let key = ServiceKey::new("default", "echo");
        let rc = route_config("echo.default", &key, &[], &ServiceRules::default());
        assert_eq!(rc.name, "echo.default");
        assert!(
            rc.virtual_hosts[0]
                .domains
                .contains(&"echo.default".to_string())
        );
    }
}
