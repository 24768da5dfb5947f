//! `filterOnlyRouter`: drops instances that must not receive traffic.

use std::sync::Arc;

use super::{InstanceList, Memo, RouteContext, RouteError, ServiceRouter, retain};
use crate::{Instance, ServiceKey};

/// Something that can bar an instance, such as an open instance-level circuit breaker.
pub trait InstanceGate: Send + Sync {
    /// True when `instance` of `service` must receive no traffic now.
    fn is_blocked(&self, service: &ServiceKey, instance: &Instance) -> bool;

    /// False when no instance of `service` can be blocked now, so the router can skip asking
    /// about each one. The default is `true`.
    fn may_block(&self, _service: &ServiceKey) -> bool {
        true
    }

    /// The largest share (percent) of the instances of `service` that may be barred at once
    /// (`maxEjectionPercent`); past it the router lets barred instances through, in set
    /// order. `None` (the default) means no cap.
    fn max_blocked_percent(&self, _service: &ServiceKey) -> Option<u32> {
        None
    }
}

const HEALTHY: u64 = 0;
const SERVABLE: u64 = 1;

/// Drops isolated instances, instances of weight 0, unhealthy instances and instances the
/// gate bars. With recover-all (`enableRecoverAll`), when that leaves nothing but some
/// instance is merely unhealthy or barred, every non-isolated instance of weight above 0 is
/// returned instead, so a flapping health signal cannot black-hole a service.
pub struct FilterOnlyRouter {
    recover_all: bool,
    gate: Option<Arc<dyn InstanceGate>>,
    memo: Memo,
}

impl std::fmt::Debug for FilterOnlyRouter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FilterOnlyRouter")
            .field("recover_all", &self.recover_all)
            .field("gate", &self.gate.is_some())
            .finish()
    }
}

impl FilterOnlyRouter {
    /// A router with recover-all on or off and an optional gate.
    pub fn new(recover_all: bool, gate: Option<Arc<dyn InstanceGate>>) -> Self {
        FilterOnlyRouter {
            recover_all,
            gate,
            memo: Memo::default(),
        }
    }
}

fn servable(instance: &Instance) -> bool {
    !instance.isolate && instance.weight > 0
}

