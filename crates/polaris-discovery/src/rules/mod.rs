//! Governance rule kinds as data: one [`RuleCodec`] per kind knows the kind's protobuf message,
//! its limits and official codes, how a rule written by a client becomes a domain [`Rule`] (with
//! its id, revision and times left to the domain), and how a stored rule is stamped with its
//! envelope for the console and for Discover. The HTTP console handlers and the Discover answers
//! (gRPC and HTTP) both go through these codecs, and a stored body is decoded once per revision
//! ([`decoded`]), whoever reads it.
//!
//! Discover delivers ROUTING (v2 rules in the v1 inbound/outbound shape the SDKs read),
//! RATE_LIMIT, CIRCUIT_BREAKER, FAULT_DETECTOR and LANE ([`payload`]).

/// The associated items of a codec whose stored body is its message `v1::$message`: the message,
/// the kind, the package-qualified name (made from the type's name, so the two cannot differ)
/// and the decoder.
macro_rules! stored_as_message {
    ($message:ident, $kind:expr) => {
        type Message = v1::$message;
        const KIND: RuleKind = $kind;
        const MESSAGE: &'static str = concat!("v1.", stringify!($message));
        type Stored = v1::$message;

        fn decode(body: &[u8]) -> Option<v1::$message> {
            v1::$message::decode(body).ok()
        }
    };
}

/// Writes the listed envelope fields of the stored `$rule` into `$out` (a copy of its body),
/// each as the official server shows it: ids, names and revisions as stored, times formatted,
/// `disable` the negation of `enable`, `etime` the last change while enabled ([`etime`]),
/// `editable` and `deleteable` true. A field the message holds as an `Option` takes `Some`.
macro_rules! stamp {
    ($out:ident, $rule:ident: $($field:ident),+) => {
        $( $out.$field = stamp!(@ $rule, $field).into(); )+
    };
    (@ $rule:ident, id) => { $rule.id.clone() };
    (@ $rule:ident, name) => { $rule.name.clone() };
    (@ $rule:ident, namespace) => { $rule.namespace.clone() };
    (@ $rule:ident, description) => { $rule.description.clone() };
    (@ $rule:ident, revision) => { $rule.revision.clone() };
    (@ $rule:ident, enable) => { $rule.enable };
    (@ $rule:ident, disable) => { !$rule.enable };
    (@ $rule:ident, priority) => { $rule.priority };
    (@ $rule:ident, ctime) => { $crate::rules::time($rule.ctime) };
    (@ $rule:ident, mtime) => { $crate::rules::time($rule.mtime) };
    (@ $rule:ident, etime) => { $crate::rules::etime($rule) };
    (@ $rule:ident, editable) => { true };
    (@ $rule:ident, deleteable) => { true };
}

/// The envelope `(name, enable, priority, description)` [`rule_spec`] takes, from a message's
/// own fields (`enable` given for kinds whose message has none).
macro_rules! envelope {
    ($rule:ident) => {
        envelope!($rule, $rule.enable)
    };
    ($rule:ident, $enable:expr) => {
        (
            $rule.name.as_str(),
            $enable,
            $rule.priority,
            $rule.description.as_str(),
        )
    };
}

pub mod checks;
mod circuitbreaker;
mod faultdetect;
mod lane;
mod ratelimit;
mod routing;
mod routing_v1;

use std::sync::Arc;

use polaris_governance::{Applicable, Governance};
use polaris_proto::v1;
use polaris_types::{PolarisError, Rule, RuleKind, ServiceKey, TargetRole};

pub use circuitbreaker::CircuitBreakers;
pub use faultdetect::FaultDetectors;
pub use lane::{LaneGroups, lane_selectors};
pub use ratelimit::RateLimits;
pub use routing::{RULE_CONFIG, RoutingRules, routing_config};
pub use routing_v1::EMPTY_ROUTING_REVISION;

/// Which write a rule arrives with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Write {
    Create,
    Update,
}

/// A rule refused by its kind's checks, and whether the official reply echoes the rule.
#[derive(Debug)]
pub struct Refusal {
    pub err: PolarisError,
    pub echo: bool,
}

impl From<PolarisError> for Refusal {
    fn from(err: PolarisError) -> Self {
        Refusal { err, echo: false }
    }
}

/// One governance rule kind.
pub trait RuleCodec: Send + Sync + 'static {
    /// The kind's protobuf message.
    type Message: prost::Message + Default + Clone + Send + Sync + 'static;
    const KIND: RuleKind;
    /// The package-qualified message name (`v1.RouteRule`), for proto-JSON and `Any` types.
    const MESSAGE: &'static str;
    /// What a stored body decodes to, once per revision (the message, or more for kinds whose
    /// message nests another encoded one).
    type Stored: Send + Sync + 'static;

    /// Decodes a stored body.
    fn decode(body: &[u8]) -> Option<Self::Stored>;

    /// Checks a rule as a client writes it (the official codes first, then our own limits and
    /// match strings) and turns it into the domain's spec, with `id` on updates.
    fn spec(
        rule: &Self::Message,
        id: Option<String>,
        write: Write,
    ) -> std::result::Result<Rule, Refusal>;

    /// The stored rule as the console lists it: its body with the envelope stamped in.
    fn console(rule: &Rule) -> Option<Self::Message>;
}

