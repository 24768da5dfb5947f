//! Wire checks for the governance payloads (routing, rate limit, circuit breaker, fault
//! detector, lanes, lossless, block/allow lists), built from hand-written bytes so that field
//! numbers and wire types are tested independently of our `.proto` files. Every number here
//! was checked against the official specification's releases 1.5.0 to 1.8.0.

mod common;
use common::*;

use polaris_proto::v1::{
    self, BatchQueryResponse, DiscoverResponse, Response, RouteRule, RuleRoutingConfig,
};
use prost::Message;

/// A `MatchString` body: type = 1 (enum), value = 2 (StringValue).
fn match_string(kind: u64, value: &str) -> Vec<u8> {
    cat(&[int(1, kind), string_value(2, value)])
}

/// v1 `Routing` as Discover ROUTING carries it: inbounds = 3 of `Route`.
fn routing_bytes() -> Vec<u8> {
    let source = cat(&[string_value(1, "caller"), string_value(2, "default")]);
    let destination = cat(&[
        string_value(1, "echo"),
        // metadata = 3: map<string, MatchString>; REGEX = 1
        entry(3, "env", &match_string(1, "gr.*")),
        int_value(4, 2),
        int_value(5, 80),
        string_value(6, "fallback"),
        int_value(7, 1),
        string_value(8, "group-a"),
    ]);
    let route = cat(&[
        bytes(1, &source),
        bytes(2, &destination),
        entry(3, "k", b"v"),
    ]);
    cat(&[
        string_value(1, "echo"),
        string_value(2, "default"),
        bytes(3, &route),
        bytes(4, &route),
        string_value(5, "2024-01-01 00:00:00"),
        string_value(7, "rev-r"),
        string_value(8, "tok"),
        bytes(21, &string(1, "rule-1")),
    ])
}

