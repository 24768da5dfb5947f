//! Governance rules over the HTTP OpenAPI: v2 routing rules, rate limits, circuit breakers,
//! fault detectors and lane groups, with the official codes of `docs/wire/governance.md`, and
//! hostile input that must be refused without storing anything or hurting the server.

mod common;

use common::{Resp, TestServer, assert_code};
use serde_json::{Value, json};

const ROUTINGS: &str = "/naming/v2/routings";
const RATELIMITS: &str = "/naming/v1/ratelimits";
const BREAKERS: &str = "/naming/v1/circuitbreaker/rules";
const DETECTORS: &str = "/naming/v1/faultdetectors";
const LANES: &str = "/naming/v1/lane/groups";

fn post(server: &TestServer, path: &str, body: &Value) -> Resp {
    server.post_full(path, &body.to_string())
}

fn put(server: &TestServer, path: &str, body: &Value) -> Resp {
    server.put_full(path, &body.to_string())
}

fn list(server: &TestServer, path: &str, query: &str) -> Value {
    let r = server.get_full(&format!("{path}{query}"));
    assert_code(&r, 200_000);
    r.body
}

fn amount(server: &TestServer, path: &str) -> u64 {
    list(server, path, "")
        .get("amount")
        .and_then(Value::as_u64)
        .unwrap_or(u64::MAX)
}

/// The code of the first item reply.
fn item_code(r: &Resp) -> u64 {
    r.body["responses"][0]["code"].as_u64().unwrap_or_default()
}

fn route_rule(name: &str, caller: &str, callee: &str) -> Value {
    json!({
        "name": name, "namespace": "default", "enable": true, "priority": 1,
        "routing_policy": "RulePolicy", "description": "d",
        "routing_config": {
            "@type": "type.googleapis.com/v2.RuleRoutingConfig",
            "rules": [{
                "name": "r1",
                "sources": [{"service": caller, "namespace": "default", "arguments": [
                    {"type": "HEADER", "key": "x-user",
                     "value": {"type": "REGEX", "value": "^vip-.*$"}}]}],
                "destinations": [{"service": callee, "namespace": "default", "weight": 100,
                    "labels": {"env": {"type": "EXACT", "value": "gray"}}}]
            }]
        }
    })
}

