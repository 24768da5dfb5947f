//! Circuit breakers at service, method and instance level, driven by v2
//! `CircuitBreakerRule`s, plus the probe descriptions of fault detection.
//!
//! A breaker exists per resource once an outcome is reported for it and a rule applies
//! (or, for instances, the official default rule). The SDK calls [`CircuitBreakers::check`]
//! before a call (service, then method), reports every outcome with
//! [`CircuitBreakers::report`], and gives the breakers to the `filterOnlyRouter` as an
//! [`InstanceGate`] so open instances receive no traffic.
//!
//! Rules per service come from [`CircuitBreakers::set_rules`]; the first enabled rule by
//! ascending priority whose level, source, destination (and method, for method level)
//! match is used. Service and method resources with no matching rule are never broken;
//! instance resources then use the official defaults (10 consecutive errors, or 50 % errors
//! over 60 s once 10 calls were seen; 30 s sleep window; 3 successes of at most 10 trial
//! calls close it again). Only the first error-rate trigger of a rule keeps a window.
//!
//! A call is an error when it matches one of the rule's error conditions (`RET_CODE`: the
//! code text against the match string; `DELAY`: slower than the given milliseconds), or,
//! when the rule has none (and under the default rule), when the caller reports it as
//! failed. `faultDetectConfig.enable` is exposed through
//! [`CircuitBreakers::wants_fault_detection`]; probe results are reported like calls.
//!
//! `max_ejection_percent` of instance-level rules caps the share of a service's instances
//! the router gate bars (the largest cap of the service's instance rules applies).
//!
//! Not covered yet: the `GROUP` level, `block_configs` and `regex_separate` (a method-level
//! breaker is always per concrete method).

mod probe;
mod rule;
mod state;

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use polaris_proto::v1;
use tokio::time::Instant;

pub use probe::{
    DEFAULT_PROBE_INTERVAL, DEFAULT_PROBE_TIMEOUT, FaultDetectRules, HttpProbe, ProbeProtocol,
    ProbeSpec, TcpProbe,
};
pub use rule::{
    BreakerDefaults, DEFAULT_ERROR_COUNT, DEFAULT_ERROR_PERCENT, DEFAULT_INTERVAL,
    DEFAULT_MINIMUM_REQUEST, DEFAULT_REQUEST_COUNT_AFTER_HALF_OPEN, DEFAULT_SLEEP_WINDOW,
    DEFAULT_SUCCESS_COUNT_AFTER_HALF_OPEN, Fallback, Level,
};
pub use state::BreakerStatus;

use crate::router::InstanceGate;
use crate::{FastMap, Instance, ServiceKey, Skipped};
use rule::{BreakerRule, compile_rules};
use state::Breaker;

/// Breakers kept at most; past it, closed breakers are forgotten (so many distinct methods or
/// instances cannot exhaust memory).
pub const MAX_BREAKERS: usize = 65_536;

/// What a breaker protects.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Resource {
    /// A whole service.
    Service(ServiceKey),
    /// One method of a service.
    Method(ServiceKey, Arc<str>),
    /// One instance (host and port) of a service.
    Instance(ServiceKey, Arc<str>, u32),
}

impl Resource {
    /// The level of this resource.
    pub fn level(&self) -> Level {
        match self {
            Resource::Service(_) => Level::Service,
            Resource::Method(..) => Level::Method,
            Resource::Instance(..) => Level::Instance,
        }
    }

    /// The service the resource belongs to.
    pub fn service(&self) -> &ServiceKey {
        match self {
            Resource::Service(s) | Resource::Method(s, _) | Resource::Instance(s, ..) => s,
        }
    }

    fn method(&self) -> Option<&str> {
        match self {
            Resource::Method(_, method) => Some(&**method),
            _ => None,
        }
    }
}

/// The outcome of one call, as the caller reports it.
#[derive(Debug, Clone, Copy)]
pub struct Outcome<'a> {
    /// Return code as text (HTTP status, gRPC code, business code...).
    pub code: &'a str,
    /// How long the call took.
    pub delay: Duration,
    /// Whether the caller considers the call successful (used when the rule has no error
    /// condition).
    pub success: bool,
}

/// A call refused by an open (or saturated half-open) breaker.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallAborted {
    /// Name of the rule that opened the breaker (empty for the default rule).
    pub rule: Arc<str>,
    /// The resource whose breaker refused.
    pub resource: Resource,
    /// The configured fallback answer, if any.
    pub fallback: Option<Arc<Fallback>>,
}

impl fmt::Display for CallAborted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "circuit open for {:?} (rule {:?})",
            self.resource, self.rule
        )
    }
}

impl std::error::Error for CallAborted {}

