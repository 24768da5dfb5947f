//! Hostile input: every bad request gets a 4xx Polaris code (code / 1000 == HTTP status), the
//! server stays up, and stored data does not change.

mod common;

use common::{Resp, TestServer};
use serde_json::{Value, json};

/// Namespaces, services and instances as listed, minus volatile fields.
fn state(server: &TestServer) -> Value {
    let ns = server.get_full("/naming/v1/namespaces?limit=100");
    let svc = server.get_full("/naming/v1/services/all");
    let ins = server.get_full("/naming/v1/instances?namespace=seeded&limit=100");
    for r in [&ns, &svc, &ins] {
        assert_eq!(r.code(), 200_000, "{}", r.text);
    }
    let mut namespaces: Vec<Value> = ns.body["namespaces"].as_array().unwrap().clone();
    namespaces.sort_by_key(|n| n["name"].as_str().unwrap().to_string());
    let mut services: Vec<Value> = svc.body["services"].as_array().unwrap().clone();
    services.sort_by_key(|s| format!("{}/{}", s["namespace"], s["name"]));
    let mut instances: Vec<Value> = ins.body["instances"].as_array().unwrap().clone();
    instances.sort_by_key(|i| i["id"].as_str().unwrap().to_string());
    json!({
        "namespaces": namespaces,
        "namespace_count": ns.body["amount"],
        "services": services,
        "service_count": server.get_full("/naming/v1/services/count").body["amount"],
        "instances": instances,
        "instance_count": server.get_full("/naming/v1/instances/count").body["amount"],
    })
}

fn seed(server: &TestServer) {
    assert_eq!(
        server
            .post_full(
                "/naming/v1/namespaces",
                &json!([{ "name": "seeded", "comment": "c" }]).to_string()
            )
            .code(),
        200_000
    );
    assert_eq!(
        server
            .post_full(
                "/naming/v1/services",
                &json!([{ "name": "base", "namespace": "seeded", "metadata": { "a": "b" } }])
                    .to_string()
            )
            .code(),
        200_000
    );
    assert_eq!(
        server
            .post_full(
                "/v1/RegisterInstance",
                &json!({ "service": "base", "namespace": "seeded", "host": "1.1.1.1", "port": 80 })
                    .to_string()
            )
            .code(),
        200_000
    );
}

/// Asserts a 4xx Polaris reply whose code matches the status; `want` pins the exact code.
#[track_caller]
fn assert_rejected(what: &str, r: &Resp, want: Option<u64>) {
    let code = r.body["code"].as_u64().unwrap_or_else(|| {
        panic!(
            "{what}: no Polaris code; status {} body {}",
            r.status, r.text
        )
    });
    assert_eq!(code / 1000, u64::from(r.status), "{what}: {}", r.text);
    assert_eq!(r.status / 100, 4, "{what}: not a 4xx: {}", r.text);
    if let Some(want) = want {
        assert_eq!(code, want, "{what}: {}", r.text);
    }
    assert_eq!(
        r.polaris_code.as_deref(),
        Some(code.to_string().as_str()),
        "{what}: X-Polaris-Code header"
    );
}

const ARRAY_ENDPOINTS: &[(&str, &str)] = &[
    ("POST", "/naming/v1/namespaces"),
    ("PUT", "/naming/v1/namespaces"),
    ("POST", "/naming/v1/namespaces/delete"),
    ("POST", "/naming/v1/services"),
    ("PUT", "/naming/v1/services"),
    ("POST", "/naming/v1/services/delete"),
    ("POST", "/naming/v1/instances"),
    ("PUT", "/naming/v1/instances"),
    ("POST", "/naming/v1/instances/delete"),
    ("POST", "/naming/v1/instances/delete/host"),
    ("PUT", "/naming/v1/instances/isolate/host"),
    ("POST", "/naming/v1/service/aliases/delete"),
    ("POST", "/core/v1/namespaces"),
];

const OBJECT_ENDPOINTS: &[&str] = &[
    "/v1/RegisterInstance",
    "/v1/DeregisterInstance",
    "/v1/Heartbeat",
    "/v1/Discover",
    "/v1/ReportClient",
    "/naming/v1/service/alias",
];

fn send(server: &TestServer, method: &str, path: &str, body: &str) -> Resp {
    match method {
        "PUT" => server.put_full(path, body),
        _ => server.post_full(path, body),
    }
}

