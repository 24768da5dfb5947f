//! Routing (the `polaris-traffic` router chain named in `consumer.serviceRouter`) and load
//! balancing over cached snapshots.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use arc_swap::{ArcSwap, ArcSwapOption};
use parking_lot::Mutex;
use polaris_matcher::RequestContext;
use polaris_traffic::balance::{self, LoadBalancer};
use polaris_traffic::breaker::CircuitBreakers;
use polaris_traffic::router::{
    DstMetaRouter, FilterOnlyRouter, InstanceGate, InstanceList, LaneRouter, LaneRules,
    LocationLevel, MetadataFailover, NearbyRouter, RouteContext, RouterChain, RoutingRules,
    RuleBasedRouter, RuleFailover, ServiceRouter,
};
use polaris_traffic::{Instance, Location};

use super::cache::{Entry, FastMap, ResourceKind, ServiceKey, Snapshot};
use super::compiled::CompiledCache;
use crate::client::Inner;
use crate::config::ServiceRouter as RouterSettings;
use crate::error::{Error, Result};

/// A load-balancing policy, by its official plugin name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum LbPolicy {
    /// Random, proportional to weight (`weightedRandom`, the default).
    #[default]
    WeightedRandom,
    /// Smooth weighted round robin (`roundRobin`).
    RoundRobin,
    /// Consistent hashing on a ring of virtual nodes (`ringHash`); uses the hash key.
    RingHash,
    /// Maglev consistent hashing (`maglev`); uses the hash key.
    Maglev,
}

impl LbPolicy {
    /// The official plugin name.
    pub fn name(self) -> &'static str {
        match self {
            LbPolicy::WeightedRandom => "weightedRandom",
            LbPolicy::RoundRobin => "roundRobin",
            LbPolicy::RingHash => "ringHash",
            LbPolicy::Maglev => "maglev",
        }
    }

    /// The policy of an official plugin name (`hash` and `l5cst` map to ring hash).
    pub fn from_name(name: &str) -> Option<LbPolicy> {
        Some(match name {
            "weightedRandom" | "random" => LbPolicy::WeightedRandom,
            "roundRobin" | "weightedRoundRobin" => LbPolicy::RoundRobin,
            "ringHash" | "hash" | "l5cst" => LbPolicy::RingHash,
            "maglev" => LbPolicy::Maglev,
            _ => return None,
        })
    }
}

/// Per-call inputs of routing and balancing.
#[derive(Clone, Debug)]
pub struct Criteria {
    /// Hash key for `ringHash` / `maglev` (user id, session id...).
    pub hash_key: Option<Vec<u8>>,
    /// Overrides the client's default load balancer for this call.
    pub lb: Option<LbPolicy>,
    /// The calling service: its outbound routing rules apply, its lanes too.
    pub caller: Option<ServiceKey>,
    /// Where the caller runs, for `nearbyBasedRouter`.
    pub caller_location: Option<Location>,
    /// The request as routing and lane rules see it (method, path, headers, labels...);
    /// shared, so an integration keeps one per method and a call copies nothing
    /// (`Arc::make_mut` to change it).
    pub request: Arc<RequestContext>,
    /// Only instances whose metadata holds all of these pairs (`dstMetaRouter`).
    pub metadata: BTreeMap<String, String>,
    /// The lane the request already belongs to, if propagated from upstream.
    pub lane: Option<String>,
}

impl Default for Criteria {
    /// No inputs; the empty request is shared (a default allocates nothing, so
    /// `Criteria { request, ..Criteria::default() }` costs a call nothing).
    fn default() -> Criteria {
        static EMPTY: OnceLock<Arc<RequestContext>> = OnceLock::new();
        Criteria {
            hash_key: None,
            lb: None,
            caller: None,
            caller_location: None,
            request: EMPTY.get_or_init(Arc::default).clone(),
            metadata: BTreeMap::new(),
            lane: None,
        }
    }
}

impl Criteria {
    /// Sets the hash key.
    pub fn hash_key(mut self, key: impl AsRef<[u8]>) -> Criteria {
        self.hash_key = Some(key.as_ref().to_vec());
        self
    }

    /// Sets the load-balancing policy.
    pub fn lb(mut self, policy: LbPolicy) -> Criteria {
        self.lb = Some(policy);
        self
    }

    /// Sets the calling service.
    pub fn caller(mut self, caller: ServiceKey) -> Criteria {
        Arc::make_mut(&mut self.request).caller_service = Some(caller.name.to_string());
        self.caller = Some(caller);
        self
    }

    /// Sets the caller's location.
    pub fn caller_location(mut self, region: &str, zone: &str, campus: &str) -> Criteria {
        self.caller_location = Some(Location {
            region: region.into(),
            zone: zone.into(),
            campus: campus.into(),
        });
        self
    }

    /// Adds a request header (`$header.<key>` in rules).
    pub fn header(mut self, key: impl Into<String>, value: impl Into<String>) -> Criteria {
        Arc::make_mut(&mut self.request)
            .headers
            .insert(key.into(), value.into());
        self
    }

