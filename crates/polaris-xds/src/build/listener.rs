//! LDS for sidecars: `OUTBOUND_15001` (everything through `polaris-outbound-router`) and
//! `<svc>.<ns>_INBOUND_15006` (one filter chain per own port, then a catch-all, through the
//! service's inbound route configuration with the local and global rate-limit filters). Both
//! have the original-destination listener filter and a `PassthroughFilterChain` default.

use envoy_types::pb::envoy::config::accesslog::v3::{AccessLog, access_log};
use envoy_types::pb::envoy::config::core::v3::{
    GrpcService, Http1ProtocolOptions, Http2ProtocolOptions, Http3ProtocolOptions,
    grpc_service::{EnvoyGrpc, TargetSpecifier},
};
use envoy_types::pb::envoy::config::listener::v3::{
    Filter, FilterChain, FilterChainMatch, Listener, ListenerFilter, filter, listener_filter,
};
use envoy_types::pb::envoy::config::ratelimit::v3::RateLimitServiceConfig;
use envoy_types::pb::envoy::extensions::access_loggers::file::v3::FileAccessLog;
use envoy_types::pb::envoy::extensions::filters::http::local_ratelimit::v3::LocalRateLimit;
use envoy_types::pb::envoy::extensions::filters::http::ratelimit::v3::RateLimit;
use envoy_types::pb::envoy::extensions::filters::http::router::v3::Router;
use envoy_types::pb::envoy::extensions::filters::listener::original_dst::v3::OriginalDst;
use envoy_types::pb::envoy::extensions::filters::network::http_connection_manager::v3::{
    HttpConnectionManager, HttpFilter, Rds, http_connection_manager::CodecType,
    http_connection_manager::RouteSpecifier, http_filter,
};
use envoy_types::pb::envoy::extensions::filters::network::tcp_proxy::v3::{
    TcpProxy, tcp_proxy::ClusterSpecifier,
};
use polaris_types::ServiceKey;

use super::{
    Direction, HTTP_CONNECTION_MANAGER, LOCAL_RATE_LIMIT_FILTER, OUTBOUND_ROUTE_CONFIG,
    PASSTHROUGH_CLUSTER, ROUTER_FILTER, ads_source, any, domain, inbound_route_config_name,
    seconds, u32_value,
};
use crate::build::endpoint::socket;

/// The outbound listener's port.
pub const OUTBOUND_PORT: u32 = 15001;
/// The inbound listener's port.
pub const INBOUND_PORT: u32 = 15006;

/// The router HTTP filter (last in every chain).
pub fn router_filter() -> HttpFilter {
    HttpFilter {
        name: ROUTER_FILTER.into(),
        config_type: Some(http_filter::ConfigType::TypedConfig(
            any(&Router::default()),
        )),
        ..Default::default()
    }
}

/// An RDS route specifier over ADS.
pub fn rds(route_config_name: String) -> RouteSpecifier {
    RouteSpecifier::Rds(Rds {
        config_source: Some(ads_source()),
        route_config_name,
    })
}

pub(crate) fn rate_limit_filters(key: &ServiceKey) -> [HttpFilter; 2] {
    let local = LocalRateLimit {
        stat_prefix: "http_local_rate_limiter".into(),
        stage: 0,
        ..Default::default()
    };
    let global = RateLimit {
        domain: domain(key),
        stage: 1,
        request_type: "external".into(),
        timeout: Some(seconds(2)),
        rate_limit_service: Some(RateLimitServiceConfig {
            grpc_service: Some(GrpcService {
                timeout: Some(seconds(1)),
                target_specifier: Some(TargetSpecifier::EnvoyGrpc(EnvoyGrpc {
                    cluster_name: "polaris_ratelimit".into(),
                    ..Default::default()
                })),
                ..Default::default()
            }),
            transport_api_version: 2,
        }),
        ..Default::default()
    };
    [
        HttpFilter {
            name: LOCAL_RATE_LIMIT_FILTER.into(),
            config_type: Some(http_filter::ConfigType::TypedConfig(any(&local))),
            ..Default::default()
        },
        HttpFilter {
            name: "envoy.filters.http.ratelimit".into(),
            config_type: Some(http_filter::ConfigType::TypedConfig(any(&global))),
            ..Default::default()
        },
    ]
}

/// The sidecar's HTTP connection manager for `direction`.
pub fn sidecar_hcm(key: &ServiceKey, direction: Direction) -> HttpConnectionManager {
    let mut http_filters = Vec::new();
    let route_config = match direction {
        Direction::Inbound => {
            http_filters.extend(rate_limit_filters(key));
            inbound_route_config_name(key)
        }
        Direction::Outbound => OUTBOUND_ROUTE_CONFIG.to_string(),
    };
    http_filters.push(router_filter());
    let (access_log, http_protocol_options) = hcm_parts();
    HttpConnectionManager {
        codec_type: CodecType::Auto as i32,
        stat_prefix: format!("{}_HTTP", direction.as_str()),
        route_specifier: Some(rds(route_config)),
        access_log,
        http_filters,
        http_protocol_options,
        http2_protocol_options: Some(Http2ProtocolOptions::default()),
        http3_protocol_options: Some(Http3ProtocolOptions::default()),
        ..Default::default()
    }
}

