//! Services and service aliases over the HTTP OpenAPI.

mod common;

use common::{Resp, TestServer, assert_code, names};
use serde_json::{Value, json};

fn create(server: &TestServer, items: &Value) -> Resp {
    server.post_full("/naming/v1/services", &items.to_string())
}

fn list(server: &TestServer, query: &str) -> Value {
    let r = server.get_full(&format!("/naming/v1/services{query}"));
    assert_code(&r, 200_000);
    r.body
}

fn register(server: &TestServer, ns: &str, svc: &str, host: &str, port: u16) {
    let r = server.post_full(
        "/v1/RegisterInstance",
        &json!({ "namespace": ns, "service": svc, "host": host, "port": port }).to_string(),
    );
    assert_code(&r, 200_000);
}

fn is_hex32(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| s.len() == 32 && s.chars().all(|c| c.is_ascii_hexdigit()))
}

#[test]
fn create_list_update_delete() {
    let server = TestServer::start();
    let r = create(
        &server,
        &json!([{
            "name": "orders", "namespace": "default", "business": "Shop",
            "comment": "c1", "owners": "bob", "metadata": { "tier": "gold" }
        }]),
    );
    assert_code(&r, 200_000);
    assert_eq!(r.body["size"], 1);
    let item = &r.body["responses"][0]["service"];
    assert_eq!(item["name"], "orders");
    assert_eq!(item["namespace"], "default");
    assert!(is_hex32(&item["id"]), "{item}");
    assert!(is_hex32(&item["token"]), "{item}");
    let id = item["id"].clone();

    let body = list(&server, "?name=orders&namespace=default");
    assert_eq!(body["amount"], 1, "{body}");
    assert_eq!(body["size"], 1);
    let svc = &body["services"][0];
    assert_eq!(svc["id"], id);
    assert_eq!(svc["business"], "Shop");
    assert_eq!(svc["comment"], "c1");
    assert_eq!(svc["metadata"], json!({ "tier": "gold" }));
    assert!(svc["token"].is_null(), "token must not be listed: {svc}");
    assert_eq!(svc["total_instance_count"], 0);

    let r = server.put_full(
        "/naming/v1/services",
        &json!([{ "name": "orders", "namespace": "default", "comment": "c2" }]).to_string(),
    );
    assert_code(&r, 200_000);
    let body = list(&server, "?name=orders&namespace=default");
    assert_eq!(body["services"][0]["comment"], "c2", "{body}");

    let r = server.post_full(
        "/naming/v1/services/delete",
        &json!([{ "name": "orders", "namespace": "default" }]).to_string(),
    );
    assert_code(&r, 200_000);
    let body = list(&server, "?name=orders&namespace=default");
    assert_eq!(body["amount"], 0, "{body}");
}

#[test]
fn create_existing_is_400201_and_echoes_id() {
    let server = TestServer::start();
    let r = create(&server, &json!([{ "name": "dup", "namespace": "default" }]));
    assert_code(&r, 200_000);
    let id = r.body["responses"][0]["service"]["id"].clone();
    let r = create(&server, &json!([{ "name": "dup", "namespace": "default" }]));
    assert_code(&r, 400_201);
    assert_eq!(r.body["responses"][0]["code"], 400_201);
    assert_eq!(r.body["responses"][0]["service"]["id"], id);
}

#[test]
fn update_rules() {
    let server = TestServer::start();
    let r = server.put_full(
        "/naming/v1/services",
        &json!([{ "name": "ghost", "namespace": "default", "comment": "x" }]).to_string(),
    );
    assert_code(&r, 400_202);
    assert_eq!(list(&server, "?name=ghost")["amount"], 0);

    assert_code(
        &create(
            &server,
            &json!([{ "name": "same", "namespace": "default", "comment": "c" }]),
        ),
        200_000,
    );
    let r = server.put_full(
        "/naming/v1/services",
        &json!([{ "name": "same", "namespace": "default", "comment": "c" }]).to_string(),
    );
    assert_code(&r, 200_002);
    assert_eq!(r.body["responses"][0]["code"], 200_002);
}

#[test]
fn delete_rules() {
    let server = TestServer::start();
    let r = server.post_full(
        "/naming/v1/services/delete",
        &json!([{ "name": "never", "namespace": "default" }]).to_string(),
    );
    assert_code(&r, 200_000);

    register(&server, "default", "busy", "10.0.0.1", 80);
    let r = server.post_full(
        "/naming/v1/services/delete",
        &json!([{ "name": "busy", "namespace": "default" }]).to_string(),
    );
    assert_code(&r, 400_204);
    assert_eq!(r.body["responses"][0]["code"], 400_204);
    assert_eq!(list(&server, "?name=busy&namespace=default")["amount"], 1);
}

