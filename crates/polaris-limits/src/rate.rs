//! Write rate per client address: one token bucket per IP (governor's GCRA, which keeps one
//! 64-bit timestamp per address), in the shape of the official `token-bucket` plugin's
//! `ip-limit` (`open`, `global.bucket`, `global.rate`, `resource-cache-amount`, `white-list`).
//!
//! Memory stays bounded: when the table holds more than `resource-cache-amount` addresses,
//! the addresses whose bucket has refilled (indistinguishable from a fresh one) are dropped.
//! What stays is only addresses that wrote within the last `bucket / rate` seconds, so the
//! table can never outgrow the number of addresses that can reach the server in that time; the
//! next clean-up waits until the table has doubled, so cleaning costs O(1) per request.

use std::net::{IpAddr, Ipv4Addr};
use std::num::NonZeroU32;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use governor::clock::{Clock, DefaultClock};
use governor::middleware::NoOpMiddleware;
use governor::state::keyed::DashMapStateStore;
use governor::{Quota, RateLimiter};

use crate::metrics::{Limit, metrics};

/// `plugin.ratelimit.option.ip-limit`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IpRateOptions {
    /// `open` (and `global.open`): the switch (default on).
    pub open: bool,
    /// `global.bucket`: the burst one address may send at once (default 300, as officially).
    pub bucket: u32,
    /// `global.rate`: writes per second one address may sustain (default 200, as officially).
    pub rate: u32,
    /// `resource-cache-amount`: addresses kept before idle ones are dropped (default 1024).
    pub resource_cache_amount: usize,
    /// `white-list`: addresses never limited (default `127.0.0.1`, as officially).
    pub white_list: Vec<IpAddr>,
}

impl Default for IpRateOptions {
    fn default() -> Self {
        IpRateOptions {
            open: true,
            bucket: 300,
            rate: 200,
            resource_cache_amount: 1024,
            white_list: vec![IpAddr::V4(Ipv4Addr::LOCALHOST)],
        }
    }
}

/// Token buckets per client address for write requests.
pub struct IpRateLimiter<C: Clock = DefaultClock> {
    buckets: RateLimiter<IpAddr, DashMapStateStore<IpAddr>, C, NoOpMiddleware<C::Instant>>,
    white_list: Vec<IpAddr>,
    /// Table size at which the next clean-up runs.
    clean_at: AtomicUsize,
    cache_amount: usize,
}

impl IpRateLimiter {
    /// The limiter `options` describe, or `None` when they turn it off (closed switch, or a
    /// rate or bucket of 0).
    pub fn new(options: &IpRateOptions) -> Option<Arc<IpRateLimiter>> {
        IpRateLimiter::with_clock(options, DefaultClock::default())
    }
}

impl<C: Clock> IpRateLimiter<C> {
    /// [`IpRateLimiter::new`] on another clock (tests use governor's fake clock).
    pub fn with_clock(options: &IpRateOptions, clock: C) -> Option<Arc<IpRateLimiter<C>>> {
        if !options.open {
            return None;
        }
        let rate = NonZeroU32::new(options.rate)?;
        let bucket = NonZeroU32::new(options.bucket)?;
        let quota = Quota::per_second(rate).allow_burst(bucket);
        let cache_amount = options.resource_cache_amount.max(1);
        Some(Arc::new(IpRateLimiter {
            buckets: RateLimiter::dashmap_with_clock(quota, clock),
            white_list: options
                .white_list
                .iter()
                .map(IpAddr::to_canonical)
                .collect(),
            clean_at: AtomicUsize::new(cache_amount),
            cache_amount,
        }))
    }

    /// Takes one token of `ip`'s bucket: false when it is empty (and then counts a refusal on
    /// `listener`).
    pub fn allow(&self, ip: IpAddr, listener: &str) -> bool {
        let ip = ip.to_canonical();
        if self.white_list.contains(&ip) {
            return true;
        }
        let allowed = self.buckets.check_key(&ip).is_ok();
        let len = self.buckets.len();
        if len > self.clean_at.load(Ordering::Relaxed) {
            self.buckets.retain_recent();
            self.buckets.shrink_to_fit();
            let kept = self.buckets.len();
            self.clean_at
                .store(self.cache_amount.max(kept * 2), Ordering::Relaxed);
        }
        if !allowed {
            metrics().refused(Limit::WriteRate, listener);
        }
        allowed
    }

    /// Addresses in the table.
    pub fn tracked(&self) -> usize {
        self.buckets.len()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use governor::clock::FakeRelativeClock;

    use super::*;

    fn options(bucket: u32, rate: u32, cache: usize) -> IpRateOptions {
        IpRateOptions {
            open: true,
            bucket,
            rate,
            resource_cache_amount: cache,
            white_list: vec![IpAddr::V4(Ipv4Addr::new(10, 9, 9, 9))],
        }
    }

    fn ip(n: u32) -> IpAddr {
        IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n))
    }

    #[test]
    fn a_burst_passes_then_the_rate_holds_per_address() {
        let clock = FakeRelativeClock::default();
        let limiter = IpRateLimiter::with_clock(&options(3, 10, 100), clock.clone()).unwrap();
        for _ in 0..3 {
            assert!(limiter.allow(ip(1), "t"));
        }
        assert!(!limiter.allow(ip(1), "t"), "bucket empty");
        assert!(limiter.allow(ip(2), "t"), "another address is not affected");
        clock.advance(Duration::from_millis(100));
        assert!(limiter.allow(ip(1), "t"), "one token per 100 ms at 10/s");
        assert!(!limiter.allow(ip(1), "t"));
    }

    #[test]
    fn the_white_list_is_never_limited() {
        let limiter = IpRateLimiter::new(&options(1, 1, 100)).unwrap();
        let white = IpAddr::V4(Ipv4Addr::new(10, 9, 9, 9));
        for _ in 0..100 {
            assert!(limiter.allow(white, "t"));
        }
        assert_eq!(limiter.tracked(), 0);
    }

    #[test]
    fn a_closed_switch_or_a_zero_rate_means_no_limiter() {
        let closed = IpRateOptions {
            open: false,
            ..IpRateOptions::default()
        };
        assert!(IpRateLimiter::new(&closed).is_none());
        assert!(IpRateLimiter::new(&options(10, 0, 10)).is_none());
    }

    #[test]
    fn addresses_that_went_quiet_are_forgotten_so_the_table_stays_bounded() {
        let clock = FakeRelativeClock::default();
        let limiter = IpRateLimiter::with_clock(&options(2, 100, 64), clock.clone()).unwrap();
        // A spray of one write from each of 100,000 addresses, 10 µs apart: buckets refill in
        // 20 ms, so only the last couple of thousand can be in the table.
        for n in 0..100_000 {
            assert!(limiter.allow(ip(n), "t"));
            clock.advance(Duration::from_micros(10));
        }
        assert!(
            limiter.tracked() <= 4_096,
            "table holds {} addresses",
            limiter.tracked()
        );
        // And a busy address keeps its state through clean-ups.
        assert!(limiter.allow(ip(7), "t"));
        assert!(limiter.allow(ip(7), "t"));
        assert!(!limiter.allow(ip(7), "t"));
    }
}
