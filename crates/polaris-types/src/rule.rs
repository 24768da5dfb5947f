//! Governance rules as the registry stores them: typed envelope fields the server needs to
//! select and order rules, plus the rule's own body, which only protocol adapters interpret.

use crate::{Millis, ServiceKey};

/// The kinds of governance rules.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RuleKind {
    Routing,
    RateLimit,
    CircuitBreaker,
    FaultDetector,
    Lane,
}

impl RuleKind {
    pub const ALL: [RuleKind; 5] = [
        RuleKind::Routing,
        RuleKind::RateLimit,
        RuleKind::CircuitBreaker,
        RuleKind::FaultDetector,
        RuleKind::Lane,
    ];

    /// A stable name, used as a storage key.
    pub fn as_str(self) -> &'static str {
        match self {
            RuleKind::Routing => "routing",
            RuleKind::RateLimit => "ratelimit",
            RuleKind::CircuitBreaker => "circuitbreaker",
            RuleKind::FaultDetector => "faultdetector",
            RuleKind::Lane => "lane",
        }
    }

    pub fn parse(name: &str) -> Option<RuleKind> {
        RuleKind::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

/// How a rule refers to a service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TargetRole {
    /// The service whose calls the rule governs as a caller (routing sources).
    Caller,
    /// The service whose instances the rule governs as a callee (routing destinations, rate
    /// limits, circuit breakers, fault detection, lanes).
    Callee,
}

/// A service a rule applies to; `*` in either part matches every namespace or service.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuleTarget {
    pub namespace: String,
    pub service: String,
    pub role: TargetRole,
}

impl RuleTarget {
    /// True when the target names `key`, exactly or by wildcard.
    pub fn matches(&self, key: &ServiceKey) -> bool {
        let part = |pattern: &str, value: &str| pattern == "*" || pattern == value;
        part(&self.namespace, &key.namespace) && part(&self.service, &key.name)
    }
}

/// One governance rule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rule {
    pub kind: RuleKind,
    pub id: String,
    pub name: String,
    pub namespace: String,
    pub enable: bool,
    /// Lower values come first.
    pub priority: u32,
    pub description: String,
    pub targets: Vec<RuleTarget>,
    /// The rule's protobuf encoding, opaque to every layer but the adapters.
    pub body: Vec<u8>,
    pub revision: String,
    pub ctime: Millis,
    pub mtime: Millis,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_match_exactly_or_by_wildcard() {
        let key = ServiceKey::new("ns", "svc");
        let target = |ns: &str, svc: &str| RuleTarget {
            namespace: ns.into(),
            service: svc.into(),
            role: TargetRole::Callee,
        };
        assert!(target("ns", "svc").matches(&key));
        assert!(target("*", "svc").matches(&key));
        assert!(target("ns", "*").matches(&key));
        assert!(target("*", "*").matches(&key));
        assert!(!target("ns", "other").matches(&key));
        assert!(!target("other", "*").matches(&key));
    }

    #[test]
    fn kinds_round_trip_their_names() {
        for kind in RuleKind::ALL {
            assert_eq!(RuleKind::parse(kind.as_str()), Some(kind));
        }
    }
}
