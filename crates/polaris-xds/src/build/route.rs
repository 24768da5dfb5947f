//! RDS: `polaris-outbound-router` (one virtual host per service, named `OUTBOUND|<ns>|<svc>`, with
//! the service's DNS-style domains, plus `allow_any` to the passthrough cluster) and one
//! `polaris-inbound-cluster|<svc>.<ns>` per service (its local rate limits). v2 routing rules
//! become header, query, method and path matches with weighted clusters.

use envoy_types::pb::envoy::config::core::v3::Metadata;
use envoy_types::pb::envoy::config::route::v3::{
    HeaderMatcher, QueryParameterMatcher, Route, RouteAction, RouteConfiguration, RouteMatch,
    VirtualHost, WeightedCluster, header_matcher::HeaderMatchSpecifier,
    query_parameter_matcher::QueryParameterMatchSpecifier, route::Action,
    route_action::ClusterSpecifier, route_match::PathSpecifier, weighted_cluster::ClusterWeight,
};
use envoy_types::pb::envoy::r#type::matcher::v3::{
    RegexMatcher, StringMatcher, regex_matcher::EngineType, regex_matcher::GoogleRe2,
    string_matcher::MatchPattern,
};
use envoy_types::pb::google::protobuf::BoolValue;
use polaris_proto::v1;
use polaris_types::ServiceKey;

use super::rules::ServiceRules;
use super::{
    Direction, OUTBOUND_ROUTE_CONFIG, PASSTHROUGH_CLUSTER, inbound_route_config_name,
    service_cluster_name, string_struct, u32_value,
};

mod ratelimit;

/// `svc`, `svc.ns`, `svc.ns.svc`, `svc.ns.svc.cluster`, `svc.ns.svc.cluster.local`, then each
/// of them with `:<port>` for every port of the service.
pub fn service_domains(key: &ServiceKey, ports: &[u32]) -> Vec<String> {
    let domain = format!("{}.{}", key.name, key.namespace);
    let base = [
        key.name.clone(),
        domain.clone(),
        format!("{domain}.svc"),
        format!("{domain}.svc.cluster"),
        format!("{domain}.svc.cluster.local"),
    ];
    let mut all = base.to_vec();
    for port in ports {
        all.extend(base.iter().map(|d| format!("{d}:{port}")));
    }
    all
}

pub(crate) fn prefix_match() -> RouteMatch {
    RouteMatch {
        path_specifier: Some(PathSpecifier::Prefix("/".into())),
        ..Default::default()
    }
}

pub(crate) fn to_cluster(match_: RouteMatch, cluster: ClusterSpecifier) -> Route {
    Route {
        r#match: Some(match_),
        action: Some(Action::Route(RouteAction {
            cluster_specifier: Some(cluster),
            ..Default::default()
        })),
        ..Default::default()
    }
}

/// The `allow_any` virtual host: everything else to the passthrough cluster.
pub fn allow_any() -> VirtualHost {
    VirtualHost {
        name: "allow_any".into(),
        domains: vec!["*".into()],
        routes: vec![to_cluster(
            prefix_match(),
            ClusterSpecifier::Cluster(PASSTHROUGH_CLUSTER.into()),
        )],
        ..Default::default()
    }
}

fn value_of(m: &Option<v1::MatchString>) -> String {
    m.as_ref().and_then(|m| m.value.clone()).unwrap_or_default()
}

