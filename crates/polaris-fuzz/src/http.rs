//! HTTP harnesses: an input becomes one request to the real router of a listener (route, query
//! string and body from the input), and the reply must be an answer, never a panic, a 5xx or a
//! hang.

use axum::body::Body;
use axum::http::{Method, Request, Response, header};

use crate::stack::{Stack, with_stack};

/// Every route of the HTTP OpenAPI (`crates/polaris-api-http`), with each method it answers.
pub const OPENAPI_ROUTES: &[(&str, &str)] = &[
    ("GET", "/"),
    ("GET", "/healthz"),
    ("GET", "/metrics"),
    ("GET", "/core/v1/auth/status"),
    ("POST", "/core/v1/user/login"),
    ("GET", "/core/v1/users"),
    ("POST", "/core/v1/users"),
    ("POST", "/core/v1/users/delete"),
    ("PUT", "/core/v1/user"),
    ("PUT", "/core/v1/user/password"),
    ("GET", "/core/v1/user/token"),
    ("PUT", "/core/v1/user/token/status"),
    ("PUT", "/core/v1/user/token/refresh"),
    ("POST", "/core/v1/usergroup"),
    ("GET", "/core/v1/usergroups"),
    ("PUT", "/core/v1/usergroups"),
    ("POST", "/core/v1/usergroups/delete"),
    ("GET", "/core/v1/usergroup/detail"),
    ("GET", "/core/v1/usergroup/token"),
    ("PUT", "/core/v1/usergroup/token/status"),
    ("PUT", "/core/v1/usergroup/token/refresh"),
    ("POST", "/core/v1/auth/strategy"),
    ("GET", "/core/v1/auth/strategy/detail"),
    ("GET", "/core/v1/auth/strategies"),
    ("PUT", "/core/v1/auth/strategies"),
    ("POST", "/core/v1/auth/strategies/delete"),
    ("GET", "/core/v1/auth/principal/resources"),
    ("POST", "/v1/RegisterInstance"),
    ("POST", "/v1/DeregisterInstance"),
    ("POST", "/v1/Heartbeat"),
    ("POST", "/v1/ReportClient"),
    ("POST", "/v1/Discover"),
    ("GET", "/v1/GetConfigFile"),
    ("POST", "/v1/WatchConfigFile"),
    ("POST", "/v1/GetConfigFileMetadataList"),
    ("POST", "/v1/ConfigDiscover"),
    ("GET", "/config/v1/GetConfigFile"),
    ("POST", "/config/v1/WatchConfigFile"),
    ("POST", "/config/v1/GetConfigFileMetadataList"),
    ("POST", "/config/v1/ConfigDiscover"),
    ("GET", "/config/v1/configfiles"),
    ("POST", "/config/v1/configfiles"),
    ("PUT", "/config/v1/configfiles"),
    ("DELETE", "/config/v1/configfiles"),
    ("GET", "/config/v1/configfiles/by-group"),
    ("GET", "/config/v1/configfiles/search"),
    ("POST", "/config/v1/configfiles/batchdelete"),
    ("GET", "/config/v1/configfilegroups"),
    ("POST", "/config/v1/configfilegroups"),
    ("PUT", "/config/v1/configfilegroups"),
    ("DELETE", "/config/v1/configfilegroups"),
    ("GET", "/config/v1/configfiles/release"),
    ("POST", "/config/v1/configfiles/release"),
    ("GET", "/config/v1/configfiles/releases"),
    ("GET", "/config/v1/configfiles/release/versions"),
    ("PUT", "/config/v1/configfiles/releases/rollback"),
    ("POST", "/config/v1/configfiles/releases/delete"),
    ("POST", "/config/v1/configfiles/releases/stopbeta"),
    ("POST", "/config/v1/configfiles/createandpub"),
    ("GET", "/config/v1/configfiles/releasehistory"),
    ("GET", "/config/v1/configfiles/encryptalgorithm"),
    ("GET", "/config/v1/configfiletemplates"),
    ("POST", "/config/v1/configfiletemplates"),
    ("POST", "/config/v1/configfiles/export"),
    ("POST", "/config/v1/configfiles/import"),
    ("GET", "/naming/v1/instances"),
    ("POST", "/naming/v1/instances"),
    ("PUT", "/naming/v1/instances"),
    ("POST", "/naming/v1/instances/delete"),
    ("POST", "/naming/v1/instances/delete/host"),
    ("PUT", "/naming/v1/instances/isolate/host"),
    ("GET", "/naming/v1/instances/count"),
    ("GET", "/naming/v1/instances/labels"),
    ("GET", "/naming/v1/namespaces"),
    ("POST", "/naming/v1/namespaces"),
    ("PUT", "/naming/v1/namespaces"),
    ("POST", "/naming/v1/namespaces/delete"),
    ("GET", "/core/v1/namespaces"),
    ("POST", "/core/v1/namespaces"),
    ("PUT", "/core/v1/namespaces"),
    ("POST", "/core/v1/namespaces/delete"),
    ("GET", "/naming/v1/namespace/token"),
    ("GET", "/core/v1/namespaces/token"),
    ("GET", "/naming/v1/services"),
    ("POST", "/naming/v1/services"),
    ("PUT", "/naming/v1/services"),
    ("POST", "/naming/v1/services/delete"),
    ("GET", "/naming/v1/services/all"),
    ("GET", "/naming/v1/services/count"),
    ("GET", "/naming/v1/service/token"),
    ("POST", "/naming/v1/service/alias"),
    ("PUT", "/naming/v1/service/alias"),
    ("GET", "/naming/v1/service/aliases"),
    ("POST", "/naming/v1/service/aliases/delete"),
    ("GET", "/naming/v1/circuitbreaker/rules"),
    ("POST", "/naming/v1/circuitbreaker/rules"),
    ("PUT", "/naming/v1/circuitbreaker/rules"),
    ("POST", "/naming/v1/circuitbreaker/rules/delete"),
    ("PUT", "/naming/v1/circuitbreaker/rules/enable"),
    ("GET", "/naming/v1/faultdetectors"),
    ("POST", "/naming/v1/faultdetectors"),
    ("PUT", "/naming/v1/faultdetectors"),
    ("POST", "/naming/v1/faultdetectors/delete"),
    ("GET", "/naming/v1/lane/groups"),
    ("POST", "/naming/v1/lane/groups"),
    ("PUT", "/naming/v1/lane/groups"),
    ("POST", "/naming/v1/lane/groups/delete"),
    ("GET", "/naming/v1/ratelimits"),
    ("POST", "/naming/v1/ratelimits"),
    ("PUT", "/naming/v1/ratelimits"),
    ("POST", "/naming/v1/ratelimits/delete"),
    ("PUT", "/naming/v1/ratelimits/enable"),
    ("GET", "/naming/v2/routings"),
    ("POST", "/naming/v2/routings"),
    ("PUT", "/naming/v2/routings"),
    ("POST", "/naming/v2/routings/delete"),
    ("PUT", "/naming/v2/routings/enable"),
    ("GET", "/naming/v1/routings"),
    ("POST", "/naming/v1/routings"),
    ("PUT", "/naming/v1/routings"),
    ("POST", "/naming/v1/routings/delete"),
];