    /// Sets the method (`$method`).
    pub fn method(mut self, method: impl Into<String>) -> Criteria {
        Arc::make_mut(&mut self.request).method = Some(method.into());
        self
    }

    /// Sets the path (`$path`).
    pub fn path(mut self, path: impl Into<String>) -> Criteria {
        Arc::make_mut(&mut self.request).path = Some(path.into());
        self
    }

    /// Adds a custom label (a rule key with no `$` prefix).
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Criteria {
        Arc::make_mut(&mut self.request)
            .custom
            .insert(key.into(), value.into());
        self
    }

    /// Requires an instance metadata pair.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Criteria {
        self.metadata.insert(key.into(), value.into());
        self
    }
}

pub(crate) fn traffic_key(key: &ServiceKey) -> polaris_traffic::ServiceKey {
    polaris_traffic::ServiceKey::new(key.namespace.clone(), key.name.clone())
}

/// Builds the router chain from the configured names.
fn build_chain(
    settings: &RouterSettings,
    gate: Arc<dyn InstanceGate>,
) -> Result<(RouterChain, bool, bool)> {
    let mut seen_filter = false;
    let (mut rules, mut lanes) = (false, false);
    let mut stage = |names: &[String]| -> Result<Vec<Arc<dyn ServiceRouter>>> {
        let mut out: Vec<Arc<dyn ServiceRouter>> = Vec::new();
        for name in names {
            let router: Arc<dyn ServiceRouter> = match name.as_str() {
                "laneRouter" => {
                    lanes = true;
                    Arc::new(LaneRouter::new())
                }
                "ruleBasedRouter" | "ruleRouter" => {
                    rules = true;
                    Arc::new(RuleBasedRouter::new(RuleFailover::All))
                }
                "nearbyBasedRouter" | "nearbyRouter" => {
                    let level = &settings.plugin.nearby_based_router.match_level;
                    let level = LocationLevel::parse(level).ok_or_else(|| {
                        Error::Settings(format!("unknown nearby matchLevel {level:?}"))
                    })?;
                    Arc::new(NearbyRouter::new(level, LocationLevel::All, false))
                }
                "dstMetaRouter" | "metadataRouter" => {
                    Arc::new(DstMetaRouter::new(MetadataFailover::None))
                }
                "filterOnlyRouter" | "isolatedRouter" | "recoverRouter" | "healthyRouter" => {
                    if seen_filter {
                        continue;
                    }
                    seen_filter = true;
                    Arc::new(FilterOnlyRouter::new(true, Some(gate.clone())))
                }
                other => {
                    return Err(Error::Settings(format!("unknown service router {other:?}")));
                }
            };
            out.push(router);
        }
        Ok(out)
    };
    let before = stage(&settings.before_chain)?;
    let chain = stage(&settings.chain)?;
    let after = stage(&settings.after_chain)?;
    Ok((RouterChain::new(before, chain, after), rules, lanes))
}

/// Routing rules compiled from one snapshot.
struct CompiledRouting {
    source: Arc<Snapshot>,
    rules: Option<Arc<RoutingRules>>,
}

/// What the selector keeps per service, found with one map lookup per call: the routing
/// entry, its compiled rules, and one balancer per policy (so their derived structures
/// survive between calls).
#[derive(Default)]
pub(crate) struct ServiceCtx {
    routing_entry: OnceLock<Arc<Entry>>,
    routing: ArcSwapOption<CompiledRouting>,
    balancers: [OnceLock<Arc<dyn LoadBalancer>>; 4],
}

/// Routes and balances.
pub(crate) struct Selector {
    default_lb: LbPolicy,
    chain: RouterChain,
    uses_rules: bool,
    uses_lanes: bool,
    lanes: CompiledCache<LaneRules>,
    services: ArcSwap<FastMap<ServiceKey, Arc<ServiceCtx>>>,
    insert: Mutex<()>,
}

impl Selector {
    pub(crate) fn new(
        default_lb: LbPolicy,
        settings: &RouterSettings,
        breakers: Arc<CircuitBreakers>,
    ) -> Result<Selector> {
        let (chain, uses_rules, uses_lanes) = build_chain(settings, breakers)?;
        Ok(Selector {
            default_lb,
            chain,
            uses_rules,
            uses_lanes,
            lanes: CompiledCache::default(),
            services: ArcSwap::default(),
            insert: Mutex::new(()),
        })
    }

    pub(crate) fn ctx(&self, service: &ServiceKey) -> Arc<ServiceCtx> {
        if let Some(ctx) = self.services.load().get(service) {
            return ctx.clone();
        }
        let _guard = self.insert.lock();
        if let Some(ctx) = self.services.load().get(service) {
            return ctx.clone();
        }
        let ctx = Arc::new(ServiceCtx::default());
        let mut map = FastMap::clone(&self.services.load());
        map.insert(service.clone(), ctx.clone());
        self.services.store(Arc::new(map));
        ctx
    }