/// An instance whose breaker is not closed: host, port and the breaker.
type UnclosedInstance = (Arc<str>, u32, Arc<Mutex<Breaker>>);

/// All breakers of one client.
#[derive(Debug)]
pub struct CircuitBreakers {
    rules: RwLock<FastMap<ServiceKey, Arc<[Arc<BreakerRule>]>>>,
    breakers: Mutex<FastMap<Resource, Arc<Mutex<Breaker>>>>,
    /// Instance breakers opened and not closed again, per service, so the router gate
    /// answers without building a resource key; a superset at worst (each entry's breaker is
    /// asked for its real state).
    unclosed: RwLock<FastMap<ServiceKey, Vec<UnclosedInstance>>>,
    /// Total entries in `unclosed`; 0 lets the gate skip even the map lookup.
    unclosed_total: AtomicUsize,
    /// `None` when `defaultRuleEnable` is off: instances without a rule never break.
    default_instance_rule: Option<Arc<BreakerRule>>,
}

impl Default for CircuitBreakers {
    fn default() -> Self {
        CircuitBreakers::with_defaults(&BreakerDefaults::default())
    }
}

impl CircuitBreakers {
    /// Breakers with no rule yet and the official default rule.
    pub fn new() -> Self {
        Self::default()
    }

    /// Breakers with no rule yet and `defaults` for instances no rule covers.
    pub fn with_defaults(defaults: &BreakerDefaults) -> Self {
        CircuitBreakers {
            rules: RwLock::default(),
            breakers: Mutex::default(),
            unclosed: RwLock::default(),
            unclosed_total: AtomicUsize::new(0),
            default_instance_rule: defaults
                .enabled
                .then(|| Arc::new(BreakerRule::default_for(Level::Instance, defaults))),
        }
    }

    /// Replaces the rules of `service` (the `CircuitBreaker` Discover returned for it). The
    /// service's breakers whose rule changed or disappeared are forgotten (closed); the others
    /// keep their state. Rules that cannot be compiled are left out and returned.
    pub fn set_rules(&self, service: &ServiceKey, message: &v1::CircuitBreaker) -> Vec<Skipped> {
        let (rules, skipped) = compile_rules(message);
        let rules: Arc<[Arc<BreakerRule>]> = rules.into_iter().map(Arc::new).collect();
        let any_instance_rule = rules.iter().any(|r| r.level == Level::Instance);
        // A breaker survives when its rule (same id and revision) is still there, or when it
        // runs the default rule and no instance-level rule appeared.
        let survives = |rule: &BreakerRule| match &rule.identity {
            Some(identity) => rules.iter().any(|r| r.identity.as_ref() == Some(identity)),
            None => !any_instance_rule,
        };
        self.rules
            .write()
            .insert(service.clone(), Arc::clone(&rules));
        let mut dropped = Vec::new();
        self.breakers.lock().retain(|resource, breaker| {
            let keep = resource.service() != service || survives(&breaker.lock().rule);
            if !keep {
                dropped.push(resource.clone());
            }
            keep
        });
        let mut unclosed = self.unclosed.write();
        if let Some(list) = unclosed.get_mut(service) {
            let before = list.len();
            list.retain(|(host, port, _)| {
                !dropped
                    .iter()
                    .any(|r| matches!(r, Resource::Instance(_, h, p) if h == host && p == port))
            });
            self.unclosed_total
                .fetch_sub(before - list.len(), Ordering::Relaxed);
            if list.is_empty() {
                unclosed.remove(service);
            }
        }
        skipped
    }