/// Splits `data` at its first newline: the query string before it, the body after it.
pub fn split_query(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|&b| b == b'\n') {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[]),
    }
}

/// The longest URI the `http` crate represents: a longer one never reaches a router (hyper
/// refuses it while parsing the request line).
pub(crate) const MAX_URI_LEN: usize = u16::MAX as usize - 1;

/// Writes the query bytes as a valid URI query of at most `room` bytes: bytes a URI cannot
/// hold are percent-encoded, everything else (`%`, `+`, `&`, `=` included) reaches the decoder
/// as sent; what does not fit is left out.
pub fn uri_query(raw: &[u8], room: usize) -> String {
    let mut out = String::with_capacity(raw.len().min(room));
    for &b in raw {
        let plain = b.is_ascii_alphanumeric() || b"-._~%+&=,;:@/?!$'()*".contains(&b);
        if out.len() + if plain { 1 } else { 3 } > room {
            break;
        }
        if plain {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Builds a request for `method path?query` with `body` and `content_type`.
pub fn request(
    method: &str,
    path: &str,
    query: &[u8],
    content_type: &str,
    body: Vec<u8>,
) -> Request<Body> {
    let uri = if query.is_empty() {
        path.to_string()
    } else {
        let room = MAX_URI_LEN.saturating_sub(path.len() + 1);
        format!("{path}?{}", uri_query(query, room))
    };
    Request::builder()
        .method(Method::from_bytes(method.as_bytes()).expect("a known method"))
        .uri(uri)
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))
        .expect("an encodable request")
}

/// Sends `request` through `router` on `stack` and checks the reply: it arrives within the
/// deadline, is not a server error, and a JSON reply is JSON.
pub fn exchange(stack: &Stack, router: &axum::Router, request: Request<Body>) -> Vec<u8> {
    use tower::ServiceExt;
    let what = format!("{} {}", request.method(), request.uri());
    let reply = stack.run(async {
        let response: Response<Body> = router.clone().oneshot(request).await.expect("infallible");
        let status = response.status();
        let json = response
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("application/json"));
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("a readable reply");
        (status, json, body)
    });
    let Some((status, json, body)) = reply else {
        panic!("{what} did not answer within the deadline");
    };
    if crate::tracing_replies() {
        eprintln!("{what} -> {status} {}", String::from_utf8_lossy(&body));
    }
    assert!(
        !status.is_server_error(),
        "{what} answered {status}: {}",
        String::from_utf8_lossy(&body)
    );
    if json {
        serde_json::from_slice::<serde_json::Value>(&body).unwrap_or_else(|err| {
            panic!(
                "{what} answered malformed JSON ({err}): {}",
                String::from_utf8_lossy(&body)
            )
        });
    }
    body.to_vec()
}

