//! The governance rules one service's resources are built from, decoded from the stored rule
//! bodies (the Polaris protobuf messages), with a revision that changes whenever any of them
//! changes.

use std::sync::Arc;

use polaris_discovery::rules::{
    self, CircuitBreakers, FaultDetectors, RateLimits, RuleCodec, routing_config,
};
use polaris_governance::Governance;
use polaris_proto::v1;
use polaris_types::{Rule, RuleKind, ServiceKey, TargetRole};

/// The rules that shape one service's clusters and routes.
#[derive(Clone, Debug, Default)]
pub struct ServiceRules {
    /// v2 routing sub-rules with a destination naming the service (routes into it).
    pub routing: Vec<v1::SubRuleRouting>,
    /// v2 routing sub-rules with a source naming the service (a gateway's routes).
    pub as_caller: Vec<v1::SubRuleRouting>,
    /// Circuit-breaker rules for the service as callee, by priority.
    pub circuit_breakers: Vec<v1::CircuitBreakerRule>,
    /// Fault detectors for the service as callee.
    pub fault_detectors: Vec<v1::FaultDetectRule>,
    /// Rate limits of the service (enabled or not: the builder skips disabled ones).
    pub rate_limits: Vec<v1::Rule>,
    /// Changes whenever any rule above changes.
    pub revision: String,
}

/// A stored rule's body as its kind's codec decodes it (once per revision).
fn decoded<C: RuleCodec>(rule: &Rule) -> Option<C::Stored>
where
    C::Stored: Clone,
{
    rules::decoded::<C>(rule).map(|stored| C::Stored::clone(&stored))
}

/// The sub-rules of a routing config: its `rules`, or the legacy top-level sources and
/// destinations as one sub-rule.
fn sub_rules(config: v1::RuleRoutingConfig) -> Vec<v1::SubRuleRouting> {
    if !config.rules.is_empty() {
        return config.rules;
    }
    if config.sources.is_empty() && config.destinations.is_empty() {
        return Vec::new();
    }
    vec![v1::SubRuleRouting {
        name: String::new(),
        sources: config.sources,
        destinations: config.destinations,
    }]
}

impl ServiceRules {
    /// Loads and decodes the rules that apply to `key`.
    pub fn load(governance: &Governance, key: &ServiceKey) -> ServiceRules {
        let routing = governance.rules_for(RuleKind::Routing, key, None);
        let breakers =
            governance.rules_for(RuleKind::CircuitBreaker, key, Some(TargetRole::Callee));
        let detectors =
            governance.rules_for(RuleKind::FaultDetector, key, Some(TargetRole::Callee));
        let limits = governance.rules_for(RuleKind::RateLimit, key, Some(TargetRole::Callee));
        let revision = [
            &routing.revision,
            &breakers.revision,
            &detectors.revision,
            &limits.revision,
        ]
        .map(String::as_str)
        .join("/");
        let subs: Vec<v1::SubRuleRouting> = routing
            .rules
            .iter()
            .map(Arc::as_ref)
            .filter_map(routing_config)
            .flat_map(sub_rules)
            .collect();
        let as_caller = subs
            .iter()
            .filter(|sub| {
                sub.sources
                    .iter()
                    .any(|s| s.namespace == key.namespace && s.service == key.name)
            })
            .cloned()
            .collect();
        let routing = subs
            .into_iter()
            .filter(|sub| {
                sub.destinations
                    .iter()
                    .any(|d| d.namespace == key.namespace && d.service == key.name)
            })
            .collect();
        let circuit_breakers = breakers
            .rules
            .iter()
            .filter_map(|r| {
                let mut rule = decoded::<CircuitBreakers>(r)?;
                rule.enable = r.enable;
                Some(rule)
            })
            .collect();
        let fault_detectors = detectors
            .rules
            .iter()
            .filter_map(|r| decoded::<FaultDetectors>(r))
            .collect();
        let rate_limits = limits
            .rules
            .iter()
            .filter_map(|r| {
                let mut rule = decoded::<RateLimits>(r)?;
                rule.disable = Some(!r.enable);
                Some(rule)
            })
            .collect();
        ServiceRules {
            routing,
            as_caller,
            circuit_breakers,
            fault_detectors,
            rate_limits,
            revision,
        }
    }
}