    /// Keeps the per-service list of unclosed instance breakers up to date.
    fn track(&self, resource: &Resource, breaker: &Arc<Mutex<Breaker>>, closed: bool) {
        let Resource::Instance(service, host, port) = resource else {
            return;
        };
        let mut unclosed = self.unclosed.write();
        if closed {
            if let Some(list) = unclosed.get_mut(service) {
                let before = list.len();
                list.retain(|(h, p, _)| !(h == host && p == port));
                self.unclosed_total
                    .fetch_sub(before - list.len(), Ordering::Relaxed);
                if list.is_empty() {
                    unclosed.remove(service);
                }
            }
        } else {
            let list = unclosed.entry(service.clone()).or_default();
            if !list.iter().any(|(h, p, _)| h == host && p == port) {
                list.push((host.clone(), *port, Arc::clone(breaker)));
                self.unclosed_total.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    fn rule_for(
        &self,
        caller: Option<&ServiceKey>,
        resource: &Resource,
    ) -> Option<Arc<BreakerRule>> {
        let rules = self.rules.read();
        let found = rules.get(resource.service()).and_then(|rules| {
            rules
                .iter()
                .find(|r| {
                    r.level == resource.level()
                        && r.applies(caller, resource.service(), resource.method())
                })
                .cloned()
        });
        match (found, resource.level()) {
            (Some(rule), _) => Some(rule),
            (None, Level::Instance) => self.default_instance_rule.clone(),
            (None, _) => None,
        }
    }

    fn breaker(&self, resource: &Resource) -> Option<Arc<Mutex<Breaker>>> {
        self.breakers.lock().get(resource).cloned()
    }

    /// Admits a call to `resource` or refuses it. A resource with no breaker yet is admitted.
    /// A half-open breaker admits a limited number of trial calls.
    pub fn check(&self, resource: &Resource) -> Result<(), CallAborted> {
        self.check_at(Instant::now(), resource)
    }

    /// [`check`](Self::check) at `now` (one clock read for the several checks of a call).
    pub fn check_at(&self, now: Instant, resource: &Resource) -> Result<(), CallAborted> {
        let Some(breaker) = self.breaker(resource) else {
            return Ok(());
        };
        let mut breaker = breaker.lock();
        if breaker.admit(now) {
            Ok(())
        } else {
            Err(CallAborted {
                rule: breaker.rule.name.clone(),
                resource: resource.clone(),
                fallback: breaker.rule.fallback.clone(),
            })
        }
    }

    /// Records the outcome of a call from `caller` to `resource`.
    pub fn report(&self, caller: Option<&ServiceKey>, resource: &Resource, outcome: &Outcome<'_>) {
        self.report_at(Instant::now(), caller, resource, outcome);
    }

    /// [`report`](Self::report) at `now` (one clock read for the several reports of a call).
    pub fn report_at(
        &self,
        now: Instant,
        caller: Option<&ServiceKey>,
        resource: &Resource,
        outcome: &Outcome<'_>,
    ) {
        let breaker = match self.breaker(resource) {
            Some(breaker) => breaker,
            None => {
                let Some(rule) = self.rule_for(caller, resource) else {
                    return;
                };
                let fresh = Arc::new(Mutex::new(Breaker::new(rule, now)));
                let mut breakers = self.breakers.lock();
                if breakers.len() >= MAX_BREAKERS && !breakers.contains_key(resource) {
                    // Forget closed breakers (and their counts) rather than grow without end.
                    breakers.retain(|_, b| b.lock().status(now) != BreakerStatus::Closed);
                }
                Arc::clone(breakers.entry(resource.clone()).or_insert(fresh))
            }
        };
        let (before, after) = {
            let mut state = breaker.lock();
            let before = state.status(now);
            let error = state
                .rule
                .is_error(outcome.code, outcome.delay, outcome.success);
            (before, state.record(now, error))
        };
        // Outside the breaker's lock: the gate takes the list's lock, then a breaker's.
        let (was_closed, is_closed) = (
            before == BreakerStatus::Closed,
            after == BreakerStatus::Closed,
        );
        if was_closed != is_closed {
            self.track(resource, &breaker, is_closed);
        }
    }

    /// The status of the breaker of `resource` (closed when there is none).
    pub fn status(&self, resource: &Resource) -> BreakerStatus {
        self.breaker(resource)
            .map_or(BreakerStatus::Closed, |b| b.lock().status(Instant::now()))
    }

    /// True when the rule of the breaker of `resource` asks for fault-detection probes.
    pub fn wants_fault_detection(&self, resource: &Resource) -> bool {
        self.breaker(resource)
            .is_some_and(|b| b.lock().rule.fault_detect)
    }

    /// True when the instance `host:port` of `service` must receive no traffic now (open, or
    /// half-open with every trial call already admitted).
    pub fn is_instance_open(&self, service: &ServiceKey, host: &str, port: u32) -> bool {
        if self.unclosed_total.load(Ordering::Relaxed) == 0 {
            return false;
        }
        let unclosed = self.unclosed.read();
        let Some(list) = unclosed.get(service) else {
            return false;
        };
        list.iter()
            .find(|(h, p, _)| &**h == host && *p == port)
            .is_some_and(|(_, _, breaker)| breaker.lock().blocks(Instant::now()))
    }
}

impl InstanceGate for CircuitBreakers {
    fn is_blocked(&self, service: &ServiceKey, instance: &Instance) -> bool {
        self.is_instance_open(service, &instance.host, instance.port)
    }

    fn max_blocked_percent(&self, service: &ServiceKey) -> Option<u32> {
        let rules = self.rules.read();
        rules
            .get(service)?
            .iter()
            .filter(|r| r.level == Level::Instance && r.max_ejection_percent > 0)
            .map(|r| r.max_ejection_percent)
            .max()
    }

    fn may_block(&self, service: &ServiceKey) -> bool {
        self.unclosed_total.load(Ordering::Relaxed) > 0
            && self.unclosed.read().contains_key(service)
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
