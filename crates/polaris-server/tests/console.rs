//! The console listener in process: the embedded app with its cache rules, the session cookie
//! and CSRF header around the OpenAPI it serves on the same origin, logout, and the cluster page.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Duration;

use polaris_server::{config, run};
use serde_json::{Value, json};

const ADMIN_TOKEN: &str =
    "nu/0WRA4EqSR1FagrjRj0fZwPXuGlMpX+zCuWu4uMqy8xr1vRjisSbA25aAC3mtU8MeeRsKhQiDAynUR09I=";

struct Reply {
    status: u16,
    headers: ureq::http::HeaderMap,
    text: String,
}

impl Reply {
    fn json(&self) -> Value {
        serde_json::from_str(&self.text).unwrap_or_else(|_| panic!("not JSON: {}", self.text))
    }
    fn header(&self, name: &str) -> &str {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
    }
}

fn call(method: &str, url: &str, headers: &[(&str, &str)], body: Option<&Value>) -> Reply {
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(20)))
        .build()
        .into();
    let mut request = ureq::http::Request::builder().method(method).uri(url);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let response = match body {
        Some(body) => agent.run(
            request
                .header("content-type", "application/json")
                .body(body.to_string())
                .unwrap(),
        ),
        None => agent.run(request.body(()).unwrap()),
    }
    .expect("request");
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let text = response.into_body().read_to_string().unwrap_or_default();
    Reply {
        status,
        headers,
        text,
    }
}

/// Runs `check` against a server whose console listens on a free port.
fn with_server(consoles_yaml: &str, check: impl FnOnce(SocketAddr) + Send + 'static) {
    let dir = tempfile::tempdir().unwrap();
    let yaml = format!(
        "apiservers:\n  - name: api-http\n    option: {{ listenIP: 127.0.0.1, listenPort: 0 }}\n{consoles_yaml}store:\n  name: embedded\n  option: {{ path: \"{}\" }}\n",
        dir.path().join("data").display()
    );
    let loaded = config::load_str(&yaml, "test.yaml", &HashMap::new()).expect("config");
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async move {
        let server = run::Server::bind(&loaded.config).await.expect("bind");
        let console = server.console_addr();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let serving = tokio::spawn(server.serve(async {
            let _ = stopped.await;
        }));
        let checked = match console {
            Some(addr) => tokio::task::spawn_blocking(move || check(addr)).await,
            None => tokio::task::spawn_blocking(move || check(([0, 0, 0, 0], 0).into())).await,
        };
        let _ = stop.send(());
        serving.await.unwrap().unwrap();
        if let Err(panic) = checked {
            std::panic::resume_unwind(panic.into_panic());
        }
    });
}

const CONSOLE: &str = "  - name: console\n    option: { listenIP: 127.0.0.1, listenPort: 0 }\n";

#[test]
fn the_app_is_served_with_its_cache_rules_and_deep_links() {
    with_server(CONSOLE, |addr| {
        let base = format!("http://{addr}");
        let index = call("GET", &format!("{base}/"), &[], None);
        assert_eq!(index.status, 200);
        assert_eq!(index.header("cache-control"), "no-cache");
        assert!(index.header("content-type").starts_with("text/html"));
        assert!(index.text.contains("<div id=\"root\">"), "{}", index.text);
        let deep = call(
            "GET",
            &format!("{base}/service-detail?namespace=default&name=echo"),
            &[],
            None,
        );
        assert_eq!(deep.status, 200);
        assert_eq!(deep.text, index.text, "a deep link gets the app");
        let script = index
            .text
            .split('"')
            .find(|part| part.starts_with("/assets/") && part.ends_with(".js"))
            .expect("a hashed script in index.html")
            .to_owned();
        let plain = call("GET", &format!("{base}{script}"), &[], None);
        assert_eq!(plain.status, 200);
        assert_eq!(
            plain.header("cache-control"),
            "public, max-age=31536000, immutable"
        );
        assert!(plain.header("content-type").starts_with("text/javascript"));
        let brotli = call(
            "GET",
            &format!("{base}{script}"),
            &[("accept-encoding", "gzip, br")],
            None,
        );
        assert_eq!(brotli.header("content-encoding"), "br");
        let etag = plain.header("etag").to_owned();
        let again = call(
            "GET",
            &format!("{base}{script}"),
            &[("if-none-match", &etag)],
            None,
        );
        assert_eq!(again.status, 304);
        let missing = call("GET", &format!("{base}/assets/index-missing.js"), &[], None);
        assert_eq!(
            missing.status, 404,
            "a missing asset is not answered with HTML"
        );
    });
}

fn cookie_of(reply: &Reply) -> Option<String> {
    reply
        .headers
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("polaris_session=") && !v.starts_with("polaris_session=;"))
        .map(str::to_owned)
}

