//! CDS: one EDS cluster per service and direction (`OUTBOUND|<ns>|<svc>`, `INBOUND|<ns>|<svc>`),
//! plus `PassthroughCluster`. Outbound clusters carry the service's circuit breaker as outlier
//! detection, its fault detectors as health checks and its routing destinations' label keys as
//! load-balancer subsets.

use envoy_types::pb::envoy::config::cluster::v3::cluster::{
    ClusterDiscoveryType, DiscoveryType, EdsClusterConfig, LbPolicy, LbSubsetConfig,
    lb_subset_config::{LbSubsetFallbackPolicy, LbSubsetSelector, lb_subset_selector},
};
use envoy_types::pb::envoy::config::cluster::v3::{
    CircuitBreakers, Cluster, OutlierDetection, circuit_breakers::Thresholds,
};
use envoy_types::pb::envoy::config::core::v3::{
    HeaderValue, HeaderValueOption, HealthCheck, RequestMethod,
    health_check::{HealthChecker, HttpHealthCheck, Payload, TcpHealthCheck, payload},
};
use polaris_proto::v1;
use polaris_types::ServiceKey;

use super::rules::ServiceRules;
use super::{Direction, PASSTHROUGH_CLUSTER, ads_source, seconds, service_cluster_name, u32_value};

