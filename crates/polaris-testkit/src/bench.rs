//! What the benchmark examples share: this process's CPU time and the table comparing a plain
//! client with one through Polaris.

use std::time::{Duration, Instant};

/// CPU time of this process so far: the sum of its threads' run times from
/// `/proc/self/task/*/schedstat` (Linux, nanoseconds; threads that already ended are not
/// counted), else user + system time from `/proc/self/stat` (clock ticks of 10 ms; zero
/// off Linux).
pub fn cpu_time() -> Duration {
    thread_run_time().unwrap_or_else(stat_cpu_time)
}

/// The sum of the run times of this process's live threads (nanoseconds, from schedstat).
fn thread_run_time() -> Option<Duration> {
    let mut total = 0u64;
    for task in std::fs::read_dir("/proc/self/task").ok()? {
        let path = task.ok()?.path().join("schedstat");
        let Ok(text) = std::fs::read_to_string(path) else {
            continue; // the thread ended meanwhile
        };
        total += text.split_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(Duration::from_nanos(total))
}

/// User + system CPU time from `/proc/self/stat` (clock ticks of 10 ms).
fn stat_cpu_time() -> Duration {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    // utime and stime are fields 14 and 15 (1-based), i.e. 11 and 12 after the name.
    Duration::from_millis((ticks(11) + ticks(12)) * 10)
}

/// One round of sequential calls.
#[derive(Default, Clone, Copy, Debug)]
pub struct Sample {
    pub wall: Duration,
    pub cpu: Duration,
    pub allocations: usize,
    pub calls: u32,
}

impl Sample {
    /// Wall ns, CPU ns and allocations per call.
    pub fn per_call(&self) -> [f64; 3] {
        let n = f64::from(self.calls.max(1));
        [
            self.wall.as_nanos() as f64 / n,
            self.cpu.as_nanos() as f64 / n,
            self.allocations as f64 / n,
        ]
    }
}

/// Wall and CPU clocks started at once, for one [`Sample`].
pub struct Meter {
    wall: Instant,
    cpu: Duration,
}

impl Meter {
    /// Starts both clocks.
    pub fn start() -> Meter {
        Meter {
            wall: Instant::now(),
            cpu: cpu_time(),
        }
    }

    /// The sample of `calls` calls made since the start, which allocated `allocations` times.
    pub fn sample(&self, allocations: usize, calls: u32) -> Sample {
        Sample {
            wall: self.wall.elapsed(),
            cpu: cpu_time().saturating_sub(self.cpu),
            allocations,
            calls,
        }
    }
}

/// The medians per call of `samples`.
fn medians(samples: &[Sample]) -> [f64; 3] {
    std::array::from_fn(|i| {
        let mut values: Vec<f64> = samples.iter().map(|s| s.per_call()[i]).collect();
        values.sort_by(f64::total_cmp);
        values.get(values.len() / 2).copied().unwrap_or(0.0)
    })
}

/// Prints the Markdown table of `rounds` alternating rounds of `calls` calls: medians per call
/// of the plain client, of the client through Polaris, and their difference.
pub fn print_overhead(
    column: &str,
    rounds: usize,
    calls: u32,
    plain: (&str, &[Sample]),
    polaris: (&str, &[Sample]),
) {
    println!("{rounds} alternating rounds of {calls} sequential unary calls, medians per call:");
    println!("| {column} | wall ns/call | CPU ns/call | allocations/call |");
    println!("|---|---|---|---|");
    let (a, b) = (medians(plain.1), medians(polaris.1));
    for (name, m) in [(plain.0, a), (polaris.0, b)] {
        println!("| {name} | {:.0} | {:.0} | {:.1} |", m[0], m[1], m[2]);
    }
    println!(
        "| added by Polaris | {:+.0} | {:+.0} | {:+.1} |",
        b[0] - a[0],
        b[1] - a[1],
        b[2] - a[2]
    );
    let paired = paired_differences(plain.1, polaris.1);
    println!(
        "| added, median of the rounds' differences | {:+.0} | {:+.0} | {:+.1} |",
        paired[0], paired[1], paired[2]
    );
}

/// The medians of the per-call differences between round `i` of `polaris` and round `i` of
/// `plain` (rounds that ran next to each other, so slow drifts of the machine cancel out).
pub fn paired_differences(plain: &[Sample], polaris: &[Sample]) -> [f64; 3] {
    std::array::from_fn(|i| {
        let mut values: Vec<f64> = plain
            .iter()
            .zip(polaris)
            .map(|(a, b)| b.per_call()[i] - a.per_call()[i])
            .collect();
        values.sort_by(f64::total_cmp);
        values.get(values.len() / 2).copied().unwrap_or(0.0)
    })
}

/// `BENCH_CALLS` from the environment, else `default`.
pub fn calls_from_env(default: u32) -> u32 {
    std::env::var("BENCH_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `BENCH_ROUNDS` from the environment, else `default`.
pub fn rounds_from_env(default: usize) -> usize {
    std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .filter(|&n| n > 0)
        .unwrap_or(default)
}