/// The file access log to stdout and HTTP/1.0 acceptance every connection manager has.
pub(crate) fn hcm_parts() -> (Vec<AccessLog>, Option<Http1ProtocolOptions>) {
    let log = FileAccessLog {
        path: "/dev/stdout".into(),
        ..Default::default()
    };
    let access_log = vec![AccessLog {
        name: "envoy.access_loggers.file".into(),
        config_type: Some(access_log::ConfigType::TypedConfig(any(&log))),
        ..Default::default()
    }];
    let http1 = Http1ProtocolOptions {
        accept_http_10: true,
        ..Default::default()
    };
    (access_log, Some(http1))
}

fn hcm_filter(hcm: &HttpConnectionManager) -> Filter {
    Filter {
        name: HTTP_CONNECTION_MANAGER.into(),
        config_type: Some(filter::ConfigType::TypedConfig(any(hcm))),
    }
}

fn passthrough_chain() -> FilterChain {
    let proxy = TcpProxy {
        stat_prefix: PASSTHROUGH_CLUSTER.into(),
        cluster_specifier: Some(ClusterSpecifier::Cluster(PASSTHROUGH_CLUSTER.into())),
        ..Default::default()
    };
    FilterChain {
        name: "PassthroughFilterChain".into(),
        filters: vec![Filter {
            name: "envoy.filters.network.tcp_proxy".into(),
            config_type: Some(filter::ConfigType::TypedConfig(any(&proxy))),
        }],
        ..Default::default()
    }
}

/// `OUTBOUND_15001` or `<svc>.<ns>_INBOUND_15006` for a sidecar of `key` with `ports`.
pub fn sidecar_listener(key: &ServiceKey, direction: Direction, ports: &[u32]) -> Listener {
    let (name, port) = match direction {
        Direction::Outbound => (format!("OUTBOUND_{OUTBOUND_PORT}"), OUTBOUND_PORT),
        Direction::Inbound => (
            format!("{}_INBOUND_{INBOUND_PORT}", domain(key)),
            INBOUND_PORT,
        ),
    };
    let hcm = hcm_filter(&sidecar_hcm(key, direction));
    let mut filter_chains = Vec::new();
    if direction == Direction::Inbound {
        filter_chains.extend(ports.iter().map(|p| FilterChain {
            filters: vec![hcm.clone()],
            filter_chain_match: Some(FilterChainMatch {
                destination_port: Some(u32_value(*p)),
                ..Default::default()
            }),
            ..Default::default()
        }));
    }
    base_listener(name, port, direction, filter_chains, hcm)
}

/// A listener on `0.0.0.0:port` with `chains`, then a catch-all chain of `hcm`, the passthrough
/// default chain and the original-destination listener filter.
pub(crate) fn base_listener(
    name: String,
    port: u32,
    direction: Direction,
    mut filter_chains: Vec<FilterChain>,
    hcm: Filter,
) -> Listener {
    filter_chains.push(FilterChain {
        filters: vec![hcm],
        ..Default::default()
    });
    Listener {
        name,
        address: Some(socket("0.0.0.0", port)),
        filter_chains,
        default_filter_chain: Some(passthrough_chain()),
        listener_filters: vec![ListenerFilter {
            name: "envoy.filters.listener.original_dst".into(),
            config_type: Some(listener_filter::ConfigType::TypedConfig(any(
                &OriginalDst::default(),
            ))),
            ..Default::default()
        }],
        traffic_direction: direction.envoy(),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    #[test]
    fn sidecar_listeners_have_the_official_names_and_routes() {
        let key = ServiceKey::new("default", "orders");
        let out = sidecar_listener(&key, Direction::Outbound, &[8080]);
        assert_eq!(out.name, "OUTBOUND_15001");
        assert_eq!(out.filter_chains.len(), 1);
        let inbound = sidecar_listener(&key, Direction::Inbound, &[8080]);
        assert_eq!(inbound.name, "orders.default_INBOUND_15006");
        assert_eq!(inbound.filter_chains.len(), 2);
        let Some(filter::ConfigType::TypedConfig(typed)) =
            inbound.filter_chains[0].filters[0].config_type.clone()
        else {
            panic!("no typed config");
        };
        let hcm = HttpConnectionManager::decode(typed.value.as_slice()).unwrap();
        match hcm.route_specifier.unwrap() {
            RouteSpecifier::Rds(r) => {
                assert_eq!(
                    r.route_config_name,
                    "polaris-inbound-cluster|orders.default"
                )
            }
            other => panic!("not RDS: {other:?}"),
        }
        assert_eq!(hcm.http_filters.last().unwrap().name, ROUTER_FILTER);
    }
}
