//! Lane groups (`v1.LaneGroup`, official `main` only). Groups have no namespace: the domain keeps
//! them all in `default`, so a group name is unique, as officially.

use polaris_governance::Applicable;
use polaris_proto::v1;
use polaris_types::validate::is_valid_name;
use polaris_types::{Code, PolarisError, Result, Rule, RuleKind, TargetRole};
use prost::Message;

use super::checks::{add_target, check_count, check_match};
use super::{Refusal, RuleCodec, RulePayload, Write, body, rule_spec};

const NAMESPACE: &str = "default";
const MAX_LANE_RULES: usize = 100;
/// Entry types whose selector names a service.
const SERVICE_ENTRIES: &[&str] = &[
    "polarismesh.cn/service",
    "polarismesh.cn/gateway/spring-cloud-gateway",
];

/// The lane-group codec.
pub struct LaneGroups;

fn invalid(detail: impl Into<String>) -> PolarisError {
    PolarisError::new(Code::InvalidParameter, detail)
}

/// A name as the lane paramcheck wants it: the name regex, shorter than 64 bytes.
fn check_name(name: &str, what: &str) -> Result<()> {
    if !is_valid_name(name, 63) {
        return Err(invalid(format!(
            "{what} {name:?} must match ^[0-9A-Za-z-./:_]+$ and be shorter than 64 bytes"
        )));
    }
    Ok(())
}

/// The service selectors of the group's traffic entries.
pub fn lane_selectors(group: &v1::LaneGroup) -> Vec<v1::ServiceSelector> {
    group
        .entries
        .iter()
        .filter(|e| SERVICE_ENTRIES.contains(&e.r#type.as_str()))
        .filter_map(|e| e.selector.as_ref())
        .filter_map(|any| v1::ServiceSelector::decode(any.value.as_slice()).ok())
        .collect()
}

impl LaneGroups {
    /// The official checks of a group (names, rule count) and our own (sizes, match strings).
    pub fn check(group: &v1::LaneGroup) -> Result<()> {
        check_name(&group.name, "lane group name")?;
        if group.rules.len() > MAX_LANE_RULES {
            return Err(invalid(format!(
                "at most {MAX_LANE_RULES} lane rules per group"
            )));
        }
        for rule in &group.rules {
            check_name(&rule.name, "lane rule name")?;
        }
        check_count(group.entries.len(), "entries")?;
        check_count(group.destinations.len(), "destinations")?;
        let code = Code::InvalidParameter;
        for rule in &group.rules {
            let arguments = rule
                .traffic_match_rule
                .as_ref()
                .map(|t| t.arguments.as_slice())
                .unwrap_or_default();
            check_count(arguments.len(), "arguments")?;
            for arg in arguments {
                check_match(arg.value.as_ref(), code, &format!("argument {:?}", arg.key))?;
            }
        }
        let selectors = lane_selectors(group);
        let labels = group
            .destinations
            .iter()
            .flat_map(|d| d.labels.iter())
            .chain(selectors.iter().flat_map(|s| s.labels.iter()));
        for (key, label) in labels {
            check_match(Some(label), code, &format!("label {key:?}"))?;
        }
        Ok(())
    }
}

impl RuleCodec for LaneGroups {
    stored_as_message!(LaneGroup, RuleKind::Lane);

    fn spec(group: &v1::LaneGroup, id: Option<String>, _: Write) -> Result<Rule, Refusal> {
        Self::check(group)?;
        let mut targets = Vec::new();
        for d in &group.destinations {
            add_target(&mut targets, &d.namespace, &d.service, TargetRole::Callee);
        }
        for s in lane_selectors(group) {
            add_target(&mut targets, &s.namespace, &s.service, TargetRole::Caller);
        }
        let envelope = (group.name.as_str(), true, 0, group.description.as_str());
        Ok(rule_spec::<Self>(
            id,
            NAMESPACE.to_string(),
            envelope,
            targets,
            group,
        ))
    }

    fn console(rule: &Rule) -> Option<v1::LaneGroup> {
        let mut out = stamped(rule)?;
        stamp!(out, rule: description, deleteable);
        Some(out)
    }
}

/// The stored body with the envelope Discover and the console both show.
fn stamped(rule: &Rule) -> Option<v1::LaneGroup> {
    let mut out = body::<LaneGroups>(rule)?;
    stamp!(out, rule: id, name, revision, ctime, mtime);
    Some(out)
}

pub(super) fn payload(found: Applicable) -> RulePayload {
    RulePayload::of(found, move |found, response| {
        response.lanes = found.rules.iter().filter_map(|r| stamped(r)).collect();
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(check_name("ok", "n").is_ok());
        assert!(check_name("", "n").is_err());
        assert!(check_name(&"a".repeat(64), "n").is_err());
        assert!(check_name("bad name", "n").is_err());
    }
}
