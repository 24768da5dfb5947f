//! Governance rules as the registry stores them: typed envelope fields the server needs to
//! select and order rules, plus the rule's own body, which only protocol adapters interpret.

use std::any::Any;
use std::fmt;
use std::sync::{Arc, OnceLock};

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
    pub body: RuleBody,
    pub revision: String,
    pub ctime: Millis,
    pub mtime: Millis,
}

impl Rule {
    /// A rule of `kind` named `name` as a caller writes it: enabled, in namespace `default`,
    /// priority 0, no description, and no id, revision or times yet (the domain sets them).
    pub fn new(kind: RuleKind, name: &str, targets: Vec<RuleTarget>, body: Vec<u8>) -> Rule {
        Rule {
            kind,
            id: String::new(),
            name: name.to_string(),
            namespace: "default".to_string(),
            enable: true,
            priority: 0,
            description: String::new(),
            targets,
            body: body.into(),
            revision: String::new(),
            ctime: 0,
            mtime: 0,
        }
    }
}

/// A rule's encoded body and, once an adapter has asked for it, its decoded form. A rule is
/// immutable (a change makes a new [`Rule`] with a new revision), so the body is decoded at most
/// once per revision, whoever reads it, and the decoded form goes away with the rule.
#[derive(Clone, Default)]
pub struct RuleBody {
    bytes: Vec<u8>,
    decoded: OnceLock<Arc<dyn Any + Send + Sync>>,
}

impl RuleBody {
    pub fn as_slice(&self) -> &[u8] {
        &self.bytes
    }

    pub fn to_vec(&self) -> Vec<u8> {
        self.bytes.clone()
    }

    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The body decoded by `decode`, computed on the first call and shared afterwards. `None`
    /// when it does not decode (not remembered: a bad body is logged by the caller each time)
    /// or when an earlier caller decoded it as another type.
    pub fn decoded<T, E>(&self, decode: impl FnOnce(&[u8]) -> Result<T, E>) -> Option<Arc<T>>
    where
        T: Send + Sync + 'static,
    {
        if let Some(found) = self.decoded.get() {
            return Arc::clone(found).downcast::<T>().ok();
        }
        let value: Arc<dyn Any + Send + Sync> = Arc::new(decode(&self.bytes).ok()?);
        let kept = self.decoded.get_or_init(|| value);
        Arc::clone(kept).downcast::<T>().ok()
    }
}

impl From<Vec<u8>> for RuleBody {
    fn from(bytes: Vec<u8>) -> Self {
        RuleBody {
            bytes,
            decoded: OnceLock::new(),
        }
    }
}

impl AsRef<[u8]> for RuleBody {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

impl PartialEq for RuleBody {
    fn eq(&self, other: &Self) -> bool {
        self.bytes == other.bytes
    }
}

impl Eq for RuleBody {}

impl fmt::Debug for RuleBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RuleBody({} bytes)", self.bytes.len())
    }
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
    fn bodies_decode_once_and_compare_by_bytes() {
        let calls = std::sync::atomic::AtomicUsize::new(0);
        let body = RuleBody::from(vec![1, 2, 3]);
        let decode = |bytes: &[u8]| {
            calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            Ok::<_, ()>(bytes.len())
        };
        assert_eq!(body.decoded(decode).as_deref(), Some(&3));
        assert_eq!(body.decoded(decode).as_deref(), Some(&3));
        assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 1);
        assert!(body.decoded(|_| Ok::<_, ()>("other type")).is_none());
        let failing = RuleBody::from(vec![9]);
        assert!(failing.decoded(|_| Err::<usize, _>(())).is_none());
        assert_eq!(failing.decoded(|b| Ok::<_, ()>(b[0])).as_deref(), Some(&9));
        assert_eq!(body, RuleBody::from(vec![1, 2, 3]));
        assert_ne!(body, failing);
    }

    #[test]
    fn kinds_round_trip_their_names() {
        for kind in RuleKind::ALL {
            assert_eq!(RuleKind::parse(kind.as_str()), Some(kind));
        }
    }
}
