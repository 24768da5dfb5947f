//! Match strings and their compiled form.

use regex::{Regex, RegexBuilder};

/// Longest regular expression accepted.
pub const MAX_REGEX_LEN: usize = 4096;
/// Compiled-program size limit, so hostile patterns cannot take memory or time.
const REGEX_SIZE_LIMIT: usize = 1 << 20;

/// How a value is compared (`MatchString.type`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MatchKind {
    Exact,
    Regex,
    NotEquals,
    In,
    NotIn,
    Range,
}

impl MatchKind {
    /// The official enum name.
    pub const fn name(self) -> &'static str {
        match self {
            MatchKind::Exact => "EXACT",
            MatchKind::Regex => "REGEX",
            MatchKind::NotEquals => "NOT_EQUALS",
            MatchKind::In => "IN",
            MatchKind::NotIn => "NOT_IN",
            MatchKind::Range => "RANGE",
        }
    }

    /// Parses the official enum name.
    pub fn parse(name: &str) -> Option<MatchKind> {
        Some(match name {
            "EXACT" => MatchKind::Exact,
            "REGEX" => MatchKind::Regex,
            "NOT_EQUALS" => MatchKind::NotEquals,
            "IN" => MatchKind::In,
            "NOT_IN" => MatchKind::NotIn,
            "RANGE" => MatchKind::Range,
            _ => return None,
        })
    }

    /// The official enum number.
    pub fn from_number(number: i32) -> Option<MatchKind> {
        Some(match number {
            0 => MatchKind::Exact,
            1 => MatchKind::Regex,
            2 => MatchKind::NotEquals,
            3 => MatchKind::In,
            4 => MatchKind::NotIn,
            5 => MatchKind::Range,
            _ => return None,
        })
    }
}

/// A comparison as written in a rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MatchString {
    pub kind: MatchKind,
    pub value: String,
}

impl MatchString {
    pub fn new(kind: MatchKind, value: impl Into<String>) -> Self {
        MatchString {
            kind,
            value: value.into(),
        }
    }
}

/// Why a match string cannot be compiled.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MatchError {
    #[error("invalid regular expression {pattern:?}: {reason}")]
    Regex { pattern: String, reason: String },
    #[error("invalid range {0:?}: expected `low~high` with integers, low <= high")]
    Range(String),
}

/// A compiled match string.
#[derive(Clone, Debug)]
pub enum Matcher {
    /// Matches any value, even an absent one.
    Any,
    Exact(String),
    Regex(Regex),
    NotEquals(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    /// Inclusive integer bounds.
    Range(i64, i64),
}

fn split_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
        .collect()
}

impl Matcher {
    /// Compiles a match string, refusing bad regular expressions and ranges.
    pub fn compile(ms: &MatchString) -> Result<Matcher, MatchError> {
        let value = ms.value.as_str();
        Ok(match ms.kind {
            MatchKind::Exact if value.is_empty() || value == "*" => Matcher::Any,
            MatchKind::Exact => Matcher::Exact(value.to_string()),
            MatchKind::Regex => {
                if value.len() > MAX_REGEX_LEN {
                    return Err(MatchError::Regex {
                        pattern: value.chars().take(64).collect(),
                        reason: format!("longer than {MAX_REGEX_LEN} bytes"),
                    });
                }
                let regex = RegexBuilder::new(value)
                    .size_limit(REGEX_SIZE_LIMIT)
                    .dfa_size_limit(REGEX_SIZE_LIMIT)
                    .build()
                    .map_err(|e| MatchError::Regex {
                        pattern: value.to_string(),
                        reason: e.to_string(),
                    })?;
                Matcher::Regex(regex)
            }
            MatchKind::NotEquals => Matcher::NotEquals(value.to_string()),
            MatchKind::In => Matcher::In(split_list(value)),
            MatchKind::NotIn => Matcher::NotIn(split_list(value)),
            MatchKind::Range => {
                let bad = || MatchError::Range(value.to_string());
                let (low, high) = value.split_once('~').ok_or_else(bad)?;
                let low: i64 = low.trim().parse().map_err(|_| bad())?;
                let high: i64 = high.trim().parse().map_err(|_| bad())?;
                if low > high {
                    return Err(bad());
                }
                Matcher::Range(low, high)
            }
        })
    }

