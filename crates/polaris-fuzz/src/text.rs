//! Harnesses of the decoders that take text without a listener in front: the YAML bootstrap
//! configuration, match strings (regular expressions, lists, ranges) and access tokens.

use std::collections::HashMap;

use polaris_auth::token::{self, TokenOwner};
use polaris_matcher::{MatchKind, MatchString, Matcher};

/// The bootstrap configuration as `polaris-server --config FILE` loads it: `${VAR}` expansion,
/// YAML, the typed stage with its checks. A failure must be a [`ConfigError`] that renders.
///
/// [`ConfigError`]: polaris_server::config::ConfigError
pub fn server_config(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let env = HashMap::from([
        ("POLARIS_HOME".to_string(), "/var/lib/polaris".to_string()),
        ("PORT".to_string(), "8090".to_string()),
    ]);
    match polaris_server::config::load_str(text, "polaris-server.yaml", &env) {
        Ok(loaded) => {
            for warning in &loaded.warnings {
                assert!(!warning.is_empty(), "an empty warning");
            }
        }
        Err(err) => assert!(!err.to_string().is_empty(), "an error without a message"),
    }
}

/// One match string: byte 0 is the official type number, then the value up to the first NUL,
/// then the value it is tested against. What compiles must answer for any value, and a literal
/// must match itself.
pub fn match_string(data: &[u8]) {
    let Some((&kind, rest)) = data.split_first() else {
        return;
    };
    let Some(kind) = MatchKind::from_number(i32::from(kind % 6)) else {
        return;
    };
    let (pattern, probe) = match rest.iter().position(|&b| b == 0) {
        Some(at) => (&rest[..at], &rest[at + 1..]),
        None => (rest, &[][..]),
    };
    let pattern = String::from_utf8_lossy(pattern);
    let probe = String::from_utf8_lossy(probe);
    let Ok(matcher) = Matcher::compile(&MatchString::new(kind, pattern.as_ref())) else {
        return;
    };
    matcher.matches(Some(&probe));
    matcher.matches(None);
    match kind {
        MatchKind::Exact => assert!(matcher.matches(Some(&pattern)), "EXACT misses itself"),
        MatchKind::NotEquals => assert!(!matcher.matches(Some(&pattern)), "NOT_EQUALS hits itself"),
        _ => {}
    }
}

/// Salts of every accepted length; the first is the official default.
const SALTS: [&[u8]; 3] = [
    b"polarismesh@2021",
    b"polaris-fuzz-salt-24byte",
    b"polaris-fuzz-salt-of-thirty-two!",
];

/// A token as an `X-Polaris-Token` header carries it: byte 0 picks the salt, the rest is the
/// token. A token that reads must name an owner whose fresh token reads back the same.
pub fn access_token(data: &[u8]) {
    let Some((&pick, rest)) = data.split_first() else {
        return;
    };
    let salt = SALTS[usize::from(pick) % SALTS.len()];
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let Ok(owner) = token::read(salt, text) else {
        return;
    };
    match &owner {
        TokenOwner::User(id) | TokenOwner::Group(id) => {
            assert!(!id.is_empty() && !id.contains('/'), "a malformed owner id");
        }
    }
    let again = token::issue(salt, &owner);
    assert_eq!(
        token::read(salt, &again),
        Ok(owner),
        "a reissued token reads differently"
    );
}
