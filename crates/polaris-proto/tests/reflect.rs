//! `FILE_DESCRIPTOR_SET` loaded into prost-reflect: rule bodies go from proto3 JSON (official
//! JSON names and original field names alike) through `DynamicMessage` to protobuf bytes that
//! the generated prost types decode, and back.

mod common;
use common::*;

use polaris_proto::v1;
use prost::Message;
use prost_reflect::{DescriptorPool, DeserializeOptions, DynamicMessage, SerializeOptions};

/// A prost value as proto3 JSON with the official JSON names, defaults included (as the
/// official server's `EmitDefaults`).
fn to_json<T: Message>(pool: &DescriptorPool, name: &str, value: &T) -> serde_json::Value {
    let desc = pool.get_message_by_name(name).expect(name);
    let dynamic = DynamicMessage::decode(desc, value.encode_to_vec().as_slice()).expect("decode");
    dynamic
        .serialize_with_options(
            serde_json::value::Serializer,
            &SerializeOptions::new().skip_default_fields(false),
        )
        .expect("serialize")
}

#[test]
fn governance_messages_are_in_the_pool() {
    let pool = pool();
    for name in [
        "v1.RouteRule",
        "v1.RuleRoutingConfig",
        "v1.MetadataRoutingConfig",
        "v1.NearbyRoutingConfig",
        "v1.Routing",
        "v1.Rule",
        "v1.RateLimit",
        "v1.CircuitBreaker",
        "v1.CircuitBreakerRule",
        "v1.FaultDetectRule",
        "v1.LaneGroup",
        "v1.LosslessRule",
        "v1.BlockAllowListRule",
        "v1.DiscoverResponse",
        "google.protobuf.Any",
    ] {
        assert!(pool.get_message_by_name(name).is_some(), "{name}");
    }
    let rule = pool.get_message_by_name("v1.Rule").expect("v1.Rule");
    let field = rule.get_field_by_name("concurrencyAmount").expect("field");
    assert_eq!(
        (field.number(), field.json_name()),
        (27, "concurrency_amount")
    );
}

#[test]
fn route_rule_json_round_trip() {
    let pool = pool();
    // Snake-case official JSON names, the Any `@type` of /naming/v2, an original field name
    // (`extendInfo`) and enums by name.
    let json = r#"{
        "id": "rr-1", "name": "gray", "namespace": "default", "enable": true,
        "routing_policy": "RulePolicy", "priority": 2, "description": "d",
        "extendInfo": {"k": "v"}, "metadata": {"team": "a"},
        "routing_config": {
            "@type": "type.googleapis.com/v1.RuleRoutingConfig",
            "rules": [{
                "name": "sub",
                "sources": [{"service": "*", "namespace": "*", "arguments": [
                    {"type": "HEADER", "key": "x-user",
                     "value": {"type": "EXACT", "value": "7", "value_type": "TEXT"}}]}],
                "destinations": [{"service": "echo", "namespace": "default",
                    "labels": {"env": {"type": "IN", "value": "gray,blue"}},
                    "weight": 100, "priority": 1, "isolate": false, "name": "g"}]
            }]
        }
    }"#;
    let rule: v1::RouteRule = from_json(&pool, "v1.RouteRule", json);
    assert_eq!((rule.id.as_str(), rule.name.as_str()), ("rr-1", "gray"));
    assert!(rule.enable);
    assert_eq!(rule.routing_policy(), v1::RoutingPolicy::RulePolicy);
    assert_eq!(rule.priority, 2);
    assert_eq!(rule.extend_info.get("k").map(String::as_str), Some("v"));
    assert_eq!(rule.metadata.get("team").map(String::as_str), Some("a"));
    let any = rule.routing_config.as_ref().expect("routing_config");
    assert_eq!(any.type_url, "type.googleapis.com/v1.RuleRoutingConfig");
    let cfg = v1::RuleRoutingConfig::decode(any.value.as_slice()).expect("config");
    let arg = &cfg.rules[0].sources[0].arguments[0];
    assert_eq!(arg.r#type(), v1::source_match::Type::Header);
    assert_eq!(
        arg.value.as_ref().and_then(|v| v.value.as_deref()),
        Some("7")
    );
    let d = &cfg.rules[0].destinations[0];
    assert_eq!(
        d.labels["env"].r#type(),
        v1::match_string::MatchStringType::In
    );
    assert_eq!((d.weight, d.name.as_str()), (100, "g"));

    // Back out: the official JSON names, Any expanded with its `@type`.
    let out = to_json(&pool, "v1.RouteRule", &rule);
    assert_eq!(out["routing_policy"], "RulePolicy");
    assert_eq!(out["etime"], "", "defaults are emitted");
    assert_eq!(out["extendInfo"]["k"], "v");
    assert_eq!(
        out["routing_config"]["@type"],
        "type.googleapis.com/v1.RuleRoutingConfig"
    );
    assert_eq!(
        out["routing_config"]["rules"][0]["destinations"][0]["weight"],
        100
    );
}

