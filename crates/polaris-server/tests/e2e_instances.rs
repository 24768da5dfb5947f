//! Instances over the console API and the `/v1` client API, plus the probe and metrics paths.

mod common;

use common::{Resp, TestServer, assert_code, instance_id};
use serde_json::{Value, json};

fn create(server: &TestServer, items: &Value) -> Resp {
    server.post_full("/naming/v1/instances", &items.to_string())
}

fn list(server: &TestServer, query: &str) -> Value {
    let r = server.get_full(&format!("/naming/v1/instances{query}"));
    assert_code(&r, 200_000);
    r.body
}

fn hosts_ports(body: &Value) -> Vec<String> {
    let mut out: Vec<String> = body["instances"]
        .as_array()
        .unwrap_or_else(|| panic!("no instances in {body}"))
        .iter()
        .map(|i| format!("{}:{}", i["host"].as_str().unwrap(), i["port"]))
        .collect();
    out.sort();
    out
}

fn discover(server: &TestServer, request: &Value) -> Resp {
    server.post_full("/v1/Discover", &request.to_string())
}

#[test]
fn instance_id_helper_matches_sha1sum() {
    // printf 'default##svc##1.2.3.4##8080' | sha1sum
    assert_eq!(
        instance_id("default", "svc", "1.2.3.4", 8080),
        "b0aa27f92f81398f78efa18bfa3cb8b0e57ffb4c"
    );
}

#[test]
fn console_create_is_upsert_with_defaults_and_sha1_id() {
    let server = TestServer::start();
    let r = create(
        &server,
        &json!([{ "service": "svc", "namespace": "default", "host": "1.2.3.4", "port": 8080 }]),
    );
    assert_code(&r, 200_000);
    let item = &r.body["responses"][0]["instance"];
    let id = instance_id("default", "svc", "1.2.3.4", 8080);
    assert_eq!(item["id"], id.as_str(), "{item}");
    assert_eq!(item["service"], "svc");
    assert_eq!(item["namespace"], "default");
    assert_eq!(item["host"], "1.2.3.4");
    assert_eq!(item["port"], 8080);

    let body = list(&server, "?service=svc&namespace=default");
    assert_eq!(body["amount"], 1);
    let ins = &body["instances"][0];
    assert_eq!(ins["id"], id.as_str());
    assert_eq!(ins["weight"], 100);
    assert_eq!(ins["healthy"], true);
    assert_eq!(ins["isolate"], false);

    // Isolate it, then re-register without `isolate`: it stays isolated, and no 400201.
    let r = server.put_full(
        "/naming/v1/instances",
        &json!([{ "id": id, "isolate": true }]).to_string(),
    );
    assert_code(&r, 200_000);
    let r = create(
        &server,
        &json!([{ "service": "svc", "namespace": "default", "host": "1.2.3.4", "port": 8080, "weight": 7 }]),
    );
    assert_code(&r, 200_000);
    let body = list(&server, "?service=svc&namespace=default");
    assert_eq!(body["amount"], 1, "upsert must not duplicate: {body}");
    assert_eq!(body["instances"][0]["isolate"], true, "{body}");
    assert_eq!(body["instances"][0]["weight"], 7, "{body}");

    // Explicit isolate false on register wins.
    let r = server.post_full(
        "/v1/RegisterInstance",
        &json!({ "service": "svc", "namespace": "default", "host": "1.2.3.4", "port": 8080, "isolate": false })
            .to_string(),
    );
    assert_code(&r, 200_000);
    assert_eq!(r.body["instance"]["id"], id.as_str());
    let body = list(&server, &format!("?id={id}"));
    assert_eq!(body["instances"][0]["isolate"], false, "{body}");
}