fn check_routing(r: &v1::Routing) {
    assert_eq!(r.service.as_deref(), Some("echo"));
    assert_eq!(r.namespace.as_deref(), Some("default"));
    assert_eq!(r.revision.as_deref(), Some("rev-r"));
    assert_eq!(r.ctime.as_deref(), Some("2024-01-01 00:00:00"));
    assert_eq!(r.service_token.as_deref(), Some("tok"));
    assert_eq!((r.inbounds.len(), r.outbounds.len()), (1, 1));
    let route = &r.inbounds[0];
    assert_eq!(route.sources[0].service.as_deref(), Some("caller"));
    assert_eq!(route.extend_info.get("k").map(String::as_str), Some("v"));
    let d = &route.destinations[0];
    assert_eq!(d.service.as_deref(), Some("echo"));
    let env = &d.metadata["env"];
    assert_eq!(env.r#type(), v1::match_string::MatchStringType::Regex);
    assert_eq!(env.value.as_deref(), Some("gr.*"));
    assert_eq!((d.priority, d.weight), (Some(2), Some(80)));
    assert_eq!(d.transfer.as_deref(), Some("fallback"));
    assert_eq!(d.isolate, Some(true));
    assert_eq!(d.name.as_deref(), Some("group-a"));
    assert_eq!(r.rules[0].id, "rule-1");
}

/// A rate-limit `Rule` with most of its fields.
fn rate_limit_rule_bytes() -> Vec<u8> {
    let amount = cat(&[
        int_value(1, 100),
        // validDuration = 2: google.protobuf.Duration { seconds = 1 }
        bytes(2, &int(1, 1)),
    ]);
    let argument = cat(&[
        int(1, 2),
        string(2, "x-user"),
        bytes(3, &match_string(0, "a")),
    ]);
    cat(&[
        string_value(1, "rl-1"),
        string_value(2, "echo"),
        string_value(3, "default"),
        int_value(5, 1),
        int(6, 1),
        int(7, 1),
        bytes(9, &amount),
        string_value(10, "reject"),
        int_value(11, 1),
        int(19, 1),
        int(20, 1),
        bytes(21, &string_value(1, "limiter")),
        bytes(22, &match_string(0, "/echo")),
        bytes(23, &argument),
        string_value(24, "rule-name"),
        int_value(26, 30),
        bytes(27, &int(1, 7)),
        bytes(28, &string(3, "slow down")),
        entry(29, "team", b"a"),
    ])
}

fn check_rate_limit_rule(r: &v1::Rule) {
    use v1::rule::{AmountMode, FailoverType, Resource, Type};
    assert_eq!(r.id.as_deref(), Some("rl-1"));
    assert_eq!(r.service.as_deref(), Some("echo"));
    assert_eq!(r.priority, Some(1));
    assert_eq!(r.resource(), Resource::Concurrency);
    assert_eq!(r.r#type(), Type::Local);
    assert_eq!(r.amounts[0].max_amount, Some(100));
    assert_eq!(
        r.amounts[0].valid_duration.map(|d| d.seconds),
        Some(1),
        "validDuration"
    );
    assert_eq!(r.action.as_deref(), Some("reject"));
    assert_eq!(r.disable, Some(true));
    assert_eq!(r.amount_mode(), AmountMode::ShareEqually);
    assert_eq!(r.failover(), FailoverType::FailoverPass);
    assert_eq!(
        r.cluster.as_ref().and_then(|c| c.service.as_deref()),
        Some("limiter")
    );
    assert_eq!(
        r.method.as_ref().and_then(|m| m.value.as_deref()),
        Some("/echo")
    );
    let a = &r.arguments[0];
    assert_eq!(a.r#type(), v1::match_argument::Type::Header);
    assert_eq!(a.key, "x-user");
    assert_eq!(r.name.as_deref(), Some("rule-name"));
    assert_eq!(r.max_queue_delay, Some(30));
    assert_eq!(r.concurrency_amount.as_ref().map(|c| c.max_amount), Some(7));
    assert_eq!(
        r.custom_response.as_ref().map(|c| c.body.as_str()),
        Some("slow down")
    );
    assert_eq!(r.metadata.get("team").map(String::as_str), Some("a"));
}

fn circuit_breaker_rule_bytes() -> Vec<u8> {
    let matcher = cat(&[
        bytes(1, &cat(&[string(1, "*"), string(2, "*")])),
        bytes(
            2,
            &cat(&[string(1, "echo"), bytes(3, &match_string(0, "/m"))]),
        ),
    ]);
    let error_condition = cat(&[int(1, 1), bytes(2, &match_string(3, "500,502"))]);
    let trigger = cat(&[int(1, 2), int(2, 5), int(4, 60), int(5, 10)]);
    let block = cat(&[
        string(1, "block-a"),
        bytes(2, &cat(&[string(1, "HTTP"), string(2, "GET")])),
        bytes(3, &error_condition),
        bytes(4, &trigger),
        bytes(5, &cat(&[int(1, 30), int(2, 3)])),
    ]);
    let fallback = cat(&[
        int(1, 1),
        bytes(
            2,
            &cat(&[
                int(1, 503),
                bytes(2, &cat(&[string(1, "h"), string(2, "v")])),
                string(3, "busy"),
            ]),
        ),
    ]);
    cat(&[
        string(1, "cb-1"),
        string(2, "cb-name"),
        string(3, "default"),
        int(4, 1),
        string(5, "rev-cb"),
        string(9, "desc"),
        int(21, 2),
        bytes(22, &matcher),
        bytes(23, &error_condition),
        bytes(24, &trigger),
        int(25, 50),
        bytes(26, &cat(&[int(1, 60), int(2, 3)])),
        bytes(27, &int(1, 1)),
        bytes(28, &fallback),
        bytes(29, &block),
        int(30, 4),
        entry(50, "m", b"1"),
        int(51, 1),
    ])
}

fn check_circuit_breaker_rule(r: &v1::CircuitBreakerRule) {
    assert_eq!((r.id.as_str(), r.name.as_str()), ("cb-1", "cb-name"));
    assert_eq!(r.namespace, "default");
    assert!(r.enable);
    assert_eq!(r.revision, "rev-cb");
    assert_eq!(r.description, "desc");
    assert_eq!(r.level(), v1::Level::Method);
    let m = r.rule_matcher.as_ref().expect("rule_matcher");
    assert_eq!(m.source.as_ref().map(|s| s.service.as_str()), Some("*"));
    let d = m.destination.as_ref().expect("destination");
    assert_eq!(d.service, "echo");
    assert_eq!(
        d.method.as_ref().and_then(|m| m.value.as_deref()),
        Some("/m")
    );
    let e = &r.error_conditions[0];
    assert_eq!(e.input_type(), v1::error_condition::InputType::RetCode);
    assert_eq!(
        e.condition.as_ref().map(v1::MatchString::r#type),
        Some(v1::match_string::MatchStringType::In)
    );
    let t = &r.trigger_condition[0];
    assert_eq!(
        t.trigger_type(),
        v1::trigger_condition::TriggerType::ConsecutiveError
    );
    assert_eq!((t.error_count, t.interval, t.minimum_request), (5, 60, 10));
    assert_eq!(r.max_ejection_percent, 50);
    let rc = r.recover_condition.as_ref().expect("recoverCondition");
    assert_eq!((rc.sleep_window, rc.consecutive_success), (60, 3));
    assert_eq!(r.fault_detect_config.as_ref().map(|f| f.enable), Some(true));
    let fb = r.fallback_config.as_ref().expect("fallbackConfig");
    let resp = fb.response.as_ref().expect("response");
    assert_eq!((resp.code, resp.body.as_str()), (503, "busy"));
    assert_eq!(resp.headers[0].key, "h");
    let b = &r.block_configs[0];
    assert_eq!(b.name, "block-a");
    assert_eq!(b.api.as_ref().map(|a| a.method.as_str()), Some("GET"));
    assert_eq!(b.error_conditions.len(), 1);
    assert_eq!(b.trigger_conditions[0].error_count, 5);
    assert_eq!(
        b.recover_condition.as_ref().map(|c| c.sleep_window),
        Some(30)
    );
    assert_eq!(r.priority, 4);
    assert_eq!(r.metadata.get("m").map(String::as_str), Some("1"));
    assert!(r.regex_separate);
}

#[test]
fn discover_response_governance_fields() {
    let rate_limit = cat(&[
        bytes(1, &rate_limit_rule_bytes()),
        string_value(2, "rev-rl"),
    ]);
    let circuit_breaker = cat(&[
        string_value(5, "echo"),
        bytes(21, &circuit_breaker_rule_bytes()),
        string_value(16, "rev-cb"),
    ]);
    let fault_detect_rule = cat(&[
        string(1, "fd-1"),
        bytes(21, &cat(&[string(1, "echo"), string(2, "default")])),
        int(22, 10),
        int(23, 1000),
        int(24, 8080),
        int(25, 1),
        bytes(
            26,
            &cat(&[
                string(1, "GET"),
                string(2, "/health"),
                bytes(3, &cat(&[string(1, "h"), string(2, "v")])),
            ]),
        ),
        bytes(27, &cat(&[string(1, "ping"), string(2, "pong")])),
        int(29, 3),
        entry(30, "m", b"1"),
        entry(31, "e", b"2"),
    ]);
    let fault_detector = cat(&[bytes(1, &fault_detect_rule), string(2, "rev-fd")]);
    let lane_rule = cat(&[
        string(1, "lr-1"),
        string(3, "group-1"),
        bytes(
            4,
            &cat(&[
                bytes(4, &cat(&[int(1, 2), string(2, "x-lane")])),
                int(14, 1),
            ]),
        ),
        string(5, "gray"),
        int(6, 1),
        int(7, 1),
        int(12, 9),
    ]);
    let lane = cat(&[
        string(1, "lg-1"),
        string(2, "group-1"),
        bytes(
            3,
            &cat(&[
                string(1, "polarismesh.cn/service"),
                // selector = 2: google.protobuf.Any { type_url = 1, value = 2 }
                bytes(
                    2,
                    &cat(&[
                        string(1, "type.googleapis.com/v1.ServiceSelector"),
                        bytes(2, &cat(&[string(1, "default"), string(2, "gw")])),
                    ]),
                ),
            ]),
        ),
        bytes(4, &cat(&[string(1, "echo"), string(8, "gray")])),
        string(7, "rev-lane"),
        bytes(11, &lane_rule),
        entry(12, "m", b"1"),
        int(21, 1),
    ]);
    let nearby = cat(&[string(1, "echo"), int(3, 2), int(4, 3), int(5, 1)]);
    let nearby_rule = cat(&[
        string(1, "nb-1"),
        int(5, 2),
        bytes(
            6,
            &cat(&[
                string(1, "type.googleapis.com/v1.NearbyRoutingConfig"),
                bytes(2, &nearby),
            ]),
        ),
    ]);
    let block_allow = cat(&[
        string(1, "ba-1"),
        string(5, "echo"),
        int(8, 1),
        bytes(
            12,
            &cat(&[
                bytes(1, &string(2, "POST")),
                bytes(2, &cat(&[int(1, 6), string(2, "k")])),
                int(3, 1),
            ]),
        ),
        string(13, "rev-ba"),
    ]);
    let lossless = cat(&[
        string(1, "ll-1"),
        string(2, "echo"),
        bytes(
            7,
            &cat(&[
                bytes(1, &cat(&[int(1, 1), int(2, 1), int(3, 30)])),
                bytes(2, &cat(&[int(1, 1), int(2, 120), int(5, 2)])),
                bytes(3, &int(1, 1)),
            ]),
        ),
        bytes(8, &int(1, 1)),
    ]);
    let wire = cat(&[
        int_value(1, 200_000),
        int(3, 3),
        bytes(6, &routing_bytes()),
        bytes(7, &rate_limit),
        bytes(8, &circuit_breaker),
        bytes(11, &fault_detector),
        bytes(22, &lane),
        bytes(23, &string(2, "custom")),
        bytes(24, &nearby_rule),
        bytes(26, &block_allow),
        bytes(100, &lossless),
    ]);
    let r = DiscoverResponse::decode(wire.as_slice()).expect("decode response");

    check_routing(r.routing.as_ref().expect("routing = 6"));

    let rl = r.rate_limit.as_ref().expect("rateLimit = 7");
    assert_eq!(rl.revision.as_deref(), Some("rev-rl"));
    check_rate_limit_rule(&rl.rules[0]);

    let cb = r.circuit_breaker.as_ref().expect("circuitBreaker = 8");
    assert_eq!(cb.service.as_deref(), Some("echo"));
    assert_eq!(cb.revision.as_deref(), Some("rev-cb"));
    check_circuit_breaker_rule(&cb.rules[0]);

    let fd = r.fault_detector.as_ref().expect("faultDetector = 11");
    assert_eq!(fd.revision, "rev-fd");
    let f = &fd.rules[0];
    assert_eq!(f.id, "fd-1");
    assert_eq!(
        f.target_service.as_ref().map(|t| t.service.as_str()),
        Some("echo")
    );
    assert_eq!((f.interval, f.timeout, f.port), (10, 1000, 8080));
    assert_eq!(f.protocol(), v1::fault_detect_rule::Protocol::Http);
    let http = f.http_config.as_ref().expect("http_config");
    assert_eq!(
        (http.method.as_str(), http.url.as_str()),
        ("GET", "/health")
    );
    assert_eq!(http.headers[0].value, "v");
    let tcp = f.tcp_config.as_ref().expect("tcp_config");
    assert_eq!(
        (tcp.send.as_str(), tcp.receive.as_slice()),
        ("ping", &["pong".to_owned()][..])
    );
    assert_eq!(f.priority, 3);
    assert_eq!(f.metadata.get("m").map(String::as_str), Some("1"));
    assert_eq!(f.extend_info.get("e").map(String::as_str), Some("2"));

    let lane = &r.lanes[0];
    assert_eq!((lane.id.as_str(), lane.name.as_str()), ("lg-1", "group-1"));
    let entry = &lane.entries[0];
    assert_eq!(entry.r#type, "polarismesh.cn/service");
    let selector = entry.selector.as_ref().expect("selector");
    let selector = v1::ServiceSelector::decode(selector.value.as_slice()).expect("selector");
    assert_eq!(
        (selector.namespace.as_str(), selector.service.as_str()),
        ("default", "gw")
    );
    assert_eq!(lane.destinations[0].name, "gray");
    assert_eq!(lane.revision, "rev-lane");
    assert_eq!(lane.metadata.get("m").map(String::as_str), Some("1"));
    assert!(lane.deleteable);
    let lr = &lane.rules[0];
    assert_eq!(
        (lr.id.as_str(), lr.group_name.as_str()),
        ("lr-1", "group-1")
    );
    let tm = lr.traffic_match_rule.as_ref().expect("traffic_match_rule");
    assert_eq!(tm.arguments[0].r#type(), v1::source_match::Type::Header);
    assert_eq!(
        tm.match_mode(),
        v1::traffic_match_rule::TrafficMatchMode::Or
    );
    assert_eq!(lr.default_label_value, "gray");
    assert!(lr.enable);
    assert_eq!(lr.match_mode(), v1::lane_rule::LaneMatchMode::Permissive);
    assert_eq!(lr.priority, 9);

    assert_eq!(r.custom_route_rules[0].name, "custom");
    let nb = &r.nearby_route_rules[0];
    assert_eq!(nb.routing_policy(), v1::RoutingPolicy::NearbyPolicy);
    let cfg = nb.routing_config.as_ref().expect("routing_config");
    let cfg = v1::NearbyRoutingConfig::decode(cfg.value.as_slice()).expect("nearby config");
    use v1::nearby_routing_config::LocationLevel;
    assert_eq!(cfg.service, "echo");
    assert_eq!(cfg.match_level(), LocationLevel::Zone);
    assert_eq!(cfg.max_match_level(), LocationLevel::Region);
    assert!(cfg.strict_nearby);

    let ba = &r.block_allow_list_rule[0];
    assert_eq!((ba.id.as_str(), ba.service.as_str()), ("ba-1", "echo"));
    assert!(ba.enable);
    assert_eq!(ba.revision, "rev-ba");
    let bc = &ba.block_allow_config[0];
    assert_eq!(bc.api.as_ref().map(|a| a.method.as_str()), Some("POST"));
    assert_eq!(
        bc.arguments[0].r#type(),
        v1::block_allow_config::match_argument::Type::CalleeMetadata
    );
    assert_eq!(
        bc.block_allow_policy(),
        v1::block_allow_config::BlockAllowPolicy::BlockList
    );

    let ll = &r.lossless_rule_list[0];
    assert_eq!((ll.id.as_str(), ll.service.as_str()), ("ll-1", "echo"));
    let online = ll.lossless_online.as_ref().expect("losslessOnline");
    let delay = online.delay_register.as_ref().expect("delayRegister");
    assert_eq!(
        delay.strategy(),
        v1::delay_register::DelayStrategy::DelayByHealthCheck
    );
    assert_eq!(delay.interval_second, 30);
    let warmup = online.warmup.as_ref().expect("warmup");
    assert_eq!((warmup.interval_second, warmup.curvature), (120, 2));
    assert_eq!(online.readiness.as_ref().map(|r| r.enable), Some(true));
    assert_eq!(ll.lossless_offline.as_ref().map(|o| o.enable), Some(true));
}

#[test]
fn routing_encodes_at_field_6() {
    let r = DiscoverResponse {
        routing: Some(v1::Routing {
            service: Some("echo".into()),
            ..v1::Routing::default()
        }),
        ..DiscoverResponse::default()
    };
    assert_eq!(r.encode_to_vec(), bytes(6, &string_value(1, "echo")));
}

#[test]
fn rule_routing_config_in_route_rule() {
    let source_match = cat(&[
        int(1, 7),
        string(2, "app"),
        bytes(3, &match_string(0, "web")),
    ]);
    let sub = cat(&[
        string(1, "sub-1"),
        bytes(
            2,
            &cat(&[
                string(1, "caller"),
                string(2, "default"),
                bytes(3, &source_match),
            ]),
        ),
        bytes(
            3,
            &cat(&[
                string(1, "echo"),
                string(2, "default"),
                entry(3, "env", &match_string(2, "prod")),
                int(4, 1),
                int(5, 50),
                string(6, "t"),
                int(7, 1),
                string(8, "group-a"),
            ]),
        ),
    ]);
    let config = bytes(3, &sub);
    let wire = cat(&[
        string(1, "rr-1"),
        string(2, "name"),
        string(3, "default"),
        int(4, 1),
        int(5, 0),
        bytes(
            6,
            &cat(&[
                string(1, "type.googleapis.com/v1.RuleRoutingConfig"),
                bytes(2, &config),
            ]),
        ),
        string(7, "rev"),
        string(8, "c"),
        string(9, "m"),
        string(10, "e"),
        int(11, 3),
        string(12, "desc"),
        entry(20, "x", b"y"),
        entry(21, "m", b"1"),
        int(30, 1),
        int(31, 1),
    ]);
    let rule = RouteRule::decode(wire.as_slice()).expect("decode route rule");
    assert_eq!(
        (
            rule.id.as_str(),
            rule.name.as_str(),
            rule.namespace.as_str()
        ),
        ("rr-1", "name", "default")
    );
    assert!(rule.enable && rule.editable && rule.deleteable);
    assert_eq!(rule.routing_policy(), v1::RoutingPolicy::RulePolicy);
    assert_eq!(
        (
            rule.revision.as_str(),
            rule.ctime.as_str(),
            rule.mtime.as_str(),
            rule.etime.as_str()
        ),
        ("rev", "c", "m", "e")
    );
    assert_eq!((rule.priority, rule.description.as_str()), (3, "desc"));
    assert_eq!(rule.extend_info.get("x").map(String::as_str), Some("y"));
    assert_eq!(rule.metadata.get("m").map(String::as_str), Some("1"));
    let any = rule.routing_config.as_ref().expect("routing_config");
    assert_eq!(any.type_url, "type.googleapis.com/v1.RuleRoutingConfig");
    let cfg = RuleRoutingConfig::decode(any.value.as_slice()).expect("rule routing config");
    let sub = &cfg.rules[0];
    assert_eq!(sub.name, "sub-1");
    let m = &sub.sources[0].arguments[0];
    assert_eq!(m.r#type(), v1::source_match::Type::CallerMetadata);
    assert_eq!(m.key, "app");
    let d = &sub.destinations[0];
    assert_eq!(
        d.labels["env"].r#type(),
        v1::match_string::MatchStringType::NotEquals
    );
    assert_eq!((d.priority, d.weight, d.isolate), (1, 50, true));
    assert_eq!((d.transfer.as_str(), d.name.as_str()), ("t", "group-a"));
}

#[test]
fn response_and_batch_query_governance_fields() {
    let wire = cat(&[
        int_value(1, 200_000),
        bytes(7, &routing_bytes()),
        bytes(9, &rate_limit_rule_bytes()),
        bytes(10, &bytes(21, &circuit_breaker_rule_bytes())),
    ]);
    let r = Response::decode(wire.as_slice()).expect("decode response");
    check_routing(r.routing.as_ref().expect("routing = 7"));
    check_rate_limit_rule(r.rate_limit.as_ref().expect("rateLimit = 9"));
    check_circuit_breaker_rule(
        &r.circuit_breaker
            .as_ref()
            .expect("circuitBreaker = 10")
            .rules[0],
    );

    let wire = cat(&[
        int_value(3, 1),
        bytes(8, &routing_bytes()),
        bytes(10, &rate_limit_rule_bytes()),
    ]);
    let b = BatchQueryResponse::decode(wire.as_slice()).expect("decode batch query");
    check_routing(&b.routings[0]);
    check_rate_limit_rule(&b.rate_limits[0]);
}

#[test]
fn governance_enum_numbers() {
    fn check<E: Copy + std::fmt::Debug + Into<i32>>(pairs: &[(E, i32)]) {
        for &(e, n) in pairs {
            assert_eq!(e.into(), n, "{e:?}");
        }
    }
    use v1::source_match::Type as S;
    check(&[
        (S::Custom, 0),
        (S::Method, 1),
        (S::Header, 2),
        (S::Query, 3),
        (S::CallerIp, 4),
        (S::Path, 5),
        (S::Cookie, 6),
        (S::CallerMetadata, 7),
    ]);
    assert_eq!(S::CallerMetadata.as_str_name(), "CALLER_METADATA");
    use v1::match_argument::Type as A;
    check(&[
        (A::Custom, 0),
        (A::Method, 1),
        (A::Header, 2),
        (A::Query, 3),
        (A::CallerService, 4),
        (A::CallerIp, 5),
        (A::CallerMetadata, 6),
    ]);
    use v1::rule::{AmountMode, FailoverType, Resource, Type as R};
    check(&[(R::Global, 0), (R::Local, 1)]);
    check(&[(Resource::Qps, 0), (Resource::Concurrency, 1)]);
    check(&[(AmountMode::GlobalTotal, 0), (AmountMode::ShareEqually, 1)]);
    check(&[
        (FailoverType::FailoverLocal, 0),
        (FailoverType::FailoverPass, 1),
    ]);
    use v1::Level as L;
    check(&[
        (L::Unknown, 0),
        (L::Service, 1),
        (L::Method, 2),
        (L::Group, 3),
        (L::Instance, 4),
    ]);
    assert_eq!(L::Group.as_str_name(), "GROUP");
    use v1::RoutingPolicy as P;
    check(&[
        (P::RulePolicy, 0),
        (P::MetadataPolicy, 1),
        (P::NearbyPolicy, 2),
    ]);
    assert_eq!(P::NearbyPolicy.as_str_name(), "NearbyPolicy");
    use v1::nearby_routing_config::LocationLevel as N;
    check(&[
        (N::Unknown, 0),
        (N::Campus, 1),
        (N::Zone, 2),
        (N::Region, 3),
        (N::All, 4),
    ]);
    use v1::fault_detect_rule::Protocol as F;
    check(&[(F::Unknown, 0), (F::Http, 1), (F::Tcp, 2), (F::Udp, 3)]);
    use v1::trigger_condition::TriggerType as T;
    check(&[(T::Unknown, 0), (T::ErrorRate, 1), (T::ConsecutiveError, 2)]);
    use v1::error_condition::InputType as I;
    check(&[(I::Unknown, 0), (I::RetCode, 1), (I::Delay, 2)]);
    use v1::metadata_failover::FailoverRange as FR;
    check(&[(FR::All, 0), (FR::Others, 1), (FR::OtherKeys, 2)]);
}

/// Governance numbers whose meaning drifted between spec releases are not declared: any old
/// or new shape at those numbers is skipped when decoding and never re-emitted.
#[test]
fn drifted_governance_fields_are_skipped() {
    // RouteRule 50 (metadata in 1.5.2 only; metadata is 21 from 1.5.3 on).
    let wire = cat(&[string(1, "rr"), entry(50, "k", b"v")]);
    let r = RouteRule::decode(wire.as_slice()).expect("route rule");
    assert!(r.metadata.is_empty());
    assert_eq!(r.encode_to_vec(), string(1, "rr"));
    // CircuitBreakerRule 31 (metadata in 1.5.3 to 1.6; metadata is 50 otherwise).
    let wire = cat(&[string(1, "cb"), entry(31, "k", b"v")]);
    let r = v1::CircuitBreakerRule::decode(wire.as_slice()).expect("cb rule");
    assert!(r.metadata.is_empty());
    assert_eq!(r.encode_to_vec(), string(1, "cb"));
    // LaneRule 14 (repeated label_values in 1.5.3, label_key later) and 15 (label_key string
    // in 1.5.3, TrafficGray message from 1.7).
    let wire = cat(&[
        string(1, "lr"),
        string(14, "a"),
        string(14, "b"),
        bytes(15, &int(1, 1)),
    ]);
    let r = v1::LaneRule::decode(wire.as_slice()).expect("lane rule");
    assert_eq!(r.encode_to_vec(), string(1, "lr"));
    // LaneGroup 13 (1.5.3 enum) and 20 (metadata map in 1.5.2, bool editable in 1.5.3-1.7).
    for field20 in [int(20, 1), entry(20, "k", b"v")] {
        let wire = cat(&[string(1, "lg"), int(13, 1), field20]);
        let g = v1::LaneGroup::decode(wire.as_slice()).expect("lane group");
        assert_eq!(g.encode_to_vec(), string(1, "lg"));
    }
}
