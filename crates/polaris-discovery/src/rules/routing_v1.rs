//! ROUTING in Discover: the v2 rules that name a service, delivered in the v1
//! inbound/outbound shape the SDKs read.

use std::collections::HashMap;
use std::sync::Arc;

use polaris_governance::Applicable;
use polaris_proto::v1;
use polaris_proto::v1::source_match::Type as ArgType;
use polaris_types::ServiceKey;

use super::RulePayload;
use super::routing::routing_config;

/// The revision of "no routing rule": SHA-1 of nothing, as the official server sends it.
pub const EMPTY_ROUTING_REVISION: &str = "da39a3ee5e6b4b0d3255bfef95601890afd80709";

/// The label key a v2 source argument becomes in a v1 route, as the official conversion names
/// it; `None` for argument types v1 routes cannot carry.
fn label_key(argument: &v1::SourceMatch) -> Option<String> {
    let key = &argument.key;
    Some(match ArgType::try_from(argument.r#type).ok()? {
        ArgType::Custom => key.clone(),
        ArgType::Method => "$method".to_string(),
        ArgType::Header => format!("$header.{key}"),
        ArgType::Query => format!("$query.{key}"),
        ArgType::CallerIp => "$caller_ip".to_string(),
        ArgType::Cookie => format!("$cookie.{key}"),
        ArgType::Path => "$path".to_string(),
        ArgType::CallerMetadata => return None,
    })
}

fn names(namespace: &str, service: &str, key: &ServiceKey) -> bool {
    let part = |pattern: &str, value: &str| pattern == "*" || pattern == value;
    part(namespace, &key.namespace) && part(service, &key.name)
}

fn v1_source(source: &v1::SourceService, rewrite_to: Option<&ServiceKey>) -> v1::Source {
    let metadata: HashMap<String, v1::MatchString> = source
        .arguments
        .iter()
        .filter_map(|a| Some((label_key(a)?, a.value.clone().unwrap_or_default())))
        .collect();
    let (service, namespace) = match rewrite_to {
        Some(key) => (key.name.clone(), key.namespace.clone()),
        None => (source.service.clone(), source.namespace.clone()),
    };
    v1::Source {
        service: Some(service),
        namespace: Some(namespace),
        metadata,
    }
}

fn v1_destination(
    rule: &str,
    sub_rule: &str,
    dest: &v1::DestinationGroup,
    rewrite_to: Option<&ServiceKey>,
) -> v1::Destination {
    let (service, namespace) = match rewrite_to {
        Some(key) => (key.name.clone(), key.namespace.clone()),
        None => (dest.service.clone(), dest.namespace.clone()),
    };
    v1::Destination {
        service: Some(service),
        namespace: Some(namespace),
        metadata: dest.labels.clone(),
        priority: Some(dest.priority),
        weight: Some(dest.weight),
        transfer: Some(dest.transfer.clone()),
        isolate: Some(dest.isolate),
        name: Some(format!("{rule}.{sub_rule}.{}", dest.name)),
    }
}

/// The sub-rules of a routing config, with the top-level sources and destinations standing in
/// for missing ones (the official normalisation).
fn sub_rules(config: &v1::RuleRoutingConfig) -> Vec<v1::SubRuleRouting> {
    if config.rules.is_empty() {
        return vec![v1::SubRuleRouting {
            name: String::new(),
            sources: config.sources.clone(),
            destinations: config.destinations.clone(),
        }];
    }
    config
        .rules
        .iter()
        .map(|sub| v1::SubRuleRouting {
            name: sub.name.clone(),
            sources: if sub.sources.is_empty() {
                config.sources.clone()
            } else {
                sub.sources.clone()
            },
            destinations: if sub.destinations.is_empty() {
                config.destinations.clone()
            } else {
                sub.destinations.clone()
            },
        })
        .collect()
}

