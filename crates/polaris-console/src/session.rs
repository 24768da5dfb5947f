//! Console sessions. A login through the console (`POST /core/v1/user/login`) is answered with
//! the token masked and an HttpOnly, SameSite=Strict `polaris_session` cookie; the token stays
//! here, keyed by the cookie's random id, and is put into `X-Polaris-Token` for each request of
//! that session. Sessions end on logout or after [`SESSION_IDLE`] without a request.
//!
//! CSRF: every request that is not a GET or HEAD must carry `X-Polaris-Csrf`, equal to the
//! session's CSRF token (or, without a session, to the anonymous one), both readable only
//! through `GET /console/v1/session` on the same origin. A cross-site page can neither read it
//! nor send a custom header without a CORS preflight, which this listener never grants.

use std::collections::HashMap;
use std::time::Duration;

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use parking_lot::Mutex;
use polaris_types::Code;
use serde_json::{Value, json};
use tokio::time::Instant;

use crate::Console;

/// The session cookie's name.
pub const COOKIE: &str = "polaris_session";
/// The header that carries the CSRF token on writes.
pub const CSRF_HEADER: &str = "x-polaris-csrf";
/// How long a session lives without a request (sliding, as the official console's 30 min).
pub const SESSION_IDLE: Duration = Duration::from_secs(30 * 60);
/// At most this many sessions are kept; the least recently used goes first.
const MAX_SESSIONS: usize = 10_000;
const LOGIN_PATH: &str = "/core/v1/user/login";
const TOKEN_HEADER: &str = "x-polaris-token";
/// The largest login answer read back (it is a few hundred bytes).
const MAX_LOGIN_REPLY: usize = 64 * 1024;

/// Who is logged in, as the login answered.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Session {
    token: String,
    pub csrf: String,
    pub user_id: String,
    pub name: String,
    pub role: String,
    pub owner_id: String,
    last_seen: Instant,
}

/// The live sessions of this process (a restart logs everyone out).
pub struct Sessions {
    idle: Duration,
    anonymous_csrf: String,
    live: Mutex<HashMap<String, Session>>,
}

impl Default for Sessions {
    fn default() -> Self {
        Sessions::new(SESSION_IDLE)
    }
}

impl Sessions {
    pub fn new(idle: Duration) -> Self {
        Sessions {
            idle,
            anonymous_csrf: random_id(),
            live: Mutex::new(HashMap::new()),
        }
    }

    /// Starts a session for the login answer `login` (a `loginResponse` object); returns its
    /// id, or `None` when the answer holds no token.
    pub fn open(&self, login: &Value) -> Option<String> {
        let text = |key: &str| login[key].as_str().unwrap_or_default().to_owned();
        let token = text("token");
        if token.is_empty() {
            return None;
        }
        let session = Session {
            token,
            csrf: random_id(),
            user_id: text("user_id"),
            name: text("name"),
            role: text("role"),
            owner_id: text("owner_id"),
            last_seen: Instant::now(),
        };
        let id = random_id();
        let mut live = self.live.lock();
        let now = Instant::now();
        live.retain(|_, s| now.duration_since(s.last_seen) < self.idle);
        if live.len() >= MAX_SESSIONS
            && let Some(oldest) = live
                .iter()
                .min_by_key(|(_, s)| s.last_seen)
                .map(|(k, _)| k.clone())
        {
            live.remove(&oldest);
        }
        live.insert(id.clone(), session);
        Some(id)
    }

    /// The live session `id`, its idle clock restarted; an expired one is forgotten.
    pub fn touch(&self, id: &str) -> Option<Session> {
        let mut live = self.live.lock();
        let now = Instant::now();
        let session = live.get_mut(id)?;
        if now.duration_since(session.last_seen) >= self.idle {
            live.remove(id);
            return None;
        }
        session.last_seen = now;
        Some(session.clone())
    }

    /// Ends session `id`.
    pub fn close(&self, id: &str) {
        self.live.lock().remove(id);
    }

    /// How many sessions are live (expired ones may still be counted until the next login).
    pub fn len(&self) -> usize {
        self.live.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// 256 random bits, hex-encoded.
fn random_id() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

/// The session id in the request's cookies.
pub fn cookie_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value.to_owned())
}

fn set_cookie(id: &str, max_age: u64) -> HeaderValue {
    let value = format!("{COOKIE}={id}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}");
    HeaderValue::from_str(&value).unwrap_or(HeaderValue::from_static(""))
}