#[test]
fn routing_rules_round_trip_with_official_codes() {
    let server = TestServer::start();
    let r = post(
        &server,
        ROUTINGS,
        &json!([route_rule("gray", "web", "orders")]),
    );
    assert_code(&r, 200_000);
    let data = &r.body["responses"][0]["data"];
    assert_eq!(data["@type"], "type.googleapis.com/v1.RouteRule");
    let id = data["id"].as_str().expect("id").to_string();
    assert_eq!(id.len(), 32, "{data}");

    let body = list(&server, ROUTINGS, "?service=orders&namespace=default");
    assert_eq!(body["amount"], 1, "{body}");
    let rule = &body["data"][0];
    assert_eq!(rule["@type"], "type.googleapis.com/v1.RouteRule");
    assert_eq!(rule["id"], id.as_str());
    assert_eq!(rule["enable"], true);
    assert_eq!(rule["priority"], 1);
    assert!(rule["revision"].as_str().is_some_and(|r| !r.is_empty()));
    assert!(
        rule["ctime"].as_str().is_some_and(|t| t.len() == 19),
        "{rule}"
    );
    let cfg = &rule["routing_config"];
    assert_eq!(cfg["@type"], "type.googleapis.com/v1.RuleRoutingConfig");
    assert_eq!(cfg["rules"][0]["sources"][0]["service"], "web");
    assert_eq!(
        cfg["rules"][0]["destinations"][0]["labels"]["env"]["value"],
        "gray"
    );
    assert_eq!(list(&server, ROUTINGS, "?name=gr*")["amount"], 1);
    assert_eq!(list(&server, ROUTINGS, "?name=gr")["amount"], 0);
    assert_eq!(list(&server, ROUTINGS, "?source_service=web")["amount"], 1);
    assert_eq!(
        list(&server, ROUTINGS, "?destination_service=web")["amount"],
        0
    );
    assert_eq!(list(&server, ROUTINGS, "?limit=0")["data"], json!([]));
    assert_code(&server.get_full(&format!("{ROUTINGS}?bogus=1")), 400_103);

    // Update replaces the whole rule: an omitted `enable` disables it.
    let mut changed = route_rule("gray2", "web", "orders");
    changed["id"] = id.clone().into();
    changed.as_object_mut().expect("object").remove("enable");
    let r = put(&server, ROUTINGS, &json!([changed]));
    assert_code(&r, 200_000);
    assert!(r.body["responses"][0].get("data").is_none(), "{}", r.text);
    let rule = &list(&server, ROUTINGS, "")["data"][0];
    assert_eq!(
        (rule["name"].clone(), rule["enable"].clone()),
        (json!("gray2"), json!(false))
    );
    assert_eq!(list(&server, ROUTINGS, "?enable=true")["amount"], 0);
    let r = put(
        &server,
        &format!("{ROUTINGS}/enable"),
        &json!([{"id": id, "enable": true}]),
    );
    assert_code(&r, 200_000);
    assert_eq!(list(&server, ROUTINGS, "?enable=true")["amount"], 1);

    // Official codes of §2.2.
    let mut bad = route_rule("p", "web", "orders");
    bad["priority"] = 11.into();
    let r = post(&server, ROUTINGS, &json!([bad]));
    assert_code(&r, 400_703);
    assert_eq!(r.body["responses"][0]["info"], "");
    let mut meta = route_rule("m", "web", "orders");
    meta["routing_policy"] = "MetadataPolicy".into();
    meta["routing_config"] = json!({"@type": "type.googleapis.com/v1.MetadataRoutingConfig"});
    let r = post(&server, ROUTINGS, &json!([meta]));
    assert_code(&r, 400_701);
    assert_eq!(
        r.body["responses"][0]["data"]["name"], "m",
        "policy errors echo the rule"
    );
    let r = post(&server, ROUTINGS, &json!([{"name": "no-config"}]));
    assert_code(&r, 400_701);
    let r = post(
        &server,
        ROUTINGS,
        &json!([route_rule(&"n".repeat(65), "a", "b")]),
    );
    assert_code(&r, 400_702);
    let r = put(&server, ROUTINGS, &json!([route_rule("x", "a", "b")]));
    assert_code(&r, 400_700);
    let mut unknown = route_rule("x", "a", "b");
    unknown["id"] = "0123456789abcdef0123456789abcdef".into();
    assert_code(&put(&server, ROUTINGS, &json!([unknown])), 400_302);
    let r = put(
        &server,
        &format!("{ROUTINGS}/enable"),
        &json!([{"id": "nope", "enable": true}]),
    );
    assert_code(&r, 400_302);
    let mut mixed = route_rule("ok", "a", "b");
    mixed["priority"] = 2.into();
    let r = post(&server, ROUTINGS, &json!([mixed, bad]));
    assert_code(&r, 400_000);
    assert_eq!(item_code(&r), 200_000, "valid items still run (1.18.1)");
    assert_eq!(amount(&server, ROUTINGS), 2);

    let r = post(&server, &format!("{ROUTINGS}/delete"), &json!([{"id": id}]));
    assert_code(&r, 200_000);
    assert_eq!(r.body["responses"][0]["data"]["id"], id.as_str());
    assert_code(
        &post(
            &server,
            &format!("{ROUTINGS}/delete"),
            &json!([{"id": "nope"}]),
        ),
        200_000,
    );
    assert_code(
        &post(&server, &format!("{ROUTINGS}/delete"), &json!([{}])),
        400_700,
    );
    assert_eq!(amount(&server, ROUTINGS), 1);

    // Legacy v1 routing is deprecated, as on the official main branch.
    let r = post(
        &server,
        "/naming/v1/routings",
        &json!([{"service": "a", "namespace": "default"}]),
    );
    assert_code(&r, 400_000);
    assert_eq!(
        r.body["responses"][0]["info"],
        "bad request: API is Deprecated"
    );
    assert_code(&server.get_full("/naming/v1/routings"), 400_000);
}

