//! Latency recording and the result table.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use hdrhistogram::Histogram;

use crate::proc::Usage;

/// Polaris codes `200xxx` are successes (`200000`, and `200001` "not changed").
pub fn is_success(code: u32) -> bool {
    code / 1000 == 200
}

/// CPU seconds as microseconds per operation of `ops` (`-` when there were none).
pub fn per_op(ops: u64) -> impl Fn(f64) -> String + Copy {
    move |cpu: f64| {
        if ops == 0 {
            "-".to_string()
        } else {
            format!("{:.1}", cpu * 1e6 / ops as f64)
        }
    }
}

/// What one worker saw: a latency histogram in microseconds, and its errors.
pub struct Recorder {
    pub hist: Histogram<u64>,
    pub errors: u64,
    /// The first error message, to explain the error count.
    pub first_error: Option<String>,
}

impl Default for Recorder {
    fn default() -> Self {
        Recorder {
            // 1 µs to 10 minutes with 3 significant digits.
            hist: Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds"),
            errors: 0,
            first_error: None,
        }
    }
}

impl Recorder {
    pub fn latency(&mut self, elapsed: Duration) {
        let micros = u64::try_from(elapsed.as_micros())
            .unwrap_or(u64::MAX)
            .max(1);
        self.hist.saturating_record(micros);
    }

    /// Records an operation: its latency, and an error unless `outcome` is a success code.
    pub fn record(&mut self, elapsed: Duration, outcome: Result<u32, String>) {
        self.latency(elapsed);
        match outcome {
            Ok(code) if is_success(code) => {}
            Ok(code) => self.error(format!("code {code}")),
            Err(message) => self.error(message),
        }
    }

    pub fn error(&mut self, message: String) {
        self.errors += 1;
        if self.first_error.is_none() {
            self.first_error = Some(message);
        }
    }

    pub fn merge(&mut self, other: Recorder) {
        self.hist.add(&other.hist).expect("same histogram bounds");
        self.errors += other.errors;
        if self.first_error.is_none() {
            self.first_error = other.first_error;
        }
    }
}

/// One row of the result table.
pub struct Report {
    pub scenario: String,
    /// Operations completed (successful or not).
    pub ops: u64,
    pub elapsed: Duration,
    pub rec: Recorder,
    pub usage: Usage,
    /// Free-form detail: parameters, per-notification CPU, and so on.
    pub note: String,
}

const HEADER: [&str; 12] = [
    "scenario",
    "ops",
    "ops/s",
    "p50 ms",
    "p90 ms",
    "p99 ms",
    "max ms",
    "errors",
    "srv CPU-s/1k",
    "srv RSS MiB",
    "bench CPU-s/1k",
    "note",
];

fn ms(micros: u64) -> String {
    format!("{:.2}", micros as f64 / 1000.0)
}

impl Report {
    fn cells(&self) -> Vec<String> {
        let per_k = |cpu: f64| {
            if self.ops == 0 {
                "-".to_string()
            } else {
                format!("{:.4}", cpu * 1000.0 / self.ops as f64)
            }
        };
        let secs = self.elapsed.as_secs_f64();
        let rate = if secs > 0.0 {
            format!("{:.0}", self.ops as f64 / secs)
        } else {
            "-".into()
        };
        let hist = &self.rec.hist;
        let has = !hist.is_empty();
        let pct = |q: f64| {
            if has {
                ms(hist.value_at_quantile(q))
            } else {
                "-".into()
            }
        };
        vec![
            self.scenario.clone(),
            self.ops.to_string(),
            rate,
            pct(0.5),
            pct(0.9),
            pct(0.99),
            if has { ms(hist.max()) } else { "-".into() },
            self.rec.errors.to_string(),
            self.usage.server_cpu.map_or("-".into(), per_k),
            self.usage
                .server_rss_mib
                .map_or("-".into(), |rss| format!("{rss:.1}")),
            per_k(self.usage.bench_cpu),
            self.note.clone(),
        ]
    }

    /// Prints the row as an aligned text table on stdout, the first error on stderr, and
    /// appends it as a Markdown table row to `markdown` when given.
    pub fn print(&self, markdown: Option<&Path>) -> Result<()> {
        let cells = self.cells();
        let widths: Vec<usize> = HEADER
            .iter()
            .zip(&cells)
            .map(|(h, c)| h.len().max(c.len()))
            .collect();
        let mut text = String::new();
        for row in [HEADER.map(String::from).to_vec(), cells.clone()] {
            for (cell, width) in row.iter().zip(&widths) {
                let _ = write!(text, "{cell:>width$}  ");
            }
            text.push('\n');
        }
        print!("{text}");
        if let Some(first) = &self.rec.first_error {
            eprintln!("first error of {}: {first}", self.scenario);
        }
        if let Some(path) = markdown {
            let new = !path.exists();
            let mut file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .with_context(|| format!("open {}", path.display()))?;
            if new {
                writeln!(file, "| {} |", HEADER.join(" | "))?;
                writeln!(file, "|{}", "---|".repeat(HEADER.len()))?;
            }
            writeln!(file, "| {} |", cells.join(" | "))?;
        }
        Ok(())
    }
}