#[test]
fn malformed_bodies_are_parse_errors() {
    let server = TestServer::start();
    seed(&server);
    let before = state(&server);
    let bodies = [
        ("garbage", "{not json", Some(400_001)),
        ("truncated array", "[{\"name\":\"x\"", Some(400_001)),
        ("truncated object", "{\"name\":", Some(400_001)),
        (
            "object where array expected",
            "{\"name\":\"x\"}",
            Some(400_001),
        ),
        ("scalar", "42", Some(400_001)),
        ("empty body", "", Some(400_001)),
        ("empty array", "[]", Some(400_002)),
        (
            "trailing garbage",
            "[{\"name\":\"x\"}] trailing",
            Some(400_001),
        ),
        ("nul bytes", "\u{0}\u{0}", Some(400_001)),
    ];
    for (method, path) in ARRAY_ENDPOINTS {
        for (what, body, want) in &bodies {
            let r = send(&server, method, path, body);
            assert_rejected(&format!("{method} {path} {what}"), &r, *want);
        }
    }
    for path in OBJECT_ENDPOINTS {
        for (what, body) in [
            ("garbage", "{not json"),
            ("truncated", "{\"service\":"),
            ("array where object expected", "[{\"service\":\"x\"}]"),
            ("empty body", ""),
        ] {
            let r = server.post_full(path, body);
            assert_rejected(&format!("POST {path} {what}"), &r, Some(400_001));
        }
    }
    assert!(server.is_up());
    assert_eq!(state(&server), before);
}

#[test]
fn batch_limits() {
    let server = TestServer::start();
    seed(&server);
    let before = state(&server);
    let namespaces: Vec<Value> = (0..101)
        .map(|i| json!({ "name": format!("b{i}") }))
        .collect();
    let services: Vec<Value> = (0..101)
        .map(|i| json!({ "name": format!("s{i}"), "namespace": "seeded" }))
        .collect();
    let instances: Vec<Value> = (0..101)
        .map(|i| json!({ "service": "base", "namespace": "seeded", "host": "2.2.2.2", "port": i }))
        .collect();
    for (path, items) in [
        ("/naming/v1/namespaces", &namespaces),
        ("/core/v1/namespaces", &namespaces),
        ("/naming/v1/services", &services),
        ("/naming/v1/instances", &instances),
        ("/naming/v1/instances/delete", &instances),
    ] {
        let r = server.post_full(path, &json!(items).to_string());
        assert_rejected(&format!("{path} 101 items"), &r, Some(400_003));
    }
    assert!(server.is_up());
    assert_eq!(state(&server), before);
}

#[test]
fn ten_megabyte_body_is_refused() {
    let server = TestServer::start();
    seed(&server);
    let before = state(&server);
    let big = format!(
        "[{{\"name\":\"big\",\"comment\":\"{}\"}}]",
        "x".repeat(10 * 1024 * 1024)
    );
    for path in [
        "/naming/v1/namespaces",
        "/naming/v1/instances",
        "/v1/RegisterInstance",
    ] {
        // The reply must arrive even if the server stops reading early.
        let r = common::raw_request(server.port(), "POST", path, big.clone().into_bytes())
            .unwrap_or_else(|e| panic!("{path}: no reply to a 10 MB body: {e}"));
        assert_rejected(&format!("{path} 10 MB"), &r, None);
        assert!(server.is_up(), "server down after 10 MB body to {path}");
    }
    assert_eq!(state(&server), before);
}