/// Converts the v2 routing rules that mention `real` into v1 inbounds (the service as callee)
/// and outbounds (the service as caller).
pub(super) fn payload(found: Applicable, real: &ServiceKey) -> RulePayload {
    let revision = if found.rules.is_empty() {
        EMPTY_ROUTING_REVISION.to_string()
    } else {
        found.revision.clone()
    };
    let real = real.clone();
    let routing_revision = revision.clone();
    let fill = move |response: &mut v1::DiscoverResponse| {
        let (mut inbounds, mut outbounds) = (Vec::new(), Vec::new());
        for rule in found.rules.iter().map(Arc::as_ref) {
            let Some(config) = routing_config(rule) else {
                continue;
            };
            for sub in sub_rules(&config) {
                let calls_from_here: Vec<_> = sub
                    .sources
                    .iter()
                    .filter(|s| names(&s.namespace, &s.service, &real))
                    .collect();
                if !calls_from_here.is_empty() {
                    outbounds.push(v1::Route {
                        sources: calls_from_here
                            .iter()
                            .map(|s| v1_source(s, Some(&real)))
                            .collect(),
                        destinations: sub
                            .destinations
                            .iter()
                            .map(|d| v1_destination(&rule.name, &sub.name, d, None))
                            .collect(),
                        ..Default::default()
                    });
                }
                let calls_to_here: Vec<_> = sub
                    .destinations
                    .iter()
                    .filter(|d| names(&d.namespace, &d.service, &real))
                    .collect();
                if !calls_to_here.is_empty() {
                    inbounds.push(v1::Route {
                        sources: sub.sources.iter().map(|s| v1_source(s, None)).collect(),
                        destinations: calls_to_here
                            .iter()
                            .map(|d| v1_destination(&rule.name, &sub.name, d, Some(&real)))
                            .collect(),
                        ..Default::default()
                    });
                }
            }
        }
        response.routing = Some(v1::Routing {
            service: Some(real.name.clone()),
            namespace: Some(real.namespace.clone()),
            inbounds,
            outbounds,
            revision: Some(routing_revision),
            ..Default::default()
        });
    };
    RulePayload {
        revision,
        fill: Box::new(fill),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source(ns: &str, svc: &str) -> v1::SourceService {
        v1::SourceService {
            namespace: ns.into(),
            service: svc.into(),
            arguments: vec![v1::SourceMatch {
                r#type: ArgType::Header as i32,
                key: "x-user".into(),
                value: Some(v1::MatchString {
                    value: Some("vip".into()),
                    ..Default::default()
                }),
            }],
        }
    }

    fn dest(ns: &str, svc: &str, name: &str) -> v1::DestinationGroup {
        v1::DestinationGroup {
            namespace: ns.into(),
            service: svc.into(),
            name: name.into(),
            weight: 100,
            ..Default::default()
        }
    }

    #[test]
    fn top_level_lists_stand_in_for_missing_sub_rule_parts() {
        let config = v1::RuleRoutingConfig {
            sources: vec![source("ns", "caller")],
            destinations: vec![dest("ns", "callee", "d")],
            rules: vec![v1::SubRuleRouting {
                name: "s".into(),
                ..Default::default()
            }],
        };
        let subs = sub_rules(&config);
        assert_eq!((subs[0].sources.len(), subs[0].destinations.len()), (1, 1));
        let bare = v1::RuleRoutingConfig {
            rules: vec![],
            ..config
        };
        assert_eq!(sub_rules(&bare)[0].name, "");
    }

    #[test]
    fn arguments_become_v1_label_keys() {
        let converted = v1_source(&source("ns", "*"), Some(&ServiceKey::new("ns", "me")));
        assert_eq!(converted.service.as_deref(), Some("me"));
        assert!(converted.metadata.contains_key("$header.x-user"));
        let destination = v1_destination("r", "s", &dest("ns", "callee", "d"), None);
        assert_eq!(destination.name.as_deref(), Some("r.s.d"));
    }

    mod conversion {
        use super::super::*;
        use polaris_types::{Rule, RuleKind};
        use proptest::prelude::*;
        use prost::Message;

        fn service() -> impl Strategy<Value = (String, String)> {
            (
                prop_oneof!["ns1", "ns2", Just("*".to_string())],
                prop_oneof!["a", "b", "c", Just("*".to_string())],
            )
        }

        fn sub_rule() -> impl Strategy<Value = v1::SubRuleRouting> {
            (
                "[a-z]{0,3}",
                proptest::collection::vec(service(), 1..4),
                proptest::collection::vec(service(), 1..4),
            )
                .prop_map(|(name, sources, destinations)| v1::SubRuleRouting {
                    name,
                    sources: sources
                        .into_iter()
                        .map(|(namespace, service)| v1::SourceService {
                            namespace,
                            service,
                            arguments: vec![],
                        })
                        .collect(),
                    destinations: destinations
                        .into_iter()
                        .map(|(namespace, service)| v1::DestinationGroup {
                            namespace,
                            service,
                            weight: 100,
                            ..Default::default()
                        })
                        .collect(),
                })
        }

        fn stored(config: &v1::RuleRoutingConfig) -> Arc<Rule> {
            let body = v1::RouteRule {
                routing_config: Some(prost_types::Any {
                    type_url: "type.googleapis.com/v1.RuleRoutingConfig".into(),
                    value: config.encode_to_vec(),
                }),
                ..Default::default()
            };
            Arc::new(Rule {
                kind: RuleKind::Routing,
                id: "r".into(),
                name: "rule".into(),
                namespace: "ns1".into(),
                enable: true,
                priority: 0,
                description: String::new(),
                targets: vec![],
                body: body.encode_to_vec().into(),
                revision: "rev".into(),
                ctime: 1,
                mtime: 1,
            })
        }

        proptest! {
            /// Every sub-rule that names the service as a caller yields exactly one outbound
            /// route (sources rewritten to the service, all destinations kept), and every
            /// sub-rule that names it as a callee yields one inbound route (destinations
            /// rewritten, all sources kept).
            #[test]
            fn v2_rules_convert_to_v1_routes(rules in proptest::collection::vec(sub_rule(), 1..5), ns in prop_oneof!["ns1", "ns2"], svc in prop_oneof!["a", "b", "c"]) {
                let key = ServiceKey::new(ns, svc);
                let config = v1::RuleRoutingConfig { sources: vec![], destinations: vec![], rules: rules.clone() };
                let found = Applicable { rules: vec![stored(&config)], revision: "rev".into() };
                let mut response = v1::DiscoverResponse::default();
                (payload(found, &key).fill)(&mut response);
                let routing = response.routing.expect("routing payload");
                let calls_out: Vec<_> = rules.iter().filter(|r| r.sources.iter().any(|s| names(&s.namespace, &s.service, &key))).collect();
                let calls_in: Vec<_> = rules.iter().filter(|r| r.destinations.iter().any(|d| names(&d.namespace, &d.service, &key))).collect();
                prop_assert_eq!(routing.outbounds.len(), calls_out.len());
                prop_assert_eq!(routing.inbounds.len(), calls_in.len());
                for (route, sub) in routing.outbounds.iter().zip(&calls_out) {
                    prop_assert!(route.sources.iter().all(|s| s.service.as_deref() == Some(key.name.as_str()) && s.namespace.as_deref() == Some(key.namespace.as_str())));
                    prop_assert_eq!(route.destinations.len(), sub.destinations.len());
                }
                for (route, sub) in routing.inbounds.iter().zip(&calls_in) {
                    prop_assert!(route.destinations.iter().all(|d| d.service.as_deref() == Some(key.name.as_str())));
                    prop_assert_eq!(route.sources.len(), sub.sources.len());
                }
                prop_assert_eq!(routing.revision.as_deref(), Some("rev"));
            }
        }
    }
}
