//! Circuit-breaker rules (`v1.CircuitBreakerRule`): aimed at a destination service (every
//! service when it names none), optionally from a source.

use polaris_governance::Applicable;
use polaris_proto::v1;
use polaris_types::{Code, Rule, RuleKind, ServiceKey, TargetRole};
use prost::Message;

use super::checks::{
    add_target, callee_target, check_count, check_envelope, check_match, namespace_or_default,
};
use super::{Refusal, RuleCodec, RulePayload, Write, body, rule_spec};

/// The circuit-breaker codec.
pub struct CircuitBreakers;

impl CircuitBreakers {
    /// The official length checks, then the required name (create and update).
    pub fn check_envelope(rule: &v1::CircuitBreakerRule) -> polaris_types::Result<()> {
        let source = rule
            .rule_matcher
            .as_ref()
            .and_then(|m| m.source.clone())
            .unwrap_or_default();
        check_envelope(
            (&source.service, [&source.namespace, &rule.namespace]),
            (&rule.name, Code::InvalidCircuitBreakerName),
            &rule.description,
        )
    }
}

/// Our own checks: sizes, and match strings that compile (400103).
fn check_matches(rule: &v1::CircuitBreakerRule) -> polaris_types::Result<()> {
    check_count(rule.error_conditions.len(), "error conditions")?;
    check_count(rule.trigger_condition.len(), "trigger conditions")?;
    check_count(rule.block_configs.len(), "block configs")?;
    let code = Code::InvalidParameter;
    let destination = rule
        .rule_matcher
        .as_ref()
        .and_then(|m| m.destination.as_ref());
    check_match(
        destination.and_then(|d| d.method.as_ref()),
        code,
        "destination method",
    )?;
    let mut conditions = rule.error_conditions.iter().collect::<Vec<_>>();
    for block in &rule.block_configs {
        check_count(block.error_conditions.len(), "error conditions")?;
        check_count(block.trigger_conditions.len(), "trigger conditions")?;
        check_match(
            block.api.as_ref().and_then(|a| a.path.as_ref()),
            code,
            "block api path",
        )?;
        conditions.extend(block.error_conditions.iter());
    }
    for condition in conditions {
        check_match(condition.condition.as_ref(), code, "error condition")?;
    }
    Ok(())
}

impl RuleCodec for CircuitBreakers {
    stored_as_message!(CircuitBreakerRule, RuleKind::CircuitBreaker);

    fn spec(rule: &Self::Message, id: Option<String>, _: Write) -> Result<Rule, Refusal> {
        Self::check_envelope(rule)?;
        check_matches(rule)?;
        let namespace = namespace_or_default(&rule.namespace);
        let matcher = rule.rule_matcher.clone().unwrap_or_default();
        let mut targets = Vec::new();
        let dst = matcher.destination.unwrap_or_default();
        callee_target(&mut targets, &dst.namespace, &dst.service);
        let src = matcher.source.unwrap_or_default();
        add_target(
            &mut targets,
            &src.namespace,
            &src.service,
            TargetRole::Caller,
        );
        let mut stored = rule.clone();
        stored.namespace = namespace.clone();
        let envelope = envelope!(rule);
        Ok(rule_spec::<Self>(id, namespace, envelope, targets, &stored))
    }

    fn console(rule: &Rule) -> Option<Self::Message> {
        let mut out = stamped(rule)?;
        stamp!(out, rule: priority, description, etime, editable, deleteable);
        Some(out)
    }
}

/// The stored body with the envelope Discover and the console both show.
fn stamped(rule: &Rule) -> Option<v1::CircuitBreakerRule> {
    let mut out = body::<CircuitBreakers>(rule)?;
    stamp!(out, rule: id, name, namespace, enable, revision, ctime, mtime);
    Some(out)
}

pub(super) fn payload(found: Applicable, asked: &ServiceKey) -> RulePayload {
    let asked = asked.clone();
    RulePayload::unless_empty(found, move |found, response| {
        response.circuit_breaker = Some(v1::CircuitBreaker {
            service: Some(asked.name.clone()),
            service_namespace: Some(asked.namespace.clone()),
            revision: Some(found.revision.clone()),
            rules: found.rules.iter().filter_map(|r| stamped(r)).collect(),
            ..Default::default()
        });
    })
}
