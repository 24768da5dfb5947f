//! The rules the tests and examples create, in the console API's JSON.

use serde_json::{Value, json};

/// A v2 routing rule (`POST /naming/v2/routings`) sending callers `default/web` whose
/// `x-user` header matches `^vip-.*$` to the instances of `default/<callee>` labelled
/// `env=gray`.
pub fn vip_to_gray(callee: &str) -> Value {
    web_to_gray("vip-to-gray", callee, &[vip_user()])
}

/// A v2 routing rule (`POST /naming/v2/routings`) named `name` whose rule `vip` sends callers
/// `default/web` matching every one of `arguments` to the instances of `default/<callee>`
/// labelled `env=gray`.
pub fn web_to_gray(name: &str, callee: &str, arguments: &[Value]) -> Value {
    json!([{
        "name": name, "namespace": "default", "enable": true, "priority": 1,
        "routing_policy": "RulePolicy",
        "routing_config": {
            "@type": "type.googleapis.com/v2.RuleRoutingConfig",
            "rules": [{
                "name": "vip",
                "sources": [{"service": "web", "namespace": "default", "arguments": arguments}],
                "destinations": [{"service": callee, "namespace": "default", "weight": 100,
                    "labels": {"env": {"type": "EXACT", "value": "gray"}}}]
            }]
        }
    }])
}

/// The source argument of [`vip_to_gray`]: an `x-user` header matching `^vip-.*$`.
pub fn vip_user() -> Value {
    json!({"type": "HEADER", "key": "x-user", "value": {"type": "REGEX", "value": "^vip-.*$"}})
}

/// A local QPS limit (`POST /naming/v1/ratelimits`) named `name` of `max` calls per `window`
/// (`"10s"`) on `default/<service>`.
pub fn local_limit(service: &str, name: &str, max: u32, window: &str) -> Value {
    json!([{
        "service": service, "namespace": "default", "name": name, "priority": 1,
        "resource": "QPS", "type": "LOCAL",
        "amounts": [{"maxAmount": max, "validDuration": window}]
    }])
}

/// grpc-go-polaris' routing example rule (`POST /naming/v2/routings`) named `name`: callers
/// `default/RouteEchoConsumer` whose `uid` metadata is 1 go to the instances of
/// `default/<service>` labelled `env=dev`, 2 to `env=pre`, others anywhere.
pub fn route_by_uid(service: &str, name: &str) -> Value {
    let route = |uid: &str, env: &str| {
        json!({"name": format!("uid-{uid}"),
            "sources": [{"service": "RouteEchoConsumer", "namespace": "default", "arguments": [
                {"type": "HEADER", "key": "uid", "value": {"type": "EXACT", "value": uid}}]}],
            "destinations": [{"service": service, "namespace": "default", "weight": 100,
                "labels": {"env": {"type": "EXACT", "value": env}}}]})
    };
    json!([{
        "name": name, "namespace": "default", "enable": true, "priority": 1,
        "routing_policy": "RulePolicy",
        "routing_config": {"@type": "type.googleapis.com/v2.RuleRoutingConfig",
            "rules": [route("1", "dev"), route("2", "pre")]}
    }])
}