/// One OpenAPI request: byte 0 picks the route, then the query string up to the first newline,
/// then the body (JSON for every route but the zip import, which gets it as sent).
pub fn openapi(data: &[u8]) {
    openapi_on(OPENAPI_ROUTES, data);
}

/// [`openapi`] over a subset of the routes.
pub fn openapi_on(routes: &[(&str, &str)], data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let (method, path) = routes[usize::from(pick) % routes.len()];
    let (query, body) = split_query(rest);
    let content_type = if path.ends_with("/import") {
        "multipart/form-data; boundary=polarisfuzzboundary"
    } else {
        "application/json"
    };
    with_stack(|stack| {
        let request = request(method, path, query, content_type, body.to_vec());
        exchange(stack, &stack.http, request);
    });
}

/// The governance routes only: rule bodies (routing, rate limit, circuit breaker, fault
/// detection, lanes) with their match strings.
pub fn governance_rules(data: &[u8]) {
    let routes: Vec<(&str, &str)> = OPENAPI_ROUTES
        .iter()
        .copied()
        .filter(|(method, path)| {
            *method != "GET"
                && [
                    "/circuitbreaker",
                    "/faultdetectors",
                    "/lane",
                    "/ratelimits",
                    "/routings",
                ]
                .iter()
                .any(|part| path.contains(part))
        })
        .collect();
    openapi_on(&routes, data);
}

/// Query strings of every listing route: byte 0 picks the route, the rest is the query.
pub fn query_string(data: &[u8]) {
    let Some((&pick, query)) = data.split_first() else {
        return;
    };
    let routes: Vec<&str> = OPENAPI_ROUTES
        .iter()
        .filter(|(method, _)| *method == "GET")
        .map(|(_, path)| *path)
        .collect();
    let path = routes[usize::from(pick) % routes.len()];
    with_stack(|stack| {
        let request = request("GET", path, query, "application/json", Vec::new());
        exchange(stack, &stack.http, request);
    });
}

/// The boundary [`config_zip`] frames its upload with (long, so that archive bytes never hold it).
const ZIP_BOUNDARY: &str = "polaris-fuzz-7d1f0c9e4b2a48e6a1c3";

/// A config import: the input is the uploaded archive, sent as the multipart field `config` the
/// way the console sends it, into the namespace `default` with existing files overwritten.
pub fn config_zip(data: &[u8]) {
    let mut body = format!(
        "--{ZIP_BOUNDARY}\r\nContent-Disposition: form-data; name=\"config\"; \
         filename=\"config.zip\"\r\nContent-Type: application/zip\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(data);
    body.extend_from_slice(format!("\r\n--{ZIP_BOUNDARY}--\r\n").as_bytes());
    let content_type = format!("multipart/form-data; boundary={ZIP_BOUNDARY}");
    with_stack(|stack| {
        let request = request(
            "POST",
            "/config/v1/configfiles/import",
            b"namespace=default&conflict_handling=overwrite",
            &content_type,
            body,
        );
        exchange(stack, &stack.http, request);
    });
}