fn match_type(m: &Option<v1::MatchString>) -> i32 {
    m.as_ref().map(|m| m.r#type).unwrap_or_default()
}

pub(crate) fn regex(value: String) -> RegexMatcher {
    RegexMatcher {
        regex: value,
        #[allow(deprecated)]
        engine_type: Some(EngineType::GoogleRe2(GoogleRe2::default())),
    }
}

pub(crate) fn string_matcher(pattern: MatchPattern) -> StringMatcher {
    StringMatcher {
        match_pattern: Some(pattern),
        ..Default::default()
    }
}

/// Adds a source's header, method, query and path arguments to `route_match`.
pub(crate) fn apply_source(route_match: &mut RouteMatch, source: &v1::SourceService) {
    use v1::match_string::MatchStringType as T;
    use v1::source_match::Type as Arg;
    for argument in &source.arguments {
        let value = value_of(&argument.value);
        let kind = match_type(&argument.value);
        match Arg::try_from(argument.r#type) {
            Ok(Arg::Path) if kind == T::Exact as i32 => {
                route_match.path_specifier = Some(PathSpecifier::Path(value));
            }
            Ok(Arg::Path) if kind == T::Regex as i32 => {
                route_match.path_specifier = Some(PathSpecifier::SafeRegex(RegexMatcher {
                    regex: value,
                    engine_type: None,
                }));
            }
            Ok(arg @ (Arg::Header | Arg::Method)) => {
                let name = if arg == Arg::Method {
                    ":method".to_string()
                } else {
                    argument.key.clone()
                };
                let (pattern, invert) = match T::try_from(kind) {
                    Ok(T::Exact) => (MatchPattern::Exact(value), false),
                    Ok(T::NotEquals) => (MatchPattern::Exact(value), true),
                    Ok(T::Regex) => (MatchPattern::SafeRegex(regex(value)), false),
                    _ => continue,
                };
                route_match.headers.push(HeaderMatcher {
                    name,
                    invert_match: invert,
                    header_match_specifier: Some(HeaderMatchSpecifier::StringMatch(
                        string_matcher(pattern),
                    )),
                    ..Default::default()
                });
            }
            Ok(Arg::Query) => {
                let pattern = match T::try_from(kind) {
                    Ok(T::Exact) => MatchPattern::Exact(value),
                    Ok(T::Regex) => MatchPattern::SafeRegex(regex(value)),
                    _ => continue,
                };
                route_match.query_parameters.push(QueryParameterMatcher {
                    name: argument.key.clone(),
                    query_parameter_match_specifier: Some(
                        QueryParameterMatchSpecifier::StringMatch(string_matcher(pattern)),
                    ),
                });
            }
            _ => {}
        }
    }
}

/// Weighted clusters from a sub-rule's destinations in `key` (weight-0 ones left out), each with
/// its labels as `envoy.lb` metadata match (none for `*: *`).
/// `cluster` names each destination's cluster: the routed service's own for sidecars, each
/// destination's for gateways.
pub(crate) fn weighted_clusters(
    destinations: &[&v1::DestinationGroup],
    cluster: impl Fn(&v1::DestinationGroup) -> String,
) -> WeightedCluster {
    let mut total = 0u32;
    let clusters = destinations
        .iter()
        .filter(|d| d.weight != 0)
        .map(|d| {
            total = total.saturating_add(d.weight);
            let match_all = d
                .labels
                .iter()
                .any(|(k, v)| k == "*" && v.value.as_deref() == Some("*"));
            let mut labels: Vec<(&String, String)> = d
                .labels
                .iter()
                .map(|(k, v)| (k, v.value.clone().unwrap_or_default()))
                .collect();
            labels.sort();
            let metadata_match = (!match_all && !labels.is_empty()).then(|| {
                let mut m = Metadata::default();
                let pairs: Vec<(&String, &String)> = labels.iter().map(|(k, v)| (*k, v)).collect();
                m.filter_metadata
                    .insert("envoy.lb".into(), string_struct(pairs));
                m
            });
            ClusterWeight {
                name: cluster(d),
                weight: Some(u32_value(d.weight)),
                metadata_match,
                ..Default::default()
            }
        })
        .collect();
    #[allow(deprecated)]
    WeightedCluster {
        total_weight: Some(u32_value(total)),
        clusters,
        ..Default::default()
    }
}

/// The outbound routes into `key`: one per routing sub-rule (a match-all sub-rule last), else
/// the default prefix route to the service's cluster.
pub fn outbound_routes(key: &ServiceKey, rules: &ServiceRules) -> Vec<Route> {
    let mut routes = Vec::new();
    let mut match_all_route = None;
    for sub in &rules.routing {
        let destinations: Vec<&v1::DestinationGroup> = sub
            .destinations
            .iter()
            .filter(|d| d.namespace == key.namespace && d.service == key.name)
            .collect();
        let mut route_match = prefix_match();
        let match_all = sub
            .sources
            .iter()
            .any(|s| s.arguments.is_empty() || s.arguments.iter().any(|a| a.key == "*"));
        if !match_all {
            for source in &sub.sources {
                apply_source(&mut route_match, source);
            }
        }
        let route = to_cluster(
            route_match,
            ClusterSpecifier::WeightedClusters(weighted_clusters(&destinations, |_| {
                service_cluster_name(key, Direction::Outbound)
            })),
        );
        if match_all {
            match_all_route = Some(route);
        } else {
            routes.push(route);
        }
    }
    routes.push(match_all_route.unwrap_or_else(|| {
        to_cluster(
            prefix_match(),
            ClusterSpecifier::Cluster(service_cluster_name(key, Direction::Outbound)),
        )
    }));
    routes
}

/// The outbound virtual host of one service.
pub fn outbound_virtual_host(key: &ServiceKey, ports: &[u32], rules: &ServiceRules) -> VirtualHost {
    VirtualHost {
        name: service_cluster_name(key, Direction::Outbound),
        domains: service_domains(key, ports),
        routes: outbound_routes(key, rules),
        ..Default::default()
    }
}

/// `polaris-outbound-router` from the services' virtual hosts.
pub fn outbound_router(hosts: impl IntoIterator<Item = VirtualHost>) -> RouteConfiguration {
    let mut virtual_hosts: Vec<VirtualHost> = hosts.into_iter().collect();
    virtual_hosts.push(allow_any());
    RouteConfiguration {
        name: OUTBOUND_ROUTE_CONFIG.into(),
        virtual_hosts,
        validate_clusters: Some(BoolValue { value: false }),
        ..Default::default()
    }
}

/// `polaris-inbound-cluster|<svc>.<ns>`: everything to the inbound cluster, under the
/// service's local rate limits.
pub fn inbound_route_config(key: &ServiceKey, rules: &ServiceRules) -> RouteConfiguration {
    let mut route = to_cluster(
        prefix_match(),
        ClusterSpecifier::Cluster(service_cluster_name(key, Direction::Inbound)),
    );
    if let Some((limits, filter)) = ratelimit::local_limits(key, &rules.rate_limits) {
        if let Some(Action::Route(action)) = route.action.as_mut() {
            action.rate_limits = limits;
        }
        route
            .typed_per_filter_config
            .insert(super::LOCAL_RATE_LIMIT_FILTER.into(), filter);
    }
    RouteConfiguration {
        name: inbound_route_config_name(key),
        virtual_hosts: vec![VirtualHost {
            name: service_cluster_name(key, Direction::Inbound),
            domains: vec!["*".into()],
            routes: vec![route],
            ..Default::default()
        }],
        validate_clusters: Some(BoolValue { value: false }),
        ..Default::default()
    }
}
