//! Fault detection: `FaultDetector` rules compiled into probe descriptions. Sending the
//! probes is the SDK's job; a probe's result is reported like a call outcome on the
//! instance resource.

use std::ops::RangeInclusive;
use std::sync::Arc;
use std::time::Duration;

use polaris_proto::v1;

use crate::rules::name_matches;
use crate::{Instance, ServiceKey, Skipped};

/// Probe interval when the rule gives none.
pub const DEFAULT_PROBE_INTERVAL: Duration = Duration::from_secs(30);
/// Probe timeout when the rule gives none.
pub const DEFAULT_PROBE_TIMEOUT: Duration = Duration::from_secs(1);

/// How a probe talks to the instance.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ProbeProtocol {
    /// An HTTP request.
    Http,
    /// A TCP connection, optionally with a payload exchange.
    Tcp,
    /// A UDP datagram exchange.
    Udp,
}

/// The HTTP request of a probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpProbe {
    /// Request method (`GET` when the rule gives none).
    pub method: String,
    /// Request path and query (`/` when the rule gives none).
    pub url: String,
    /// Request headers.
    pub headers: Vec<(String, String)>,
    /// Request body.
    pub body: String,
    /// Status codes that count as success (we use 200 to 399).
    pub expected_status: RangeInclusive<u16>,
}

/// The payload exchange of a TCP or UDP probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TcpProbe {
    /// Bytes to send after connecting (nothing when empty: connecting is the probe).
    pub send: String,
    /// Acceptable answers (any answer when empty).
    pub receive: Vec<String>,
}

/// One probe to run periodically against one instance.
#[derive(Debug, Clone, PartialEq)]
pub struct ProbeSpec {
    /// Name of the fault-detect rule.
    pub rule: String,
    /// The instance probed.
    pub instance: Arc<Instance>,
    /// Protocol.
    pub protocol: ProbeProtocol,
    /// Port probed: the rule's port, or the instance's when the rule gives 0.
    pub port: u32,
    /// Time between probes.
    pub interval: Duration,
    /// Time a probe may take.
    pub timeout: Duration,
    /// The request, for HTTP probes.
    pub http: Option<HttpProbe>,
    /// The exchange, for TCP and UDP probes.
    pub payload: Option<TcpProbe>,
}

#[derive(Debug, Clone)]
struct DetectRule {
    name: String,
    target: ServiceKey,
    priority: u32,
    protocol: ProbeProtocol,
    port: u32,
    interval: Duration,
    timeout: Duration,
    http: Option<HttpProbe>,
    payload: Option<TcpProbe>,
}

/// Compiled fault-detect rules.
#[derive(Debug, Default)]
pub struct FaultDetectRules {
    rules: Vec<DetectRule>,
}

fn seconds_or(value: u32, default: Duration) -> Duration {
    if value == 0 {
        default
    } else {
        Duration::from_secs(u64::from(value))
    }
}

fn millis_or(value: u32, default: Duration) -> Duration {
    if value == 0 {
        default
    } else {
        Duration::from_millis(u64::from(value))
    }
}

impl FaultDetectRules {
    /// Compiles the rules of a `FaultDetector`; rules with an unknown protocol are left out.
    pub fn compile(detector: &v1::FaultDetector) -> (FaultDetectRules, Vec<Skipped>) {
        let mut rules = Vec::new();
        let mut skipped = Vec::new();
        for rule in &detector.rules {
            let protocol = match rule.protocol {
                1 => ProbeProtocol::Http,
                2 => ProbeProtocol::Tcp,
                3 => ProbeProtocol::Udp,
                other => {
                    skipped.push(Skipped::new(
                        rule.name.clone(),
                        format!("unsupported protocol {other}"),
                    ));
                    continue;
                }
            };
            let http = (protocol == ProbeProtocol::Http).then(|| {
                let config = rule.http_config.clone().unwrap_or_default();
                HttpProbe {
                    method: if config.method.is_empty() {
                        "GET".into()
                    } else {
                        config.method.to_ascii_uppercase()
                    },
                    url: if config.url.is_empty() {
                        "/".into()
                    } else {
                        config.url
                    },
                    headers: config
                        .headers
                        .into_iter()
                        .map(|h| (h.key, h.value))
                        .collect(),
                    body: config.body,
                    expected_status: 200..=399,
                }
            });
            let payload = match protocol {
                ProbeProtocol::Tcp => rule.tcp_config.clone().map(|c| TcpProbe {
                    send: c.send,
                    receive: c.receive,
                }),
                ProbeProtocol::Udp => rule.udp_config.clone().map(|c| TcpProbe {
                    send: c.send,
                    receive: c.receive,
                }),
                ProbeProtocol::Http => None,
            };
            let target = rule.target_service.clone().unwrap_or_default();
            rules.push(DetectRule {
                name: rule.name.clone(),
                target: ServiceKey::new(target.namespace, target.service),
                priority: rule.priority,
                protocol,
                port: rule.port,
                interval: seconds_or(rule.interval, DEFAULT_PROBE_INTERVAL),
                // The official console edits the timeout in milliseconds.
                timeout: millis_or(rule.timeout, DEFAULT_PROBE_TIMEOUT),
                http,
                payload,
            });
        }
        rules.sort_by_key(|r| r.priority);
        (FaultDetectRules { rules }, skipped)
    }