/// The domain's spec of a rule of `C`: its id on updates, its namespace, the envelope its
/// message carries (`name`, `enable`, `priority`, `description`), the services it names and its
/// stored body.
pub(crate) fn rule_spec<C: RuleCodec>(
    id: Option<String>,
    namespace: String,
    (name, enable, priority, description): (&str, bool, u32, &str),
    targets: Vec<polaris_types::RuleTarget>,
    body: &impl prost::Message,
) -> Rule {
    Rule {
        id: id.unwrap_or_default(),
        namespace,
        enable,
        priority,
        description: description.to_string(),
        ..Rule::new(C::KIND, name, targets, body.encode_to_vec())
    }
}

/// A copy of the stored body of `rule`, for kinds whose stored body is their message, to stamp
/// with the envelope.
pub(crate) fn body<C: RuleCodec<Stored = <C as RuleCodec>::Message>>(
    rule: &Rule,
) -> Option<C::Message> {
    decoded::<C>(rule).map(|body| (*body).clone())
}

/// The stored body of `rule` as `C` decodes it, at most once per revision. `None` (and an error
/// in the log) when it does not decode.
pub fn decoded<C: RuleCodec>(rule: &Rule) -> Option<Arc<C::Stored>> {
    let found = rule.body.decoded(|bytes| C::decode(bytes).ok_or(()));
    if found.is_none() {
        tracing::error!(target: "polaris_discovery", id = rule.id, kind = ?rule.kind, "undecodable stored rule");
    }
    found
}

pub(crate) use polaris_types::time::format_or_empty as time;

/// The `etime` the official server lists: the last change while enabled, else empty.
pub(crate) fn etime(rule: &Rule) -> String {
    if rule.enable {
        time(rule.mtime)
    } else {
        String::new()
    }
}

/// What a rule lookup produced for a Discover reply.
pub struct RulePayload {
    /// Empty when no rule applies (and the kind sends no payload then).
    pub revision: String,
    pub fill: Box<dyn FnOnce(&mut v1::DiscoverResponse) + Send>,
}

impl RulePayload {
    /// The payload of `found`, written into a reply by `fill(found, response)`.
    pub(crate) fn of(
        found: Applicable,
        fill: impl FnOnce(Applicable, &mut v1::DiscoverResponse) + Send + 'static,
    ) -> RulePayload {
        RulePayload {
            revision: found.revision.clone(),
            fill: Box::new(move |response| fill(found, response)),
        }
    }

    /// As [`of`](Self::of), for the kinds whose reply carries no payload when no rule applies.
    pub(crate) fn unless_empty(
        found: Applicable,
        fill: impl FnOnce(Applicable, &mut v1::DiscoverResponse) + Send + 'static,
    ) -> RulePayload {
        RulePayload::of(found, move |found, response| {
            if !found.rules.is_empty() {
                fill(found, response);
            }
        })
    }
}

/// The rules of `kind` for `real` (the alias-resolved service), shaped for a reply that names
/// `asked` (the service as requested).
pub fn payload(
    governance: &Governance,
    kind: RuleKind,
    asked: &ServiceKey,
    real: &ServiceKey,
) -> RulePayload {
    let callee = Some(TargetRole::Callee);
    match kind {
        RuleKind::Routing => routing_v1::payload(governance.rules_for(kind, real, None), real),
        RuleKind::RateLimit => ratelimit::payload(governance.rules_for(kind, real, callee), asked),
        RuleKind::CircuitBreaker => {
            circuitbreaker::payload(governance.rules_for(kind, real, callee), asked)
        }
        RuleKind::FaultDetector => faultdetect::payload(governance.rules_for(kind, real, callee)),
        RuleKind::Lane => lane::payload(governance.rules_for(kind, real, None)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use prost::Message;

    fn stored(kind: RuleKind, enable: bool, body: impl Message) -> Rule {
        Rule {
            kind,
            id: "r1".into(),
            name: "rule".into(),
            namespace: "ns".into(),
            enable,
            priority: 3,
            description: "about".into(),
            targets: Vec::new(),
            body: body.encode_to_vec().into(),
            revision: "rev".into(),
            ctime: 1_000,
            mtime: 2_000,
        }
    }

    #[test]
    fn the_console_stamps_the_envelope_into_plain_fields() {
        let rule = stored(
            RuleKind::CircuitBreaker,
            true,
            v1::CircuitBreakerRule::default(),
        );
        let out = CircuitBreakers::console(&rule).unwrap();
        assert_eq!((out.id.as_str(), out.name.as_str()), ("r1", "rule"));
        assert_eq!(
            (out.namespace.as_str(), out.revision.as_str()),
            ("ns", "rev")
        );
        assert_eq!((out.enable, out.priority), (true, 3));
        assert_eq!(out.description, "about");
        assert_eq!(out.ctime, time(1_000));
        assert_eq!(out.mtime, time(2_000));
        assert_eq!(
            out.etime, out.mtime,
            "etime is the last change while enabled"
        );
        assert!(out.editable && out.deleteable);
    }

    #[test]
    fn the_console_stamps_the_envelope_into_optional_fields() {
        let rule = stored(RuleKind::RateLimit, false, v1::Rule::default());
        let out = RateLimits::console(&rule).unwrap();
        assert_eq!(out.id.as_deref(), Some("r1"));
        assert_eq!(out.namespace.as_deref(), Some("ns"));
        assert_eq!((out.disable, out.priority), (Some(true), Some(3)));
        assert_eq!(out.ctime, Some(time(1_000)));
        assert_eq!(out.etime.as_deref(), Some(""), "no etime while disabled");
        assert!(out.editable && out.deleteable);
    }
}
