//! Rate limiters driven by v1 `RateLimit` rules: reject (window counters), unirate (leaky
//! bucket) and concurrency, with [`RateLimiter::acquire`] deciding synchronously.
//!
//! For each request the first enabled rule (ascending priority) whose method and arguments
//! match applies. Arguments matched by a regular expression or `*` (and the method, likewise)
//! count each distinct value apart unless the rule sets `regex_combine`, as the official
//! SDKs do; otherwise the rule has one counter. [`RateLimiter::replacing`] builds the
//! limiter for new rules while keeping the counters of rules whose id and revision are
//! unchanged; [`RateLimiter::new`] starts every counter afresh.
//!
//! # Global limits (design note)
//!
//! `GLOBAL` rules are counted locally for now, as if they were `LOCAL`: each client enforces
//! the full amount, which is the official SDKs' own fallback (`FAILOVER_LOCAL`) when the
//! rate-limit cluster is unreachable. Serving them properly needs a token server: the
//! official design is a separate rate-limit server reached through the rule's `cluster`
//! service, speaking the `RateLimitGRPCV2` stream (`InitializeRequest` per counter key, then
//! `RateLimitRequest` with the used amount per time slice, answered with the quota left).
//! Our server can offer that stream later; the SDK would then keep the local window as a
//! cache, acquire locally against a quota share it refreshes each report interval
//! (`report.interval`, `amountPercent`), and fall back to exactly this local counting when
//! the stream is down. The compiled rule already keeps `global` so the SDK can tell which
//! rules to synchronise.

mod rule;
mod window;

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use parking_lot::Mutex;
use polaris_matcher::RequestContext;
use polaris_proto::v1;
use tokio::time::Instant;

pub use rule::DEFAULT_MAX_QUEUE_DELAY;

use crate::Skipped;
use rule::{LimitKind, LimitRule, compile_rules};
use window::SlidingWindow;

/// Distinct counters one rule keeps at most; past it the rule's counters start afresh, so a
/// flood of distinct argument values cannot exhaust memory.
pub const MAX_COUNTERS_PER_RULE: usize = 65_536;

/// A permission to proceed. A concurrency permit gives its slot back when dropped; the
/// others hold nothing.
#[derive(Debug, Default)]
#[must_use = "dropping a concurrency permit ends the call"]
pub struct Permit {
    slot: Option<Arc<AtomicU32>>,
}

impl Drop for Permit {
    fn drop(&mut self) {
        if let Some(slot) = self.slot.take() {
            slot.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// Which limiter refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LimitKindInfo {
    /// A window amount was used up.
    Reject,
    /// The unirate queue would be too long.
    Unirate,
    /// Too many calls in progress.
    Concurrency,
}

/// Details of a refusal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitInfo {
    /// Which limiter refused.
    pub kind: LimitKindInfo,
    /// The amount that was exceeded (calls per `duration`, or concurrent calls).
    pub max_amount: u32,
    /// The window of that amount (zero for concurrency).
    pub duration: Duration,
    /// The rule's custom response body, if any.
    pub custom_response: Option<String>,
}

/// The decision on one request.
#[derive(Debug)]
#[must_use = "an allowed admission carries the permit of the call"]
pub enum Admission {
    /// Proceed now.
    Allowed(Permit),
    /// Proceed after sleeping this long (unirate queueing).
    Wait(Duration, Permit),
    /// Refused.
    Limited {
        /// Name (or id) of the rule that refused.
        rule: String,
        /// Details.
        info: LimitInfo,
    },
}

impl Admission {
    /// True unless refused.
    pub fn is_allowed(&self) -> bool {
        !matches!(self, Admission::Limited { .. })
    }
}

#[derive(Debug)]
enum Counter {
    Windows(Mutex<Vec<SlidingWindow>>),
    Unirate(Mutex<Option<Instant>>),
    Concurrency(Arc<AtomicU32>),
}

#[derive(Debug)]
struct ActiveRule {
    rule: LimitRule,
    counters: Arc<Mutex<HashMap<String, Arc<Counter>>>>,
}

impl ActiveRule {
    fn counter(&self, key: String, now: Instant) -> Arc<Counter> {
        let mut counters = self.counters.lock();
        if let Some(counter) = counters.get(&key) {
            return Arc::clone(counter);
        }
        if counters.len() >= MAX_COUNTERS_PER_RULE {
            counters.clear();
        }
        let counter = Arc::new(match &self.rule.kind {
            LimitKind::Reject(amounts) => Counter::Windows(Mutex::new(
                amounts
                    .iter()
                    .map(|(max, duration, buckets)| {
                        SlidingWindow::new(*max, *duration, *buckets, now)
                    })
                    .collect(),
            )),
            LimitKind::Unirate { .. } => Counter::Unirate(Mutex::new(None)),
            LimitKind::Concurrency(_) => Counter::Concurrency(Arc::new(AtomicU32::new(0))),
        });
        counters.insert(key, Arc::clone(&counter));
        counter
    }

