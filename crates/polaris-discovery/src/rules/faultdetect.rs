//! Fault detectors (`v1.FaultDetectRule`): aimed at a target service (every service when it
//! names none). They have no enable flag: the domain keeps them enabled.

use polaris_governance::Applicable;
use polaris_proto::v1;
use polaris_types::{Code, Rule, RuleKind};
use prost::Message;

use super::checks::{
    callee_target, check_count, check_envelope, check_match, namespace_or_default,
};
use super::{Refusal, RuleCodec, RulePayload, Write, body, rule_spec};

/// The fault-detector codec.
pub struct FaultDetectors;

impl FaultDetectors {
    /// The official length checks, then the required name (create and update).
    pub fn check_envelope(rule: &v1::FaultDetectRule) -> polaris_types::Result<()> {
        let target = rule.target_service.clone().unwrap_or_default();
        check_envelope(
            (&target.service, [&target.namespace, &rule.namespace]),
            (&rule.name, Code::InvalidRateLimitName),
            &rule.description,
        )
    }
}

/// Our own checks: sizes, and match strings that compile (400103).
fn check_matches(rule: &v1::FaultDetectRule) -> polaris_types::Result<()> {
    if let Some(http) = rule.http_config.as_ref() {
        check_count(http.headers.len(), "http headers")?;
    }
    let tcp = rule.tcp_config.as_ref().map_or(0, |c| c.receive.len());
    let udp = rule.udp_config.as_ref().map_or(0, |c| c.receive.len());
    check_count(tcp.max(udp), "receive values")?;
    let target = rule.target_service.as_ref();
    check_match(
        target.and_then(|t| t.method.as_ref()),
        Code::InvalidParameter,
        "target method",
    )?;
    check_match(
        target
            .and_then(|t| t.api.as_ref())
            .and_then(|a| a.path.as_ref()),
        Code::InvalidParameter,
        "target api path",
    )
}

impl RuleCodec for FaultDetectors {
    stored_as_message!(FaultDetectRule, RuleKind::FaultDetector);

    fn spec(rule: &Self::Message, id: Option<String>, _: Write) -> Result<Rule, Refusal> {
        Self::check_envelope(rule)?;
        check_matches(rule)?;
        let namespace = namespace_or_default(&rule.namespace);
        let target = rule.target_service.clone().unwrap_or_default();
        let mut targets = Vec::new();
        callee_target(&mut targets, &target.namespace, &target.service);
        let mut stored = rule.clone();
        stored.namespace = namespace.clone();
        let envelope = envelope!(rule, true);
        Ok(rule_spec::<Self>(id, namespace, envelope, targets, &stored))
    }

    fn console(rule: &Rule) -> Option<Self::Message> {
        let mut out = stamped(rule)?;
        stamp!(out, rule: priority, description, editable, deleteable);
        Some(out)
    }
}

/// The stored body with the envelope Discover and the console both show.
fn stamped(rule: &Rule) -> Option<v1::FaultDetectRule> {
    let mut out = body::<FaultDetectors>(rule)?;
    stamp!(out, rule: id, name, namespace, revision, ctime, mtime);
    Some(out)
}

pub(super) fn payload(found: Applicable) -> RulePayload {
    RulePayload::unless_empty(found, move |found, response| {
        response.fault_detector = Some(v1::FaultDetector {
            rules: found.rules.iter().filter_map(|r| stamped(r)).collect(),
            revision: found.revision.clone(),
        });
    })
}
