//! Gateways (`gateway~<ns>/<uuid>~<ip>` nodes naming their service in metadata): one
//! `OUTBOUND_15001` listener whose connection manager reads `polaris-outbound-router-gateway`,
//! a route configuration with one `gateway-virtualhost` (`*`) holding a route per routing
//! sub-rule that has the gateway as a source with a path argument and a destination in the
//! gateway's namespace, then everything else to the passthrough cluster.

use envoy_types::pb::envoy::config::listener::v3::{Filter, Listener, filter};
use envoy_types::pb::envoy::config::route::v3::{
    RouteConfiguration, VirtualHost, route_action::ClusterSpecifier,
};
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::HttpConnectionManager;
use polaris_proto::v1;
use polaris_types::ServiceKey;

use super::listener::{
    OUTBOUND_PORT, base_listener, hcm_parts, rate_limit_filters, rds, router_filter,
};
use super::route::{apply_source, prefix_match, to_cluster, weighted_clusters};
use super::rules::ServiceRules;
use super::{
    Direction, HTTP_CONNECTION_MANAGER, OUTBOUND_ROUTE_CONFIG, PASSTHROUGH_CLUSTER, any,
    service_cluster_name,
};

/// The gateway's route configuration name.
pub fn route_config_name() -> String {
    format!("{OUTBOUND_ROUTE_CONFIG}-gateway")
}

/// The gateway's `OUTBOUND_15001` listener.
pub fn listener(key: &ServiceKey) -> Listener {
    let mut http_filters: Vec<_> = rate_limit_filters(key).into();
    http_filters.push(router_filter());
    let (access_log, http_protocol_options) = hcm_parts();
    let hcm = HttpConnectionManager {
        stat_prefix: "INBOUND_HTTP".into(),
        route_specifier: Some(rds(route_config_name())),
        access_log,
        http_filters,
        http_protocol_options,
        ..Default::default()
    };
    let filter = Filter {
        name: HTTP_CONNECTION_MANAGER.into(),
        config_type: Some(filter::ConfigType::TypedConfig(any(&hcm))),
    };
    base_listener(
        format!("OUTBOUND_{OUTBOUND_PORT}"),
        OUTBOUND_PORT,
        Direction::Outbound,
        Vec::new(),
        filter,
    )
}

fn has_path(source: &v1::SourceService) -> bool {
    source
        .arguments
        .iter()
        .any(|a| a.r#type == v1::source_match::Type::Path as i32)
}

/// The gateway's route configuration from the sub-rules that name it as a caller.
pub fn route_config(key: &ServiceKey, rules: &ServiceRules) -> RouteConfiguration {
    let mut routes = Vec::new();
    for sub in &rules.as_caller {
        let in_namespace = sub
            .destinations
            .iter()
            .any(|d| d.namespace == key.namespace && d.service != "*");
        let sources: Vec<_> = sub
            .sources
            .iter()
            .filter(|s| s.service == key.name && s.namespace == key.namespace && has_path(s))
            .collect();
        if !in_namespace || sources.is_empty() {
            continue;
        }
        let mut route_match = prefix_match();
        for source in sources {
            apply_source(&mut route_match, source);
        }
        let destinations: Vec<&v1::DestinationGroup> = sub.destinations.iter().collect();
        let clusters = weighted_clusters(&destinations, |d| {
            service_cluster_name(
                &ServiceKey::new(&d.namespace, &d.service),
                Direction::Outbound,
            )
        });
        routes.push(to_cluster(
            route_match,
            ClusterSpecifier::WeightedClusters(clusters),
        ));
    }
    routes.push(to_cluster(
        prefix_match(),
        ClusterSpecifier::Cluster(PASSTHROUGH_CLUSTER.into()),
    ));
    RouteConfiguration {
        name: route_config_name(),
        virtual_hosts: vec![VirtualHost {
            name: "gateway-virtualhost".into(),
            domains: vec!["*".into()],
            routes,
            ..Default::default()
        }],
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_gateway_listens_on_15001_through_its_own_routes() {
        let key = ServiceKey::new("default", "edge");
        let l = listener(&key);
        assert_eq!(l.name, "OUTBOUND_15001");
        let config = route_config(&key, &ServiceRules::default());
        assert_eq!(config.name, "polaris-outbound-router-gateway");
        let routes = &config.virtual_hosts[0].routes;
        assert_eq!(routes.len(), 1, "only the passthrough route without rules");
    }
}