    fn limited(&self, kind: LimitKindInfo, max_amount: u32, duration: Duration) -> Admission {
        Admission::Limited {
            rule: self.rule.name.clone(),
            info: LimitInfo {
                kind,
                max_amount,
                duration,
                custom_response: self.rule.custom_response.clone(),
            },
        }
    }

    fn acquire(&self, request: &RequestContext, now: Instant) -> Admission {
        let counter = self.counter(self.rule.counter_key(request), now);
        match (&*counter, &self.rule.kind) {
            (Counter::Windows(windows), _) => {
                let mut windows = windows.lock();
                if let Some(full) = windows.iter_mut().find(|w| !w.has_room(now)) {
                    return self.limited(LimitKindInfo::Reject, full.max(), full.duration());
                }
                windows.iter_mut().for_each(|w| w.add(now));
                Admission::Allowed(Permit::default())
            }
            (
                Counter::Unirate(next_free),
                LimitKind::Unirate {
                    interval,
                    max_queue,
                    max_amount,
                    duration,
                },
            ) => {
                let Some(interval) = *interval else {
                    return self.limited(LimitKindInfo::Unirate, *max_amount, *duration);
                };
                let mut next_free = next_free.lock();
                let start = next_free.map_or(now, |free| free.max(now));
                let wait = start - now;
                if wait > *max_queue {
                    return self.limited(LimitKindInfo::Unirate, *max_amount, *duration);
                }
                *next_free = Some(start + interval);
                if wait.is_zero() {
                    Admission::Allowed(Permit::default())
                } else {
                    Admission::Wait(wait, Permit::default())
                }
            }
            (Counter::Concurrency(slot), LimitKind::Concurrency(max)) => {
                let taken = slot.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                    (n < *max).then_some(n + 1)
                });
                match taken {
                    Ok(_) => Admission::Allowed(Permit {
                        slot: Some(Arc::clone(slot)),
                    }),
                    Err(_) => self.limited(LimitKindInfo::Concurrency, *max, Duration::ZERO),
                }
            }
            // A counter always matches its rule's kind.
            _ => Admission::Allowed(Permit::default()),
        }
    }
}

/// The limiter of one service, built from its `RateLimit` rules.
#[derive(Debug, Default)]
pub struct RateLimiter {
    rules: Vec<ActiveRule>,
}

impl RateLimiter {
    /// Compiles the rules; disabled rules are ignored and rules that cannot be compiled are
    /// left out and returned.
    pub fn new(message: &v1::RateLimit) -> (RateLimiter, Vec<Skipped>) {
        Self::replacing(&RateLimiter::default(), message)
    }

    /// Like [`RateLimiter::new`] for new rules of the same service, keeping the counters of
    /// every rule whose id and revision did not change, so a rule update elsewhere does not
    /// hand out a fresh allowance for the untouched rules.
    pub fn replacing(
        previous: &RateLimiter,
        message: &v1::RateLimit,
    ) -> (RateLimiter, Vec<Skipped>) {
        let (rules, skipped) = compile_rules(message);
        let rules = rules
            .into_iter()
            .map(|rule| {
                let kept = rule.identity.as_ref().and_then(|identity| {
                    previous
                        .rules
                        .iter()
                        .find(|old| old.rule.identity.as_ref() == Some(identity))
                        .map(|old| Arc::clone(&old.counters))
                });
                ActiveRule {
                    rule,
                    counters: kept.unwrap_or_default(),
                }
            })
            .collect();
        (RateLimiter { rules }, skipped)
    }

    /// Names of the active rules in the order they are tried, with whether each is `GLOBAL`.
    pub fn rules(&self) -> Vec<(&str, bool)> {
        self.rules
            .iter()
            .map(|r| (r.rule.name.as_str(), r.rule.global))
            .collect()
    }

    /// Decides on one request: the first matching rule decides; with none it is allowed.
    pub fn acquire(&self, request: &RequestContext) -> Admission {
        let now = Instant::now();
        match self.rules.iter().find(|r| r.rule.matches(request)) {
            Some(active) => active.acquire(request, now),
            None => Admission::Allowed(Permit::default()),
        }
    }
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
