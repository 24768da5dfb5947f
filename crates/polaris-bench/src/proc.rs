//! Process accounting from `/proc`: CPU time (utime + stime) and resident memory (VmRSS).

use std::process::Command;
use std::sync::OnceLock;

use anyhow::{Context, Result, bail};

/// Clock ticks per second for `/proc/<pid>/stat` times (`getconf CLK_TCK`, 100 on Linux).
fn clock_ticks() -> f64 {
    static TICKS: OnceLock<f64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        Command::new("getconf")
            .arg("CLK_TCK")
            .output()
            .ok()
            .and_then(|out| String::from_utf8(out.stdout).ok())
            .and_then(|text| text.trim().parse::<f64>().ok())
            .filter(|ticks| *ticks > 0.0)
            .unwrap_or(100.0)
    })
}

/// A process to account: a pid, or `self` for the bench itself.
#[derive(Clone, Debug)]
pub struct Proc(String);

impl Proc {
    pub fn pid(pid: u32) -> Proc {
        Proc(pid.to_string())
    }

    pub fn current() -> Proc {
        Proc("self".into())
    }

    /// CPU time consumed so far, in seconds: the nanosecond run times of the live threads from
    /// `/proc/<pid>/task/*/schedstat` when the kernel has them (threads that already exited are
    /// not counted), else user plus system time from `/proc/<pid>/stat` in clock ticks.
    pub fn cpu_seconds(&self) -> Result<f64> {
        match self.thread_run_time() {
            Some(seconds) => Ok(seconds),
            None => self.stat_cpu_seconds(),
        }
    }

    fn thread_run_time(&self) -> Option<f64> {
        let tasks = std::fs::read_dir(format!("/proc/{}/task", self.0)).ok()?;
        let mut nanos = 0u64;
        for task in tasks {
            let path = task.ok()?.path().join("schedstat");
            // A thread may exit between listing and reading: skip it.
            let Ok(text) = std::fs::read_to_string(path) else {
                continue;
            };
            nanos += text.split_whitespace().next()?.parse::<u64>().ok()?;
        }
        Some(nanos as f64 / 1e9)
    }

    /// User plus system CPU time from `/proc/<pid>/stat`, in seconds.
    fn stat_cpu_seconds(&self) -> Result<f64> {
        let path = format!("/proc/{}/stat", self.0);
        let stat = std::fs::read_to_string(&path).with_context(|| format!("read {path}"))?;
        // The command name may hold spaces and parentheses: fields start after the last ')'.
        let rest = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest)
            .context("malformed stat")?;
        let fields: Vec<&str> = rest.split_whitespace().collect();
        // fields[0] is field 3 (state); utime is field 14, stime field 15.
        if fields.len() < 13 {
            bail!("short stat line in {path}");
        }
        let utime: u64 = fields[11].parse().context("utime")?;
        let stime: u64 = fields[12].parse().context("stime")?;
        Ok((utime + stime) as f64 / clock_ticks())
    }

    /// Resident set size in MiB (`VmRSS`).
    pub fn rss_mib(&self) -> Result<f64> {
        let path = format!("/proc/{}/status", self.0);
        let status = std::fs::read_to_string(&path).with_context(|| format!("read {path}"))?;
        let line = status
            .lines()
            .find(|line| line.starts_with("VmRSS:"))
            .context("no VmRSS line")?;
        let kib: f64 = line
            .trim_start_matches("VmRSS:")
            .trim()
            .trim_end_matches("kB")
            .trim()
            .parse()
            .context("VmRSS value")?;
        Ok(kib / 1024.0)
    }
}

/// CPU readings of the server (when given) and of the bench, taken at the start of a measured
/// phase.
pub struct CpuMark {
    server: Option<(Proc, f64)>,
    bench: f64,
}

/// CPU used during a phase, in seconds, and the server's RSS at its end.
#[derive(Clone, Copy, Debug, Default)]
pub struct Usage {
    pub server_cpu: Option<f64>,
    pub server_rss_mib: Option<f64>,
    pub bench_cpu: f64,
}

impl CpuMark {
    pub fn start(server: Option<u32>) -> Result<CpuMark> {
        let server = match server {
            Some(pid) => {
                let proc = Proc::pid(pid);
                let cpu = proc.cpu_seconds()?;
                Some((proc, cpu))
            }
            None => None,
        };
        Ok(CpuMark {
            server,
            bench: Proc::current().cpu_seconds()?,
        })
    }

    pub fn finish(&self) -> Result<Usage> {
        let bench = Proc::current().cpu_seconds()? - self.bench;
        let (server_cpu, server_rss_mib) = match &self.server {
            Some((proc, before)) => (Some(proc.cpu_seconds()? - before), Some(proc.rss_mib()?)),
            None => (None, None),
        };
        Ok(Usage {
            server_cpu,
            server_rss_mib,
            bench_cpu: bench,
        })
    }
}