impl ServiceRouter for FilterOnlyRouter {
    fn name(&self) -> &'static str {
        "filterOnlyRouter"
    }

    fn route(&self, cx: &RouteContext, set: &InstanceList) -> Result<InstanceList, RouteError> {
        // Health, isolation and weight only change with a new snapshot: memoised per set.
        let healthy = self.memo.get_or(set, HEALTHY, || {
            retain(set, |i: &Instance| servable(i) && i.healthy)
        });
        let kept = match self.gate.as_ref() {
            Some(gate) if gate.may_block(&cx.destination) => {
                let service = &cx.destination;
                // How many barred instances must be let through to respect the cap (counting
                // the barred ones only when there is a cap).
                let mut readmit = gate.max_blocked_percent(service).map_or(0, |percent| {
                    let blocked = healthy
                        .iter()
                        .filter(|i| gate.is_blocked(service, i))
                        .count();
                    let cap = healthy.len() * percent.min(100) as usize / 100;
                    blocked.saturating_sub(cap)
                });
                retain(&healthy, |i| {
                    if !gate.is_blocked(service, i) {
                        return true;
                    }
                    let let_through = readmit > 0;
                    readmit = readmit.saturating_sub(1);
                    let_through
                })
            }
            _ => healthy,
        };
        if !kept.is_empty() || !self.recover_all {
            return Ok(kept);
        }
        let recovered = self.memo.get_or(set, SERVABLE, || retain(set, servable));
        if recovered.is_empty() {
            Err(RouteError::NoInstances {
                router: self.name(),
            })
        } else {
            Ok(recovered)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::router::test_support::{ids, instance};

    fn with(id: &str, healthy: bool, isolate: bool, weight: u32) -> Arc<Instance> {
        let mut base = (*instance(id, &[], ["", "", ""])).clone();
        base.healthy = healthy;
        base.isolate = isolate;
        base.weight = weight;
        Arc::new(base)
    }

    struct BlockId(&'static str);
    impl InstanceGate for BlockId {
        fn is_blocked(&self, _: &ServiceKey, instance: &Instance) -> bool {
            &*instance.id == self.0
        }
    }

    #[test]
    fn drops_unhealthy_isolated_zero_weight_and_gated() {
        let set: InstanceList = vec![
            with("ok", true, false, 100),
            with("sick", false, false, 100),
            with("isolated", true, true, 100),
            with("zero", true, false, 0),
            with("open", true, false, 100),
        ]
        .into();
        let router = FilterOnlyRouter::new(true, Some(Arc::new(BlockId("open"))));
        let out = router.route(&RouteContext::default(), &set).unwrap();
        assert_eq!(ids(&out), ["ok"]);
    }

    struct BlockAllButLast(u32);
    impl InstanceGate for BlockAllButLast {
        fn is_blocked(&self, _: &ServiceKey, instance: &Instance) -> bool {
            &*instance.id != "d"
        }
        fn max_blocked_percent(&self, _: &ServiceKey) -> Option<u32> {
            Some(self.0)
        }
    }

    #[test]
    fn the_ejection_cap_lets_barred_instances_through_in_order() {
        let set: InstanceList = ["a", "b", "c", "d"]
            .into_iter()
            .map(|id| with(id, true, false, 100))
            .collect();
        let route = |percent| {
            let router = FilterOnlyRouter::new(false, Some(Arc::new(BlockAllButLast(percent))));
            ids(&router.route(&RouteContext::default(), &set).unwrap())
        };
        // Three of four barred; a 50 % cap allows two, so one is let through.
        assert_eq!(route(50), ["a", "d"]);
        assert_eq!(route(100), ["d"]);
        assert_eq!(route(0), ["a", "b", "c", "d"]);
    }

    #[test]
    fn unchanged_set_is_the_same_arc() {
        let set: InstanceList = vec![with("a", true, false, 1), with("b", true, false, 1)].into();
        let out = FilterOnlyRouter::new(false, None)
            .route(&RouteContext::default(), &set)
            .unwrap();
        assert!(Arc::ptr_eq(&out, &set));
    }

    #[test]
    fn recover_all_returns_servable_instances_when_all_are_unhealthy() {
        let set: InstanceList = vec![
            with("sick-1", false, false, 100),
            with("sick-2", false, false, 100),
            with("isolated", false, true, 100),
        ]
        .into();
        let recovering = FilterOnlyRouter::new(true, None);
        let out = recovering.route(&RouteContext::default(), &set).unwrap();
        assert_eq!(ids(&out), ["sick-1", "sick-2"]);
        let strict = FilterOnlyRouter::new(false, None);
        assert!(
            strict
                .route(&RouteContext::default(), &set)
                .unwrap()
                .is_empty()
        );
        let only_isolated: InstanceList = vec![with("isolated", true, true, 100)].into();
        assert_eq!(
            recovering.route(&RouteContext::default(), &only_isolated),
            Err(RouteError::NoInstances {
                router: "filterOnlyRouter"
            })
        );
    }
}

#[cfg(test)]
mod properties {
    use proptest::prelude::*;

    use super::*;

    fn arbitrary_set() -> impl Strategy<Value = Vec<(bool, bool, u32)>> {
        proptest::collection::vec((any::<bool>(), any::<bool>(), 0u32..3), 0..20)
    }

    proptest! {
        #[test]
        fn filter_matches_a_reference_and_shares_unchanged_sets(
            flags in arbitrary_set(),
            recover_all in any::<bool>(),
        ) {
            let set: InstanceList = flags
                .iter()
                .enumerate()
                .map(|(i, (healthy, isolate, weight))| {
                    Arc::new(Instance {
                        id: i.to_string().into(),
                        healthy: *healthy,
                        isolate: *isolate,
                        weight: *weight,
                        ..Default::default()
                    })
                })
                .collect();
            let servable: Vec<usize> = (0..flags.len())
                .filter(|i| !flags[*i].1 && flags[*i].2 > 0)
                .collect();
            let healthy: Vec<usize> = servable.iter().copied().filter(|i| flags[*i].0).collect();
            let expected = if healthy.is_empty() && recover_all { servable } else { healthy };
            let router = FilterOnlyRouter::new(recover_all, None);
            match router.route(&RouteContext::default(), &set) {
                Ok(out) => {
                    let got: Vec<usize> = out.iter().map(|i| i.id.parse().unwrap()).collect();
                    prop_assert_eq!(&got, &expected);
                    prop_assert_eq!(Arc::ptr_eq(&out, &set), expected.len() == set.len());
                    let again = router.route(&RouteContext::default(), &set).unwrap();
                    prop_assert!(Arc::ptr_eq(&out, &again));
                }
                Err(_) => prop_assert!(recover_all && expected.is_empty()),
            }
        }
    }
}
