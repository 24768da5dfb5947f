use std::collections::HashMap;

use super::*;
use crate::router::test_support::{ids, instance};
use crate::rules::ms;

const EXACT: i32 = 0;
const REGEX: i32 = 1;

fn labels(pairs: &[(&str, i32, &str)]) -> HashMap<String, v1::MatchString> {
    pairs
        .iter()
        .map(|(k, kind, v)| (k.to_string(), ms(*kind, v)))
        .collect()
}

fn source(service: &str, meta: &[(&str, i32, &str)]) -> v1::Source {
    v1::Source {
        service: Some(service.into()),
        namespace: Some("*".into()),
        metadata: labels(meta),
    }
}

fn destination(meta: &[(&str, i32, &str)], priority: u32, weight: u32) -> v1::Destination {
    v1::Destination {
        service: Some("*".into()),
        namespace: Some("*".into()),
        metadata: labels(meta),
        priority: Some(priority),
        weight: Some(weight),
        ..Default::default()
    }
}

fn set() -> InstanceList {
    vec![
        instance("v1-a", &[("version", "v1")], ["", "", ""]),
        instance("v1-b", &[("version", "v1")], ["", "", ""]),
        instance("v2-a", &[("version", "v2")], ["", "", ""]),
        instance("plain", &[], ["", "", ""]),
    ]
    .into()
}

fn inbound(routes: Vec<v1::Route>) -> Arc<RoutingRules> {
    let (rules, skipped) = RoutingRules::compile(&v1::Routing {
        service: Some("orders".into()),
        namespace: Some("default".into()),
        inbounds: routes,
        ..Default::default()
    });
    assert!(skipped.is_empty(), "{skipped:?}");
    Arc::new(rules)
}

fn cx(caller: &str, headers: &[(&str, &str)], callee: Arc<RoutingRules>) -> RouteContext {
    let mut request = RequestContext::default();
    for (k, v) in headers {
        request.headers.insert(k.to_string(), v.to_string());
    }
    RouteContext {
        caller: Some(ServiceKey::new("default", caller)),
        destination: ServiceKey::new("default", "orders"),
        request: request.into(),
        callee_routing: Some(callee),
        ..Default::default()
    }
}

#[test]
fn first_matching_route_and_lowest_priority_destination_win() {
    let rules = inbound(vec![
        v1::Route {
            sources: vec![source("web", &[("$header.x-user", EXACT, "vip")])],
            destinations: vec![
                destination(&[("version", EXACT, "v3")], 0, 100),
                destination(&[("version", EXACT, "v2")], 1, 100),
                destination(&[("version", EXACT, "v1")], 2, 100),
            ],
            ..Default::default()
        },
        v1::Route {
            sources: vec![source("*", &[])],
            destinations: vec![destination(&[("version", REGEX, "^v1$")], 0, 100)],
            ..Default::default()
        },
    ]);
    let router = RuleBasedRouter::new(RuleFailover::None);
    let set = set();
    // VIP from web: v3 has no instance, so priority 1 (v2) is used.
    let vip = router
        .route(&cx("web", &[("x-user", "vip")], rules.clone()), &set)
        .unwrap();
    assert_eq!(ids(&vip), ["v2-a"]);
    // Anyone else falls to the second route.
    let other = router.route(&cx("app", &[], rules.clone()), &set).unwrap();
    assert_eq!(ids(&other), ["v1-a", "v1-b"]);
    let again = router.route(&cx("app", &[], rules), &set).unwrap();
    assert!(Arc::ptr_eq(&other, &again), "memoised");
}

#[test]
fn weights_split_same_priority_destinations() {
    let rules = inbound(vec![v1::Route {
        sources: vec![],
        destinations: vec![
            destination(&[("version", EXACT, "v1")], 0, 80),
            destination(&[("version", EXACT, "v2")], 0, 20),
            destination(&[("version", EXACT, "v1")], 0, 0),
        ],
        ..Default::default()
    }]);
    let router = RuleBasedRouter::new(RuleFailover::None);
    let set = set();
    let cx = cx("web", &[], rules);
    let v2 = (0..10_000)
        .filter(|_| ids(&router.route(&cx, &set).unwrap()) == ["v2-a"])
        .count();
    assert!((1_700..2_300).contains(&v2), "{v2}");
}

#[test]
fn failover_and_isolation() {
    let rules = inbound(vec![v1::Route {
        sources: vec![source("web", &[])],
        destinations: vec![
            v1::Destination {
                isolate: Some(true),
                ..destination(&[("version", EXACT, "v1")], 0, 100)
            },
            destination(&[("version", EXACT, "v9")], 1, 100),
        ],
        ..Default::default()
    }]);
    let set = set();
    let none = RuleBasedRouter::new(RuleFailover::None);
    assert_eq!(
        none.route(&cx("web", &[], rules.clone()), &set),
        Err(RouteError::RuleNotMatched {
            router: "ruleBasedRouter"
        })
    );
    assert_eq!(
        none.route(&cx("app", &[], rules.clone()), &set),
        Err(RouteError::RuleNotMatched {
            router: "ruleBasedRouter"
        }),
        "source does not match"
    );
    let all = RuleBasedRouter::new(RuleFailover::All);
    assert!(Arc::ptr_eq(
        &all.route(&cx("web", &[], rules), &set).unwrap(),
        &set
    ));
    // No rules at all: pass-through even with failover none.
    let empty = inbound(vec![]);
    assert!(Arc::ptr_eq(
        &none.route(&cx("web", &[], empty), &set).unwrap(),
        &set
    ));
}

