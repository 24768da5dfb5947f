//! Which part of a request a condition reads.

use std::collections::HashMap;

use crate::Matcher;

/// A request argument named by a rule (rate-limit `MatchArgument`, routing `SourceMatch`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Argument {
    /// A label the caller sets explicitly.
    Custom(String),
    Method,
    Header(String),
    Query(String),
    Cookie(String),
    Path,
    CallerIp,
    /// The calling service, written `namespace/service` or just `service`; `key` picks one.
    CallerService,
    CallerMetadata(String),
}

impl Argument {
    /// Builds an argument from the official type name (`CUSTOM`, `METHOD`, `HEADER`, `QUERY`,
    /// `COOKIE`, `PATH`, `CALLER_IP`, `CALLER_SERVICE`, `CALLER_METADATA`) and key.
    pub fn parse(kind: &str, key: &str) -> Option<Argument> {
        Some(match kind {
            "CUSTOM" => Argument::Custom(key.to_string()),
            "METHOD" => Argument::Method,
            "HEADER" => Argument::Header(key.to_string()),
            "QUERY" => Argument::Query(key.to_string()),
            "COOKIE" => Argument::Cookie(key.to_string()),
            "PATH" => Argument::Path,
            "CALLER_IP" => Argument::CallerIp,
            "CALLER_SERVICE" => Argument::CallerService,
            "CALLER_METADATA" => Argument::CallerMetadata(key.to_string()),
            _ => return None,
        })
    }

    /// The value of this argument in the request, if present.
    pub fn value<'a>(&self, ctx: &'a RequestContext) -> Option<&'a str> {
        match self {
            Argument::Custom(key) => ctx.custom.get(key).map(String::as_str),
            Argument::Method => ctx.method.as_deref(),
            Argument::Header(key) => ctx
                .headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .map(|(_, v)| v.as_str()),
            Argument::Query(key) => ctx.query.get(key).map(String::as_str),
            Argument::Cookie(key) => ctx.cookies.get(key).map(String::as_str),
            Argument::Path => ctx.path.as_deref(),
            Argument::CallerIp => ctx.caller_ip.as_deref(),
            Argument::CallerService => ctx.caller_service.as_deref(),
            Argument::CallerMetadata(key) => ctx.caller_metadata.get(key).map(String::as_str),
        }
    }
}

/// What a caller knows about one request.
#[derive(Clone, Debug, Default)]
pub struct RequestContext {
    pub method: Option<String>,
    pub path: Option<String>,
    pub headers: HashMap<String, String>,
    pub query: HashMap<String, String>,
    pub cookies: HashMap<String, String>,
    pub caller_ip: Option<String>,
    pub caller_service: Option<String>,
    pub caller_metadata: HashMap<String, String>,
    pub custom: HashMap<String, String>,
}

/// One condition of a rule: an argument and how its value must match.
#[derive(Clone, Debug)]
pub struct Condition {
    pub argument: Argument,
    pub matcher: Matcher,
}

impl Condition {
    pub fn matches(&self, ctx: &RequestContext) -> bool {
        self.matcher.matches(self.argument.value(ctx))
    }

    /// True when every condition holds (an empty list always holds).
    pub fn all(conditions: &[Condition], ctx: &RequestContext) -> bool {
        conditions.iter().all(|c| c.matches(ctx))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{MatchKind, MatchString};

    fn condition(kind: &str, key: &str, match_kind: MatchKind, value: &str) -> Condition {
        Condition {
            argument: Argument::parse(kind, key).unwrap(),
            matcher: Matcher::compile(&MatchString::new(match_kind, value)).unwrap(),
        }
    }

    #[test]
    fn arguments_read_their_part_of_the_request() {
        let mut ctx = RequestContext {
            method: Some("GET".into()),
            path: Some("/orders".into()),
            ..Default::default()
        };
        ctx.headers.insert("X-User".into(), "vip".into());
        ctx.query.insert("page".into(), "3".into());
        ctx.caller_ip = Some("10.0.0.7".into());
        ctx.caller_metadata.insert("env".into(), "gray".into());
        let all = [
            condition("METHOD", "", MatchKind::In, "GET,POST"),
            condition("PATH", "", MatchKind::Regex, "^/orders"),
            condition("HEADER", "x-user", MatchKind::Exact, "vip"),
            condition("QUERY", "page", MatchKind::Range, "1~5"),
            condition("CALLER_IP", "", MatchKind::NotEquals, "10.0.0.1"),
            condition("CALLER_METADATA", "env", MatchKind::Exact, "gray"),
        ];
        assert!(Condition::all(&all, &ctx));
        let failing = condition("QUERY", "page", MatchKind::Range, "4~5");
        assert!(!failing.matches(&ctx));
        assert!(
            !condition("COOKIE", "sid", MatchKind::Exact, "x").matches(&ctx),
            "absent cookie"
        );
        assert!(Argument::parse("UNKNOWN", "").is_none());
    }
}
