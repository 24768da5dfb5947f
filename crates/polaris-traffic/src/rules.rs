//! Helpers shared by the rule compilers: protobuf match strings to compiled matchers, service
//! names with wildcards, and the record of a rule left out.

use std::sync::Arc;

use polaris_matcher::{Argument, MatchKind, MatchString, Matcher};
use polaris_proto::v1;

/// A rule (or part of one) that could not be compiled and was left out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    /// Name or id of the rule, as the server sent it (may be empty).
    pub rule: String,
    /// Why it was left out.
    pub reason: String,
}

impl Skipped {
    pub(crate) fn new(rule: impl Into<String>, reason: impl Into<String>) -> Self {
        Skipped {
            rule: rule.into(),
            reason: reason.into(),
        }
    }
}

/// A namespace and service name, the identity of a service. The names are shared, so a key is
/// cloned (once per routed call) without allocating.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ServiceKey {
    /// Namespace.
    pub namespace: Arc<str>,
    /// Service name.
    pub service: Arc<str>,
}

impl ServiceKey {
    /// Builds a key.
    pub fn new(namespace: impl Into<Arc<str>>, service: impl Into<Arc<str>>) -> Self {
        ServiceKey {
            namespace: namespace.into(),
            service: service.into(),
        }
    }
}

/// A rule's namespace or service name: empty and `*` mean "any".
pub(crate) fn name_matches(pattern: &str, actual: &str) -> bool {
    pattern.is_empty() || pattern == "*" || pattern == actual
}

/// The match kind of a protobuf match string, `None` when the number is unknown.
pub(crate) fn match_kind(ms: &v1::MatchString) -> Option<MatchKind> {
    MatchKind::from_number(ms.r#type)
}

/// Compiles a protobuf match string (value type TEXT); an absent one matches anything.
pub(crate) fn compile_match(ms: Option<&v1::MatchString>) -> Result<Matcher, String> {
    let Some(ms) = ms else {
        return Ok(Matcher::Any);
    };
    let kind = match_kind(ms).ok_or_else(|| format!("unknown match type {}", ms.r#type))?;
    let value = ms.value.clone().unwrap_or_default();
    Matcher::compile(&MatchString::new(kind, value)).map_err(|e| e.to_string())
}

/// True when a compiled matcher accepts many values, so the official limiter and breaker keep
/// one counter per distinct value (regular expressions and the `*` wildcard).
pub(crate) fn is_wide(matcher: &Matcher) -> bool {
    matches!(matcher, Matcher::Any | Matcher::Regex(_))
}

/// The request argument a v2 `SourceMatch` (routing and lane rules) reads.
pub(crate) fn source_match_argument(argument: &v1::SourceMatch) -> Option<Argument> {
    let kind = match argument.r#type {
        0 => "CUSTOM",
        1 => "METHOD",
        2 => "HEADER",
        3 => "QUERY",
        4 => "CALLER_IP",
        5 => "PATH",
        6 => "COOKIE",
        7 => "CALLER_METADATA",
        _ => return None,
    };
    Argument::parse(kind, &argument.key)
}

#[cfg(test)]
pub(crate) fn ms(kind: i32, value: &str) -> v1::MatchString {
    v1::MatchString {
        r#type: kind,
        value: Some(value.to_string()),
        value_type: 0,
    }
}
