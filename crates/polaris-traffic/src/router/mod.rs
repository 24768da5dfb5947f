//! Service routers: each narrows a set of instances for one call, and a chain runs them in the
//! official order (`laneRouter`; `ruleBasedRouter`, `nearbyBasedRouter`; `filterOnlyRouter`,
//! plus `dstMetaRouter` where configured).
//!
//! Routers take and return `Arc<[Arc<Instance>]>`. When a router removes nothing it returns
//! the input `Arc` itself; when it removes something, the rule-driven routers memoise the
//! result per input set and decision, so the same call on the same snapshot returns the same
//! `Arc` again and the balancers' per-set caches stay warm.

mod filter;
mod lane;
mod metadata;
mod nearby;
mod rule;

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use parking_lot::Mutex;
use polaris_matcher::RequestContext;

pub use filter::{FilterOnlyRouter, InstanceGate};
pub use lane::{LANE_LABEL, LaneMatch, LaneRouter, LaneRules};
pub use metadata::{DstMetaRouter, MetadataFailover};
pub use nearby::{LocationLevel, NearbyRouter};
pub use rule::{RoutingRules, RuleBasedRouter, RuleFailover};

use crate::{Instance, Location, ServiceKey};

/// A list of instances as routers pass it along.
pub type InstanceList = Arc<[Arc<Instance>]>;

/// Everything the routers know about one call.
#[derive(Debug, Clone, Default)]
pub struct RouteContext {
    /// The calling service, when the caller declared one.
    pub caller: Option<ServiceKey>,
    /// The service being called.
    pub destination: ServiceKey,
    /// Request arguments (headers, query, method, path, caller IP, caller metadata, custom
    /// labels) that routing and lane rules match against; shared, so a caller can keep
    /// one per method instead of building it per call.
    pub request: Arc<RequestContext>,
    /// Instance metadata the caller asks for (`dstMetaRouter`).
    pub destination_metadata: BTreeMap<String, String>,
    /// Where the caller runs (`nearbyBasedRouter`).
    pub caller_location: Option<Location>,
    /// The caller service's v1 routing rules (its outbounds are tried first).
    pub caller_routing: Option<Arc<RoutingRules>>,
    /// The destination service's v1 routing rules (its inbounds are tried second).
    pub callee_routing: Option<Arc<RoutingRules>>,
    /// Lane groups that apply to this call (`laneRouter`).
    pub lane_rules: Option<Arc<LaneRules>>,
    /// The lane the request already carries (propagated from upstream), if any; it wins over
    /// lane rule matching.
    pub lane: Option<String>,
}

/// Why routing produced no instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RouteError {
    /// A router left no instance.
    NoInstances {
        /// Official name of the router.
        router: &'static str,
    },
    /// Rules exist but none matched and the failover is `none`.
    RuleNotMatched {
        /// Official name of the router.
        router: &'static str,
    },
}

impl fmt::Display for RouteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RouteError::NoInstances { router } => write!(f, "{router}: no instance left"),
            RouteError::RuleNotMatched { router } => {
                write!(f, "{router}: no rule matched and failover is none")
            }
        }
    }
}

impl std::error::Error for RouteError {}

/// One router of the chain.
pub trait ServiceRouter: Send + Sync {
    /// Official plugin name.
    fn name(&self) -> &'static str;

    /// Narrows `set` for the call described by `cx`. Returns the input `Arc` itself when
    /// nothing is removed.
    fn route(&self, cx: &RouteContext, set: &InstanceList) -> Result<InstanceList, RouteError>;
}

/// Routers run in order: before-chain, chain, after-chain. Any router leaving no instance
/// stops the chain with an error.
pub struct RouterChain {
    routers: Vec<Arc<dyn ServiceRouter>>,
}

impl fmt::Debug for RouterChain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.routers.iter().map(|r| r.name()))
            .finish()
    }
}

impl Default for RouterChain {
    /// The official default: `laneRouter`; `ruleBasedRouter`, `nearbyBasedRouter`;
    /// `filterOnlyRouter` (recover-all on, no breaker gate).
    fn default() -> Self {
        RouterChain::new(
            vec![Arc::new(LaneRouter::new())],
            vec![
                Arc::new(RuleBasedRouter::new(RuleFailover::All)),
                Arc::new(NearbyRouter::default()),
            ],
            vec![Arc::new(FilterOnlyRouter::new(true, None))],
        )
    }
}

