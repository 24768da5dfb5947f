//! `laneRouter`: keeps a request inside its lane (swimlane), or on the baseline.

use std::sync::Arc;

use polaris_matcher::Condition;
use polaris_proto::v1;
use prost::Message;

use super::{InstanceList, Memo, RouteContext, RouteError, ServiceRouter, retain};
use crate::hash::StableHasher;
use crate::rules::{compile_match, name_matches, source_match_argument};
use crate::{Instance, ServiceKey, Skipped};

/// The instance metadata key holding an instance's lane.
pub const LANE_LABEL: &str = "lane";

/// Memo key of the instances in no lane (lane keys have the low bit set).
const BASELINE: u64 = 0;

#[derive(Debug)]
struct LaneRule {
    group: String,
    name: String,
    priority: u32,
    conditions: Vec<Condition>,
    any_condition: bool,
    lane: String,
    strict: bool,
    /// Services whose outgoing traffic the group colours (any caller when empty).
    entries: Arc<[ServiceKey]>,
    /// Services inside the lane group (any when empty).
    destinations: Arc<[ServiceKey]>,
}

fn listed(list: &[ServiceKey], service: &ServiceKey) -> bool {
    list.iter().any(|d| {
        name_matches(&d.namespace, &service.namespace) && name_matches(&d.service, &service.service)
    })
}

impl LaneRule {
    /// True when the rule colours a call from `caller` to `destination`: the caller is one of
    /// the group's traffic entries and the destination one of its services.
    fn applies(&self, caller: Option<&ServiceKey>, destination: &ServiceKey) -> bool {
        let entry = self.entries.is_empty() || caller.is_some_and(|c| listed(&self.entries, c));
        entry && (self.destinations.is_empty() || listed(&self.destinations, destination))
    }
}

/// The service a traffic entry names: service and gateway selectors share the layout
/// (`namespace` = 1, `service` = 2); other selectors are not understood.
fn entry_service(entry: &v1::TrafficEntry) -> Result<ServiceKey, String> {
    let selector = entry
        .selector
        .as_ref()
        .ok_or_else(|| format!("entry {:?} has no selector", entry.r#type))?;
    let understood = selector.type_url.ends_with(".ServiceSelector")
        || selector.type_url.ends_with(".ServiceGatewaySelector");
    if !understood {
        return Err(format!(
            "entry selector {:?} not supported",
            selector.type_url
        ));
    }
    let decoded = v1::ServiceSelector::decode(selector.value.as_slice())
        .map_err(|e| format!("entry selector undecodable: {e}"))?;
    Ok(ServiceKey::new(decoded.namespace, decoded.service))
}

/// The lane a request was put in by a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LaneMatch<'a> {
    /// Lane group name.
    pub group: &'a str,
    /// Lane rule name.
    pub rule: &'a str,
    /// The lane, compared with instances' `lane` label.
    pub lane: &'a str,
    /// STRICT match mode: no fallback to the baseline when the lane has no instance.
    pub strict: bool,
}

/// Compiled lane groups: enabled lane rules in ascending priority.
#[derive(Debug, Default)]
pub struct LaneRules {
    rules: Vec<LaneRule>,
}

impl LaneRules {
    /// Compiles lane groups; disabled rules are ignored, rules that cannot be compiled are
    /// left out and reported.
    pub fn compile(groups: &[v1::LaneGroup]) -> (LaneRules, Vec<Skipped>) {
        let mut rules = Vec::new();
        let mut skipped = Vec::new();
        for group in groups {
            let destinations: Arc<[ServiceKey]> = group
                .destinations
                .iter()
                .map(|d| ServiceKey::new(d.namespace.clone(), d.service.clone()))
                .collect();
            let mut entries = Vec::new();
            for entry in &group.entries {
                match entry_service(entry) {
                    Ok(service) => entries.push(service),
                    Err(reason) => skipped.push(Skipped::new(group.name.clone(), reason)),
                }
            }
            if !group.entries.is_empty() && entries.is_empty() {
                // Only unknown entries: colouring everything would be wrong, so nothing is.
                continue;
            }
            let entries: Arc<[ServiceKey]> = entries.into();
            'rule: for rule in group.rules.iter().filter(|r| r.enable) {
                let label = format!("{}/{}", group.name, rule.name);
                if rule.default_label_value.is_empty() {
                    skipped.push(Skipped::new(label, "no lane label value"));
                    continue;
                }
                let traffic = rule.traffic_match_rule.clone().unwrap_or_default();
                let mut conditions = Vec::new();
                for argument in &traffic.arguments {
                    let Some(parsed) = source_match_argument(argument) else {
                        skipped.push(Skipped::new(
                            label,
                            format!("unknown argument type {}", argument.r#type),
                        ));
                        continue 'rule;
                    };
                    match compile_match(argument.value.as_ref()) {
                        Ok(matcher) => conditions.push(Condition {
                            argument: parsed,
                            matcher,
                        }),
                        Err(reason) => {
                            skipped.push(Skipped::new(label, reason));
                            continue 'rule;
                        }
                    }
                }
                rules.push(LaneRule {
                    group: group.name.clone(),
                    name: rule.name.clone(),
                    priority: rule.priority,
                    conditions,
                    any_condition: traffic.match_mode == 1,
                    lane: rule.default_label_value.clone(),
                    strict: rule.match_mode == 0,
                    entries: Arc::clone(&entries),
                    destinations: Arc::clone(&destinations),
                });
            }
        }
        rules.sort_by_key(|r| r.priority);
        (LaneRules { rules }, skipped)
    }

    /// The first rule (by priority) whose group has the caller as a traffic entry and the
    /// destination as a member, and whose traffic match holds.
    pub fn match_lane(&self, cx: &RouteContext) -> Option<LaneMatch<'_>> {
        self.rules
            .iter()
            .filter(|rule| rule.applies(cx.caller.as_ref(), &cx.destination))
            .find(|rule| {
                if rule.any_condition && !rule.conditions.is_empty() {
                    rule.conditions.iter().any(|c| c.matches(&cx.request))
                } else {
                    Condition::all(&rule.conditions, &cx.request)
                }
            })
            .map(|rule| LaneMatch {
                group: &rule.group,
                rule: &rule.name,
                lane: &rule.lane,
                strict: rule.strict,
            })
    }
}

