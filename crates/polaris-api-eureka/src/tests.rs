//! The router against real domain services on the in-memory store.

use std::sync::Arc;

use axum::body::{Body, to_bytes};
use axum::http::{Request, StatusCode};
use polaris_health::{Health, HealthOptions, MemoryBeats};
use polaris_naming::{InstanceSpec, Naming, NamingOptions};
use polaris_store::memory::MemoryStore;
use serde_json::{Value, json};
use tower::ServiceExt;

use super::*;

struct Fixture {
    naming: Arc<Naming>,
    router: Router,
}

async fn fixture(auth: polaris_auth::AuthOptions) -> Fixture {
    fixture_with(auth, EurekaOptions::default()).await
}

async fn fixture_with(auth: polaris_auth::AuthOptions, options: EurekaOptions) -> Fixture {
    let store = Arc::new(MemoryStore::new());
    let naming = Arc::new(
        Naming::open(store.clone(), NamingOptions::default())
            .await
            .unwrap(),
    );
    let health = Health::start(
        naming.clone(),
        Arc::new(MemoryBeats::default()),
        HealthOptions::default(),
    );
    let auth = polaris_auth::Auth::open(store, auth).await.unwrap();
    let state = EurekaState::new(naming.clone(), health, auth, options);
    Fixture {
        naming,
        router: router(state),
    }
}

impl Fixture {
    async fn call(
        &self,
        method: &str,
        uri: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (StatusCode, String) {
        let mut request = Request::builder().method(method).uri(uri);
        for (k, v) in headers {
            request = request.header(*k, *v);
        }
        let response = self
            .router
            .clone()
            .oneshot(request.body(Body::from(body.to_string())).unwrap())
            .await
            .unwrap();
        let status = response.status();
        let bytes = to_bytes(response.into_body(), usize::MAX).await.unwrap();
        (status, String::from_utf8_lossy(&bytes).into_owned())
    }

    async fn json(&self, uri: &str) -> Value {
        let (status, body) = self
            .call("GET", uri, &[("accept", "application/json")], "")
            .await;
        assert_eq!(status, StatusCode::OK, "{uri}: {body}");
        serde_json::from_str(&body).unwrap()
    }

    async fn register(&self, app: &str, id: &str, ip: &str) {
        let body = json!({"instance": {
            "instanceId": id, "hostName": "h", "app": app, "ipAddr": ip, "status": "UP",
            "port": {"$": 8080, "@enabled": "true"}, "vipAddress": "Demo-Vip",
            "metadata": {"a": "1"},
        }});
        let uri = format!("/eureka/apps/{app}");
        let (status, text) = self
            .call(
                "POST",
                &uri,
                &[("content-type", "application/json")],
                &body.to_string(),
            )
            .await;
        assert_eq!(status, StatusCode::NO_CONTENT, "{text}");
    }
}

fn instances(apps: &Value) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for app in apps["applications"]["application"].as_array().unwrap() {
        for i in app["instance"].as_array().unwrap() {
            out.push((
                app["name"].as_str().unwrap().into(),
                i["instanceId"].as_str().unwrap().into(),
                i["actionType"].as_str().unwrap().into(),
            ));
        }
    }
    out
}

#[tokio::test]
async fn registration_is_in_apps_and_delta_on_the_next_request() {
    let f = fixture(Default::default()).await;
    let before = f.json("/eureka/apps").await;
    f.register("demo", "i1", "10.0.0.1").await;
    let after = f.json("/eureka/v2/apps").await;
    assert_eq!(
        instances(&after),
        [("DEMO".into(), "i1".into(), "ADDED".into())]
    );
    assert_ne!(
        before["applications"]["versions__delta"],
        after["applications"]["versions__delta"]
    );
    assert_eq!(after["applications"]["apps__hashcode"], "UP_1_");
    let delta = f.json("/eureka/apps/delta").await;
    assert_eq!(
        instances(&delta),
        [("DEMO".into(), "i1".into(), "ADDED".into())]
    );
    // Stored lower-case, as an ordinary Polaris instance.
    let stored = f.naming.snapshot().instance("i1").cloned().unwrap();
    assert_eq!((stored.service.as_str(), stored.port), ("demo", 8080));
    assert_eq!(stored.health_check.unwrap().ttl_secs, 30);
}