    /// True when `value` (absent when the request lacks the argument) satisfies the matcher.
    /// An absent value matches only `Any`, `NotEquals` and `NotIn`.
    pub fn matches(&self, value: Option<&str>) -> bool {
        match (self, value) {
            (Matcher::Any, _) => true,
            (Matcher::NotEquals(_) | Matcher::NotIn(_), None) => true,
            (_, None) => false,
            (Matcher::Exact(expected), Some(v)) => expected == v,
            (Matcher::Regex(regex), Some(v)) => regex.is_match(v),
            (Matcher::NotEquals(other), Some(v)) => other != v,
            (Matcher::In(values), Some(v)) => values.iter().any(|x| x == v),
            (Matcher::NotIn(values), Some(v)) => !values.iter().any(|x| x == v),
            (Matcher::Range(low, high), Some(v)) => v
                .trim()
                .parse::<i64>()
                .is_ok_and(|n| (*low..=*high).contains(&n)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn compile(kind: MatchKind, value: &str) -> Matcher {
        Matcher::compile(&MatchString::new(kind, value)).unwrap()
    }

    #[test]
    fn examples() {
        assert!(compile(MatchKind::Exact, "*").matches(None));
        assert!(compile(MatchKind::Exact, "").matches(Some("x")));
        assert!(compile(MatchKind::Exact, "a").matches(Some("a")));
        assert!(!compile(MatchKind::Exact, "a").matches(Some("A")));
        assert!(!compile(MatchKind::Exact, "a").matches(None));
        assert!(compile(MatchKind::Regex, "^v1\\.").matches(Some("v1.2")));
        assert!(
            compile(MatchKind::Regex, "beta").matches(Some("v2-beta-3")),
            "unanchored finds"
        );
        assert!(compile(MatchKind::In, "a, b,c").matches(Some("b")));
        assert!(!compile(MatchKind::In, "a,b").matches(Some("c")));
        assert!(compile(MatchKind::NotIn, "a,b").matches(Some("c")));
        assert!(compile(MatchKind::NotIn, "a,b").matches(None));
        assert!(compile(MatchKind::Range, "10~20").matches(Some("10")));
        assert!(compile(MatchKind::Range, "10~20").matches(Some("20")));
        assert!(!compile(MatchKind::Range, "10~20").matches(Some("21")));
        assert!(!compile(MatchKind::Range, "10~20").matches(Some("abc")));
        assert!(compile(MatchKind::NotEquals, "a").matches(Some("b")));
    }

    #[test]
    fn invalid_patterns_are_refused() {
        for (kind, value) in [
            (MatchKind::Regex, "("),
            (MatchKind::Regex, "[z-a]"),
            (MatchKind::Range, "5"),
            (MatchKind::Range, "9~1"),
            (MatchKind::Range, "a~b"),
        ] {
            assert!(
                Matcher::compile(&MatchString::new(kind, value)).is_err(),
                "{value}"
            );
        }
        let huge = "a".repeat(MAX_REGEX_LEN + 1);
        assert!(Matcher::compile(&MatchString::new(MatchKind::Regex, huge)).is_err());
        // A pattern whose compiled program explodes is refused instead of eating memory.
        assert!(Matcher::compile(&MatchString::new(MatchKind::Regex, "(\\w{500}){500}")).is_err());
    }

    proptest! {
        #[test]
        fn in_and_not_in_are_complements(values in proptest::collection::vec("[a-z]{1,4}", 1..6), probe in "[a-z]{1,4}") {
            let list = values.join(",");
            let inside = compile(MatchKind::In, &list).matches(Some(&probe));
            let outside = compile(MatchKind::NotIn, &list).matches(Some(&probe));
            prop_assert_ne!(inside, outside);
            prop_assert_eq!(inside, values.contains(&probe));
        }

        #[test]
        fn range_is_inclusive(low in -1000i64..1000, span in 0i64..1000, probe in -3000i64..3000) {
            let high = low + span;
            let matcher = compile(MatchKind::Range, &format!("{low}~{high}"));
            prop_assert_eq!(matcher.matches(Some(&probe.to_string())), low <= probe && probe <= high);
        }

        #[test]
        fn escaped_regex_finds_the_literal(literal in "[ -~]{1,12}", prefix in "[a-z]{0,3}", suffix in "[a-z]{0,3}") {
            let matcher = compile(MatchKind::Regex, &regex::escape(&literal));
            let haystack = format!("{prefix}{literal}{suffix}");
            prop_assert!(matcher.matches(Some(&haystack)));
            let anchored = compile(MatchKind::Regex, &format!("^{}$", regex::escape(&literal)));
            prop_assert_eq!(anchored.matches(Some(&haystack)), prefix.is_empty() && suffix.is_empty());
        }

        #[test]
        fn exact_and_not_equals_are_complements(a in "[a-z]{0,4}", b in "[a-z]{1,4}") {
            prop_assume!(!a.is_empty());
            let equal = compile(MatchKind::Exact, &a).matches(Some(&b));
            let differ = compile(MatchKind::NotEquals, &a).matches(Some(&b));
            prop_assert_ne!(equal, differ);
        }
    }
}
