//! Resource builders: pure functions from Polaris services, instances and rules to the Envoy
//! messages the official server builds, with its names. No IO, no state.

pub mod cluster;
pub mod endpoint;
pub mod gateway;
pub mod grpc;
pub mod listener;
pub mod route;
pub mod rules;

use envoy_types::pb::envoy::config::core::v3::{
    AggregatedConfigSource, ApiVersion, ConfigSource, config_source::ConfigSourceSpecifier,
};
use envoy_types::pb::google::protobuf::{Any, Duration, Struct, UInt32Value, Value, value::Kind};
use polaris_types::ServiceKey;
use prost::{Message, Name};

/// The cluster behind the catch-all routes and filter chains.
pub const PASSTHROUGH_CLUSTER: &str = "PassthroughCluster";
/// The sidecars' outbound route configuration.
pub const OUTBOUND_ROUTE_CONFIG: &str = "polaris-outbound-router";
/// The prefix of a service's inbound route configuration.
pub const INBOUND_ROUTE_CONFIG: &str = "polaris-inbound-cluster";
/// The HTTP connection manager's typed config, as a filter name.
pub const HTTP_CONNECTION_MANAGER: &str = "envoy.filters.network.http_connection_manager";
/// The router HTTP filter.
pub const ROUTER_FILTER: &str = "envoy.filters.http.router";
/// The local rate-limit HTTP filter.
pub const LOCAL_RATE_LIMIT_FILTER: &str = "envoy.filters.http.local_ratelimit";

/// Traffic direction of a resource, as it appears in names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Direction {
    Inbound,
    Outbound,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Inbound => "INBOUND",
            Direction::Outbound => "OUTBOUND",
        }
    }

    /// The `envoy.config.core.v3.TrafficDirection` value.
    pub fn envoy(self) -> i32 {
        match self {
            Direction::Inbound => 1,
            Direction::Outbound => 2,
        }
    }
}

/// `OUTBOUND|<ns>|<svc>` / `INBOUND|<ns>|<svc>`: cluster, EDS and virtual host name.
pub fn service_cluster_name(key: &ServiceKey, direction: Direction) -> String {
    format!("{}|{}|{}", direction.as_str(), key.namespace, key.name)
}

/// `<svc>.<ns>`.
pub fn domain(key: &ServiceKey) -> String {
    format!("{}.{}", key.name, key.namespace)
}

/// `polaris-inbound-cluster|<svc>.<ns>`.
pub fn inbound_route_config_name(key: &ServiceKey) -> String {
    format!("{INBOUND_ROUTE_CONFIG}|{}", domain(key))
}

/// Parses `OUTBOUND|<ns>|<svc>` / `INBOUND|<ns>|<svc>`.
pub fn parse_service_cluster_name(name: &str) -> Option<(Direction, ServiceKey)> {
    let mut parts = name.splitn(3, '|');
    let direction = match parts.next()? {
        "INBOUND" => Direction::Inbound,
        "OUTBOUND" => Direction::Outbound,
        _ => return None,
    };
    let namespace = parts.next()?;
    let service = parts.next()?;
    Some((direction, ServiceKey::new(namespace, service)))
}

/// Packs a message into an `Any`.
pub fn any<M: Message + Name>(message: &M) -> Any {
    Any {
        type_url: M::type_url(),
        value: message.encode_to_vec(),
    }
}

pub fn seconds(secs: i64) -> Duration {
    Duration {
        seconds: secs,
        nanos: 0,
    }
}

pub fn u32_value(value: u32) -> UInt32Value {
    UInt32Value { value }
}

/// `{ads: {}, resource_api_version: V3}`.
pub fn ads_source() -> ConfigSource {
    ConfigSource {
        resource_api_version: ApiVersion::V3 as i32,
        config_source_specifier: Some(ConfigSourceSpecifier::Ads(AggregatedConfigSource {})),
        ..Default::default()
    }
}

/// A `Struct` of string values.
pub fn string_struct<K: AsRef<str>, V: AsRef<str>>(
    pairs: impl IntoIterator<Item = (K, V)>,
) -> Struct {
    Struct {
        fields: pairs
            .into_iter()
            .map(|(k, v)| {
                let value = Value {
                    kind: Some(Kind::StringValue(v.as_ref().to_string())),
                };
                (k.as_ref().to_string(), value)
            })
            .collect(),
    }
}
