//! `ruleBasedRouter`: the v1 `Routing` rules (inbounds and outbounds).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use polaris_matcher::{Argument, Matcher, RequestContext};
use polaris_proto::v1;

use super::{InstanceList, Memo, RouteContext, RouteError, ServiceRouter, retain};
use crate::hash::{SplitMix, StableHasher};
use crate::rules::{compile_match, name_matches};
use crate::{Instance, ServiceKey, Skipped};

static GENERATION: AtomicU64 = AtomicU64::new(1);

/// Where a source metadata key reads its value.
#[derive(Debug, Clone)]
enum SourceKey {
    /// `$header.x`, `$query.x`, `$cookie.x`, `$method`, `$path`, `$caller_ip`.
    Argument(Argument),
    /// Any other key: the caller's custom labels, then its metadata.
    Label(String),
}

impl SourceKey {
    fn parse(key: &str) -> SourceKey {
        let argument = if let Some(name) = key.strip_prefix("$header.") {
            Argument::Header(name.to_string())
        } else if let Some(name) = key.strip_prefix("$query.") {
            Argument::Query(name.to_string())
        } else if let Some(name) = key.strip_prefix("$cookie.") {
            Argument::Cookie(name.to_string())
        } else {
            match key {
                "$method" => Argument::Method,
                "$path" => Argument::Path,
                "$caller_ip" => Argument::CallerIp,
                _ => return SourceKey::Label(key.to_string()),
            }
        };
        SourceKey::Argument(argument)
    }

    fn value<'a>(&self, request: &'a RequestContext) -> Option<&'a str> {
        match self {
            SourceKey::Argument(argument) => argument.value(request),
            SourceKey::Label(key) => request
                .custom
                .get(key)
                .or_else(|| request.caller_metadata.get(key))
                .map(String::as_str),
        }
    }
}

#[derive(Debug)]
struct Source {
    namespace: String,
    service: String,
    conditions: Vec<(SourceKey, Matcher)>,
}

impl Source {
    fn matches(&self, caller: Option<&ServiceKey>, request: &RequestContext) -> bool {
        let (namespace, service) = caller.map_or(("", ""), |c| (&*c.namespace, &*c.service));
        let names =
            name_matches(&self.namespace, namespace) && name_matches(&self.service, service);
        names
            && self
                .conditions
                .iter()
                .all(|(key, matcher)| matcher.matches(key.value(request)))
    }
}

#[derive(Debug)]
struct Destination {
    namespace: String,
    service: String,
    labels: Vec<(String, Matcher)>,
    priority: u32,
    weight: u32,
    isolate: bool,
}

impl Destination {
    fn accepts(&self, instance: &Instance) -> bool {
        self.labels
            .iter()
            .all(|(key, matcher)| matcher.matches(instance.metadata.get(key).map(String::as_str)))
    }
}

#[derive(Debug)]
struct Route {
    sources: Vec<Source>,
    destinations: Vec<Destination>,
}

/// One service's compiled v1 routing rules.
#[derive(Debug)]
pub struct RoutingRules {
    generation: u64,
    inbounds: Vec<Route>,
    outbounds: Vec<Route>,
    /// Routes of the v2 `RouteRule`s (`rules` field), by ascending rule priority.
    v2: Vec<Route>,
}

