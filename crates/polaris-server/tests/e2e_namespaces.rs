//! Namespaces over the HTTP OpenAPI, under both `/naming/v1` and `/core/v1`.

mod common;

use common::{TestServer, assert_code, names};
use serde_json::{Value, json};

fn list(server: &TestServer, prefix: &str, query: &str) -> Value {
    let r = server.get_full(&format!("{prefix}/namespaces{query}"));
    assert_code(&r, 200_000);
    r.body
}

fn create(server: &TestServer, prefix: &str, items: &Value) -> common::Resp {
    server.post_full(&format!("{prefix}/namespaces"), &items.to_string())
}

#[test]
fn builtin_namespaces_exist_at_first_start() {
    let server = TestServer::start();
    for prefix in ["/naming/v1", "/core/v1"] {
        let body = list(&server, prefix, "");
        let got = names(&body, "namespaces", "name");
        assert!(got.contains(&"default".to_string()), "{body}");
        assert!(got.contains(&"Polaris".to_string()), "{body}");
        assert_eq!(body["amount"].as_u64(), Some(got.len() as u64));
        assert_eq!(body["size"].as_u64(), Some(got.len() as u64));
        assert!(body["summary"].is_object(), "{body}");
        let default = body["namespaces"]
            .as_array()
            .unwrap()
            .iter()
            .find(|n| n["name"] == "default")
            .unwrap();
        assert_eq!(default["id"], "default");
        assert_eq!(default["editable"], true);
        assert_eq!(default["deleteable"], true);
        assert!(default["token"].is_null(), "token must not be listed");
    }
}

#[test]
fn create_list_update_delete_under_both_prefixes() {
    let server = TestServer::start();
    for (prefix, name) in [("/naming/v1", "ns-naming"), ("/core/v1", "ns-core")] {
        let r = create(
            &server,
            prefix,
            &json!([{ "name": name, "comment": "first", "owners": "alice" }]),
        );
        assert_code(&r, 200_000);
        assert_eq!(r.body["size"], 1);
        let item = &r.body["responses"][0];
        assert_eq!(item["code"], 200_000);
        assert_eq!(item["namespace"]["name"], name);
        let token = item["namespace"]["token"].as_str().unwrap();
        assert_eq!(token.len(), 32, "token {token}");
        assert!(
            token
                .chars()
                .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
        );

        // Visible through both prefixes.
        for other in ["/naming/v1", "/core/v1"] {
            let body = list(&server, other, &format!("?name={name}"));
            assert_eq!(body["amount"], 1, "{body}");
            assert_eq!(body["namespaces"][0]["comment"], "first");
            assert_eq!(body["namespaces"][0]["owners"], "alice");
        }

        let r = server.put_full(
            &format!("{prefix}/namespaces"),
            &json!([{ "name": name, "comment": "second" }]).to_string(),
        );
        assert_code(&r, 200_000);
        let body = list(&server, prefix, &format!("?name={name}"));
        assert_eq!(body["namespaces"][0]["comment"], "second", "{body}");

        let r = server.post_full(
            &format!("{prefix}/namespaces/delete"),
            &json!([{ "name": name }]).to_string(),
        );
        assert_code(&r, 200_000);
        let body = list(&server, prefix, &format!("?name={name}"));
        assert_eq!(body["amount"], 0, "{body}");
        assert_eq!(body["namespaces"], json!([]));
    }
}

#[test]
fn create_existing_is_400201() {
    let server = TestServer::start();
    assert_code(
        &create(&server, "/naming/v1", &json!([{ "name": "dup" }])),
        200_000,
    );
    for prefix in ["/naming/v1", "/core/v1"] {
        let r = create(&server, prefix, &json!([{ "name": "dup" }]));
        assert_code(&r, 400_201);
        assert_eq!(r.body["responses"][0]["code"], 400_201);
        assert_eq!(r.body["responses"][0]["namespace"]["name"], "dup");
    }
    // A built-in one too.
    let r = create(&server, "/core/v1", &json!([{ "name": "default" }]));
    assert_code(&r, 400_201);
}

#[test]
fn delete_missing_is_success_and_delete_with_services_is_400203() {
    let server = TestServer::start();
    let r = server.post_full(
        "/naming/v1/namespaces/delete",
        &json!([{ "name": "never-existed" }]).to_string(),
    );
    assert_code(&r, 200_000);
    assert_eq!(r.body["responses"][0]["code"], 200_000);

    assert_code(
        &create(&server, "/naming/v1", &json!([{ "name": "busy" }])),
        200_000,
    );
    let r = server.post_full(
        "/naming/v1/services",
        &json!([{ "name": "svc", "namespace": "busy" }]).to_string(),
    );
    assert_code(&r, 200_000);
    for prefix in ["/naming/v1", "/core/v1"] {
        let r = server.post_full(
            &format!("{prefix}/namespaces/delete"),
            &json!([{ "name": "busy" }]).to_string(),
        );
        assert_code(&r, 400_203);
        assert_eq!(r.body["responses"][0]["code"], 400_203);
    }
    let body = list(&server, "/naming/v1", "?name=busy");
    assert_eq!(body["amount"], 1, "namespace must survive: {body}");
}