#[tokio::test]
async fn status_override_isolates_and_its_removal_restores_up() {
    let f = fixture(Default::default()).await;
    f.register("demo", "i1", "10.0.0.1").await;
    f.json("/eureka/apps").await;
    let (status, _) = f
        .call(
            "PUT",
            "/eureka/apps/DEMO/i1/status?value=OUT_OF_SERVICE",
            &[],
            "",
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(f.naming.snapshot().instance("i1").unwrap().isolate);
    let one = f.json("/eureka/apps/DEMO/i1").await;
    assert_eq!(one["instance"]["status"], "OUT_OF_SERVICE");
    let delta = f.json("/eureka/apps/delta").await;
    assert!(instances(&delta).contains(&("DEMO".into(), "i1".into(), "MODIFIED".into())));
    // A re-registration by the client keeps the operator's override.
    f.register("demo", "i1", "10.0.0.1").await;
    assert!(f.naming.snapshot().instance("i1").unwrap().isolate);
    let (status, _) = f
        .call("DELETE", "/eureka/apps/DEMO/i1/status", &[], "")
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        f.json("/eureka/instances/i1").await["instance"]["status"],
        "UP"
    );
    let (status, _) = f
        .call("PUT", "/eureka/apps/DEMO/i1/status?value=SLEEPY", &[], "")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

#[tokio::test]
async fn metadata_updates_merge() {
    let f = fixture(Default::default()).await;
    f.register("demo", "i1", "10.0.0.1").await;
    let (status, _) = f
        .call(
            "PUT",
            "/eureka/apps/demo/i1/metadata?b=2&internal-eureka-vip=x",
            &[],
            "",
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let meta = &f.json("/eureka/apps/demo").await["application"]["instance"][0]["metadata"];
    assert_eq!(meta, &json!({"a": "1", "b": "2"}));
    assert_eq!(
        &f.naming.snapshot().instance("i1").unwrap().metadata["internal-eureka-vip"],
        "Demo-Vip"
    );
}

#[tokio::test]
async fn renew_cancel_and_unknown_instances() {
    let f = fixture(Default::default()).await;
    f.register("demo", "i1", "10.0.0.1").await;
    assert_eq!(
        f.call("PUT", "/eureka/apps/DEMO/i1?status=UP", &[], "")
            .await
            .0,
        StatusCode::OK
    );
    assert_eq!(
        f.call("PUT", "/eureka/apps/DEMO/nope", &[], "").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        f.call("PUT", "/eureka/apps/OTHER/i1", &[], "").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        f.call("GET", "/eureka/apps/NOPE", &[], "").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        f.call("GET", "/eureka/instances/nope", &[], "").await.0,
        StatusCode::NOT_FOUND
    );
    assert_eq!(
        f.call("DELETE", "/eureka/apps/DEMO/i1", &[], "").await.0,
        StatusCode::OK
    );
    assert!(f.naming.snapshot().instance("i1").is_none());
    let delta = f.json("/eureka/apps/delta").await;
    assert!(instances(&delta).contains(&("DEMO".into(), "i1".into(), "DELETED".into())));
    assert_eq!(
        f.json("/eureka/apps").await["applications"]["apps__hashcode"],
        ""
    );
}

#[tokio::test]
async fn vips_match_in_any_case_and_xml_is_served_by_default() {
    let f = fixture(Default::default()).await;
    f.register("demo", "i1", "10.0.0.1").await;
    let vip = f.json("/eureka/vips/demo-vip").await;
    assert_eq!(instances(&vip).len(), 1);
    assert!(instances(&f.json("/eureka/svips/demo-vip").await).is_empty());
    let (status, xml) = f.call("GET", "/eureka/apps", &[], "").await;
    assert_eq!(status, StatusCode::OK);
    let parsed = wire::parse_xml(xml.as_bytes()).unwrap();
    assert_eq!(
        parsed["applications"]["application"]["instance"]["instanceId"],
        "i1"
    );
}

#[tokio::test]
async fn xml_registration_and_sdk_instances_share_one_registry() {
    let f = fixture(Default::default()).await;
    let xml = r#"<instance><instanceId>x1</instanceId><hostName>h</hostName><app>XAPP</app>
        <ipAddr>10.0.0.9</ipAddr><status>UP</status><port enabled="true">9090</port></instance>"#;
    let (status, _) = f
        .call(
            "POST",
            "/eureka/v1/apps/XAPP",
            &[("content-type", "application/xml")],
            xml,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let spec = InstanceSpec {
        namespace: "default".into(),
        service: "sdk-svc".into(),
        host: "10.0.0.2".into(),
        port: Some(7000),
        ..Default::default()
    };
    f.naming.register_instance(spec).await.unwrap();
    let names: Vec<_> = instances(&f.json("/eureka/apps").await)
        .into_iter()
        .map(|(app, ..)| app)
        .collect();
    assert_eq!(names, ["SDK-SVC", "XAPP"]);
    assert_eq!(f.naming.snapshot().instance("x1").unwrap().port, 9090);
}

#[tokio::test]
async fn bad_input_gets_4xx() {
    let f = fixture(Default::default()).await;
    let json = [("content-type", "application/json")];
    for body in [
        "",
        "{",
        "[]",
        r#"{"instance": {"ipAddr": "1.1.1.1"}}"#,
        r#"{"instance": {"hostName": "h", "ipAddr": "1.1.1.1", "port": {"$": "x"}}}"#,
    ] {
        let (status, _) = f.call("POST", "/eureka/apps/demo", &json, body).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body:?}");
    }
    let (status, _) = f
        .call(
            "POST",
            "/eureka/apps/demo",
            &[("content-type", "application/xml")],
            "<instance><app>",
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    let (status, _) = f
        .call("POST", "/eureka/peerreplication/batch", &json, "{nope")
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(
        f.naming
            .snapshot()
            .namespace_services("default")
            .all(|s| s.instances.is_empty())
    );
}

#[tokio::test]
async fn peer_replication_applies_each_action() {
    let f = fixture(Default::default()).await;
    let batch = json!({"replicationList": [
        {"action": "Register", "appName": "PEER", "id": "p1", "instanceInfo": {"instanceId": "p1", "hostName": "h", "ipAddr": "10.0.0.3", "status": "UP"}},
        {"action": "Heartbeat", "appName": "PEER", "id": "ghost"},
        {"action": "Bogus", "appName": "PEER", "id": "p1"},
    ]});
    let (status, body) = f
        .call(
            "POST",
            "/eureka/peerreplication/batch",
            &[("content-type", "application/json")],
            &batch.to_string(),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let codes: Vec<_> = serde_json::from_str::<Value>(&body).unwrap()["responseList"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["statusCode"].as_u64().unwrap())
        .collect();
    assert_eq!(codes, [200, 404, 400]);
    assert!(f.naming.snapshot().instance("p1").is_some());
}

#[tokio::test]
async fn writes_follow_the_client_auth_switches() {
    let strict = polaris_auth::AuthOptions {
        client_open: true,
        client_strict: true,
        ..Default::default()
    };
    let f = fixture(strict).await;
    let body =
        json!({"instance": {"instanceId": "i1", "hostName": "h", "ipAddr": "1.1.1.1"}}).to_string();
    let (status, _) = f.call("POST", "/eureka/apps/demo", &[], &body).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let admin =
        "nu/0WRA4EqSR1FagrjRj0fZwPXuGlMpX+zCuWu4uMqy8xr1vRjisSbA25aAC3mtU8MeeRsKhQiDAynUR09I=";
    let (status, _) = f
        .call(
            "POST",
            "/eureka/apps/demo",
            &[("x-polaris-token", admin)],
            &body,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    // Heartbeats are never checked.
    assert_eq!(
        f.call("PUT", "/eureka/apps/demo/i1", &[], "").await.0,
        StatusCode::OK
    );
}

#[test]
fn listener_options_are_read_as_officially_named() {
    let option = json!({
        "namespace": "eureka-ns", "generateUniqueInstId": true, "deltaExpireInterval": 120,
        "customValues": {"dataCenterInfoClass": "com.netflix.appinfo.AmazonInfo", "dataCenterInfoName": "Amazon"},
        "listenPort": 8761,
    });
    let options = EurekaOptions::from_option(option.as_object().unwrap());
    assert_eq!(options.namespace, "eureka-ns");
    assert!(options.generate_unique_inst_id);
    assert_eq!(options.delta_expire, std::time::Duration::from_secs(120));
    assert_eq!(options.data_center.name, "Amazon");
    let defaults = EurekaOptions::from_option(&serde_json::Map::new());
    assert_eq!(
        (
            defaults.namespace.as_str(),
            defaults.generate_unique_inst_id
        ),
        ("default", false)
    );
}

#[tokio::test]
async fn unique_ids_and_namespaces_shape_the_polaris_id() {
    let options = EurekaOptions {
        generate_unique_inst_id: true,
        ..Default::default()
    };
    let f = fixture_with(Default::default(), options).await;
    f.register("demo", "Host-1", "10.0.0.1").await;
    assert!(f.naming.snapshot().instance("demo:host-1").is_some());
    // Clients keep using their own id.
    assert_eq!(
        f.call("PUT", "/eureka/apps/DEMO/Host-1", &[], "").await.0,
        StatusCode::OK
    );
    assert_eq!(
        f.json("/eureka/apps/DEMO/Host-1").await["instance"]["instanceId"],
        "Host-1"
    );
    let body =
        json!({"instance": {"instanceId": "i9", "hostName": "h", "ipAddr": "1.1.1.1"}}).to_string();
    let (status, _) = f
        .call(
            "POST",
            "/eureka/apps/demo",
            &[("x-namespace", "other")],
            &body,
        )
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    assert!(f.naming.snapshot().instance("other:demo:i9").is_some());
}