#[test]
fn update_rules() {
    let server = TestServer::start();
    let r = server.put_full(
        "/naming/v1/instances",
        &json!([{ "id": "0123456789abcdef", "weight": 5 }]).to_string(),
    );
    assert_code(&r, 400_303);
    let r = server.put_full(
        "/naming/v1/instances",
        &json!([{ "service": "nope", "namespace": "default", "host": "9.9.9.9", "port": 1, "weight": 5 }])
            .to_string(),
    );
    assert_code(&r, 400_303);

    assert_code(
        &create(
            &server,
            &json!([{ "service": "u", "namespace": "default", "host": "2.2.2.2", "port": 1, "weight": 10, "metadata": { "a": "1" } }]),
        ),
        200_000,
    );
    let r = server.put_full(
        "/naming/v1/instances",
        &json!([{ "service": "u", "namespace": "default", "host": "2.2.2.2", "port": 1, "weight": 10 }])
            .to_string(),
    );
    assert_code(&r, 200_002);
    let before = list(&server, "?service=u");
    let r = server.put_full(
        "/naming/v1/instances",
        &json!([{ "service": "u", "namespace": "default", "host": "2.2.2.2", "port": 1, "weight": 20, "metadata": { "b": "2" } }])
            .to_string(),
    );
    assert_code(&r, 200_000);
    let after = list(&server, "?service=u");
    assert_eq!(after["instances"][0]["weight"], 20);
    assert_eq!(after["instances"][0]["metadata"], json!({ "b": "2" }));
    assert_ne!(
        before["instances"][0]["revision"], after["instances"][0]["revision"],
        "a change gives a new revision"
    );
}

#[test]
fn list_filters_paging_count_and_labels() {
    let server = TestServer::start();
    let mut items = Vec::new();
    for i in 0..12u16 {
        items.push(json!({
            "service": "lst", "namespace": "default",
            "host": format!("10.0.0.{}", i % 3), "port": 7000 + i,
            "metadata": { "zone": if i % 2 == 0 { "even" } else { "odd" }, "app": "x" }
        }));
    }
    items
        .push(json!({ "service": "other", "namespace": "default", "host": "10.0.0.0", "port": 1 }));
    let r = create(&server, &json!(items));
    assert_code(&r, 200_000);
    assert_eq!(r.body["size"], 13);

    // Mark one unhealthy.
    let unhealthy = instance_id("default", "lst", "10.0.0.1", 7001);
    let r = server.put_full(
        "/naming/v1/instances",
        &json!([{ "id": unhealthy, "healthy": false }]).to_string(),
    );
    assert_code(&r, 200_000);

    assert_eq!(
        list(&server, "?service=lst&namespace=default")["amount"],
        12
    );
    assert_eq!(list(&server, "?namespace=default")["amount"], 13);
    let body = list(&server, "?host=10.0.0.0");
    assert_eq!(body["amount"], 5, "{body}"); // 4 of lst + other
    let body = list(&server, "?service=lst&host=10.0.0.0,10.0.0.1");
    assert_eq!(body["amount"], 8, "{body}");
    let body = list(&server, "?service=lst&healthy=false");
    assert_eq!(body["amount"], 1, "{body}");
    assert_eq!(body["instances"][0]["id"], unhealthy.as_str());
    assert_eq!(list(&server, "?service=lst&healthy=true")["amount"], 11);
    assert_eq!(
        list(&server, "?service=lst&keys=zone&values=even")["amount"],
        6
    );
    assert_eq!(
        list(&server, "?service=lst&keys=zone,app&values=odd,x")["amount"],
        6
    );
    assert_eq!(
        list(&server, "?service=lst&keys=zone&values=none")["amount"],
        0
    );
    assert_eq!(list(&server, "?service=lst&port=7005")["amount"], 1);
    assert_eq!(list(&server, "?service=ls*")["amount"], 12);

    // Paging.
    let body = list(&server, "?service=lst&offset=0&limit=5");
    assert_eq!(body["amount"], 12);
    assert_eq!(body["size"], 5);
    let body = list(&server, "?service=lst&offset=10&limit=5");
    assert_eq!(body["size"], 2);
    let mut all = Vec::new();
    for offset in [0, 5, 10] {
        all.extend(hosts_ports(&list(
            &server,
            &format!("?service=lst&offset={offset}&limit=5"),
        )));
    }
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 12);
    let body = list(&server, "?service=lst&limit=1000");
    assert_eq!(body["size"], 12);

    // Empty query, unknown key, keys without values.
    assert_code(&server.get_full("/naming/v1/instances"), 400_104);
    assert_code(&server.get_full("/naming/v1/instances?bogus=1"), 400_103);
    assert_code(
        &server.get_full("/naming/v1/instances?offset=-1&service=lst"),
        400_103,
    );
    assert_code(&server.get_full("/naming/v1/instances?keys=zone"), 400_105);

    // Count.
    let r = server.get_full("/naming/v1/instances/count");
    assert_code(&r, 200_000);
    assert_eq!(r.body["amount"], 13);
    assert_eq!(r.body["size"], 0);
    assert_eq!(r.body["instances"], json!([]));

    // Labels.
    let r = server.get_full("/naming/v1/instances/labels?namespace=default&service=lst");
    assert_code(&r, 200_000);
    let labels = &r.body["instanceLabels"];
    assert_eq!(labels["namespace"], "");
    assert_eq!(labels["service"], "");
    assert_eq!(labels["serviceId"], "");
    let mut zones: Vec<&str> = labels["labels"]["zone"]["values"]
        .as_array()
        .unwrap_or_else(|| panic!("{}", r.text))
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    zones.sort_unstable();
    assert_eq!(zones, ["even", "odd"]);
    assert_eq!(labels["labels"]["app"]["values"], json!(["x"]));
    let r = server.get_full("/naming/v1/instances/labels?service=unknown");
    assert_code(&r, 200_000);
    assert_eq!(r.body["instanceLabels"]["labels"], json!({}));
}

