//! The rules the tests and examples create, in the console API's JSON.

use serde_json::{Value, json};

/// A v2 routing rule (`POST /naming/v2/routings`) sending callers `default/web` whose
/// `x-user` header matches `^vip-.*$` to the instances of `default/<callee>` labelled
/// `env=gray`.
pub fn vip_to_gray(callee: &str) -> Value {
    json!([{
        "name": "vip-to-gray", "namespace": "default", "enable": true, "priority": 1,
        "routing_policy": "RulePolicy",
        "routing_config": {
            "@type": "type.googleapis.com/v2.RuleRoutingConfig",
            "rules": [{
                "name": "vip",
                "sources": [{"service": "web", "namespace": "default", "arguments": [
                    {"type": "HEADER", "key": "x-user",
                     "value": {"type": "REGEX", "value": "^vip-.*$"}}]}],
                "destinations": [{"service": callee, "namespace": "default", "weight": 100,
                    "labels": {"env": {"type": "EXACT", "value": "gray"}}}]
            }]
        }
    }])
}

/// A local QPS limit (`POST /naming/v1/ratelimits`) of `max` calls per minute on
/// `default/<service>`.
pub fn local_qps_limit(service: &str, max: u32) -> Value {
    json!([{
        "service": service, "namespace": "default", "name": "qps", "priority": 1,
        "resource": "QPS", "type": "LOCAL",
        "amounts": [{"maxAmount": max, "validDuration": "60s"}]
    }])
}