fn rate_limit(service: &str, seconds: &str) -> Value {
    json!({
        "service": service, "namespace": "default", "name": "rl", "priority": 1,
        "resource": "QPS", "type": "GLOBAL",
        "amounts": [{"maxAmount": 10, "validDuration": seconds}],
        "arguments": [{"type": "QUERY", "key": "uid", "value": {"type": "IN", "value": "1,2"}}]
    })
}

#[test]
fn rate_limits_round_trip_with_official_codes() {
    let server = TestServer::start();
    let mut rule = rate_limit("orders", "1s");
    rule["id"] = "client-id".into();
    let r = post(&server, RATELIMITS, &json!([rule]));
    assert_code(&r, 200_000);
    let echo = &r.body["responses"][0]["rateLimit"];
    let id = echo["id"].as_str().expect("id").to_string();
    assert_ne!(id, "client-id", "a client id is ignored");
    assert_eq!(echo["service"], "orders");

    let body = list(&server, RATELIMITS, "?service=orders&namespace=default");
    assert_eq!(body["amount"], 1, "{body}");
    let item = &body["rateLimits"][0];
    assert_eq!(item["id"], id.as_str());
    assert_eq!(item["action"], "REJECT");
    assert_eq!(item["disable"], false);
    assert_eq!(item["amounts"][0]["validDuration"], "1s");
    assert_eq!(
        list(&server, RATELIMITS, "?name=r")["amount"],
        1,
        "name is a substring"
    );
    assert_eq!(list(&server, RATELIMITS, "?service=other")["amount"], 0);
    assert_code(
        &server.get_full(&format!("{RATELIMITS}?order_field=x")),
        400_103,
    );

    let r = put(
        &server,
        &format!("{RATELIMITS}/enable"),
        &json!([{"id": id, "disable": true}]),
    );
    assert_code(&r, 200_000);
    let item = &list(&server, RATELIMITS, "?disable=true")["rateLimits"][0];
    assert_eq!(
        (item["disable"].clone(), item["etime"].clone()),
        (json!(true), json!(""))
    );
    let mut changed = rate_limit("orders", "2s");
    changed["id"] = id.clone().into();
    assert_code(&put(&server, RATELIMITS, &json!([changed])), 200_000);
    let item = &list(&server, RATELIMITS, "")["rateLimits"][0];
    assert_eq!(item["amounts"][0]["validDuration"], "2s");

    // Official codes of §3.2.
    assert_code(
        &post(&server, RATELIMITS, &json!([rate_limit("", "1s")])),
        400_120,
    );
    let mut ns = rate_limit("orders", "1s");
    ns["namespace"] = "bad ns".into();
    assert_code(&post(&server, RATELIMITS, &json!([ns])), 400_110);
    let mut long = rate_limit("orders", "1s");
    long["name"] = "n".repeat(65).into();
    let r = post(&server, RATELIMITS, &json!([long]));
    assert_code(&r, 400_154);
    assert_eq!(r.body["responses"][0]["info"], "");
    let mut missing = rate_limit("orders", "1s");
    missing["amounts"] = json!([{"maxAmount": 1}]);
    assert_code(&post(&server, RATELIMITS, &json!([missing])), 400_153);
    let mut twice = rate_limit("orders", "1s");
    twice["amounts"] = json!([{"validDuration": "1s"}, {"validDuration": "1s"}]);
    assert_code(&post(&server, RATELIMITS, &json!([twice])), 400_153);
    assert_code(
        &post(&server, RATELIMITS, &json!([rate_limit("orders", "1m")])),
        400_001,
    );
    assert_code(
        &put(&server, RATELIMITS, &json!([rate_limit("orders", "1s")])),
        400_151,
    );
    let mut unknown = rate_limit("orders", "1s");
    unknown["id"] = "nope".into();
    assert_code(&put(&server, RATELIMITS, &json!([unknown])), 400_307);
    assert_code(
        &put(
            &server,
            &format!("{RATELIMITS}/enable"),
            &json!([{"id": "nope"}]),
        ),
        400_307,
    );
    assert_eq!(amount(&server, RATELIMITS), 1);

    let r = post(
        &server,
        &format!("{RATELIMITS}/delete"),
        &json!([{"id": id}]),
    );
    assert_code(&r, 200_000);
    assert_eq!(r.body["responses"][0]["rateLimit"]["id"], id.as_str());
    assert_code(
        &post(
            &server,
            &format!("{RATELIMITS}/delete"),
            &json!([{"id": "nope"}]),
        ),
        200_000,
    );
    assert_eq!(amount(&server, RATELIMITS), 0);
}