#[test]
fn delete_and_isolate_by_host() {
    let server = TestServer::start();
    let items: Vec<Value> = [("3.3.3.3", 1), ("3.3.3.3", 2), ("4.4.4.4", 1)]
        .iter()
        .map(|(h, p)| json!({ "service": "h", "namespace": "default", "host": h, "port": p }))
        .collect();
    assert_code(&create(&server, &json!(items)), 200_000);

    // isolate/host without `isolate` → 400139.
    let r = server.put_full(
        "/naming/v1/instances/isolate/host",
        &json!([{ "service": "h", "namespace": "default", "host": "3.3.3.3" }]).to_string(),
    );
    assert_code(&r, 400_139);
    assert_eq!(list(&server, "?service=h&isolate=true")["amount"], 0);

    let r = server.put_full(
        "/naming/v1/instances/isolate/host",
        &json!([{ "service": "h", "namespace": "default", "host": "3.3.3.3", "isolate": true }])
            .to_string(),
    );
    assert_code(&r, 200_000);
    let body = list(&server, "?service=h&isolate=true");
    assert_eq!(hosts_ports(&body), ["3.3.3.3:1", "3.3.3.3:2"]);
    let r = server.put_full(
        "/naming/v1/instances/isolate/host",
        &json!([{ "service": "h", "namespace": "default", "host": "3.3.3.3", "isolate": true }])
            .to_string(),
    );
    assert_code(&r, 200_002);

    let r = server.post_full(
        "/naming/v1/instances/delete/host",
        &json!([{ "service": "h", "namespace": "default", "host": "3.3.3.3" }]).to_string(),
    );
    assert_code(&r, 200_000);
    assert_eq!(hosts_ports(&list(&server, "?service=h")), ["4.4.4.4:1"]);

    // Deleting an unknown instance succeeds; deleting a known one removes it.
    let r = server.post_full(
        "/naming/v1/instances/delete",
        &json!([{ "service": "h", "namespace": "default", "host": "5.5.5.5", "port": 9 }])
            .to_string(),
    );
    assert_code(&r, 200_000);
    let r = server.post_full(
        "/naming/v1/instances/delete",
        &json!([{ "id": instance_id("default", "h", "4.4.4.4", 1) }]).to_string(),
    );
    assert_code(&r, 200_000);
    assert_eq!(list(&server, "?service=h")["amount"], 0);
}