#[test]
fn caller_outbounds_come_before_callee_inbounds() {
    let (outbound, _) = RoutingRules::compile(&v1::Routing {
        service: Some("web".into()),
        namespace: Some("default".into()),
        outbounds: vec![
            v1::Route {
                sources: vec![],
                destinations: vec![v1::Destination {
                    service: Some("payments".into()),
                    ..destination(&[("version", EXACT, "v2")], 0, 100)
                }],
                ..Default::default()
            },
            v1::Route {
                sources: vec![],
                destinations: vec![v1::Destination {
                    service: Some("orders".into()),
                    ..destination(&[("version", EXACT, "v2")], 0, 100)
                }],
                ..Default::default()
            },
        ],
        ..Default::default()
    });
    let callee = inbound(vec![v1::Route {
        sources: vec![],
        destinations: vec![destination(&[("version", EXACT, "v1")], 0, 100)],
        ..Default::default()
    }]);
    let mut context = cx("web", &[], callee);
    context.caller_routing = Some(Arc::new(outbound));
    let out = RuleBasedRouter::new(RuleFailover::None)
        .route(&context, &set())
        .unwrap();
    assert_eq!(ids(&out), ["v2-a"]);
}

#[test]
fn bad_labels_are_skipped_with_a_reason() {
    let (rules, skipped) = RoutingRules::compile(&v1::Routing {
        inbounds: vec![v1::Route {
            sources: vec![source("web", &[("k", REGEX, "(")])],
            destinations: vec![destination(&[], 0, 100)],
            ..Default::default()
        }],
        ..Default::default()
    });
    assert!(rules.is_empty());
    assert_eq!(skipped.len(), 1);
    assert!(skipped[0].reason.contains("route left out"), "{skipped:?}");
}

fn v2_rule(name: &str, priority: u32, config: &v1::RuleRoutingConfig) -> v1::RouteRule {
    use prost::Message;
    v1::RouteRule {
        name: name.into(),
        enable: true,
        priority,
        routing_config: Some(prost_types::Any {
            type_url: "type.googleapis.com/v1.RuleRoutingConfig".into(),
            value: config.encode_to_vec(),
        }),
        ..Default::default()
    }
}

fn group(version: &str, priority: u32) -> v1::DestinationGroup {
    v1::DestinationGroup {
        service: "orders".into(),
        namespace: "default".into(),
        labels: labels(&[("version", EXACT, version)]),
        priority,
        weight: 100,
        ..Default::default()
    }
}

#[test]
fn v2_rules_route_by_sub_rules_in_priority_order() {
    let gray_users = v1::RuleRoutingConfig {
        rules: vec![v1::SubRuleRouting {
            name: "gray".into(),
            sources: vec![v1::SourceService {
                service: "*".into(),
                namespace: "*".into(),
                arguments: vec![v1::SourceMatch {
                    r#type: 2,
                    key: "x-user".into(),
                    value: Some(ms(EXACT, "gray")),
                }],
            }],
            destinations: vec![group("v2", 0)],
        }],
        ..Default::default()
    };
    let everyone = v1::RuleRoutingConfig {
        rules: vec![v1::SubRuleRouting {
            name: "rest".into(),
            sources: vec![v1::SourceService {
                service: "*".into(),
                namespace: "*".into(),
                arguments: vec![],
            }],
            destinations: vec![group("v9", 0), group("v1", 1)],
        }],
        ..Default::default()
    };
    let mut disabled = v2_rule("disabled", 0, &everyone);
    disabled.enable = false;
    let not_rule_policy = v1::RouteRule {
        routing_policy: 1,
        ..v2_rule("metadata", 0, &everyone)
    };
    let (rules, skipped) = RoutingRules::compile(&v1::Routing {
        rules: vec![
            v2_rule("everyone", 2, &everyone),
            v2_rule("gray-users", 1, &gray_users),
            disabled,
            not_rule_policy,
            v1::RouteRule {
                enable: true,
                name: "broken".into(),
                ..Default::default()
            },
        ],
        ..Default::default()
    });
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    let rules = Arc::new(rules);
    let router = RuleBasedRouter::new(RuleFailover::None);
    let set = set();
    let gray = router
        .route(&cx("web", &[("x-user", "gray")], rules.clone()), &set)
        .unwrap();
    assert_eq!(ids(&gray), ["v2-a"]);
    let rest = router.route(&cx("web", &[], rules), &set).unwrap();
    assert_eq!(
        ids(&rest),
        ["v1-a", "v1-b"],
        "v9 has no instance, priority 1 is next"
    );
}

#[test]
fn rules_for_other_services_do_not_trigger_failover() {
    let (outbound, _) = RoutingRules::compile(&v1::Routing {
        outbounds: vec![v1::Route {
            sources: vec![],
            destinations: vec![v1::Destination {
                service: Some("payments".into()),
                ..destination(&[("version", EXACT, "v2")], 0, 100)
            }],
            ..Default::default()
        }],
        ..Default::default()
    });
    let mut context = cx("web", &[], inbound(vec![]));
    context.caller_routing = Some(Arc::new(outbound));
    let set = set();
    let out = RuleBasedRouter::new(RuleFailover::None)
        .route(&context, &set)
        .unwrap();
    assert!(Arc::ptr_eq(&out, &set));
}