#[test]
fn rate_limit_rule_accepts_both_field_names() {
    let pool = pool();
    // `concurrencyAmount`/`maxAmount` are the original names, `custom_response` and
    // `max_queue_delay` the JSON names; wrappers take plain values, durations "1s".
    let json = r#"{
        "id": "rl-1", "service": "echo", "namespace": "default", "priority": 1,
        "resource": "CONCURRENCY", "type": "LOCAL", "disable": false,
        "amounts": [{"maxAmount": 100, "validDuration": "1s"}],
        "arguments": [{"type": "CALLER_METADATA", "key": "app",
                       "value": {"type": "REGEX", "value": "web.*"}}],
        "max_queue_delay": 30, "regex_combine": true, "amountMode": "SHARE_EQUALLY",
        "failover": "FAILOVER_PASS", "concurrencyAmount": {"maxAmount": 5},
        "custom_response": {"body": "busy"}, "metadata": {"m": "1"}
    }"#;
    let rule: v1::Rule = from_json(&pool, "v1.Rule", json);
    assert_eq!(rule.id.as_deref(), Some("rl-1"));
    assert_eq!(rule.priority, Some(1));
    assert_eq!(rule.resource(), v1::rule::Resource::Concurrency);
    assert_eq!(rule.r#type(), v1::rule::Type::Local);
    assert_eq!(rule.disable, Some(false));
    assert_eq!(rule.amounts[0].max_amount, Some(100));
    assert_eq!(rule.amounts[0].valid_duration.map(|d| d.seconds), Some(1));
    assert_eq!(
        rule.arguments[0].r#type(),
        v1::match_argument::Type::CallerMetadata
    );
    assert_eq!(rule.max_queue_delay, Some(30));
    assert_eq!(rule.regex_combine, Some(true));
    assert_eq!(rule.amount_mode(), v1::rule::AmountMode::ShareEqually);
    assert_eq!(rule.concurrency_amount.map(|c| c.max_amount), Some(5));
    assert_eq!(
        rule.custom_response.map(|c| c.body),
        Some("busy".to_owned())
    );

    // The same rule with the other spelling of each name decodes identically.
    let json2 = json
        .replace("\"concurrencyAmount\"", "\"concurrency_amount\"")
        .replace("{\"maxAmount\": 5}", "{\"max_amount\": 5}")
        .replace("\"custom_response\"", "\"customResponse\"")
        .replace("\"amountMode\"", "\"amount_mode\"");
    let again: v1::Rule = from_json(&pool, "v1.Rule", &json2);
    assert_eq!(again.concurrency_amount.map(|c| c.max_amount), Some(5));
    assert_eq!(again.amount_mode(), v1::rule::AmountMode::ShareEqually);
    assert_eq!(
        again.custom_response.map(|c| c.body),
        Some("busy".to_owned())
    );
}

