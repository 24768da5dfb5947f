//! v2 routing rules (`v1.RouteRule` carrying a `v1.RuleRoutingConfig` in an `Any`; RulePolicy
//! only, as in 1.18.1). The stored config is normalised the official way (every sub-rule has
//! its sources and destinations), and both messages are decoded once per revision.

use polaris_proto::v1;
use polaris_types::validate::is_valid_name;
use polaris_types::{Code, PolarisError, Result, Rule, RuleKind, RuleTarget, TargetRole};
use prost::Message;

use super::checks::{add_target, check_count, check_match, runes};
use super::{Refusal, RuleCodec, Write, decoded, rule_spec};

/// The message a RulePolicy rule's `routing_config` holds.
pub const RULE_CONFIG: &str = "v1.RuleRoutingConfig";
const TYPE_PREFIX: &str = "type.googleapis.com/";
const MAX_PRIORITY: u32 = 10;

/// The routing-rule codec.
pub struct RoutingRules;

/// A stored route rule and its decoded config (`None` for configs of other policies).
pub struct StoredRoute {
    pub rule: v1::RouteRule,
    pub config: Option<v1::RuleRoutingConfig>,
}

/// The v2 config of a stored route rule, decoded once per revision.
pub fn routing_config(rule: &Rule) -> Option<v1::RuleRoutingConfig> {
    decoded::<RoutingRules>(rule)?.config.clone()
}

fn refuse(code: Code, detail: impl Into<String>, echo: bool) -> Refusal {
    Refusal {
        err: PolarisError::new(code, detail),
        echo,
    }
}

/// Every source and destination of a config, top level and sub-rules.
fn sides(cfg: &v1::RuleRoutingConfig) -> (Vec<&v1::SourceService>, Vec<&v1::DestinationGroup>) {
    let sources = cfg
        .sources
        .iter()
        .chain(cfg.rules.iter().flat_map(|r| r.sources.iter()))
        .collect();
    let destinations = cfg
        .destinations
        .iter()
        .chain(cfg.rules.iter().flat_map(|r| r.destinations.iter()))
        .collect();
    (sources, destinations)
}

/// Size limits and match strings of a rule config.
fn check_config(cfg: &v1::RuleRoutingConfig) -> Result<()> {
    let (sources, destinations) = sides(cfg);
    check_count(sources.len(), "sources")?;
    check_count(destinations.len(), "destinations")?;
    check_count(cfg.rules.len(), "sub-rules")?;
    let arguments = sources.iter().map(|s| s.arguments.len()).sum();
    check_count(arguments, "source arguments")?;
    check_count(
        destinations.iter().map(|d| d.labels.len()).sum(),
        "destination labels",
    )?;
    let code = Code::InvalidParameter;
    for arg in sources.iter().flat_map(|s| s.arguments.iter()) {
        check_match(
            arg.value.as_ref(),
            code,
            &format!("source argument {:?}", arg.key),
        )?;
    }
    for (key, label) in destinations.iter().flat_map(|d| d.labels.iter()) {
        check_match(Some(label), code, &format!("destination label {key:?}"))?;
    }
    Ok(())
}

/// The official normalisation on save (parseSubRouteRule).
fn normalize(cfg: &mut v1::RuleRoutingConfig) {
    if cfg.rules.is_empty() {
        cfg.rules.push(v1::SubRuleRouting {
            name: String::new(),
            sources: cfg.sources.clone(),
            destinations: cfg.destinations.clone(),
        });
        return;
    }
    for sub in &mut cfg.rules {
        if sub.sources.is_empty() {
            sub.sources = cfg.sources.clone();
        }
        if sub.destinations.is_empty() {
            sub.destinations = cfg.destinations.clone();
        }
    }
    cfg.sources.clear();
    cfg.destinations.clear();
}