#[test]
fn client_register_deregister_heartbeat() {
    let server = TestServer::start();
    let hb = json!({ "service": "c", "namespace": "default", "host": "6.6.6.6", "port": 80,
        "enableHealthCheck": true, "healthCheck": { "type": "HEARTBEAT", "heartbeat": { "ttl": 5 } } });
    let r = server.post_full("/v1/RegisterInstance", &hb.to_string());
    assert_code(&r, 200_000);
    let id = instance_id("default", "c", "6.6.6.6", 80);
    assert_eq!(r.body["instance"]["id"], id.as_str());
    let body = list(&server, &format!("?id={id}"));
    assert_eq!(body["instances"][0]["enableHealthCheck"], true, "{body}");

    let beat = json!({ "service": "c", "namespace": "default", "host": "6.6.6.6", "port": 80 });
    let r = server.post_full("/v1/Heartbeat", &beat.to_string());
    assert_code(&r, 200_000);
    let r = server.post_full("/v1/Heartbeat", &json!({ "id": id }).to_string());
    assert_code(&r, 200_000);

    // Unknown instance: accepted three times, then 400202.
    let ghost = json!({ "service": "c", "namespace": "default", "host": "6.6.6.7", "port": 80 });
    for attempt in 1..=3 {
        let r = server.post_full("/v1/Heartbeat", &ghost.to_string());
        assert_eq!(r.code(), 200_000, "attempt {attempt}: {}", r.text);
    }
    let r = server.post_full("/v1/Heartbeat", &ghost.to_string());
    assert_code(&r, 400_202);

    // Heartbeat on an instance without health check → 400141.
    let plain = json!({ "service": "c", "namespace": "default", "host": "6.6.6.8", "port": 80 });
    assert_code(
        &server.post_full("/v1/RegisterInstance", &plain.to_string()),
        200_000,
    );
    let r = server.post_full("/v1/Heartbeat", &plain.to_string());
    assert_code(&r, 400_141);

    // Deregister: known and unknown both succeed.
    let r = server.post_full("/v1/DeregisterInstance", &beat.to_string());
    assert_code(&r, 200_000);
    assert_eq!(r.body["instance"]["host"], "6.6.6.6");
    let r = server.post_full("/v1/DeregisterInstance", &ghost.to_string());
    assert_code(&r, 200_000);
    assert_eq!(list(&server, &format!("?id={id}"))["amount"], 0);
    assert_eq!(list(&server, "?service=c")["amount"], 1);
}