fn breaker(name: &str) -> Value {
    json!({
        "name": name, "enable": true, "level": "SERVICE", "description": "cb",
        "rule_matcher": {
            "source": {"service": "*", "namespace": "*"},
            "destination": {"service": "orders", "namespace": "default",
                            "method": {"type": "REGEX", "value": "^/api/.*"}}
        },
        "error_conditions": [{"input_type": "RET_CODE",
                              "condition": {"type": "RANGE", "value": "500~599"}}],
        "trigger_condition": [{"trigger_type": "CONSECUTIVE_ERROR", "error_count": 5}]
    })
}

#[test]
fn circuit_breakers_round_trip_with_official_codes() {
    let server = TestServer::start();
    let r = post(&server, BREAKERS, &json!([breaker("cb1")]));
    assert_code(&r, 200_000);
    let data = &r.body["responses"][0]["data"];
    assert_eq!(data["@type"], "type.googleapis.com/v1.CircuitBreakerRule");
    let id = data["id"].as_str().expect("id").to_string();
    let body = list(&server, BREAKERS, "?dstService=ord&level=1");
    assert_eq!(body["amount"], 1, "{body}");
    assert_eq!(
        body["data"][0]["namespace"], "default",
        "an empty namespace becomes default"
    );
    assert_eq!(list(&server, BREAKERS, "?service=orders")["amount"], 1);
    assert_eq!(list(&server, BREAKERS, "?srcNamespace=x")["amount"], 0);
    assert_code(&server.get_full(&format!("{BREAKERS}?nope=1")), 400_103);

    assert_code(&post(&server, BREAKERS, &json!([breaker("cb1")])), 400_209);
    assert_code(&post(&server, BREAKERS, &json!([breaker("")])), 400_162);
    let mut long = breaker("d");
    long["description"] = "x".repeat(1025).into();
    assert_code(&post(&server, BREAKERS, &json!([long])), 400_128);
    assert_code(&put(&server, BREAKERS, &json!([breaker("cb1")])), 400_160);
    let mut unknown = breaker("cb9");
    unknown["id"] = "nope".into();
    assert_code(&put(&server, BREAKERS, &json!([unknown])), 400_308);

    let r = put(
        &server,
        &format!("{BREAKERS}/enable"),
        &json!([{"id": id, "enable": false}]),
    );
    assert_code(&r, 200_000);
    assert_eq!(r.body["responses"][0]["data"]["id"], id.as_str());
    assert_eq!(list(&server, BREAKERS, "?enable=false")["amount"], 1);
    let r = post(
        &server,
        &format!("{BREAKERS}/delete"),
        &json!([{"id": "nope"}]),
    );
    assert_code(&r, 200_000);
    assert_eq!(r.body["responses"][0]["info"], "not found circuit breaker");
    assert_code(
        &post(&server, &format!("{BREAKERS}/delete"), &json!([{"id": id}])),
        200_000,
    );
    assert_eq!(amount(&server, BREAKERS), 0);
}

fn detector(name: &str) -> Value {
    json!({
        "name": name, "description": "fd", "interval": 10, "timeout": 1, "protocol": "HTTP",
        "target_service": {"service": "orders", "namespace": "default"},
        "http_config": {"method": "GET", "url": "/health"}
    })
}