#[test]
fn circuit_breaker_fault_detect_and_lane_json() {
    let pool = pool();
    let cb: v1::CircuitBreakerRule = from_json(
        &pool,
        "v1.CircuitBreakerRule",
        r#"{
            "id": "cb-1", "name": "cb", "namespace": "default", "enable": true,
            "level": "METHOD",
            "ruleMatcher": {"source": {"service": "*", "namespace": "*"},
                            "destination": {"service": "echo", "namespace": "default"}},
            "block_configs": [{"name": "b", "api": {"method": "GET"},
                "error_conditions": [{"inputType": "RET_CODE",
                                      "condition": {"type": "IN", "value": "500"}}],
                "trigger_conditions": [{"triggerType": "ERROR_RATE", "errorPercent": 50,
                                        "interval": 30, "minimumRequest": 10}]}],
            "max_ejection_percent": 40,
            "recoverCondition": {"sleepWindow": 60, "consecutiveSuccess": 3},
            "faultDetectConfig": {"enable": true},
            "fallbackConfig": {"enable": true, "response": {"code": 503, "body": "x"}},
            "priority": 1, "regex_separate": true
        }"#,
    );
    assert_eq!(cb.level(), v1::Level::Method);
    assert_eq!(
        cb.rule_matcher
            .and_then(|m| m.destination)
            .map(|d| d.service),
        Some("echo".to_owned())
    );
    let block = &cb.block_configs[0];
    assert_eq!(
        block.error_conditions[0].input_type(),
        v1::error_condition::InputType::RetCode
    );
    assert_eq!(block.trigger_conditions[0].error_percent, 50);
    assert_eq!(cb.max_ejection_percent, 40);
    assert_eq!(cb.recover_condition.map(|r| r.sleep_window), Some(60));
    assert!(cb.regex_separate);

    let fd: v1::FaultDetectRule = from_json(
        &pool,
        "v1.FaultDetectRule",
        r#"{
            "id": "fd-1", "name": "fd", "namespace": "default",
            "target_service": {"service": "echo", "namespace": "default"},
            "interval": 10, "timeout": 1000, "port": 8080, "protocol": "HTTP",
            "httpConfig": {"method": "GET", "url": "/health",
                           "headers": [{"key": "h", "value": "v"}]},
            "extend_info": {"e": "1"}
        }"#,
    );
    assert_eq!(fd.protocol(), v1::fault_detect_rule::Protocol::Http);
    assert_eq!(
        fd.target_service.map(|t| t.service),
        Some("echo".to_owned())
    );
    assert_eq!(fd.http_config.map(|h| h.url), Some("/health".to_owned()));
    assert_eq!(fd.extend_info.get("e").map(String::as_str), Some("1"));

    let lane: v1::LaneGroup = from_json(
        &pool,
        "v1.LaneGroup",
        r#"{
            "id": "lg-1", "name": "group",
            "entries": [{"type": "polarismesh.cn/service", "selector": {
                "@type": "type.googleapis.com/v1.ServiceSelector",
                "namespace": "default", "service": "gw"}}],
            "destinations": [{"service": "echo", "namespace": "default", "name": "gray"}],
            "rules": [{"id": "lr-1", "group_name": "group", "enable": true,
                       "trafficMatchRule": {"arguments": [{"type": "HEADER", "key": "x"}],
                                            "matchMode": "OR"},
                       "default_label_value": "gray", "matchMode": "PERMISSIVE"}]
        }"#,
    );
    let selector = lane.entries[0].selector.as_ref().expect("selector");
    assert_eq!(selector.type_url, "type.googleapis.com/v1.ServiceSelector");
    let selector = v1::ServiceSelector::decode(selector.value.as_slice()).expect("selector");
    assert_eq!(selector.service, "gw");
    let rule = &lane.rules[0];
    assert_eq!(rule.group_name, "group");
    assert_eq!(rule.default_label_value, "gray");
    assert_eq!(rule.match_mode(), v1::lane_rule::LaneMatchMode::Permissive);
    assert_eq!(
        rule.traffic_match_rule
            .as_ref()
            .map(v1::TrafficMatchRule::match_mode),
        Some(v1::traffic_match_rule::TrafficMatchMode::Or)
    );
}

#[test]
fn unknown_json_fields_can_be_ignored() {
    let pool = pool();
    let desc = pool
        .get_message_by_name("v1.RouteRule")
        .expect("v1.RouteRule");
    let json = r#"{"id": "rr", "editable": true, "notAField": 1}"#;
    let mut de = serde_json::Deserializer::from_str(json);
    let strict = DynamicMessage::deserialize(desc.clone(), &mut de);
    assert!(
        strict.is_err(),
        "prost-reflect denies unknown fields by default"
    );
    let mut de = serde_json::Deserializer::from_str(json);
    let lenient = DynamicMessage::deserialize_with_options(
        desc,
        &mut de,
        &DeserializeOptions::new().deny_unknown_fields(false),
    )
    .expect("lenient");
    let rule = v1::RouteRule::decode(lenient.encode_to_vec().as_slice()).expect("decode");
    assert_eq!(rule.id, "rr");
    assert!(rule.editable);
}

#[cfg(feature = "reflect")]
#[test]
fn descriptor_pool_feature() {
    let pool = polaris_proto::descriptor_pool();
    assert!(pool.get_message_by_name("v1.LaneGroup").is_some());
    let rule: v1::RouteRule = from_json(&pool, "v1.RouteRule", r#"{"name": "n"}"#);
    assert_eq!(rule.name, "n");
}
