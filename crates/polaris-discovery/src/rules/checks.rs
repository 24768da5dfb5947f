//! The checks every rule kind shares: sizes, ids, match strings that must compile, and the
//! services a rule names.
//!
//! Beyond the official checks, every `MatchString` of a rule is compiled with
//! `polaris-matcher` (a bad regular expression or range is refused; the official server stores
//! it and lets SDKs fail to match), and a rule may carry at most [`MAX_CONDITIONS`] arguments,
//! sources or destinations.

use polaris_matcher::{MatchKind, MatchString, Matcher};
use polaris_proto::v1;
use polaris_types::validate::is_valid_name;
use polaris_types::{Code, PolarisError, Result, RuleTarget, TargetRole};

/// Most arguments, labels, sources or destinations one rule may carry (each counted apart).
pub const MAX_CONDITIONS: usize = 1000;

/// Longest rule description (circuit breakers, fault detectors).
pub const MAX_DESCRIPTION: usize = 1024;

/// The number of Unicode scalar values, as Go's `utf8.RuneCountInString`.
pub fn runes(text: &str) -> usize {
    text.chars().count()
}

/// Refuses an empty id with the kind's code.
pub fn require_id(id: &str, code: Code) -> Result<()> {
    if id.is_empty() {
        return Err(PolarisError::new(code, "id is required"));
    }
    Ok(())
}

/// Refuses more than [`MAX_CONDITIONS`] entries of one sort.
pub fn check_count(count: usize, what: &str) -> Result<()> {
    if count > MAX_CONDITIONS {
        return Err(PolarisError::new(
            Code::InvalidParameter,
            format!("at most {MAX_CONDITIONS} {what} per rule, got {count}"),
        ));
    }
    Ok(())
}

/// Compiles a rule's match string, refusing bad regular expressions, ranges and match types
/// with `code`. Values that name a parameter or variable (`value_type` ≠ TEXT), and empty or
/// `*` values (which match anything), are not compiled.
pub fn check_match(ms: Option<&v1::MatchString>, code: Code, what: &str) -> Result<()> {
    let Some(ms) = ms else { return Ok(()) };
    let value = ms.value.as_deref().unwrap_or_default();
    if ms.value_type != 0 || value.is_empty() || value == "*" {
        return Ok(());
    }
    let kind = MatchKind::from_number(ms.r#type).ok_or_else(|| {
        PolarisError::new(code, format!("{what}: unknown match type {}", ms.r#type))
    })?;
    Matcher::compile(&MatchString::new(kind, value))
        .map(|_| ())
        .map_err(|err| PolarisError::new(code, format!("{what}: {err}")))
}

/// Adds a target once. Entries without a usable name (empty, or outside the official name
/// characters) cannot name a registered service and are left out of the index.
pub fn add_target(targets: &mut Vec<RuleTarget>, ns: &str, svc: &str, role: TargetRole) {
    let usable = |v: &str, max| v == "*" || is_valid_name(v, max);
    if !usable(ns, 64) || !usable(svc, 128) {
        return;
    }
    let target = RuleTarget {
        namespace: ns.to_string(),
        service: svc.to_string(),
        role,
    };
    if !targets.contains(&target) {
        targets.push(target);
    }
}

/// The one target of a rule aimed at a callee: every service when both parts are empty (as
/// officially), else the named one.
pub fn callee_target(targets: &mut Vec<RuleTarget>, namespace: &str, service: &str) {
    if namespace.is_empty() && service.is_empty() {
        add_target(targets, "*", "*", TargetRole::Callee);
    } else {
        add_target(targets, namespace, service, TargetRole::Callee);
    }
}

/// A rule namespace, `default` when empty.
pub fn namespace_or_default(namespace: &str) -> String {
    if namespace.is_empty() {
        polaris_types::DEFAULT_NAMESPACE.to_string()
    } else {
        namespace.to_string()
    }
}

/// The official length checks of circuit breakers and fault detectors (service 128,
/// namespaces 64, name 64 with `long_name`, description), then the required name.
pub fn check_envelope(
    (service, namespaces): (&str, [&str; 2]),
    (name, long_name): (&str, Code),
    description: &str,
) -> Result<()> {
    if runes(service) > 128 {
        return Err(Code::InvalidServiceName.into());
    }
    if namespaces.iter().any(|n| runes(n) > 64) {
        return Err(Code::InvalidNamespaceName.into());
    }
    if runes(name) > 64 {
        return Err(long_name.into());
    }
    if runes(description) > MAX_DESCRIPTION {
        return Err(Code::InvalidServiceComment.into());
    }
    if name.is_empty() {
        return Err(PolarisError::new(
            Code::InvalidCircuitBreakerName,
            "name is required",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(kind: i32, value: &str) -> v1::MatchString {
        v1::MatchString {
            r#type: kind,
            value: Some(value.into()),
            value_type: 0,
        }
    }

    #[test]
    fn match_strings_compile_or_are_refused() {
        let code = Code::InvalidParameter;
        assert!(check_match(Some(&ms(1, "^a.*b$")), code, "x").is_ok());
        assert!(check_match(Some(&ms(1, "(")), code, "x").is_err());
        assert!(check_match(Some(&ms(5, "1~10")), code, "x").is_ok());
        assert!(check_match(Some(&ms(5, "ten")), code, "x").is_err());
        assert!(check_match(Some(&ms(5, "")), code, "x").is_ok());
        assert!(check_match(Some(&ms(42, "a")), code, "x").is_err());
        let parameter = v1::MatchString {
            value_type: 1,
            ..ms(1, "(")
        };
        assert!(check_match(Some(&parameter), code, "x").is_ok());
        assert!(check_match(None, code, "x").is_ok());
    }

    #[test]
    fn targets_are_deduplicated_and_filtered() {
        let mut targets = Vec::new();
        add_target(&mut targets, "ns", "a", TargetRole::Callee);
        add_target(&mut targets, "ns", "a", TargetRole::Callee);
        add_target(&mut targets, "ns", "", TargetRole::Callee);
        add_target(&mut targets, "*", "*", TargetRole::Caller);
        add_target(&mut targets, "ns", "bad name", TargetRole::Caller);
        assert_eq!(targets.len(), 2);
        let mut everything = Vec::new();
        callee_target(&mut everything, "", "");
        assert_eq!(everything[0].service, "*");
    }

    #[test]
    fn counts_ids_and_envelopes() {
        assert!(check_count(MAX_CONDITIONS, "x").is_ok());
        assert!(check_count(MAX_CONDITIONS + 1, "x").is_err());
        assert_eq!(
            require_id("", Code::InvalidRoutingId).unwrap_err().code,
            Code::InvalidRoutingId
        );
        let long = Code::InvalidRateLimitName;
        let ok = check_envelope(("svc", ["ns", "ns"]), ("n", long), "");
        assert!(ok.is_ok());
        let named = |name| check_envelope(("svc", ["ns", ""]), (name, long), "");
        assert_eq!(named("").unwrap_err().code, Code::InvalidCircuitBreakerName);
        assert_eq!(named(&"n".repeat(65)).unwrap_err().code, long);
        let far = check_envelope(("svc", ["", &"n".repeat(65)]), ("n", long), "");
        assert_eq!(far.unwrap_err().code, Code::InvalidNamespaceName);
    }
}
