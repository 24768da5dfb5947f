//! A counter over a sliding window made of equal buckets (one bucket: a fixed window).

use std::time::Duration;

use tokio::time::Instant;

/// Calls counted over the last `duration`, in `buckets` slices.
#[derive(Debug)]
pub(crate) struct SlidingWindow {
    max: u32,
    duration: Duration,
    start: Instant,
    width_nanos: u128,
    /// (slice number, calls)
    slices: Vec<(u64, u32)>,
}

impl SlidingWindow {
    pub(crate) fn new(max: u32, duration: Duration, buckets: u32, now: Instant) -> SlidingWindow {
        let buckets = buckets.max(1);
        SlidingWindow {
            max,
            duration,
            start: now,
            width_nanos: (duration.as_nanos() / u128::from(buckets)).max(1),
            slices: vec![(u64::MAX, 0); buckets as usize],
        }
    }

    pub(crate) fn max(&self) -> u32 {
        self.max
    }

    pub(crate) fn duration(&self) -> Duration {
        self.duration
    }

    fn slice_number(&self, now: Instant) -> u64 {
        (now.saturating_duration_since(self.start).as_nanos() / self.width_nanos) as u64
    }

    fn used(&self, now: Instant) -> u64 {
        let current = self.slice_number(now);
        let len = self.slices.len() as u64;
        self.slices
            .iter()
            .filter(|(number, _)| *number <= current && current - *number < len)
            .map(|(_, calls)| u64::from(*calls))
            .sum()
    }

    /// True when one more call fits.
    pub(crate) fn has_room(&self, now: Instant) -> bool {
        self.used(now) < u64::from(self.max)
    }

    /// Counts one call.
    pub(crate) fn add(&mut self, now: Instant) {
        let number = self.slice_number(now);
        let len = self.slices.len() as u64;
        let slice = &mut self.slices[(number % len) as usize];
        if slice.0 != number {
            *slice = (number, 0);
        }
        slice.1 += 1;
    }
}
