//! Rate-limit rules (`v1.Rule`): one callee service each, with amounts per duration.

use std::collections::HashSet;

use polaris_governance::Applicable;
use polaris_proto::v1;
use polaris_types::validate::is_valid_name;
use polaris_types::{Code, PolarisError, Result, Rule, RuleKind, ServiceKey, TargetRole};
use prost::Message;

use super::checks::{add_target, check_count, check_match, runes};
use super::{Refusal, RuleCodec, RulePayload, Write, body, rule_spec};

/// The largest `google.protobuf.Duration`, in seconds (10,000 years).
const MAX_DURATION_SECS: i64 = 315_576_000_000;

/// The rate-limit codec.
pub struct RateLimits;

fn text(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or_default()
}

/// The amounts check of the official server: every amount has a valid `validDuration`, and no
/// two amounts share one.
fn check_amounts(rule: &v1::Rule) -> Result<()> {
    let mut seen = HashSet::new();
    for amount in &rule.amounts {
        let Some(d) = amount.valid_duration.as_ref() else {
            return Err(PolarisError::new(
                Code::InvalidRateLimitAmounts,
                "validDuration is required",
            ));
        };
        let in_range = d.seconds.abs() <= MAX_DURATION_SECS
            && d.nanos.abs() < 1_000_000_000
            && !(d.seconds > 0 && d.nanos < 0 || d.seconds < 0 && d.nanos > 0);
        if !in_range {
            return Err(PolarisError::new(
                Code::InvalidRateLimitAmounts,
                "validDuration is out of range",
            ));
        }
        if !seen.insert((d.seconds, d.nanos)) {
            return Err(PolarisError::new(
                Code::InvalidRateLimitAmounts,
                "duplicate validDuration in amounts",
            ));
        }
    }
    Ok(())
}

/// Our own checks: sizes, and match strings that compile (400152).
fn check_matches(rule: &v1::Rule) -> Result<()> {
    check_count(rule.arguments.len(), "arguments")?;
    check_count(rule.labels.len() + rule.subset.len(), "labels")?;
    check_count(rule.amounts.len(), "amounts")?;
    let code = Code::InvalidRateLimitLabels;
    check_match(rule.method.as_ref(), code, "method")?;
    for arg in &rule.arguments {
        check_match(arg.value.as_ref(), code, &format!("argument {:?}", arg.key))?;
    }
    for (key, label) in rule.labels.iter().chain(rule.subset.iter()) {
        check_match(Some(label), code, &format!("label {key:?}"))?;
    }
    Ok(())
}

impl RuleCodec for RateLimits {
    stored_as_message!(Rule, RuleKind::RateLimit);

    /// A create also checks namespace and service against the name pattern.
    fn spec(rule: &v1::Rule, id: Option<String>, write: Write) -> Result<Rule, Refusal> {
        let create = write == Write::Create;
        let (namespace, service) = (text(&rule.namespace), text(&rule.service));
        if create && !is_valid_name(namespace, usize::MAX) || runes(namespace) > 64 {
            return Err(PolarisError::from(Code::InvalidNamespaceName).into());
        }
        if create && !is_valid_name(service, usize::MAX) || runes(service) > 128 {
            return Err(PolarisError::from(Code::InvalidServiceName).into());
        }
        if runes(text(&rule.name)) > 64 {
            return Err(PolarisError::from(Code::InvalidRateLimitName).into());
        }
        check_amounts(rule)?;
        check_matches(rule)?;
        let mut targets = Vec::new();
        add_target(&mut targets, namespace, service, TargetRole::Callee);
        let mut stored = rule.clone();
        stored.id = None;
        // The token only authorises the write; it is never stored or listed.
        stored.service_token = None;
        let envelope = (
            text(&rule.name),
            !rule.disable.unwrap_or(false),
            rule.priority.unwrap_or(0),
            "",
        );
        Ok(rule_spec::<Self>(
            id,
            namespace.to_string(),
            envelope,
            targets,
            &stored,
        ))
    }

    /// The console form: `REJECT` when no action is set, labels listed as custom arguments.
    fn console(rule: &Rule) -> Option<v1::Rule> {
        let mut out = stamped(rule)?;
        stamp!(out, rule: namespace, etime, editable, deleteable);
        if text(&out.action).is_empty() {
            out.action = Some("REJECT".into());
        }
        let mut labels: Vec<_> = std::mem::take(&mut out.labels).into_iter().collect();
        labels.sort_by(|a, b| a.0.cmp(&b.0));
        out.arguments
            .extend(labels.into_iter().map(|(key, value)| v1::MatchArgument {
                r#type: v1::match_argument::Type::Custom as i32,
                key,
                value: Some(value),
            }));
        Some(out)
    }
}

/// The stored body with the envelope Discover and the console both show.
fn stamped(rule: &Rule) -> Option<v1::Rule> {
    let mut out = body::<RateLimits>(rule)?;
    stamp!(out, rule: id, name, revision, disable, priority, ctime, mtime);
    Some(out)
}

pub(super) fn payload(found: Applicable, asked: &ServiceKey) -> RulePayload {
    let asked = asked.clone();
    RulePayload::unless_empty(found, move |found, response| {
        let rules = found
            .rules
            .iter()
            .filter_map(|r| {
                let mut rule = stamped(r)?;
                rule.service = Some(asked.name.clone());
                rule.namespace = Some(asked.namespace.clone());
                Some(rule)
            })
            .collect();
        response.rate_limit = Some(v1::RateLimit {
            rules,
            revision: Some(found.revision.clone()),
        });
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn amount(seconds: i64) -> v1::Amount {
        let mut amount = v1::Amount::default();
        amount.valid_duration.get_or_insert_default().seconds = seconds;
        amount
    }

    #[test]
    fn amounts_need_distinct_valid_durations() {
        let mut rule = v1::Rule {
            amounts: vec![amount(1), amount(2)],
            ..Default::default()
        };
        assert!(check_amounts(&rule).is_ok());
        rule.amounts.push(amount(1));
        assert_eq!(
            check_amounts(&rule).unwrap_err().code,
            Code::InvalidRateLimitAmounts
        );
        rule.amounts = vec![v1::Amount::default()];
        assert!(check_amounts(&rule).is_err());
    }
}