#[test]
fn invalid_fields_are_rejected() {
    let server = TestServer::start();
    seed(&server);
    let before = state(&server);
    let long_ns = "n".repeat(65);
    let long_svc = "s".repeat(129);
    let long_host = "h".repeat(129);
    let many: serde_json::Map<String, Value> = (0..1000)
        .map(|i| (format!("k{i}"), Value::from("v")))
        .collect();
    let ins = |extra: Value| {
        let mut base =
            json!({ "service": "base", "namespace": "seeded", "host": "3.3.3.3", "port": 1 });
        for (k, v) in extra.as_object().unwrap() {
            base[k] = v.clone();
        }
        base
    };
    let instance_cases: Vec<(&str, Value, u64)> = vec![
        ("long service", ins(json!({ "service": long_svc })), 400_120),
        (
            "bad service chars",
            ins(json!({ "service": "a b" })),
            400_120,
        ),
        (
            "long namespace",
            ins(json!({ "namespace": long_ns })),
            400_110,
        ),
        (
            "unicode namespace",
            ins(json!({ "namespace": "命名" })),
            400_110,
        ),
        ("long host", ins(json!({ "host": long_host })), 400_131),
        ("empty host", ins(json!({ "host": "" })), 400_131),
        (
            "1000 metadata keys",
            ins(json!({ "metadata": many })),
            400_150,
        ),
        ("negative port", ins(json!({ "port": -1 })), 400_001),
        ("port as string", ins(json!({ "port": "abc" })), 400_001),
        ("port 70000", ins(json!({ "port": 70000 })), 400_132),
        ("negative weight", ins(json!({ "weight": -3 })), 400_001),
        ("weight as object", ins(json!({ "weight": {} })), 400_001),
        ("host as number", ins(json!({ "host": 12 })), 400_001),
        (
            "metadata as array",
            ins(json!({ "metadata": ["a"] })),
            400_001,
        ),
        (
            "metadata value number",
            ins(json!({ "metadata": { "a": 1 } })),
            400_001,
        ),
        (
            "healthy as string",
            ins(json!({ "healthy": "yes" })),
            400_001,
        ),
        ("port float", ins(json!({ "port": 1.5 })), 400_001),
    ];
    for (what, item, code) in &instance_cases {
        let r = server.post_full("/naming/v1/instances", &json!([item]).to_string());
        assert_rejected(&format!("console {what}"), &r, Some(*code));
        let r = server.post_full("/v1/RegisterInstance", &item.to_string());
        assert_rejected(&format!("client {what}"), &r, Some(*code));
    }

    let svc_cases: Vec<(&str, Value, u64)> = vec![
        (
            "long name",
            json!({ "name": long_svc, "namespace": "seeded" }),
            400_120,
        ),
        (
            "bad chars",
            json!({ "name": "x/y?z", "namespace": "seeded" }),
            400_120,
        ),
        (
            "1000 metadata",
            json!({ "name": "m", "namespace": "seeded", "metadata": many }),
            400_150,
        ),
        (
            "name as number",
            json!({ "name": 5, "namespace": "seeded" }),
            400_001,
        ),
        (
            "owners as array",
            json!({ "name": "m", "namespace": "seeded", "owners": [1] }),
            400_001,
        ),
        (
            "long namespace",
            json!({ "name": "m", "namespace": long_ns }),
            400_110,
        ),
    ];
    for (what, item, code) in &svc_cases {
        let r = server.post_full("/naming/v1/services", &json!([item]).to_string());
        assert_rejected(&format!("service {what}"), &r, Some(*code));
    }

    let ns_cases: Vec<(&str, Value, u64)> = vec![
        ("long", json!({ "name": long_ns }), 400_110),
        ("space", json!({ "name": "a b" }), 400_110),
        ("missing name", json!({ "comment": "x" }), 400_110),
        ("name as bool", json!({ "name": true }), 400_001),
        ("item is a string", json!("seeded2"), 400_001),
    ];
    for (what, item, code) in &ns_cases {
        let r = server.post_full("/naming/v1/namespaces", &json!([item]).to_string());
        assert_rejected(&format!("namespace {what}"), &r, Some(*code));
    }

    let discover_cases: Vec<(&str, Value)> = vec![
        (
            "service as string",
            json!({ "type": "INSTANCE", "service": "x" }),
        ),
        (
            "type as object",
            json!({ "type": {}, "service": { "name": "base" } }),
        ),
        (
            "unknown type name",
            json!({ "type": "NOPE", "service": { "name": "base" } }),
        ),
    ];
    for (what, body) in &discover_cases {
        let r = server.post_full("/v1/Discover", &body.to_string());
        assert_rejected(&format!("discover {what}"), &r, None);
    }

    assert!(server.is_up());
    assert_eq!(state(&server), before);
}

#[test]
fn deep_nesting_and_odd_bytes_do_not_crash() {
    let server = TestServer::start();
    seed(&server);
    let before = state(&server);
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let r = server.post_full("/naming/v1/namespaces", &deep);
    assert_rejected("deep nesting", &r, None);
    let deep_obj = format!(
        "{{\"service\":{}1{}}}",
        "{\"a\":".repeat(50_000),
        "}".repeat(50_000)
    );
    let r = server.post_full("/v1/RegisterInstance", &deep_obj);
    assert_rejected("deep object", &r, None);
    let bytes: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
    let r = server
        .post_bytes("/naming/v1/instances", &bytes)
        .expect("binary body");
    assert_rejected("binary body", &r, Some(400_001));
    assert!(server.is_up());
    assert_eq!(state(&server), before);
}
