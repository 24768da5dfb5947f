//! Routing and load balancing over cached snapshots.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use arc_swap::{ArcSwap, ArcSwapOption};
use parking_lot::Mutex;
use polaris_traffic::balance::{self, LoadBalancer};
use polaris_traffic::{Instance, ServiceInstances};

use super::cache::{ServiceKey, Snapshot};
use crate::client::Inner;
use crate::error::Result;

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
#[derive(Clone, Debug, Default)]
pub struct Criteria {
    /// Hash key for `ringHash` / `maglev` (user id, session id...).
    pub hash_key: Option<Vec<u8>>,
    /// Overrides the client's default load balancer for this call.
    pub lb: Option<LbPolicy>,
    /// The calling service, matched by routing rules' sources.
    pub caller: Option<ServiceKey>,
    /// Request labels matched by routing rules (`$header.uid`, `$method`...), by label key.
    pub labels: BTreeMap<String, String>,
    /// Only instances whose metadata holds all of these pairs.
    pub metadata: BTreeMap<String, String>,
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
        self.caller = Some(caller);
        self
    }

    /// Adds a request label.
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Criteria {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// Requires an instance metadata pair.
    pub fn metadata(mut self, key: impl Into<String>, value: impl Into<String>) -> Criteria {
        self.metadata.insert(key.into(), value.into());
        self
    }

    fn is_plain(&self) -> bool {
        self.caller.is_none() && self.labels.is_empty() && self.metadata.is_empty()
    }
}

/// The routed set of the last snapshot, reused while the snapshot and the rules stay the same.
struct Routed {
    source: Arc<Snapshot>,
    routed: Arc<ServiceInstances>,
}

/// Routes and balances; keeps one balancer per (service, policy) so their derived structures
/// survive between calls.
pub(crate) struct Selector {
    default_lb: LbPolicy,
    balancers: ArcSwap<HashMap<(ServiceKey, LbPolicy), Arc<dyn LoadBalancer>>>,
    routed: ArcSwap<HashMap<ServiceKey, Arc<ArcSwapOption<Routed>>>>,
    insert: Mutex<()>,
}

impl Selector {
    pub(crate) fn new(default_lb: LbPolicy) -> Selector {
        Selector {
            default_lb,
            balancers: ArcSwap::default(),
            routed: ArcSwap::default(),
            insert: Mutex::new(()),
        }
    }

    /// Applies the router chain.
    pub(crate) async fn route(
        &self,
        _inner: &Inner,
        service: &ServiceKey,
        snapshot: &Arc<Snapshot>,
        criteria: &Criteria,
    ) -> Result<Arc<ServiceInstances>> {
        if !criteria.is_plain() {
            return Ok(Arc::new(filter(&snapshot.instances, criteria)));
        }
        let slot = self.routed_slot(service);
        if let Some(cached) = slot.load().as_ref()
            && Arc::ptr_eq(&cached.source, snapshot)
        {
            return Ok(cached.routed.clone());
        }
        let routed = Arc::new(filter(&snapshot.instances, criteria));
        slot.store(Some(Arc::new(Routed {
            source: snapshot.clone(),
            routed: routed.clone(),
        })));
        Ok(routed)
    }

    fn routed_slot(&self, service: &ServiceKey) -> Arc<ArcSwapOption<Routed>> {
        if let Some(slot) = self.routed.load().get(service) {
            return slot.clone();
        }
        let _guard = self.insert.lock();
        if let Some(slot) = self.routed.load().get(service) {
            return slot.clone();
        }
        let slot = Arc::new(ArcSwapOption::empty());
        let mut map = HashMap::clone(&self.routed.load());
        map.insert(service.clone(), slot.clone());
        self.routed.store(Arc::new(map));
        slot
    }

    /// Picks one instance of a routed set.
    pub(crate) fn pick(
        &self,
        service: &ServiceKey,
        routed: &ServiceInstances,
        criteria: &Criteria,
    ) -> Option<Arc<Instance>> {
        let policy = criteria.lb.unwrap_or(self.default_lb);
        let balancer = self.balancer(service, policy);
        let c = balance::Criteria {
            hash_key: criteria.hash_key.as_deref(),
        };
        balancer.pick(&routed.instances, &c)
    }

    fn balancer(&self, service: &ServiceKey, policy: LbPolicy) -> Arc<dyn LoadBalancer> {
        let key = (service.clone(), policy);
        if let Some(b) = self.balancers.load().get(&key) {
            return b.clone();
        }
        let _guard = self.insert.lock();
        if let Some(b) = self.balancers.load().get(&key) {
            return b.clone();
        }
        let b = balance::balancer_by_name(policy.name())
            .unwrap_or_else(|| Arc::new(balance::WeightedRandomBalancer::new()));
        let mut map = HashMap::clone(&self.balancers.load());
        map.insert(key, b.clone());
        self.balancers.store(Arc::new(map));
        b
    }
}

/// Healthy, non-isolated instances with weight, matching the required metadata; when that
/// leaves nothing, every non-isolated matching instance (recover all).
fn filter(all: &ServiceInstances, criteria: &Criteria) -> ServiceInstances {
    let meta_ok = |i: &Instance| {
        criteria
            .metadata
            .iter()
            .all(|(k, v)| i.metadata.get(k) == Some(v))
    };
    let healthy: Vec<Arc<Instance>> = all
        .instances
        .iter()
        .filter(|i| i.healthy && !i.isolate && i.weight > 0 && meta_ok(i))
        .cloned()
        .collect();
    let chosen = if healthy.is_empty() {
        all.instances
            .iter()
            .filter(|i| !i.isolate && i.weight > 0 && meta_ok(i))
            .cloned()
            .collect()
    } else {
        healthy
    };
    ServiceInstances {
        namespace: all.namespace.clone(),
        service: all.service.clone(),
        revision: all.revision.clone(),
        metadata: all.metadata.clone(),
        instances: chosen.into(),
    }
}