impl RouterChain {
    /// A chain from its three stages.
    pub fn new(
        before: Vec<Arc<dyn ServiceRouter>>,
        chain: Vec<Arc<dyn ServiceRouter>>,
        after: Vec<Arc<dyn ServiceRouter>>,
    ) -> Self {
        let mut routers = before;
        routers.extend(chain);
        routers.extend(after);
        RouterChain { routers }
    }

    /// Official names of the routers, in order.
    pub fn names(&self) -> Vec<&'static str> {
        self.routers.iter().map(|r| r.name()).collect()
    }

    /// Runs every router in order.
    pub fn route(&self, cx: &RouteContext, set: &InstanceList) -> Result<InstanceList, RouteError> {
        let mut current = Arc::clone(set);
        for router in &self.routers {
            current = router.route(cx, &current)?;
            if current.is_empty() {
                return Err(RouteError::NoInstances {
                    router: router.name(),
                });
            }
        }
        Ok(current)
    }
}

/// Keeps the instances `keep` accepts; the input `Arc` itself when it accepts all of them.
pub(crate) fn retain(set: &InstanceList, mut keep: impl FnMut(&Instance) -> bool) -> InstanceList {
    let Some(first_dropped) = set.iter().position(|instance| !keep(instance)) else {
        return Arc::clone(set);
    };
    let mut kept: Vec<Arc<Instance>> = set[..first_dropped].to_vec();
    kept.extend(
        set[first_dropped + 1..]
            .iter()
            .filter(|instance| keep(instance))
            .cloned(),
    );
    kept.into()
}

/// Memoised results a router keeps; past it, entries whose input set nobody else holds are
/// dropped (and if every input is still held, everything is).
const MEMO_CAPACITY: usize = 256;

/// Results of a router per (input set, decision key), so repeated calls share one `Arc`.
/// One router serves many services, so entries are keyed by the input's address (unique
/// while the memo holds the input) and the decision.
#[derive(Default)]
pub(crate) struct Memo {
    entries: Mutex<crate::FastMap<(usize, u64), (InstanceList, InstanceList)>>,
}

impl fmt::Debug for Memo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Memo")
            .field("entries", &self.entries.lock().len())
            .finish()
    }
}

impl Memo {
    /// The memoised result for `(set, key)`, computed by `compute` on a miss.
    pub(crate) fn get_or(
        &self,
        set: &InstanceList,
        key: u64,
        compute: impl FnOnce() -> InstanceList,
    ) -> InstanceList {
        let id = (crate::balance::set_address(set), key);
        if let Some((input, out)) = self.entries.lock().get(&id)
            && Arc::ptr_eq(input, set)
        {
            return Arc::clone(out);
        }
        let out = compute();
        let mut entries = self.entries.lock();
        if entries.len() >= MEMO_CAPACITY {
            entries.retain(|_, (input, _)| Arc::strong_count(input) > 1);
            if entries.len() >= MEMO_CAPACITY {
                entries.clear();
            }
        }
        entries.insert(id, (Arc::clone(set), Arc::clone(&out)));
        out
    }
}

#[cfg(test)]
pub(crate) mod test_support {
    use std::sync::Arc;

    use super::InstanceList;
    use crate::{Instance, Location};

    /// A healthy instance with weight 100, the given metadata and location.
    pub(crate) fn instance(
        id: &str,
        labels: &[(&str, &str)],
        location: [&str; 3],
    ) -> Arc<Instance> {
        Arc::new(Instance {
            id: id.into(),
            host: format!("host-{id}").into(),
            port: 80,
            weight: 100,
            healthy: true,
            metadata: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            location: Location {
                region: location[0].into(),
                zone: location[1].into(),
                campus: location[2].into(),
            },
            ..Default::default()
        })
    }

    /// The ids of a list, in order.
    pub(crate) fn ids(list: &InstanceList) -> Vec<String> {
        list.iter().map(|i| i.id.to_string()).collect()
    }
}

#[cfg(test)]
#[path = "chain_tests.rs"]
mod chain_tests;