#[test]
fn update_missing_is_400202() {
    let server = TestServer::start();
    let r = server.put_full(
        "/naming/v1/namespaces",
        &json!([{ "name": "ghost", "comment": "x" }]).to_string(),
    );
    assert_code(&r, 400_202);
    let body = list(&server, "/naming/v1", "?name=ghost");
    assert_eq!(body["amount"], 0, "update must not create: {body}");
}

#[test]
fn invalid_names_are_400110() {
    let server = TestServer::start();
    let before = list(&server, "/naming/v1", "");
    let long = "n".repeat(65);
    for bad in ["has space", "ünïcode", "名字", long.as_str(), ""] {
        for prefix in ["/naming/v1", "/core/v1"] {
            let r = create(&server, prefix, &json!([{ "name": bad }]));
            assert_code(&r, 400_110);
            assert_eq!(r.body["responses"][0]["code"], 400_110, "{bad:?}");
        }
    }
    // Exactly 64 characters is fine.
    let ok = "n".repeat(64);
    assert_code(
        &create(&server, "/naming/v1", &json!([{ "name": ok }])),
        200_000,
    );
    let after = list(&server, "/naming/v1", "");
    assert_eq!(
        after["amount"].as_u64().unwrap(),
        before["amount"].as_u64().unwrap() + 1
    );
}

#[test]
fn list_filters_with_wildcards() {
    let server = TestServer::start();
    let items: Vec<Value> = ["app-one", "app-two", "web-app", "Other"]
        .iter()
        .map(|n| json!({ "name": n }))
        .collect();
    assert_code(&create(&server, "/naming/v1", &json!(items)), 200_000);

    let cases: &[(&str, &[&str])] = &[
        ("?name=app-*", &["app-one", "app-two"]),
        ("?name=*-app", &["web-app"]),
        ("?name=*app*", &["app-one", "app-two", "web-app"]),
        ("?name=app-one", &["app-one"]),
        ("?name=app", &[]),
        // Case-sensitive.
        ("?name=other", &[]),
        ("?name=Oth*", &["Other"]),
        // Repeated names are OR-ed.
        ("?name=app-one&name=Other", &["Other", "app-one"]),
    ];
    for (query, want) in cases {
        for prefix in ["/naming/v1", "/core/v1"] {
            let body = list(&server, prefix, query);
            assert_eq!(
                names(&body, "namespaces", "name"),
                *want,
                "{prefix} {query}"
            );
            assert_eq!(body["amount"].as_u64(), Some(want.len() as u64), "{query}");
        }
    }
}

#[test]
fn paging_amount_size_and_clamp() {
    let server = TestServer::start();
    let first: Vec<Value> = (0..100)
        .map(|i| json!({ "name": format!("pg-{i:03}") }))
        .collect();
    assert_code(&create(&server, "/naming/v1", &json!(first)), 200_000);
    let second: Vec<Value> = (100..105)
        .map(|i| json!({ "name": format!("pg-{i:03}") }))
        .collect();
    assert_code(&create(&server, "/core/v1", &json!(second)), 200_000);

    let body = list(&server, "/naming/v1", "?name=pg-*&offset=0&limit=10");
    assert_eq!(body["amount"], 105);
    assert_eq!(body["size"], 10);
    assert_eq!(body["namespaces"].as_array().unwrap().len(), 10);

    let body = list(&server, "/naming/v1", "?name=pg-*&offset=100&limit=10");
    assert_eq!(body["amount"], 105);
    assert_eq!(body["size"], 5);

    // Pages do not overlap and cover everything.
    let mut seen = Vec::new();
    for offset in (0..105).step_by(25) {
        let body = list(
            &server,
            "/core/v1",
            &format!("?name=pg-*&offset={offset}&limit=25"),
        );
        seen.extend(names(&body, "namespaces", "name"));
    }
    seen.sort();
    seen.dedup();
    assert_eq!(seen.len(), 105);

    // limit 1000 is clamped to 100.
    let body = list(&server, "/naming/v1", "?name=pg-*&limit=1000");
    assert_eq!(body["amount"], 105);
    assert_eq!(body["size"], 100);
    assert_eq!(body["namespaces"].as_array().unwrap().len(), 100);
}

#[test]
fn bad_paging_is_400103() {
    let server = TestServer::start();
    for prefix in ["/naming/v1", "/core/v1"] {
        for query in ["?offset=-1", "?limit=-5", "?offset=abc", "?limit=x"] {
            let r = server.get_full(&format!("{prefix}/namespaces{query}"));
            assert_code(&r, 400_103);
        }
    }
}

#[test]
fn limit_zero_lists_every_namespace() {
    let server = TestServer::start();
    let items: Vec<Value> = (0..3).map(|i| json!({ "name": format!("z{i}") })).collect();
    assert_code(&create(&server, "/naming/v1", &json!(items)), 200_000);
    // Official cache paging treats limit 0 as "no limit" for namespaces.
    let body = list(&server, "/naming/v1", "?name=z*&limit=0");
    assert_eq!(body["amount"], 3, "{body}");
    assert_eq!(body["size"], 3, "{body}");
}