/// Sends a request in a lane (carried in [`RouteContext::lane`] or put there by a lane rule)
/// to the instances labelled `lane=<lane>`. When the lane has no instance, a STRICT rule fails
/// the call and otherwise the baseline is used. Requests in no lane go to the baseline: the
/// instances without a `lane` label (or every instance when all of them carry one).
#[derive(Debug, Default)]
pub struct LaneRouter {
    memo: Memo,
}

impl LaneRouter {
    /// A lane router.
    pub fn new() -> Self {
        Self::default()
    }
}

impl ServiceRouter for LaneRouter {
    fn name(&self) -> &'static str {
        "laneRouter"
    }

    fn route(&self, cx: &RouteContext, set: &InstanceList) -> Result<InstanceList, RouteError> {
        let without_lane = self.memo.get_or(set, BASELINE, || {
            retain(set, |i: &Instance| !i.metadata.contains_key(LANE_LABEL))
        });
        if Arc::ptr_eq(&without_lane, set) {
            // No instance is in any lane.
            return Ok(without_lane);
        }
        let baseline = || {
            if without_lane.is_empty() {
                InstanceList::clone(set)
            } else {
                InstanceList::clone(&without_lane)
            }
        };
        let matched = match (&cx.lane, &cx.lane_rules) {
            (Some(lane), _) => Some((lane.as_str(), false)),
            (None, Some(rules)) => rules.match_lane(cx).map(|m| (m.lane, m.strict)),
            (None, None) => None,
        };
        let Some((lane, strict)) = matched else {
            return Ok(baseline());
        };
        let key = StableHasher::with_seed(4).write(lane.as_bytes()).finish() | 1;
        let in_lane = self.memo.get_or(set, key, || {
            retain(set, |i: &Instance| {
                i.metadata.get(LANE_LABEL).is_some_and(|l| l == lane)
            })
        });
        if !in_lane.is_empty() {
            Ok(in_lane)
        } else if strict {
            Err(RouteError::NoInstances {
                router: self.name(),
            })
        } else {
            Ok(baseline())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::router::test_support::{ids, instance};
    use crate::rules::ms;

    fn group(strict: bool) -> v1::LaneGroup {
        let gateway = v1::ServiceGatewaySelector {
            namespace: "default".into(),
            service: "gateway".into(),
            labels: Default::default(),
        };
        v1::LaneGroup {
            name: "g".into(),
            entries: vec![
                v1::TrafficEntry {
                    r#type: "polarismesh.cn/gateway/spring-cloud-gateway".into(),
                    selector: Some(prost_types::Any {
                        type_url: "type.googleapis.com/v1.ServiceGatewaySelector".into(),
                        value: gateway.encode_to_vec(),
                    }),
                },
                v1::TrafficEntry {
                    r#type: "polarismesh.cn/gateway/tse".into(),
                    selector: Some(prost_types::Any {
                        type_url: "type.googleapis.com/v1.TSEGatewaySelector".into(),
                        value: vec![],
                    }),
                },
            ],
            destinations: vec![v1::DestinationGroup {
                namespace: "default".into(),
                service: "orders".into(),
                ..Default::default()
            }],
            rules: vec![v1::LaneRule {
                name: "gray-users".into(),
                enable: true,
                default_label_value: "gray".into(),
                match_mode: if strict { 0 } else { 1 },
                traffic_match_rule: Some(v1::TrafficMatchRule {
                    arguments: vec![v1::SourceMatch {
                        r#type: 2,
                        key: "x-user".into(),
                        value: Some(ms(0, "tester")),
                    }],
                    match_mode: 0,
                }),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn cx(user: Option<&str>, strict: bool) -> RouteContext {
        let (rules, skipped) = LaneRules::compile(&[group(strict)]);
        assert_eq!(
            skipped.len(),
            1,
            "the TSE entry is not understood: {skipped:?}"
        );
        let mut cx = RouteContext {
            caller: Some(ServiceKey::new("default", "gateway")),
            destination: ServiceKey::new("default", "orders"),
            lane_rules: Some(std::sync::Arc::new(rules)),
            ..Default::default()
        };
        if let Some(user) = user {
            Arc::make_mut(&mut cx.request)
                .headers
                .insert("x-user".into(), user.into());
        }
        cx
    }

    fn set() -> InstanceList {
        vec![
            instance("base", &[], ["", "", ""]),
            instance("gray", &[(LANE_LABEL, "gray")], ["", "", ""]),
            instance("blue", &[(LANE_LABEL, "blue")], ["", "", ""]),
        ]
        .into()
    }

    #[test]
    fn matching_traffic_enters_the_lane_and_the_rest_stays_on_baseline() {
        let router = LaneRouter::new();
        assert_eq!(
            ids(&router.route(&cx(Some("tester"), true), &set()).unwrap()),
            ["gray"]
        );
        assert_eq!(
            ids(&router.route(&cx(Some("other"), true), &set()).unwrap()),
            ["base"]
        );
        // Only traffic leaving an entry is coloured; inside the lane the tag travels instead.
        let inner_hop = RouteContext {
            caller: Some(ServiceKey::new("default", "web")),
            ..cx(Some("tester"), true)
        };
        assert_eq!(ids(&router.route(&inner_hop, &set()).unwrap()), ["base"]);
        let mut carried = cx(None, true);
        carried.caller = Some(ServiceKey::new("default", "web"));
        carried.lane = Some("blue".into());
        assert_eq!(ids(&router.route(&carried, &set()).unwrap()), ["blue"]);
    }

    #[test]
    fn empty_lane_strict_fails_permissive_falls_back() {
        let set: InstanceList = vec![
            instance("base", &[], ["", "", ""]),
            instance("blue", &[(LANE_LABEL, "blue")], ["", "", ""]),
        ]
        .into();
        let router = LaneRouter::new();
        assert!(router.route(&cx(Some("tester"), true), &set).is_err());
        assert_eq!(
            ids(&router.route(&cx(Some("tester"), false), &set).unwrap()),
            ["base"]
        );
        let other_service = RouteContext {
            destination: ServiceKey::new("default", "payments"),
            ..cx(Some("tester"), true)
        };
        assert_eq!(ids(&router.route(&other_service, &set).unwrap()), ["base"]);
    }
}
