use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, header};
use serde_json::json;

use crate::session::{Sessions, cookie_id};

fn login_reply(token: &str) -> serde_json::Value {
    json!({ "token": token, "user_id": "u1", "name": "polaris", "role": "main", "owner_id": "u1" })
}

#[tokio::test(start_paused = true)]
async fn a_session_lives_while_used_and_ends_when_idle() {
    let sessions = Sessions::new(Duration::from_secs(60));
    let id = sessions.open(&login_reply("secret")).expect("a session");
    tokio::time::advance(Duration::from_secs(50)).await;
    let session = sessions.touch(&id).expect("still live after 50 s");
    assert_eq!(session.name, "polaris");
    // Touching restarted the idle clock: 50 s more is still within 60 s of the last use.
    tokio::time::advance(Duration::from_secs(50)).await;
    assert!(sessions.touch(&id).is_some());
    tokio::time::advance(Duration::from_secs(61)).await;
    assert!(sessions.touch(&id).is_none(), "idle for 61 s");
    assert!(sessions.is_empty(), "the expired session is forgotten");
}

#[tokio::test]
async fn sessions_have_distinct_unguessable_ids_and_csrf_tokens() {
    let sessions = Sessions::default();
    let a = sessions.open(&login_reply("t1")).expect("a");
    let b = sessions.open(&login_reply("t2")).expect("b");
    assert_ne!(a, b);
    assert_eq!(a.len(), 64);
    assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
    let (sa, sb) = (sessions.touch(&a).unwrap(), sessions.touch(&b).unwrap());
    assert_ne!(sa.csrf, sb.csrf);
    assert_ne!(sa.csrf, a, "the CSRF token is not the cookie");
    sessions.close(&a);
    assert!(sessions.touch(&a).is_none());
    assert!(sessions.touch(&b).is_some());
}

#[tokio::test]
async fn a_login_answer_without_token_opens_no_session() {
    let sessions = Sessions::default();
    assert!(sessions.open(&json!({ "name": "x" })).is_none());
    assert!(sessions.open(&serde_json::Value::Null).is_none());
    assert!(sessions.is_empty());
}

#[test]
fn the_session_cookie_is_found_among_others() {
    let mut headers = HeaderMap::new();
    headers.append(
        header::COOKIE,
        HeaderValue::from_static("a=1; polaris_session_x=2"),
    );
    assert_eq!(cookie_id(&headers), None);
    headers.append(
        header::COOKIE,
        HeaderValue::from_static("theme=dark;polaris_session=abc123; lang=zh"),
    );
    assert_eq!(cookie_id(&headers).as_deref(), Some("abc123"));
}
