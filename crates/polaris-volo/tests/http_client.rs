//! polaris-volo with volo-http clients against the real server binary: small volo-http
//! servers registered in Polaris, called through `PolarisDiscover` and `PolarisLoadBalance`
//! with the route-labels and breaker layers: routing by a header rule and by destination
//! metadata, a dead instance avoided, a deregistered one left, a failing one ejected.

use std::net::SocketAddr;
use std::time::Duration;

use polaris_sdk::{Client, InstanceSpec, LbPolicy, Registration, ServiceKey, Settings};
use polaris_testkit::fixtures::{self, vip_user};
use polaris_testkit::server as support;
use polaris_testkit::server::{TestServer, eventually};
use polaris_volo::{CircuitBreakerLayer, PolarisDiscover, PolarisLoadBalance};
use serde_json::json;
use volo_http::body::BodyConversion;
use volo_http::server::Server;
use volo_http::server::route::{Router, get};

const DEADLINE: Duration = Duration::from_secs(20);

async fn polaris_client(server: &TestServer) -> Client {
    let mut settings = Settings::default();
    settings.consumer.circuit_breaker.sleep_window = Duration::from_secs(2);
    Client::builder()
        .settings(settings)
        .addresses([server.naming_addr()])
        .persist_dir(None)
        .timeout(Duration::from_secs(2))
        .build()
        .await
        .expect("client")
}

/// A volo-http server answering `GET /who` with its name (or 503 on every call when
/// `failing`), registered as an instance of `service` with `metadata`; stops and
/// deregisters when dropped.
struct HttpProvider {
    name: &'static str,
    server: tokio::task::JoinHandle<()>,
    registration: Option<Registration>,
}

impl HttpProvider {
    async fn start(
        c: &Client,
        service: &str,
        name: &'static str,
        metadata: &[(&str, &str)],
        failing: bool,
    ) -> HttpProvider {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address: SocketAddr = listener.local_addr().unwrap();
        let app = Router::new().route(
            "/who",
            get(move || async move {
                if failing {
                    Err((http::StatusCode::SERVICE_UNAVAILABLE, "failing on purpose"))
                } else {
                    Ok(name)
                }
            }),
        );
        let incoming = volo::net::incoming::DefaultIncoming::from(listener);
        let server = tokio::spawn(async move {
            let _ = Server::new(app).run(incoming).await;
        });
        let spec = InstanceSpec::new("default", service, "127.0.0.1", u32::from(address.port()))
            .metadata(metadata.iter().copied());
        let registration = c.provider().register(spec).await.expect("registered");
        HttpProvider {
            name,
            server,
            registration: Some(registration),
        }
    }

    /// Deregisters (the server keeps running until dropped).
    async fn deregister(&mut self) {
        if let Some(registration) = self.registration.take() {
            registration.deregister().await.expect("deregistered");
        }
    }
}