    async fn routing_of(
        &self,
        inner: &Inner,
        ctx: &ServiceCtx,
        service: &ServiceKey,
    ) -> Option<Arc<RoutingRules>> {
        let cached = ctx.routing_entry.get().and_then(|e| e.current());
        let snapshot = match cached {
            Some(snapshot) => snapshot,
            None => {
                let snapshot = inner.load(ResourceKind::Routing, service).await.ok()?;
                if let Some(entry) = inner.cache.get(ResourceKind::Routing, service) {
                    let _ = ctx.routing_entry.set(entry);
                }
                snapshot
            }
        };
        if let Some(compiled) = ctx.routing.load().as_ref()
            && Arc::ptr_eq(&compiled.source, &snapshot)
        {
            return compiled.rules.clone();
        }
        let rules = snapshot.response.routing.as_ref().and_then(|routing| {
            let (rules, skipped) = RoutingRules::compile(routing);
            for s in skipped {
                tracing::warn!(%service, rule = %s.rule, reason = %s.reason, "routing rule left out");
            }
            (!rules.is_empty()).then(|| Arc::new(rules))
        });
        ctx.routing.store(Some(Arc::new(CompiledRouting {
            source: snapshot,
            rules: rules.clone(),
        })));
        rules
    }

    async fn lanes_of(&self, inner: &Inner, service: &ServiceKey) -> Option<Arc<LaneRules>> {
        let snapshot = inner.load(ResourceKind::Lane, service).await.ok()?;
        if snapshot.response.lanes.is_empty() {
            return None;
        }
        Some(self.lanes.get(service, &snapshot, |s| {
            let (rules, skipped) = LaneRules::compile(&s.response.lanes);
            for s in skipped {
                tracing::warn!(%service, rule = %s.rule, reason = %s.reason, "lane rule left out");
            }
            rules
        }))
    }

    /// Subscribes the rules routing will need, so their first answers travel with the
    /// instances' instead of after them.
    pub(crate) fn prefetch(&self, inner: &Inner, service: &ServiceKey) {
        if self.uses_rules && inner.cache.get(ResourceKind::Routing, service).is_none() {
            inner.entry(ResourceKind::Routing, service);
        }
    }

    /// Applies the router chain to the instances of `service`.
    pub(crate) async fn route(
        &self,
        inner: &Inner,
        ctx: &ServiceCtx,
        service: &ServiceKey,
        instances: &InstanceList,
        criteria: &Criteria,
    ) -> Result<InstanceList> {
        let mut callee_routing = None;
        let mut caller_routing = None;
        let mut lane_rules = None;
        if self.uses_rules {
            callee_routing = self.routing_of(inner, ctx, service).await;
            if let Some(caller) = &criteria.caller {
                caller_routing = self.routing_of(inner, &self.ctx(caller), caller).await;
            }
        }
        if self.uses_lanes
            && let Some(caller) = &criteria.caller
        {
            lane_rules = self.lanes_of(inner, caller).await;
        }
        let cx = RouteContext {
            caller: criteria.caller.as_ref().map(traffic_key),
            destination: traffic_key(service),
            request: criteria.request.clone(),
            destination_metadata: criteria.metadata.clone(),
            caller_location: criteria
                .caller_location
                .clone()
                .or_else(|| inner.location.clone()),
            caller_routing,
            callee_routing,
            lane_rules,
            lane: criteria.lane.clone(),
        };
        self.chain.route(&cx, instances).map_err(|e| {
            tracing::debug!(%service, error = %e, "routing left no instance");
            Error::NoInstance {
                namespace: service.namespace.to_string(),
                service: service.name.to_string(),
            }
        })
    }

    /// Picks one instance of a routed set.
    pub(crate) fn pick(
        &self,
        ctx: &ServiceCtx,
        routed: &InstanceList,
        criteria: &Criteria,
    ) -> Option<Arc<Instance>> {
        let policy = criteria.lb.unwrap_or(self.default_lb);
        let balancer = Self::balancer(ctx, policy);
        let c = balance::Criteria {
            hash_key: criteria.hash_key.as_deref(),
        };
        balancer.pick(routed, &c)
    }

    fn balancer(ctx: &ServiceCtx, policy: LbPolicy) -> Arc<dyn LoadBalancer> {
        let slot = match policy {
            LbPolicy::WeightedRandom => 0,
            LbPolicy::RoundRobin => 1,
            LbPolicy::RingHash => 2,
            LbPolicy::Maglev => 3,
        };
        ctx.balancers[slot]
            .get_or_init(|| {
                balance::balancer_by_name(policy.name())
                    .unwrap_or_else(|| Arc::new(balance::WeightedRandomBalancer::new()))
            })
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_criteria_share_the_empty_request_until_changed() {
        let (a, b) = (Criteria::default(), Criteria::default());
        assert!(Arc::ptr_eq(&a.request, &b.request));
        let changed = Criteria::default().path("/Echo");
        assert!(!Arc::ptr_eq(&changed.request, &a.request));
        assert_eq!(changed.request.path.as_deref(), Some("/Echo"));
        assert_eq!(
            a.request.path, None,
            "the shared empty request is unchanged"
        );
    }
}
