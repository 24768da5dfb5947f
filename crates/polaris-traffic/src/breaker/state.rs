//! One breaker's state machine: closed → open → half-open → closed (or open again).

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::rule::{BreakerRule, Trigger};

/// The state of one breaker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerStatus {
    /// Calls pass; outcomes are counted.
    Closed,
    /// Calls are refused until the sleep window ends.
    Open,
    /// A few trial calls pass; enough successes close the breaker, one error opens it again.
    HalfOpen,
}

const MAX_BUCKETS: u64 = 60;

/// Calls and errors over a sliding window, in up to 60 buckets.
#[derive(Debug)]
struct Window {
    start: Instant,
    width: Duration,
    /// (bucket number, calls, errors)
    buckets: Vec<(u64, u32, u32)>,
}

impl Window {
    fn new(interval: Duration, now: Instant) -> Window {
        let secs = interval.as_secs().clamp(1, MAX_BUCKETS);
        Window {
            start: now,
            width: interval / secs as u32,
            buckets: vec![(u64::MAX, 0, 0); secs as usize],
        }
    }

    fn bucket_number(&self, now: Instant) -> u64 {
        let elapsed = now.saturating_duration_since(self.start).as_nanos();
        (elapsed / self.width.as_nanos().max(1)) as u64
    }

    fn record(&mut self, now: Instant, error: bool) {
        let number = self.bucket_number(now);
        let len = self.buckets.len() as u64;
        let slot = &mut self.buckets[(number % len) as usize];
        if slot.0 != number {
            *slot = (number, 0, 0);
        }
        slot.1 += 1;
        slot.2 += u32::from(error);
    }

    /// (calls, errors) in the buckets of the last interval.
    fn totals(&self, now: Instant) -> (u64, u64) {
        let current = self.bucket_number(now);
        let len = self.buckets.len() as u64;
        self.buckets
            .iter()
            .filter(|(number, _, _)| *number <= current && current - *number < len)
            .fold((0, 0), |(calls, errors), (_, c, e)| {
                (calls + u64::from(*c), errors + u64::from(*e))
            })
    }

    fn clear(&mut self) {
        self.buckets.iter_mut().for_each(|b| *b = (u64::MAX, 0, 0));
    }
}

/// One breaker: its rule and state.
#[derive(Debug)]
pub(crate) struct Breaker {
    pub(crate) rule: Arc<BreakerRule>,
    status: BreakerStatus,
    opened_at: Instant,
    consecutive_errors: u32,
    window: Option<Window>,
    half_open_admitted: u32,
    half_open_successes: u32,
}

impl Breaker {
    pub(crate) fn new(rule: Arc<BreakerRule>, now: Instant) -> Breaker {
        let window = rule.triggers.iter().find_map(|t| match t {
            Trigger::ErrorRate { interval, .. } => Some(Window::new(*interval, now)),
            Trigger::Consecutive(_) => None,
        });
        Breaker {
            rule,
            status: BreakerStatus::Closed,
            opened_at: now,
            consecutive_errors: 0,
            window,
            half_open_admitted: 0,
            half_open_successes: 0,
        }
    }

    /// The status at `now`, counting an elapsed sleep window as half-open.
    pub(crate) fn status(&self, now: Instant) -> BreakerStatus {
        match self.status {
            BreakerStatus::Open
                if now.saturating_duration_since(self.opened_at) >= self.rule.sleep_window =>
            {
                BreakerStatus::HalfOpen
            }
            status => status,
        }
    }

    /// True when a call would be refused at `now` (without admitting it).
    pub(crate) fn blocks(&self, now: Instant) -> bool {
        match self.status(now) {
            BreakerStatus::Closed => false,
            BreakerStatus::Open => true,
            BreakerStatus::HalfOpen => {
                self.status == BreakerStatus::HalfOpen
                    && self.half_open_admitted >= self.rule.half_open_requests
            }
        }
    }

    /// Admits a call or refuses it; a half-open breaker admits a limited number of trials.
    pub(crate) fn admit(&mut self, now: Instant) -> bool {
        if self.status == BreakerStatus::Open && self.status(now) == BreakerStatus::HalfOpen {
            self.status = BreakerStatus::HalfOpen;
            self.half_open_admitted = 0;
            self.half_open_successes = 0;
        }
        match self.status {
            BreakerStatus::Closed => true,
            BreakerStatus::Open => false,
            BreakerStatus::HalfOpen => {
                if self.half_open_admitted < self.rule.half_open_requests {
                    self.half_open_admitted += 1;
                    true
                } else {
                    false
                }
            }
        }
    }

    fn open(&mut self, now: Instant) {
        self.status = BreakerStatus::Open;
        self.opened_at = now;
        self.consecutive_errors = 0;
        if let Some(window) = self.window.as_mut() {
            window.clear();
        }
    }

    /// Records one outcome; returns the status after it.
    pub(crate) fn record(&mut self, now: Instant, error: bool) -> BreakerStatus {
        if self.status == BreakerStatus::Open && self.status(now) == BreakerStatus::HalfOpen {
            // A report arriving after the sleep window counts as a trial.
            self.status = BreakerStatus::HalfOpen;
            self.half_open_admitted = 1;
            self.half_open_successes = 0;
        }
        match self.status {
            BreakerStatus::Open => {}
            BreakerStatus::HalfOpen => {
                if error {
                    self.open(now);
                } else {
                    self.half_open_successes += 1;
                    if self.half_open_successes >= self.rule.success_to_close {
                        self.status = BreakerStatus::Closed;
                        self.consecutive_errors = 0;
                    }
                }
            }
            BreakerStatus::Closed => {
                self.consecutive_errors = if error {
                    self.consecutive_errors + 1
                } else {
                    0
                };
                if let Some(window) = self.window.as_mut() {
                    window.record(now, error);
                }
                if self.tripped(now) {
                    self.open(now);
                }
            }
        }
        self.status
    }

    fn tripped(&self, now: Instant) -> bool {
        self.rule.triggers.iter().any(|trigger| match *trigger {
            Trigger::Consecutive(count) => self.consecutive_errors >= count,
            Trigger::ErrorRate {
                percent, minimum, ..
            } => self.window.as_ref().is_some_and(|window| {
                let (calls, errors) = window.totals(now);
                calls > 0
                    && calls >= u64::from(minimum)
                    && errors * 100 >= u64::from(percent) * calls
            }),
        })
    }
}