/// `PassthroughCluster`: original destination, unlimited.
pub fn passthrough() -> Cluster {
    let max = Some(u32_value(u32::MAX));
    Cluster {
        name: PASSTHROUGH_CLUSTER.into(),
        connect_timeout: Some(seconds(5)),
        cluster_discovery_type: Some(ClusterDiscoveryType::Type(
            DiscoveryType::OriginalDst as i32,
        )),
        lb_policy: LbPolicy::ClusterProvided as i32,
        circuit_breakers: Some(CircuitBreakers {
            thresholds: vec![Thresholds {
                max_connections: max,
                max_pending_requests: max,
                max_requests: max,
                max_retries: max,
                ..Default::default()
            }],
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The EDS cluster of `key` in `direction`.
pub fn service_cluster(key: &ServiceKey, direction: Direction, rules: &ServiceRules) -> Cluster {
    let name = service_cluster_name(key, direction);
    let mut cluster = Cluster {
        name: name.clone(),
        connect_timeout: Some(seconds(5)),
        cluster_discovery_type: Some(ClusterDiscoveryType::Type(DiscoveryType::Eds as i32)),
        eds_cluster_config: Some(EdsClusterConfig {
            eds_config: Some(ads_source()),
            service_name: name,
        }),
        ..Default::default()
    };
    if direction == Direction::Outbound {
        cluster.lb_subset_config = lb_subsets(rules);
        cluster.outlier_detection = outlier_detection(&rules.circuit_breakers);
        cluster.health_checks = health_checks(&rules.fault_detectors);
    }
    cluster
}

/// One subset selector per routing destination, keyed by its label names.
fn lb_subsets(rules: &ServiceRules) -> Option<LbSubsetConfig> {
    let selectors: Vec<LbSubsetSelector> = rules
        .routing
        .iter()
        .flat_map(|sub| &sub.destinations)
        .map(|destination| {
            let mut keys: Vec<String> = destination.labels.keys().cloned().collect();
            keys.sort();
            LbSubsetSelector {
                keys,
                fallback_policy: lb_subset_selector::LbSubsetSelectorFallbackPolicy::AnyEndpoint
                    as i32,
                ..Default::default()
            }
        })
        .collect();
    if selectors.is_empty() {
        return None;
    }
    Some(LbSubsetConfig {
        fallback_policy: LbSubsetFallbackPolicy::AnyEndpoint as i32,
        subset_selectors: selectors,
        ..Default::default()
    })
}

/// The first instance-level circuit breaker's first trigger condition as outlier detection.
pub fn outlier_detection(rules: &[v1::CircuitBreakerRule]) -> Option<OutlierDetection> {
    let rule = rules
        .iter()
        .find(|r| r.level == v1::Level::Instance as i32)?;
    let trigger = rule.trigger_condition.first().filter(|_| rule.enable)?;
    Some(OutlierDetection {
        interval: Some(seconds(trigger.interval.into())),
        consecutive_5xx: Some(u32_value(trigger.error_count)),
        failure_percentage_threshold: Some(u32_value(trigger.error_percent)),
        failure_percentage_request_volume: Some(u32_value(trigger.minimum_request)),
        base_ejection_time: rule
            .recover_condition
            .as_ref()
            .map(|r| seconds(r.sleep_window.into())),
        ..Default::default()
    })
}

fn request_method(name: &str) -> RequestMethod {
    RequestMethod::from_str_name(name).unwrap_or(RequestMethod::MethodUnspecified)
}

fn text_payload(text: &str) -> Payload {
    Payload {
        payload: Some(payload::Payload::Text(hex::encode(text.as_bytes()))),
    }
}

/// HTTP and TCP fault detectors as active health checks (unhealthy after 3, healthy after 1).
pub fn health_checks(rules: &[v1::FaultDetectRule]) -> Vec<HealthCheck> {
    use v1::fault_detect_rule::Protocol;
    rules
        .iter()
        .filter_map(|rule| {
            let checker = match Protocol::try_from(rule.protocol).ok()? {
                Protocol::Http => {
                    let config = rule.http_config.as_ref()?;
                    HealthChecker::HttpHealthCheck(HttpHealthCheck {
                        path: config.url.clone(),
                        method: request_method(&config.method) as i32,
                        request_headers_to_add: config
                            .headers
                            .iter()
                            .map(|h| HeaderValueOption {
                                header: Some(HeaderValue {
                                    key: h.key.clone(),
                                    value: h.value.clone(),
                                    ..Default::default()
                                }),
                                ..Default::default()
                            })
                            .collect(),
                        ..Default::default()
                    })
                }
                Protocol::Tcp => {
                    let config = rule.tcp_config.as_ref()?;
                    HealthChecker::TcpHealthCheck(TcpHealthCheck {
                        send: Some(text_payload(&config.send)),
                        receive: config.receive.iter().map(|r| text_payload(r)).collect(),
                        ..Default::default()
                    })
                }
                _ => return None,
            };
            Some(HealthCheck {
                timeout: Some(seconds(rule.timeout.into())),
                interval: Some(seconds(rule.interval.into())),
                unhealthy_threshold: Some(u32_value(3)),
                healthy_threshold: Some(u32_value(1)),
                health_checker: Some(checker),
                ..Default::default()
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clusters_have_the_official_names_and_eds_over_ads() {
        let key = ServiceKey::new("default", "orders");
        let out = service_cluster(&key, Direction::Outbound, &ServiceRules::default());
        assert_eq!(out.name, "OUTBOUND|default|orders");
        let eds = out.eds_cluster_config.unwrap();
        assert_eq!(eds.service_name, "OUTBOUND|default|orders");
        assert!(eds.eds_config.unwrap().config_source_specifier.is_some());
        assert_eq!(out.connect_timeout.unwrap().seconds, 5);
        let inbound = service_cluster(&key, Direction::Inbound, &ServiceRules::default());
        assert_eq!(inbound.name, "INBOUND|default|orders");
        assert_eq!(passthrough().name, "PassthroughCluster");
    }

    #[test]
    fn an_instance_circuit_breaker_becomes_outlier_detection() {
        let rule = v1::CircuitBreakerRule {
            enable: true,
            level: v1::Level::Instance as i32,
            trigger_condition: vec![v1::TriggerCondition {
                error_count: 7,
                error_percent: 40,
                interval: 30,
                minimum_request: 12,
                ..Default::default()
            }],
            recover_condition: Some(v1::RecoverCondition {
                sleep_window: 60,
                ..Default::default()
            }),
            ..Default::default()
        };
        let od = outlier_detection(std::slice::from_ref(&rule)).unwrap();
        assert_eq!(od.consecutive_5xx.unwrap().value, 7);
        assert_eq!(od.failure_percentage_threshold.unwrap().value, 40);
        assert_eq!(od.failure_percentage_request_volume.unwrap().value, 12);
        assert_eq!(od.interval.unwrap().seconds, 30);
        assert_eq!(od.base_ejection_time.unwrap().seconds, 60);
        let disabled = v1::CircuitBreakerRule {
            enable: false,
            ..rule
        };
        assert!(outlier_detection(&[disabled]).is_none());
    }

    #[test]
    fn fault_detectors_become_health_checks() {
        let rule = v1::FaultDetectRule {
            protocol: v1::fault_detect_rule::Protocol::Http as i32,
            interval: 10,
            timeout: 2,
            http_config: Some(v1::HttpProtocolConfig {
                method: "GET".into(),
                url: "/health".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let checks = health_checks(&[rule]);
        assert_eq!(checks.len(), 1);
        assert_eq!(checks[0].unhealthy_threshold.as_ref().unwrap().value, 3);
        match checks[0].health_checker.as_ref().unwrap() {
            HealthChecker::HttpHealthCheck(h) => {
                assert_eq!(h.path, "/health");
                assert_eq!(h.method, RequestMethod::Get as i32);
            }
            other => panic!("not HTTP: {other:?}"),
        }
    }
}