#[test]
fn discover_instances_revision_and_filter() {
    let server = TestServer::start();
    let items: Vec<Value> = (1..=3)
        .map(|p| json!({ "service": "d", "namespace": "default", "host": "7.7.7.7", "port": p }))
        .collect();
    assert_code(&create(&server, &json!(items)), 200_000);
    let sick = instance_id("default", "d", "7.7.7.7", 2);
    assert_code(
        &server.put_full(
            "/naming/v1/instances",
            &json!([{ "id": sick, "healthy": false }]).to_string(),
        ),
        200_000,
    );
    let isolated = instance_id("default", "d", "7.7.7.7", 3);
    assert_code(
        &server.put_full(
            "/naming/v1/instances",
            &json!([{ "id": isolated, "isolate": true }]).to_string(),
        ),
        200_000,
    );

    let request = json!({ "type": "INSTANCE", "service": { "name": "d", "namespace": "default" } });
    let r = discover(&server, &request);
    assert_code(&r, 200_000);
    assert_eq!(r.body["type"], "INSTANCE");
    assert_eq!(r.body["service"]["name"], "d");
    assert_eq!(r.body["service"]["namespace"], "default");
    assert_eq!(r.body["instances"].as_array().unwrap().len(), 3);
    let revision = r.body["service"]["revision"].as_str().unwrap().to_string();
    assert!(!revision.is_empty());

    // Same revision → 200001 with type and service echoed.
    let again = json!({ "type": "INSTANCE",
        "service": { "name": "d", "namespace": "default", "revision": revision } });
    let r = discover(&server, &again);
    assert_code(&r, 200_001);
    assert_eq!(r.body["type"], "INSTANCE");
    assert_eq!(r.body["service"]["name"], "d");
    assert_eq!(r.body["service"]["namespace"], "default");
    assert_eq!(r.body["service"]["revision"], revision.as_str());

    // A change gives a new revision.
    assert_code(
        &create(
            &server,
            &json!([{ "service": "d", "namespace": "default", "host": "7.7.7.8", "port": 1 }]),
        ),
        200_000,
    );
    let r = discover(&server, &again);
    assert_code(&r, 200_000);
    assert_ne!(r.body["service"]["revision"], revision.as_str());
    assert_eq!(r.body["instances"].as_array().unwrap().len(), 4);
    // A repeated full read is the shared answer of that revision, byte for byte.
    let shared = discover(&server, &again);
    assert_eq!(shared.text, r.text);

    // OnlyHealthyInstance drops the unhealthy one and keeps the isolated one.
    let r = discover(
        &server,
        &json!({ "type": "INSTANCE", "service": { "name": "d", "namespace": "default" },
            "Filter": { "OnlyHealthyInstance": true } }),
    );
    assert_code(&r, 200_000);
    let ids: Vec<&str> = r.body["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 3, "{}", r.text);
    assert!(!ids.contains(&sick.as_str()));
    assert!(ids.contains(&isolated.as_str()));
    for ins in r.body["instances"].as_array().unwrap() {
        assert!(ins["service_token"].is_null(), "{ins}");
    }

    // Empty namespace means `default`.
    let r = discover(
        &server,
        &json!({ "type": "INSTANCE", "service": { "name": "d" } }),
    );
    assert_code(&r, 200_000);
    assert_eq!(r.body["instances"].as_array().unwrap().len(), 4);

    // Unknown service → 400202 with type and service echoed.
    let r = discover(
        &server,
        &json!({ "type": "INSTANCE", "service": { "name": "nope", "namespace": "default" } }),
    );
    assert_code(&r, 400_202);
    assert_eq!(r.body["type"], "INSTANCE");
    assert_eq!(r.body["service"]["name"], "nope");
}

#[test]
fn discover_services_and_unsupported_types() {
    let server = TestServer::start();
    assert_code(
        &server.post_full(
            "/naming/v1/namespaces",
            &json!([{ "name": "alt" }]).to_string(),
        ),
        200_000,
    );
    assert_code(
        &server.post_full(
            "/naming/v1/services",
            &json!([{ "name": "s1", "namespace": "default", "metadata": { "k": "v" } },
                    { "name": "s2", "namespace": "alt" }])
            .to_string(),
        ),
        200_000,
    );

    let r = discover(
        &server,
        &json!({ "type": "SERVICES", "service": { "namespace": "default" } }),
    );
    assert_code(&r, 200_000);
    assert_eq!(r.body["type"], "SERVICES");
    let services = r.body["services"].as_array().unwrap();
    assert!(
        services.iter().all(|s| s["namespace"] == "default"),
        "{}",
        r.text
    );
    let s1 = services.iter().find(|s| s["name"] == "s1").unwrap();
    assert_eq!(s1["metadata"], json!({ "k": "v" }));
    assert!(!services.iter().any(|s| s["name"] == "s2"));
    let revision = r.body["service"]["revision"].as_str().unwrap().to_string();
    assert!(!revision.is_empty());
    let r = discover(
        &server,
        &json!({ "type": "SERVICES", "service": { "namespace": "default", "revision": revision } }),
    );
    assert_code(&r, 200_001);
    assert_eq!(r.body["type"], "SERVICES");

    let r = discover(&server, &json!({ "type": "SERVICES", "service": {} }));
    assert_code(&r, 200_000);
    let names: Vec<(&str, &str)> = r.body["services"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["namespace"].as_str().unwrap(),
                s["name"].as_str().unwrap(),
            )
        })
        .collect();
    assert!(names.contains(&("default", "s1")), "{names:?}");
    assert!(names.contains(&("alt", "s2")), "{names:?}");

    // Unsupported types: echo the type and service, 200000.
    for (kind, want) in [
        (json!("LANE"), "LANE"),
        (json!(100), "LANE"),
        (json!("LOSSLESS"), "LOSSLESS"),
    ] {
        let r = discover(
            &server,
            &json!({ "type": kind, "service": { "name": "s1", "namespace": "default" } }),
        );
        assert_code(&r, 200_000);
        assert_eq!(r.body["type"], want, "{}", r.text);
        assert_eq!(r.body["service"]["name"], "s1");
        assert_eq!(r.body["service"]["namespace"], "default");
    }
}