/// The layer in front of every route of the console listener.
pub async fn layer(State(console): State<Console>, mut request: Request, next: Next) -> Response {
    let sessions = &console.sessions;
    let cookie = cookie_id(request.headers());
    let session = cookie.as_deref().and_then(|id| sessions.touch(id));
    let safe = matches!(*request.method(), Method::GET | Method::HEAD);
    if !safe {
        let expected = session
            .as_ref()
            .map_or(sessions.anonymous_csrf.as_str(), |s| s.csrf.as_str());
        let sent = request
            .headers()
            .get(CSRF_HEADER)
            .map(HeaderValue::as_bytes);
        if sent != Some(expected.as_bytes()) {
            return refuse(
                StatusCode::FORBIDDEN,
                Code::NotAllowedAccess.value(),
                "missing or wrong X-Polaris-Csrf header; reload the console",
            );
        }
    }
    if let Some(session) = &session {
        if let Ok(token) = HeaderValue::from_str(&session.token) {
            request.headers_mut().insert(TOKEN_HEADER, token);
        }
    } else if cookie.is_some() {
        // A stale cookie never lends its place to a script-supplied token.
        request.headers_mut().remove(TOKEN_HEADER);
    }
    if request.method() == Method::POST && request.uri().path() == LOGIN_PATH {
        return login(sessions, cookie.as_deref(), next.run(request).await).await;
    }
    let mut response = next.run(request).await;
    if cookie.is_some() && session.is_none() {
        // Tell the browser to drop a cookie whose session has ended.
        response
            .headers_mut()
            .append(header::SET_COOKIE, set_cookie("", 0));
    }
    response
}

/// Turns a successful login answer into a session: the cookie is set and the token masked.
async fn login(sessions: &Sessions, previous: Option<&str>, response: Response) -> Response {
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_LOGIN_REPLY).await else {
        return refuse(
            StatusCode::INTERNAL_SERVER_ERROR,
            Code::ExecuteException.value(),
            "login answer unreadable",
        );
    };
    let mut reply: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    let ok = parts.status.is_success() && reply["code"].as_u64() == Some(200_000);
    let id = ok.then(|| sessions.open(&reply["loginResponse"])).flatten();
    let Some(id) = id else {
        // A refused login is an answer, not a transport failure: the app reads the Polaris code
        // in the body (and `X-Polaris-Code`), and the browser logs no failed resource.
        if parts.status.is_client_error() {
            parts.status = StatusCode::OK;
        }
        return Response::from_parts(parts, Body::from(bytes));
    };
    if let Some(previous) = previous {
        sessions.close(previous);
    }
    reply["loginResponse"]["token"] = json!("******");
    parts.headers.remove(header::CONTENT_LENGTH);
    parts
        .headers
        .append(header::SET_COOKIE, set_cookie(&id, SESSION_IDLE.as_secs()));
    parts
        .headers
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Response::from_parts(parts, Body::from(reply.to_string()))
}

/// `GET /console/v1/session`: who is logged in, the CSRF token for writes, the auth switches.
pub async fn show(State(console): State<Console>, headers: HeaderMap) -> Response {
    let session = cookie_id(&headers).and_then(|id| console.sessions.touch(&id));
    let options = console.auth.options();
    let auth = json!({
        "consoleOpen": options.console_open,
        "clientOpen": options.client_open,
    });
    let body = match session {
        Some(s) => json!({
            "code": 200000,
            "authenticated": true,
            "user": { "id": s.user_id, "name": s.name, "role": s.role, "ownerId": s.owner_id },
            "csrf": s.csrf,
            "idleSeconds": console.sessions.idle.as_secs(),
            "auth": auth,
        }),
        None => json!({
            "code": 200000,
            "authenticated": false,
            "csrf": console.sessions.anonymous_csrf,
            "idleSeconds": console.sessions.idle.as_secs(),
            "auth": auth,
        }),
    };
    no_store(axum::Json(body).into_response())
}

/// `POST /console/v1/logout`: ends the session and clears the cookie.
pub async fn logout(State(console): State<Console>, headers: HeaderMap) -> Response {
    if let Some(id) = cookie_id(&headers) {
        console.sessions.close(&id);
    }
    let mut response =
        no_store(axum::Json(json!({ "code": 200000, "info": "execute success" })).into_response());
    response
        .headers_mut()
        .append(header::SET_COOKIE, set_cookie("", 0));
    response
}

fn no_store(mut response: Response) -> Response {
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// A refusal in the Polaris reply shape.
pub(crate) fn refuse(status: StatusCode, code: u32, info: &str) -> Response {
    (status, axum::Json(json!({ "code": code, "info": info }))).into_response()
}
