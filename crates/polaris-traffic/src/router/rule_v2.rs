//! v2 routing rules (`RouteRule` with a `RuleRoutingConfig` body) compiled into the same
//! routes as the v1 rules.

use polaris_proto::v1;
use prost::Message;

use super::{Destination, Route, Source, SourceKey, compile_labels};
use crate::Skipped;
use crate::rules::{compile_match, source_match_argument};

/// `routing_policy` of a rule-based `RouteRule`.
const RULE_POLICY: i32 = 0;

fn compile_source(source: &v1::SourceService) -> Result<Source, String> {
    let mut conditions = Vec::with_capacity(source.arguments.len());
    for argument in &source.arguments {
        let parsed = source_match_argument(argument)
            .ok_or_else(|| format!("unknown argument type {}", argument.r#type))?;
        let matcher = compile_match(argument.value.as_ref())
            .map_err(|e| format!("argument {:?}: {e}", argument.key))?;
        conditions.push((SourceKey::Argument(parsed), matcher));
    }
    Ok(Source {
        namespace: source.namespace.clone(),
        service: source.service.clone(),
        conditions,
    })
}

fn compile_route(
    name: &str,
    sources: &[v1::SourceService],
    destinations: &[v1::DestinationGroup],
    skipped: &mut Vec<Skipped>,
) -> Option<Route> {
    let sources = match sources
        .iter()
        .map(compile_source)
        .collect::<Result<Vec<_>, _>>()
    {
        Ok(sources) => sources,
        Err(reason) => {
            skipped.push(Skipped::new(
                name,
                format!("source {reason}; route left out"),
            ));
            return None;
        }
    };
    let mut compiled = Vec::with_capacity(destinations.len());
    for group in destinations {
        match compile_labels(&group.labels) {
            Ok(labels) => compiled.push(Destination {
                namespace: group.namespace.clone(),
                service: group.service.clone(),
                labels,
                priority: group.priority,
                weight: group.weight,
                isolate: group.isolate,
            }),
            Err(reason) => skipped.push(Skipped::new(name, format!("destination {reason}"))),
        }
    }
    compiled.sort_by_key(|d| d.priority);
    Some(Route {
        sources,
        destinations: compiled,
    })
}

/// The routes of the enabled rule-based `RouteRule`s, by ascending rule priority; a rule's
/// sub-rules keep their order. Rules of other policies are ignored.
pub(super) fn compile_rules(rules: &[v1::RouteRule], skipped: &mut Vec<Skipped>) -> Vec<Route> {
    let mut enabled: Vec<&v1::RouteRule> = rules
        .iter()
        .filter(|r| r.enable && r.routing_policy == RULE_POLICY)
        .collect();
    enabled.sort_by_key(|r| r.priority);
    let mut routes = Vec::new();
    for rule in enabled {
        let Some(body) = rule.routing_config.as_ref() else {
            skipped.push(Skipped::new(rule.name.clone(), "no routing_config"));
            continue;
        };
        if !body.type_url.ends_with("RuleRoutingConfig") {
            skipped.push(Skipped::new(
                rule.name.clone(),
                format!(
                    "routing_config is {:?}, not a RuleRoutingConfig",
                    body.type_url
                ),
            ));
            continue;
        }
        let config = match v1::RuleRoutingConfig::decode(body.value.as_slice()) {
            Ok(config) => config,
            Err(error) => {
                skipped.push(Skipped::new(
                    rule.name.clone(),
                    format!("undecodable routing_config: {error}"),
                ));
                continue;
            }
        };
        if !config.sources.is_empty() || !config.destinations.is_empty() {
            routes.extend(compile_route(
                &rule.name,
                &config.sources,
                &config.destinations,
                skipped,
            ));
        }
        for sub in &config.rules {
            let name = format!("{}/{}", rule.name, sub.name);
            routes.extend(compile_route(
                &name,
                &sub.sources,
                &sub.destinations,
                skipped,
            ));
        }
    }
    routes
}