fn compile_labels(
    labels: &std::collections::HashMap<String, v1::MatchString>,
) -> Result<Vec<(String, Matcher)>, String> {
    let mut out = Vec::with_capacity(labels.len());
    for (key, ms) in labels {
        if ms.value_type != 0 {
            return Err(format!(
                "label {key:?}: only TEXT match values are supported"
            ));
        }
        let matcher = compile_match(Some(ms)).map_err(|e| format!("label {key:?}: {e}"))?;
        out.push((key.clone(), matcher));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

fn compile_route(route: &v1::Route, name: &str, skipped: &mut Vec<Skipped>) -> Option<Route> {
    let mut sources = Vec::new();
    for source in &route.sources {
        let conditions = match compile_labels(&source.metadata) {
            Ok(labels) => labels
                .into_iter()
                .map(|(key, matcher)| (SourceKey::parse(&key), matcher))
                .collect(),
            Err(reason) => {
                skipped.push(Skipped::new(
                    name,
                    format!("source {reason}; route left out"),
                ));
                return None;
            }
        };
        sources.push(Source {
            namespace: source.namespace.clone().unwrap_or_default(),
            service: source.service.clone().unwrap_or_default(),
            conditions,
        });
    }
    let mut destinations = Vec::new();
    for destination in &route.destinations {
        match compile_labels(&destination.metadata) {
            Ok(labels) => destinations.push(Destination {
                namespace: destination.namespace.clone().unwrap_or_default(),
                service: destination.service.clone().unwrap_or_default(),
                labels,
                priority: destination.priority.unwrap_or(0),
                weight: destination.weight.unwrap_or(100),
                isolate: destination.isolate.unwrap_or(false),
            }),
            Err(reason) => skipped.push(Skipped::new(name, format!("destination {reason}"))),
        }
    }
    // Stable: destinations of one priority keep their written order.
    destinations.sort_by_key(|d| d.priority);
    Some(Route {
        sources,
        destinations,
    })
}

impl RoutingRules {
    /// Compiles a service's rules: the v1 `inbounds` and `outbounds`, and the v2 `rules`
    /// (`RouteRule`s whose `routing_config` is a `RuleRoutingConfig`; each sub-rule is one
    /// route). Routes or destinations that cannot be compiled are left out and reported.
    pub fn compile(routing: &v1::Routing) -> (RoutingRules, Vec<Skipped>) {
        let name = format!(
            "{}/{}",
            routing.namespace.as_deref().unwrap_or_default(),
            routing.service.as_deref().unwrap_or_default()
        );
        let mut skipped = Vec::new();
        let compile_all = |routes: &[v1::Route], skipped: &mut Vec<Skipped>| {
            routes
                .iter()
                .filter_map(|route| compile_route(route, &name, skipped))
                .collect()
        };
        let inbounds = compile_all(&routing.inbounds, &mut skipped);
        let outbounds = compile_all(&routing.outbounds, &mut skipped);
        let v2 = v2::compile_rules(&routing.rules, &mut skipped);
        let rules = RoutingRules {
            generation: GENERATION.fetch_add(1, Ordering::Relaxed),
            inbounds,
            outbounds,
            v2,
        };
        (rules, skipped)
    }

    /// True when there is no route at all.
    pub fn is_empty(&self) -> bool {
        self.inbounds.is_empty() && self.outbounds.is_empty() && self.v2.is_empty()
    }
}

/// What `ruleBasedRouter` returns when rules exist but no route or destination applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RuleFailover {
    /// Every instance (official `all`, the default).
    #[default]
    All,
    /// No instance: the call fails (official `none`).
    None,
}

/// Routes by the rules: the caller's v1 outbound routes and v2 routes first, then the
/// callee's v1 inbound routes and v2 routes; the first route that targets the called service
/// and whose sources match the caller decides. Its destinations (those
/// naming the called service, not isolated) are tried by ascending priority; among the
/// destinations of one priority that select at least one instance, one is chosen at random
/// by weight, and its instances are the result. With no rules the set passes through.
#[derive(Debug)]
pub struct RuleBasedRouter {
    failover: RuleFailover,
    memo: Memo,
    rng: SplitMix,
}

impl RuleBasedRouter {
    /// A router with the given failover.
    pub fn new(failover: RuleFailover) -> Self {
        RuleBasedRouter {
            failover,
            memo: Memo::default(),
            rng: SplitMix::from_entropy(),
        }
    }

    /// The instances destination `index` of a route selects, memoised per set.
    fn subset(
        &self,
        rules: &RoutingRules,
        origin: u64,
        route_index: usize,
        index: usize,
        dest: &Destination,
        set: &InstanceList,
    ) -> InstanceList {
        let mut key = StableHasher::with_seed(3);
        key.write_u64(rules.generation)
            .write_u64(origin)
            .write_u64(route_index as u64)
            .write_u64(index as u64);
        self.memo
            .get_or(set, key.finish(), || retain(set, |i| dest.accepts(i)))
    }

    /// Applies one matched route; `None` when no destination selects an instance. Works
    /// through the priorities (destinations are sorted by priority at compile time) without
    /// allocating once the subsets are memoised.
    fn apply(
        &self,
        rules: &RoutingRules,
        origin: u64,
        route_index: usize,
        route: &Route,
        destination: &ServiceKey,
        set: &InstanceList,
    ) -> Option<InstanceList> {
        let eligible = |d: &Destination| {
            !d.isolate
                && name_matches(&d.namespace, &destination.namespace)
                && name_matches(&d.service, &destination.service)
        };
        let mut start = 0;
        while start < route.destinations.len() {
            let priority = route.destinations[start].priority;
            let end = route.destinations[start..]
                .iter()
                .position(|d| d.priority != priority)
                .map_or(route.destinations.len(), |offset| start + offset);
            let group = || {
                route.destinations[start..end]
                    .iter()
                    .enumerate()
                    .filter(|(_, d)| eligible(d))
                    .map(|(offset, d)| {
                        let subset =
                            self.subset(rules, origin, route_index, start + offset, d, set);
                        (d.weight, subset)
                    })
                    .filter(|(_, subset)| !subset.is_empty())
            };
            let (count, total) = group().fold((0u32, 0u64), |(count, total), (weight, _)| {
                (count + 1, total + u64::from(weight))
            });
            if count > 0 {
                if total == 0 {
                    return group().next().map(|(_, subset)| subset);
                }
                let mut point = self.rng.below(total);
                for (weight, subset) in group() {
                    if point < u64::from(weight) {
                        return Some(subset);
                    }
                    point -= u64::from(weight);
                }
                return None;
            }
            start = end;
        }
        None
    }
}

impl ServiceRouter for RuleBasedRouter {
    fn name(&self) -> &'static str {
        "ruleBasedRouter"
    }

    fn route(&self, cx: &RouteContext, set: &InstanceList) -> Result<InstanceList, RouteError> {
        let caller = cx.caller_routing.as_ref();
        let callee = cx.callee_routing.as_ref();
        let lists = [
            caller.map(|r| (r, &r.outbounds, 0u64)),
            caller.map(|r| (r, &r.v2, 1u64)),
            callee.map(|r| (r, &r.inbounds, 2u64)),
            callee.map(|r| (r, &r.v2, 3u64)),
        ];
        let targets_callee = |route: &Route| {
            route.destinations.iter().any(|d| {
                name_matches(&d.namespace, &cx.destination.namespace)
                    && name_matches(&d.service, &cx.destination.service)
            })
        };
        let caller_key = cx.caller.as_ref();
        // Rules exist for this call when some route names the called service.
        let mut any_rule = false;
        for (rules, routes, origin) in lists.into_iter().flatten() {
            let mut matched = None;
            for (index, route) in routes.iter().enumerate() {
                if !targets_callee(route) {
                    continue;
                }
                any_rule = true;
                if route.sources.is_empty()
                    || route
                        .sources
                        .iter()
                        .any(|s| s.matches(caller_key, &cx.request))
                {
                    matched = Some((index, route));
                    break;
                }
            }
            if let Some((index, route)) = matched {
                if let Some(out) = self.apply(rules, origin, index, route, &cx.destination, set) {
                    return Ok(out);
                }
                break;
            }
        }
        if !any_rule {
            return Ok(Arc::clone(set));
        }
        match self.failover {
            RuleFailover::All => Ok(Arc::clone(set)),
            RuleFailover::None => Err(RouteError::RuleNotMatched {
                router: self.name(),
            }),
        }
    }
}

#[path = "rule_v2.rs"]
mod v2;

#[cfg(test)]
#[path = "rule_tests.rs"]
mod tests;