impl Drop for HttpProvider {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn instance_count(c: &Client, service: &str) -> usize {
    let key = ServiceKey::new("default", service);
    c.consumer()
        .get_all_instances(&key)
        .await
        .map_or(0, |all| all.instances.len())
}

/// A volo-http client of the services Polaris knows, with every layer of the crate.
fn http_client(c: &Client, balance: PolarisLoadBalance) -> volo_http::Client {
    let discover = PolarisDiscover::new(c);
    volo_http::Client::builder()
        .layer_outer(balance.route_labels_layer())
        .layer_inner(CircuitBreakerLayer::new(&discover))
        .discover(discover)
        .load_balance(balance)
        .build()
        .expect("an HTTP client")
}

/// `GET http://<service>/who` (with `x-user` when given): the answering server's name, or
/// the status / error as text.
async fn who(
    client: &volo_http::Client,
    service: &str,
    user: Option<&str>,
) -> Result<String, String> {
    let mut request = client.get(format!("http://{service}/who"));
    if let Some(user) = user {
        request = request.header("x-user", user);
    }
    let response = request.send().await.map_err(|e| format!("error: {e}"))?;
    let status = response.status();
    let body = response
        .into_string()
        .await
        .map_err(|e| format!("body: {e}"))?;
    if status.is_success() {
        Ok(body)
    } else {
        Err(format!("status {status}"))
    }
}

async fn wait_for_instances(c: &Client, service: &str, count: usize) {
    eventually("the instances listed", DEADLINE, async || {
        (instance_count(c, service).await == count).then_some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_calls_are_routed_by_header_rules_and_destination_metadata() {
    let server = TestServer::start();
    let c = polaris_client(&server).await;
    let gray = HttpProvider::start(&c, "http-route", "gray", &[("env", "gray")], false).await;
    let prod = HttpProvider::start(&c, "http-route", "prod", &[("env", "prod")], false).await;
    wait_for_instances(&c, "http-route", 2).await;
    let on_who = json!({"type": "PATH", "key": "$path",
        "value": {"type": "EXACT", "value": "/who"}});
    let rule = fixtures::web_to_gray("http-vip-to-gray", "http-route", &[vip_user(), on_who]);
    let created = server.post("/naming/v2/routings", &rule);
    assert_eq!(created["code"], 200_000, "{created}");
    let client = http_client(&c, PolarisLoadBalance::new().caller("default", "web"));
    eventually("vip users routed to gray only", DEADLINE, async || {
        for _ in 0..20 {
            if who(&client, "http-route", Some("vip-7")).await.ok()? != gray.name {
                return None;
            }
        }
        Some(())
    })
    .await;
    // Other users match no rule (failover `all`): both instances serve them.
    eventually("other users reach prod too", DEADLINE, async || {
        (who(&client, "http-route", Some("bob")).await.ok()? == prod.name).then_some(())
    })
    .await;
    // Destination metadata keeps every call on the matching instance.
    let pinned = http_client(
        &c,
        PolarisLoadBalance::new().destination_metadata("env", "prod"),
    );
    for _ in 0..20 {
        assert_eq!(
            who(&pinned, "http-route", None).await.as_deref(),
            Ok("prod")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_calls_fail_over_from_dead_and_departed_instances() {
    let server = TestServer::start();
    let c = polaris_client(&server).await;
    let mut first = HttpProvider::start(&c, "http-failover", "first", &[], false).await;
    let _second = HttpProvider::start(&c, "http-failover", "second", &[], false).await;
    // A registered, heartbeating instance with nothing listening at its port.
    let dead_port = support::free_port();
    let _dead = c
        .provider()
        .register(InstanceSpec::new(
            "default",
            "http-failover",
            "127.0.0.1",
            u32::from(dead_port),
        ))
        .await
        .unwrap();
    wait_for_instances(&c, "http-failover", 3).await;
    let client = http_client(
        &c,
        PolarisLoadBalance::new().load_balancer(LbPolicy::RoundRobin),
    );
    let mut refused = 0;
    for _ in 0..30 {
        match who(&client, "http-failover", None).await {
            Ok(name) => assert!(name == "first" || name == "second", "{name}"),
            Err(_) => refused += 1,
        }
    }
    // Round robin would send a third of the calls to the dead instance: the first refusal
    // keeps it out for 2 s (a slow machine may see one more window).
    assert!(
        (1..=3).contains(&refused),
        "{refused} calls reached the dead instance"
    );
    // An instance that leaves is no longer called once the change is pushed.
    first.deregister().await;
    eventually("only the second instance answers", DEADLINE, async || {
        for _ in 0..10 {
            if who(&client, "http-failover", None).await.ok()? != "second" {
                return None;
            }
        }
        Some(())
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_instance_answering_5xx_is_ejected_by_its_breaker() {
    let server = TestServer::start();
    let c = polaris_client(&server).await;
    let _good = HttpProvider::start(&c, "http-breaker", "good", &[], false).await;
    let _bad = HttpProvider::start(&c, "http-breaker", "bad", &[], true).await;
    wait_for_instances(&c, "http-breaker", 2).await;
    let client = http_client(
        &c,
        PolarisLoadBalance::new().load_balancer(LbPolicy::RoundRobin),
    );
    // The default instance rule opens after 10 consecutive failures of an instance; round
    // robin reaches the failing one every other call until then.
    let mut failed = 0;
    for _ in 0..40 {
        if who(&client, "http-breaker", None).await.is_err() {
            failed += 1;
        }
    }
    assert!((10..=14).contains(&failed), "{failed} calls failed");
    // Ejected: the good instance answers (a sleep window ending meanwhile lets one trial
    // call through to the failing one).
    let mut answers = Vec::new();
    for _ in 0..10 {
        answers.push(who(&client, "http-breaker", None).await);
    }
    let good = answers
        .iter()
        .filter(|a| a.as_deref() == Ok("good"))
        .count();
    assert!(good >= 9, "{answers:?}");
}