#[test]
fn a_console_session_holds_the_token_and_writes_need_its_csrf_token() {
    with_server(CONSOLE, |addr| {
        let base = format!("http://{addr}");
        let anonymous = call("GET", &format!("{base}/console/v1/session"), &[], None).json();
        assert_eq!(anonymous["authenticated"], false);
        assert_eq!(anonymous["auth"]["consoleOpen"], true);
        let anon_csrf = anonymous["csrf"].as_str().unwrap().to_owned();
        let login_body = json!({ "name": "polaris", "password": "polaris", "owner": "polaris" });
        let login_url = format!("{base}/core/v1/user/login");

        let no_csrf = call("POST", &login_url, &[], Some(&login_body));
        assert_eq!(no_csrf.status, 403, "a write without X-Polaris-Csrf");
        let wrong = json!({ "name": "polaris", "password": "nope", "owner": "polaris" });
        let refused = call(
            "POST",
            &login_url,
            &[("x-polaris-csrf", &anon_csrf)],
            Some(&wrong),
        );
        assert_ne!(refused.json()["code"], 200000);
        assert!(cookie_of(&refused).is_none());

        let ok = call(
            "POST",
            &login_url,
            &[("x-polaris-csrf", &anon_csrf)],
            Some(&login_body),
        );
        assert_eq!(ok.json()["code"], 200000, "{}", ok.text);
        assert_eq!(
            ok.json()["loginResponse"]["token"],
            "******",
            "the token stays on the server"
        );
        assert!(!ok.text.contains(ADMIN_TOKEN));
        let set = cookie_of(&ok).expect("a session cookie");
        assert!(
            set.contains("HttpOnly") && set.contains("SameSite=Strict") && set.contains("Path=/"),
            "{set}"
        );
        let cookie = set.split(';').next().unwrap().to_owned();

        let mine = call(
            "GET",
            &format!("{base}/console/v1/session"),
            &[("cookie", &cookie)],
            None,
        )
        .json();
        assert_eq!(mine["authenticated"], true);
        assert_eq!(mine["user"]["name"], "polaris");
        let csrf = mine["csrf"].as_str().unwrap().to_owned();
        assert_ne!(csrf, anon_csrf);

        let namespaces = format!("{base}/naming/v1/namespaces");
        let listed = call("GET", &namespaces, &[("cookie", &cookie)], None);
        assert_eq!(listed.status, 200, "{}", listed.text);
        assert_eq!(
            call("GET", &namespaces, &[], None).status,
            401,
            "no cookie, no token"
        );
        let body = json!([{ "name": "from-console" }]);
        let forged = call("POST", &namespaces, &[("cookie", &cookie)], Some(&body));
        assert_eq!(forged.status, 403, "a cookie alone cannot write");
        let stale = call(
            "POST",
            &namespaces,
            &[("cookie", &cookie), ("x-polaris-csrf", &anon_csrf)],
            Some(&body),
        );
        assert_eq!(
            stale.status, 403,
            "the anonymous CSRF token is not the session's"
        );
        let made = call(
            "POST",
            &namespaces,
            &[("cookie", &cookie), ("x-polaris-csrf", &csrf)],
            Some(&body),
        );
        assert_eq!(made.json()["code"], 200000, "{}", made.text);

        // A script-supplied token is also served (same router as port 8090).
        let by_header = call(
            "GET",
            &namespaces,
            &[("x-polaris-token", ADMIN_TOKEN)],
            None,
        )
        .json();
        assert!(
            by_header["namespaces"]
                .as_array()
                .unwrap()
                .iter()
                .any(|n| n["name"] == "from-console")
        );

        let cluster = call(
            "GET",
            &format!("{base}/console/v1/cluster"),
            &[("cookie", &cookie)],
            None,
        )
        .json();
        let node = &cluster["nodes"][0];
        assert_eq!(node["state"], "serving");
        let listeners: Vec<&str> = node["listeners"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["name"].as_str().unwrap())
            .collect();
        assert!(
            listeners.contains(&"api-http") && listeners.contains(&"console"),
            "{listeners:?}"
        );
        assert_eq!(
            call("GET", &format!("{base}/console/v1/cluster"), &[], None).status,
            401
        );

        let out = call(
            "POST",
            &format!("{base}/console/v1/logout"),
            &[("cookie", &cookie), ("x-polaris-csrf", &csrf)],
            None,
        );
        assert_eq!(out.status, 200);
        assert!(out.header("set-cookie").contains("Max-Age=0"));
        assert_eq!(
            call("GET", &namespaces, &[("cookie", &cookie)], None).status,
            401,
            "the session ended"
        );
    });
}

#[test]
fn the_console_entry_can_be_left_out() {
    with_server("", |addr| {
        assert_eq!(
            addr.port(),
            0,
            "no console listener without its apiservers entry"
        );
    });
}