    /// The probes for `instances` of `service`: for each protocol, the first rule (by
    /// ascending priority) targeting the service gives one probe per non-isolated instance.
    pub fn probes_for(&self, service: &ServiceKey, instances: &[Arc<Instance>]) -> Vec<ProbeSpec> {
        let mut chosen: Vec<&DetectRule> = Vec::new();
        for rule in &self.rules {
            let targets = name_matches(&rule.target.namespace, &service.namespace)
                && name_matches(&rule.target.service, &service.service);
            if targets && !chosen.iter().any(|c| c.protocol == rule.protocol) {
                chosen.push(rule);
            }
        }
        let mut probes = Vec::new();
        for rule in chosen {
            for instance in instances.iter().filter(|i| !i.isolate) {
                probes.push(ProbeSpec {
                    rule: rule.name.clone(),
                    instance: Arc::clone(instance),
                    protocol: rule.protocol,
                    port: if rule.port == 0 {
                        instance.port
                    } else {
                        rule.port
                    },
                    interval: rule.interval,
                    timeout: rule.timeout,
                    http: rule.http.clone(),
                    payload: rule.payload.clone(),
                });
            }
        }
        probes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(
        name: &str,
        service: &str,
        protocol: i32,
        priority: u32,
        port: u32,
    ) -> v1::FaultDetectRule {
        v1::FaultDetectRule {
            name: name.into(),
            target_service: Some(v1::fault_detect_rule::DestinationService {
                service: service.into(),
                namespace: "default".into(),
                ..Default::default()
            }),
            protocol,
            priority,
            port,
            interval: 10,
            timeout: 500,
            http_config: Some(v1::HttpProtocolConfig {
                method: "head".into(),
                url: "/health".into(),
                headers: vec![v1::http_protocol_config::MessageHeader {
                    key: "x-probe".into(),
                    value: "1".into(),
                }],
                body: String::new(),
            }),
            ..Default::default()
        }
    }

    #[test]
    fn one_probe_per_protocol_and_instance() {
        let (rules, skipped) = FaultDetectRules::compile(&v1::FaultDetector {
            rules: vec![
                rule("http-low", "orders", 1, 5, 0),
                rule("http-high", "orders", 1, 1, 9000),
                rule("tcp", "*", 2, 3, 0),
                rule("other", "payments", 1, 0, 0),
                rule("bad", "orders", 0, 0, 0),
            ],
            revision: String::new(),
        });
        assert_eq!(skipped.len(), 1);
        let instances = vec![
            Arc::new(Instance {
                host: "10.0.0.1".into(),
                port: 80,
                ..Default::default()
            }),
            Arc::new(Instance {
                host: "10.0.0.2".into(),
                port: 81,
                isolate: true,
                ..Default::default()
            }),
        ];
        let probes = rules.probes_for(&ServiceKey::new("default", "orders"), &instances);
        assert_eq!(probes.len(), 2);
        let http = &probes[0];
        assert_eq!(http.rule, "http-high");
        assert_eq!(http.port, 9000);
        assert_eq!(http.interval, Duration::from_secs(10));
        assert_eq!(http.timeout, Duration::from_millis(500));
        let request = http.http.as_ref().unwrap();
        assert_eq!(
            (request.method.as_str(), request.url.as_str()),
            ("HEAD", "/health")
        );
        assert_eq!(request.headers, [("x-probe".to_string(), "1".to_string())]);
        let tcp = &probes[1];
        assert_eq!(
            (tcp.rule.as_str(), tcp.protocol, tcp.port),
            ("tcp", ProbeProtocol::Tcp, 80)
        );
        assert!(tcp.http.is_none());
    }
}