#[test]
fn invalid_names_are_400120() {
    let server = TestServer::start();
    let before = list(&server, "");
    let long = "s".repeat(129);
    for bad in [long.as_str(), "has space", "bad*char", "ünï", ""] {
        let r = create(&server, &json!([{ "name": bad, "namespace": "default" }]));
        assert_code(&r, 400_120);
    }
    let r = create(
        &server,
        &json!([{ "name": "ok", "namespace": "bad namespace" }]),
    );
    assert_code(&r, 400_110);
    assert_code(
        &create(
            &server,
            &json!([{ "name": "s".repeat(128), "namespace": "default" }]),
        ),
        200_000,
    );
    let after = list(&server, "");
    assert_eq!(
        after["amount"].as_u64().unwrap(),
        before["amount"].as_u64().unwrap() + 1
    );
}

#[test]
fn list_filters() {
    let server = TestServer::start();
    assert_code(
        &server.post_full(
            "/naming/v1/namespaces",
            &json!([{ "name": "other" }]).to_string(),
        ),
        200_000,
    );
    let r = create(
        &server,
        &json!([
            { "name": "pay-api", "namespace": "default", "business": "Finance", "metadata": { "env": "prod" } },
            { "name": "pay-worker", "namespace": "default", "business": "finance-batch", "metadata": { "env": "dev" } },
            { "name": "Pay-gw", "namespace": "other", "business": "edge", "metadata": { "env": "prod" } },
            { "name": "catalog", "namespace": "other" }
        ]),
    );
    assert_code(&r, 200_000);
    register(&server, "other", "catalog", "192.168.7.7", 9000);

    let cases: &[(&str, &[&str])] = &[
        ("?name=pay-api", &["pay-api"]),
        // Trailing `*` is a case-insensitive prefix.
        ("?name=pay*", &["Pay-gw", "pay-api", "pay-worker"]),
        ("?name=pay*&namespace=default", &["pay-api", "pay-worker"]),
        ("?namespace=other", &["Pay-gw", "catalog"]),
        // business: case-insensitive substring.
        ("?business=FINANCE", &["pay-api", "pay-worker"]),
        ("?keys=env&values=prod", &["Pay-gw", "pay-api"]),
        ("?keys=env&values=dev", &["pay-worker"]),
        ("?host=192.168.7.7", &["catalog"]),
        ("?host=192.168.7.8", &[]),
        ("?host=192.168.7.7&port=9000", &["catalog"]),
    ];
    for (query, want) in cases {
        let body = list(&server, query);
        assert_eq!(names(&body, "services", "name"), *want, "{query}: {body}");
        assert_eq!(body["amount"].as_u64(), Some(want.len() as u64), "{query}");
    }

    // Paging.
    let body = list(&server, "?name=pay*&limit=2");
    assert_eq!(body["amount"], 3);
    assert_eq!(body["size"], 2);
    let body = list(&server, "?name=pay*&offset=2&limit=2");
    assert_eq!(body["size"], 1);

    // /services/all and /services/count.
    let r = server.get_full("/naming/v1/services/all?namespace=other");
    assert_code(&r, 200_000);
    assert_eq!(names(&r.body, "services", "name"), ["Pay-gw", "catalog"]);
    assert_eq!(r.body["amount"], 2);
    assert_eq!(r.body["size"], 2);
    let catalog = r.body["services"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "catalog")
        .unwrap();
    assert_eq!(catalog["total_instance_count"], 1);
    assert_eq!(catalog["healthy_instance_count"], 1);
    let r = server.get_full("/naming/v1/services/all");
    assert_code(&r, 200_000);
    let all = names(&r.body, "services", "name");
    for want in ["Pay-gw", "catalog", "pay-api", "pay-worker"] {
        assert!(all.contains(&want.to_string()), "{all:?}");
    }

    let r = server.get_full("/naming/v1/services/count");
    assert_code(&r, 200_000);
    assert_eq!(r.body["amount"].as_u64(), Some(all.len() as u64));
    assert_eq!(r.body["size"], 0);
    assert_eq!(r.body["services"], json!([]));
}

#[test]
fn bad_list_queries_are_400103() {
    let server = TestServer::start();
    for query in [
        "?foo=bar",
        "?lang=en",
        "?name=",
        "?offset=-1",
        "?limit=abc",
        "?port=80",
    ] {
        let r = server.get_full(&format!("/naming/v1/services{query}"));
        assert_code(&r, 400_103);
    }
}

#[test]
fn only_exist_instance_is_not_an_allowed_key() {
    let server = TestServer::start();
    let r = server.get_full("/naming/v1/services?only_exist_instance=true");
    assert_code(&r, 400_103);
}