/// The official checks of a rule's envelope and policy, then its decoded config.
fn checked_config(rule: &v1::RouteRule) -> std::result::Result<v1::RuleRoutingConfig, Refusal> {
    if runes(&rule.name) > 64 {
        let detail = "name is longer than 64 characters";
        return Err(refuse(Code::InvalidRoutingName, detail, true));
    }
    if runes(&rule.namespace) > 64 {
        let detail = "namespace is longer than 64 characters";
        return Err(refuse(Code::InvalidNamespaceName, detail, false));
    }
    if rule.priority > MAX_PRIORITY {
        return Err(refuse(Code::InvalidRoutingPriority, "", false));
    }
    if rule.routing_policy != v1::RoutingPolicy::RulePolicy as i32 {
        return Err(refuse(Code::InvalidRoutingPolicy, "", true));
    }
    let Some(any) = rule.routing_config.as_ref() else {
        let detail = "routing_config is required";
        return Err(refuse(Code::InvalidRoutingPolicy, detail, true));
    };
    // The official server answers both cases below with 500000 (ExecuteException), a server
    // fault for what is the client's bad input; we answer them as a missing config is answered.
    if any.type_url != format!("{TYPE_PREFIX}{RULE_CONFIG}") {
        let detail = format!("routing_config is {}, not {RULE_CONFIG}", any.type_url);
        return Err(refuse(Code::InvalidRoutingPolicy, detail, true));
    }
    v1::RuleRoutingConfig::decode(any.value.as_slice())
        .map_err(|e| refuse(Code::InvalidRoutingPolicy, e.to_string(), true))
}

impl RuleCodec for RoutingRules {
    type Message = v1::RouteRule;
    const KIND: RuleKind = RuleKind::Routing;
    const MESSAGE: &'static str = "v1.RouteRule";
    type Stored = StoredRoute;

    fn decode(body: &[u8]) -> Option<StoredRoute> {
        let rule = v1::RouteRule::decode(body).ok()?;
        let config = rule
            .routing_config
            .as_ref()
            .filter(|any| any.type_url.ends_with("RuleRoutingConfig"))
            .and_then(|any| v1::RuleRoutingConfig::decode(any.value.as_slice()).ok());
        Some(StoredRoute { rule, config })
    }

    fn spec(rule: &v1::RouteRule, id: Option<String>, _: Write) -> Result<Rule, Refusal> {
        let mut cfg = checked_config(rule)?;
        check_config(&cfg)?;
        normalize(&mut cfg);
        let mut targets: Vec<RuleTarget> = Vec::new();
        let (sources, destinations) = sides(&cfg);
        for s in sources {
            add_target(&mut targets, &s.namespace, &s.service, TargetRole::Caller);
        }
        for d in destinations {
            add_target(&mut targets, &d.namespace, &d.service, TargetRole::Callee);
        }
        let mut stored = rule.clone();
        if let Some(any) = stored.routing_config.as_mut() {
            any.value = cfg.encode_to_vec();
        }
        // The domain needs a valid namespace; an empty one (allowed officially) is kept in the
        // body, which is what lists show.
        let namespace = if is_valid_name(&rule.namespace, 64) {
            rule.namespace.clone()
        } else {
            "default".to_string()
        };
        let envelope = envelope!(rule);
        Ok(rule_spec::<Self>(id, namespace, envelope, targets, &stored))
    }

    fn console(rule: &Rule) -> Option<v1::RouteRule> {
        let mut out = decoded::<RoutingRules>(rule)?.rule.clone();
        stamp!(out, rule: id, name, enable, priority, description, revision);
        stamp!(out, rule: ctime, mtime, etime, editable, deleteable);
        out.metadata.clear();
        Some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalisation_builds_or_inherits_sub_rules() {
        let src = v1::SourceService {
            service: "a".into(),
            namespace: "n".into(),
            arguments: vec![],
        };
        let mut cfg = v1::RuleRoutingConfig {
            sources: vec![src.clone()],
            ..Default::default()
        };
        normalize(&mut cfg);
        assert_eq!(cfg.rules.len(), 1);
        assert_eq!(
            cfg.sources.len(),
            1,
            "top level kept when there were no sub-rules"
        );
        let mut cfg = v1::RuleRoutingConfig {
            sources: vec![src],
            rules: vec![v1::SubRuleRouting::default()],
            ..Default::default()
        };
        normalize(&mut cfg);
        assert!(cfg.sources.is_empty());
        assert_eq!(cfg.rules[0].sources.len(), 1);
    }

    #[test]
    fn policies_other_than_rules_are_refused_with_an_echo() {
        let rule = v1::RouteRule {
            routing_policy: v1::RoutingPolicy::MetadataPolicy as i32,
            ..Default::default()
        };
        let refusal = RoutingRules::spec(&rule, None, Write::Create).unwrap_err();
        assert_eq!(refusal.err.code, Code::InvalidRoutingPolicy);
        assert!(refusal.echo);
    }
}