#[test]
fn report_client_root_healthz_metrics() {
    let server = TestServer::start();
    let r = server.post_full(
        "/v1/ReportClient",
        &json!({ "host": "8.8.8.8", "version": "1.0" }).to_string(),
    );
    assert_code(&r, 200_000);
    assert_eq!(r.body["client"]["host"], "8.8.8.8");

    let r = server.get_full("/");
    assert_eq!(r.status, 200);
    assert_eq!(r.text, "Polaris Server");
    let r = server.get_full("/healthz");
    assert_eq!(r.status, 200);

    // Make at least one store commit and a few requests, then scrape.
    assert_code(
        &server.post_full(
            "/v1/RegisterInstance",
            &json!({ "service": "m", "namespace": "default", "host": "1.1.1.1", "port": 1 })
                .to_string(),
        ),
        200_000,
    );
    let r = server.get_full("/metrics");
    assert_eq!(r.status, 200);
    assert!(
        r.text
            .lines()
            .any(|l| l.starts_with("polaris_http_requests")),
        "{}",
        r.text
    );
    assert!(r.text.contains("store_commit_batch_size"), "{}", r.text);
}

#[test]
fn request_id_is_echoed_and_header_on_failure() {
    let server = TestServer::start();
    let mut response = common::agent()
        .get(&format!("{}/naming/v1/instances", server.base_url()))
        .header("Request-Id", "abc-123")
        .call()
        .unwrap();
    assert_eq!(response.status().as_u16(), 400);
    assert_eq!(
        response
            .headers()
            .get("request-id")
            .unwrap()
            .to_str()
            .unwrap(),
        "abc-123"
    );
    assert_eq!(
        response
            .headers()
            .get("x-polaris-code")
            .unwrap()
            .to_str()
            .unwrap(),
        "400104"
    );
    let text = response.body_mut().read_to_string().unwrap();
    let body: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(body["code"], 400_104);
}

#[test]
fn the_same_instance_twice_in_one_batch_is_refused_once() {
    let server = TestServer::start();
    let item = json!({ "service": "dup", "namespace": "default", "host": "10.9.9.9", "port": 80 });
    let r = server.post_full(
        "/naming/v1/instances",
        &json!([item.clone(), item]).to_string(),
    );
    assert_code(&r, 400_000);
    assert_eq!(r.body["responses"][0]["code"], 200_000);
    assert_eq!(r.body["responses"][1]["code"], 400_208);
    let (_, listed) = server.get("/naming/v1/instances?service=dup&namespace=default");
    assert_eq!(listed["amount"], 1);
}

#[test]
fn a_repeated_list_follows_every_change_of_its_service() {
    let server = TestServer::start();
    let one = json!([{ "service": "cached", "namespace": "default", "host": "10.0.0.1",
                       "port": 80, "weight": 100 }]);
    assert_code(&create(&server, &one), 200_000);
    let query = "?namespace=default&service=cached";
    let first = list(&server, query);
    assert_eq!(first, list(&server, query), "the same state lists the same");
    assert_eq!(first["amount"], 1);

    // An instance change and a new instance each show in the next list.
    let heavier = json!([{ "service": "cached", "namespace": "default", "host": "10.0.0.1",
                           "port": 80, "weight": 7 }]);
    assert_code(
        &server.put_full("/naming/v1/instances", &heavier.to_string()),
        200_000,
    );
    assert_eq!(list(&server, query)["instances"][0]["weight"], 7);
    let two = json!([{ "service": "cached", "namespace": "default", "host": "10.0.0.2",
                       "port": 80 }]);
    assert_code(&create(&server, &two), 200_000);
    let both = list(&server, query);
    assert_eq!(both["amount"], 2);
    assert_eq!(hosts_ports(&both), ["10.0.0.1:80", "10.0.0.2:80"]);
    // Another query of the same service is its own answer.
    let paged = list(&server, &format!("{query}&limit=1"));
    assert_eq!(paged["amount"], 2);
    assert_eq!(paged["size"], 1);
}