#[test]
fn aliases() {
    let server = TestServer::start();
    register(&server, "default", "source", "10.1.1.1", 8080);
    register(&server, "default", "source", "10.1.1.2", 8080);

    let r = server.post_full(
        "/naming/v1/service/alias",
        &json!({ "service": "source", "namespace": "default", "alias": "nick", "alias_namespace": "default" })
            .to_string(),
    );
    assert_code(&r, 200_000);
    assert_eq!(r.body["alias"]["alias"], "nick");
    assert_eq!(r.body["alias"]["service"], "source");
    assert_eq!(r.body["alias"]["alias_namespace"], "default");

    // Creating it again is 400201; a missing target is 400301.
    let r = server.post_full(
        "/naming/v1/service/alias",
        &json!({ "service": "source", "namespace": "default", "alias": "nick", "alias_namespace": "default" })
            .to_string(),
    );
    assert_code(&r, 400_201);
    let r = server.post_full(
        "/naming/v1/service/alias",
        &json!({ "service": "nothing", "namespace": "default", "alias": "nick2", "alias_namespace": "default" })
            .to_string(),
    );
    assert_code(&r, 400_301);

    let r = server.get_full("/naming/v1/service/aliases?alias=nick");
    assert_code(&r, 200_000);
    assert_eq!(r.body["amount"], 1, "{}", r.text);
    assert_eq!(r.body["aliases"][0]["alias"], "nick");
    assert_eq!(r.body["aliases"][0]["service"], "source");
    assert_eq!(r.body["aliases"][0]["namespace"], "default");
    let r = server.get_full("/naming/v1/service/aliases?bogus=1");
    assert_code(&r, 400_103);

    // Aliases are never listed as services.
    assert_eq!(list(&server, "?name=nick")["amount"], 0);

    // Discover through the alias returns the source's instances.
    let r = server.post_full(
        "/v1/Discover",
        &json!({ "type": "INSTANCE", "service": { "name": "nick", "namespace": "default" } })
            .to_string(),
    );
    assert_code(&r, 200_000);
    assert_eq!(r.body["type"], "INSTANCE");
    assert_eq!(r.body["service"]["name"], "nick");
    assert_eq!(r.body["aliasFor"]["name"], "source");
    let mut hosts: Vec<&str> = r.body["instances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["host"].as_str().unwrap())
        .collect();
    hosts.sort_unstable();
    assert_eq!(hosts, ["10.1.1.1", "10.1.1.2"]);

    // The source cannot go while an alias points at it (deregister its instances first).
    for host in ["10.1.1.1", "10.1.1.2"] {
        let r = server.post_full(
            "/v1/DeregisterInstance",
            &json!({ "namespace": "default", "service": "source", "host": host, "port": 8080 })
                .to_string(),
        );
        assert_code(&r, 200_000);
    }
    let r = server.post_full(
        "/naming/v1/services/delete",
        &json!([{ "name": "source", "namespace": "default" }]).to_string(),
    );
    assert_code(&r, 400_210);
    assert_eq!(list(&server, "?name=source&namespace=default")["amount"], 1);

    let r = server.post_full(
        "/naming/v1/service/aliases/delete",
        &json!([{ "alias": "nick", "alias_namespace": "default" }]).to_string(),
    );
    assert_code(&r, 200_000);
    let r = server.get_full("/naming/v1/service/aliases?alias=nick");
    assert_eq!(r.body["amount"], 0, "{}", r.text);
    let r = server.post_full(
        "/naming/v1/services/delete",
        &json!([{ "name": "source", "namespace": "default" }]).to_string(),
    );
    assert_code(&r, 200_000);
    assert_eq!(list(&server, "?name=source&namespace=default")["amount"], 0);
}

#[test]
fn limit_zero_gives_an_empty_page_with_amount() {
    let server = TestServer::start();
    assert_code(
        &create(
            &server,
            &json!([{ "name": "a1", "namespace": "default" }, { "name": "a2", "namespace": "default" }]),
        ),
        200_000,
    );
    let body = list(&server, "?name=a*&limit=0");
    assert_eq!(body["amount"], 2, "{body}");
    assert_eq!(body["size"], 0, "{body}");
    assert_eq!(body["services"], json!([]));
}

/// Items of a batch run one by one, as in the released server (v1.18): valid items are created,
/// invalid ones get their own code, and mixed outcomes make the batch code 400000.
#[test]
fn batch_items_succeed_or_fail_on_their_own() {
    let server = TestServer::start();
    let r = create(
        &server,
        &json!([{ "name": "good", "namespace": "default" }, { "name": "bad name", "namespace": "default" }]),
    );
    assert_code(&r, 400_000);
    assert_eq!(r.body["responses"][0]["code"], 200_000);
    assert_eq!(r.body["responses"][1]["code"], 400_120);
    assert_eq!(list(&server, "?name=good")["amount"], 1);
}
