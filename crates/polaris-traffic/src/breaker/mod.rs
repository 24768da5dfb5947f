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

mod probe;
mod rule;
mod state;

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use parking_lot::{Mutex, RwLock};
use polaris_proto::v1;
use tokio::time::Instant;

pub use probe::{FaultDetectRules, HttpProbe, ProbeProtocol, ProbeSpec, TcpProbe};
pub use rule::{
    DEFAULT_ERROR_COUNT, DEFAULT_ERROR_PERCENT, DEFAULT_INTERVAL, DEFAULT_MINIMUM_REQUEST,
    DEFAULT_REQUEST_COUNT_AFTER_HALF_OPEN, DEFAULT_SLEEP_WINDOW,
    DEFAULT_SUCCESS_COUNT_AFTER_HALF_OPEN, Fallback, Level,
};
pub use state::BreakerStatus;

use crate::router::InstanceGate;
use crate::{Instance, ServiceKey, Skipped};
use rule::{BreakerRule, compile_rules};
use state::Breaker;

/// What a breaker protects.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Resource {
    /// A whole service.
    Service(ServiceKey),
    /// One method of a service.
    Method(ServiceKey, String),
    /// One instance (host and port) of a service.
    Instance(ServiceKey, String, u32),
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
            Resource::Method(_, method) => Some(method),
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

/// All breakers of one client.
#[derive(Debug)]
pub struct CircuitBreakers {
    rules: RwLock<HashMap<ServiceKey, Arc<[Arc<BreakerRule>]>>>,
    breakers: Mutex<HashMap<Resource, Arc<Mutex<Breaker>>>>,
    /// Instance breakers ever opened and not yet closed again; 0 lets the router gate skip
    /// every lookup.
    unclosed_instances: AtomicUsize,
    default_instance_rule: Arc<BreakerRule>,
}

impl Default for CircuitBreakers {
    fn default() -> Self {
        CircuitBreakers {
            rules: RwLock::default(),
            breakers: Mutex::default(),
            unclosed_instances: AtomicUsize::new(0),
            default_instance_rule: Arc::new(BreakerRule::default_for(Level::Instance)),
        }
    }
}

impl CircuitBreakers {
    /// Breakers with no rule yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Replaces the rules of `service` (the `CircuitBreaker` Discover returned for it) and
    /// resets that service's breakers. Rules that cannot be compiled are left out and returned.
    pub fn set_rules(&self, service: &ServiceKey, message: &v1::CircuitBreaker) -> Vec<Skipped> {
        let (rules, skipped) = compile_rules(message);
        let rules: Arc<[Arc<BreakerRule>]> = rules.into_iter().map(Arc::new).collect();
        self.rules.write().insert(service.clone(), rules);
        let mut breakers = self.breakers.lock();
        breakers.retain(|resource, _| resource.service() != service);
        self.recount(&breakers);
        skipped
    }

    fn recount(&self, breakers: &HashMap<Resource, Arc<Mutex<Breaker>>>) {
        let now = Instant::now();
        let unclosed = breakers
            .iter()
            .filter(|(r, b)| {
                r.level() == Level::Instance && b.lock().status(now) != BreakerStatus::Closed
            })
            .count();
        self.unclosed_instances.store(unclosed, Ordering::Relaxed);
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
            (None, Level::Instance) => Some(Arc::clone(&self.default_instance_rule)),
            (None, _) => None,
        }
    }

    fn breaker(&self, resource: &Resource) -> Option<Arc<Mutex<Breaker>>> {
        self.breakers.lock().get(resource).cloned()
    }

    /// Admits a call to `resource` or refuses it. A resource with no breaker yet is admitted.
    /// A half-open breaker admits a limited number of trial calls.
    pub fn check(&self, resource: &Resource) -> Result<(), CallAborted> {
        let Some(breaker) = self.breaker(resource) else {
            return Ok(());
        };
        let mut breaker = breaker.lock();
        if breaker.admit(Instant::now()) {
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
        let now = Instant::now();
        let breaker = match self.breaker(resource) {
            Some(breaker) => breaker,
            None => {
                let Some(rule) = self.rule_for(caller, resource) else {
                    return;
                };
                let fresh = Arc::new(Mutex::new(Breaker::new(rule, now)));
                Arc::clone(
                    self.breakers
                        .lock()
                        .entry(resource.clone())
                        .or_insert(fresh),
                )
            }
        };
        let mut breaker = breaker.lock();
        let before = breaker.status(now);
        let error = breaker
            .rule
            .is_error(outcome.code, outcome.delay, outcome.success);
        let after = breaker.record(now, error);
        if resource.level() == Level::Instance {
            match (
                before == BreakerStatus::Closed,
                after == BreakerStatus::Closed,
            ) {
                (true, false) => {
                    self.unclosed_instances.fetch_add(1, Ordering::Relaxed);
                }
                (false, true) => {
                    let _ = self.unclosed_instances.fetch_update(
                        Ordering::Relaxed,
                        Ordering::Relaxed,
                        |n| n.checked_sub(1),
                    );
                }
                _ => {}
            }
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
        if self.unclosed_instances.load(Ordering::Relaxed) == 0 {
            return false;
        }
        let resource = Resource::Instance(service.clone(), host.to_string(), port);
        self.breaker(&resource)
            .is_some_and(|b| b.lock().blocks(Instant::now()))
    }
}

impl InstanceGate for CircuitBreakers {
    fn is_blocked(&self, service: &ServiceKey, instance: &Instance) -> bool {
        self.is_instance_open(service, &instance.host, instance.port)
    }

    fn may_block(&self, _service: &ServiceKey) -> bool {
        self.unclosed_instances.load(Ordering::Relaxed) > 0
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