#[test]
fn fault_detectors_round_trip_with_official_codes() {
    let server = TestServer::start();
    let r = post(&server, DETECTORS, &json!([detector("fd1")]));
    assert_code(&r, 200_000);
    let id = r.body["responses"][0]["data"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let body = list(
        &server,
        DETECTORS,
        "?service=orders&serviceNamespace=default",
    );
    assert_eq!(body["amount"], 1, "{body}");
    assert_eq!(
        body["data"][0]["@type"],
        "type.googleapis.com/v1.FaultDetectRule"
    );
    // The JSON name comes from polaris-proto (`httpConfig` unless it declares `http_config`).
    let item = &body["data"][0];
    let http = item.get("http_config").unwrap_or(&item["httpConfig"]);
    assert_eq!(http["url"], "/health", "{item}");
    assert_eq!(
        list(&server, DETECTORS, "?service=x&serviceNamespace=default")["amount"],
        0
    );

    let r = post(&server, DETECTORS, &json!([detector("fd1")]));
    assert_code(&r, 400_903);
    assert_eq!(r.body["responses"][0]["info"], "");
    assert_code(
        &post(&server, DETECTORS, &json!([detector(&"n".repeat(65))])),
        400_154,
    );
    assert_code(&post(&server, DETECTORS, &json!([detector("")])), 400_162);
    assert_code(&put(&server, DETECTORS, &json!([detector("fd1")])), 400_160);
    let mut unknown = detector("fd2");
    unknown["id"] = "nope".into();
    assert_code(&put(&server, DETECTORS, &json!([unknown])), 400_202);
    let mut changed = detector("fd1");
    changed["id"] = id.clone().into();
    changed["interval"] = 30.into();
    assert_code(&put(&server, DETECTORS, &json!([changed])), 200_000);
    assert_eq!(list(&server, DETECTORS, "")["data"][0]["interval"], 30);
    let r = post(
        &server,
        &format!("{DETECTORS}/delete"),
        &json!([{"id": "nope"}]),
    );
    assert_eq!(r.body["responses"][0]["info"], "not found resource");
    assert_code(
        &post(
            &server,
            &format!("{DETECTORS}/delete"),
            &json!([{"id": id}]),
        ),
        200_000,
    );
    assert_eq!(amount(&server, DETECTORS), 0);
}

fn lane_group(name: &str) -> Value {
    json!({
        "name": name, "description": "lanes",
        "entries": [{"type": "polarismesh.cn/service", "selector": {
            "@type": "type.googleapis.com/v1.ServiceSelector",
            "namespace": "default", "service": "gateway"}}],
        "destinations": [{"service": "orders", "namespace": "default"}],
        "rules": [{"name": "gray", "enable": true, "traffic_match_rule": {"arguments": [
            {"type": "HEADER", "key": "lane", "value": {"type": "EXACT", "value": "gray"}}]}}]
    })
}

#[test]
fn lane_groups_round_trip_with_official_codes() {
    let server = TestServer::start();
    let r = post(&server, LANES, &json!([lane_group("lg1")]));
    assert_code(&r, 200_000);
    let id = r.body["responses"][0]["data"]["id"]
        .as_str()
        .expect("id")
        .to_string();
    assert_code(&post(&server, LANES, &json!([lane_group("lg1")])), 400_201);
    assert_code(
        &post(&server, LANES, &json!([lane_group("bad name")])),
        400_103,
    );
    let body = list(&server, LANES, "?name=lg*");
    assert_eq!(body["amount"], 1, "{body}");
    assert_eq!(
        body["data"][0]["entries"][0]["selector"]["service"],
        "gateway"
    );
    assert_code(&server.get_full(&format!("{LANES}?x=1")), 400_103);
    assert_code(&server.get_full(&format!("{LANES}?offset=-1")), 400_000);

    let mut changed = lane_group("lg1");
    changed["id"] = "anything".into();
    changed["description"] = "new".into();
    assert_code(&put(&server, LANES, &json!([changed])), 200_000);
    assert_eq!(list(&server, LANES, "")["data"][0]["description"], "new");
    assert_code(&put(&server, LANES, &json!([lane_group("lg1")])), 400_103);
    let mut missing = lane_group("lg9");
    missing["id"] = "x".into();
    assert_code(&put(&server, LANES, &json!([missing])), 400_202);
    assert_code(
        &post(
            &server,
            &format!("{LANES}/delete"),
            &json!([{"name": "lg1"}]),
        ),
        200_000,
    );
    assert_eq!(amount(&server, LANES), 0);
    assert_code(
        &post(&server, &format!("{LANES}/delete"), &json!([{"id": id}])),
        200_000,
    );
}

#[test]
fn hostile_rules_are_refused_and_nothing_is_stored() {
    let server = TestServer::start();
    let mut regex = route_rule("bad-regex", "web", "orders");
    regex["routing_config"]["rules"][0]["sources"][0]["arguments"][0]["value"]["value"] =
        "(unclosed".into();
    let r = post(&server, ROUTINGS, &json!([regex]));
    assert_code(&r, 400_103);
    assert!(r.text.contains("regular expression"), "{}", r.text);
    let mut range = rate_limit("orders", "1s");
    range["arguments"][0]["value"] = json!({"type": "RANGE", "value": "ten~1"});
    assert_code(&post(&server, RATELIMITS, &json!([range])), 400_152);
    let mut cb = breaker("cb");
    cb["rule_matcher"]["destination"]["method"]["value"] = "[".into();
    assert_code(&post(&server, BREAKERS, &json!([cb])), 400_103);

    let argument = json!({"type": "HEADER", "key": "k", "value": {"type": "EXACT", "value": "v"}});
    let mut huge = route_rule("huge", "web", "orders");
    huge["routing_config"]["rules"][0]["sources"][0]["arguments"] =
        Value::Array(vec![argument.clone(); 10_000]);
    assert_code(&post(&server, ROUTINGS, &json!([huge])), 400_103);
    let mut huge_rl = rate_limit("orders", "1s");
    huge_rl["arguments"] = Value::Array(vec![argument; 10_000]);
    assert_code(&post(&server, RATELIMITS, &json!([huge_rl])), 400_103);

    // Unknown enum names, wrong types, bad JSON and non-arrays fail the whole batch.
    let mut policy = route_rule("p", "a", "b");
    policy["routing_policy"] = "NoSuchPolicy".into();
    assert_code(
        &post(
            &server,
            ROUTINGS,
            &json!([route_rule("ok", "a", "b"), policy]),
        ),
        400_001,
    );
    let mut arg_type = route_rule("t", "a", "b");
    arg_type["routing_config"]["rules"][0]["sources"][0]["arguments"][0]["type"] = "NOPE".into();
    assert_code(&post(&server, ROUTINGS, &json!([arg_type])), 400_001);
    assert_code(
        &post(&server, ROUTINGS, &json!([{"enable": "yes"}])),
        400_001,
    );
    assert_code(
        &post(
            &server,
            ROUTINGS,
            &json!([{"routing_config": {
        "@type": "type.googleapis.com/v1.Nope"}}]),
        ),
        400_001,
    );
    assert_code(
        &post(&server, BREAKERS, &json!([{"name": "x", "level": "NOPE"}])),
        400_001,
    );
    assert_code(
        &post(&server, DETECTORS, &json!([{"name": "x", "port": -1}])),
        400_001,
    );
    assert_code(&post(&server, LANES, &json!([{"name": 5}])), 400_001);
    assert_code(&server.post_full(RATELIMITS, "[{"), 400_001);
    assert_code(
        &server.post_full(RATELIMITS, "{\"service\":\"a\"}"),
        400_001,
    );
    assert_code(&server.post_full(RATELIMITS, "[]"), 400_002);
    let many = Value::Array(vec![rate_limit("orders", "1s"); 101]);
    assert_code(&post(&server, RATELIMITS, &many), 400_003);
    let mut rl = rate_limit("orders", "1s");
    rl["unknownField"] = json!({"deep": [1, 2]});
    rl["arguments"][0]["alsoUnknown"] = true.into();
    assert_code(&post(&server, RATELIMITS, &json!([rl])), 200_000);

    for path in [ROUTINGS, BREAKERS, DETECTORS, LANES] {
        assert_eq!(amount(&server, path), 0, "{path} must stay empty");
    }
    assert_eq!(
        amount(&server, RATELIMITS),
        1,
        "only the valid rate limit is stored"
    );
    assert!(server.is_up());
}
