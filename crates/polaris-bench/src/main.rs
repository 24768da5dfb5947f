//! `polaris-bench`, the load generator for the naming gRPC port (`/v1.PolarisGRPC`) of a running
//! polaris-rs server. Each subcommand is one scenario: `register` (durable registrations of
//! distinct instances), `heartbeat` (beats of health-checked instances), `discover` (long-lived
//! Discover streams asking for unchanged or full instance lists), `push` (latency from one
//! registration to the pushed reply on many subscribed streams) and `rss` (the server's memory).
//! On the config gRPC port (`/v1.PolarisConfigGRPC`, 8093): `config-get` (GetConfigFile pulls),
//! `config-watch` (latency from one publish to the replies of many parked WatchConfigFiles long
//! polls) and `config-idle` (the server's memory with many parked long polls).
//! The SDK mode (`sdk-pick`, `sdk-watch`) drives the naming port through the Rust SDK: the cost of
//! `get_one_instance` from its cache, and registration-to-watch latency.
//! Load is closed-loop: `--concurrency` workers each keep one call in flight, spread over
//! `--connections` HTTP/2 connections, until `--count` operations or `--duration` have passed.
//! With `--server-pid` the bench also reads the server's CPU time and resident memory from
//! `/proc` before and after, and reports server CPU-seconds per 1,000 operations next to its own.
//! Each run prints one row of the result table (and appends it, as Markdown, to `--markdown`).

mod config;
mod discover;
mod idle;
mod net;
mod proc;
mod push;
mod report;
mod sdk;
mod unary;
mod watch;
mod xds;

use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result, bail};
use clap::{Args, Parser, Subcommand, ValueEnum};
use tonic::transport::Channel;

use crate::config::{ConfigGetArgs, ConfigWatchArgs, WatchersArgs};
use crate::net::Limit;
use crate::proc::{Proc, Usage};
use crate::report::{Recorder, Report};

#[derive(Parser)]
#[command(
    name = "polaris-bench",
    version,
    about = "Load generator for the polaris-rs naming gRPC port"
)]
struct Cli {
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(Subcommand)]
enum Scenario {
    /// Concurrent RegisterInstance calls, each for a new instance.
    Register {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        args: RegisterArgs,
    },
    /// Registers health-checked instances, then sends Heartbeat calls round robin over them.
    Heartbeat {
        #[command(flatten)]
        common: Common,
        /// Instances to register and beat.
        #[arg(long, default_value_t = 2_000)]
        instances: u64,
        /// Heartbeat TTL of the instances, in seconds.
        #[arg(long, default_value_t = 5)]
        ttl: u32,
    },
    /// Discover requests on long-lived streams (`--concurrency` streams).
    Discover {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        args: DiscoverArgs,
    },
    /// Subscribes push streams to one service, then times each change's pushed reply.
    Push {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        args: PushArgs,
    },
    /// Publishes config files, then GetConfigFile calls round robin over them (config port).
    ConfigGet {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        args: ConfigGetArgs,
    },
    /// Parks WatchConfigFiles long polls on one file, then times each publish's replies.
    ConfigWatch {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        args: ConfigWatchArgs,
    },
    /// Parks WatchConfigFiles long polls and reports the server's memory (`--duration`, 10 s).
    ConfigIdle {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        args: WatchersArgs,
    },
    /// Times the SDK's `get_one_instance` from its cache, per load-balancing policy.
    SdkPick {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        args: sdk::PickArgs,
    },
    /// Times registrations until an SDK watching the service sees them.
    SdkWatch {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        args: sdk::WatchArgs,
    },
    /// Opens ADS streams subscribed to one service's endpoints, then times each change's EDS
    /// push to every stream (the xDS port); also memory per idle stream.
    XdsPush {
        #[command(flatten)]
        common: Common,
        #[command(flatten)]
        args: XdsArgs,
    },
    /// Prints the server's resident memory.
    Rss {
        #[command(flatten)]
        common: Common,
        /// Label of the row.
        #[arg(long, default_value = "rss")]
        label: String,
    },
}

/// Options every scenario takes.
#[derive(Args, Clone)]
pub struct Common {
    /// Address of the gRPC port: the naming port (default 127.0.0.1:8091), or for `config-*`
    /// the config port (default 127.0.0.1:8093). Several servers, comma separated, share the
    /// connections round robin (`register`, `heartbeat`, `discover`).
    #[arg(long)]
    pub addr: Option<String>,
    /// Calls (or streams) in flight at once.
    #[arg(long, short = 'c', default_value_t = 64)]
    pub concurrency: usize,
    /// HTTP/2 connections to spread the calls over.
    #[arg(long, default_value_t = 4)]
    pub connections: usize,
    /// Run for this long ("15s", "500ms", or seconds).
    #[arg(long, value_parser = parse_duration, conflicts_with = "count")]
    pub duration: Option<Duration>,
    /// Run this many operations.
    #[arg(long, short = 'n')]
    pub count: Option<u64>,
    /// The server's pid, to report its CPU time and RSS.
    #[arg(long)]
    pub server_pid: Option<u32>,
    /// Append the result row, as Markdown, to this file.
    #[arg(long)]
    pub markdown: Option<PathBuf>,
}

impl Common {
    /// `--addr`, or `default` when not given.
    pub fn addr_or<'a>(&'a self, default: &'a str) -> &'a str {
        self.addr.as_deref().unwrap_or(default)
    }

    /// `--addr` of the naming port.
    pub fn naming_addr(&self) -> &str {
        self.addr_or("127.0.0.1:8091")
    }

    async fn channels(&self) -> Result<Vec<Channel>> {
        net::connect(self.naming_addr(), self.connections).await
    }

    /// The work limit from `--count` / `--duration`, or `default`.
    fn limit(&self, default: Limit) -> Result<Limit> {
        match (self.count, self.duration) {
            (Some(_), Some(_)) => bail!("give --count or --duration, not both"),
            (Some(n), None) => Ok(Limit::Count(n)),
            (None, Some(d)) => Ok(Limit::For(d)),
            (None, None) => Ok(default),
        }
    }
}

#[derive(Args, Clone)]
pub struct RegisterArgs {
    /// Service the instances are registered in.
    #[arg(long, default_value = "bench-register")]
    pub service: String,
    /// Index of the first instance (to add to an earlier run's instances).
    #[arg(long, default_value_t = 0)]
    pub offset: u64,
    /// Spread the instances round robin over this many services (`<service>-<i>`; 1: all in
    /// `--service`).
    #[arg(long, default_value_t = 1)]
    pub services: u64,
}

impl RegisterArgs {
    /// The service instance number `n` is registered in.
    pub fn service_of(&self, n: u64) -> String {
        if self.services <= 1 {
            self.service.clone()
        } else {
            format!("{}-{}", self.service, n % self.services)
        }
    }
}

#[derive(Clone, Copy, ValueEnum)]
pub enum Mode {
    /// Send no revision: every reply carries the full instance list.
    Changed,
    /// Send the current revision: every reply is 200001 "data no change".
    Unchanged,
}

#[derive(Args, Clone)]
pub struct DiscoverArgs {
    #[arg(long, value_enum, default_value_t = Mode::Unchanged)]
    pub mode: Mode,
    /// Services asked for (streams are spread over them).
    #[arg(long, default_value_t = 1)]
    pub services: usize,
    /// Instances registered in each service before the run.
    #[arg(long, default_value_t = 100)]
    pub instances: u64,
    /// Read only each reply's code and revision (the instances are skipped, not decoded), so
    /// that the bench's decoding does not bound the load.
    #[arg(long)]
    pub lean: bool,
}

#[derive(Args, Clone)]
pub struct PushArgs {
    /// Subscribed streams.
    #[arg(long, default_value_t = 1_000)]
    pub streams: usize,
    /// Changes to time, one after the other.
    #[arg(long, default_value_t = 5)]
    pub rounds: u64,
    /// Streams per HTTP/2 connection; more connections are opened than `--connections` if needed.
    #[arg(long, default_value_t = 250)]
    pub streams_per_connection: usize,
}

#[derive(Args, Clone)]
pub struct XdsArgs {
    /// The xDS port (the registrations go to `--addr`, the naming port).
    #[arg(long, default_value = "127.0.0.1:15010")]
    pub xds_addr: String,
    /// Subscribed ADS streams, rounds and streams per HTTP/2 connection, as for `push`.
    #[command(flatten)]
    pub push: PushArgs,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, scale) = if let Some(ms) = text.strip_suffix("ms") {
        (ms, 0.001)
    } else if let Some(s) = text.strip_suffix('s') {
        (s, 1.0)
    } else if let Some(m) = text.strip_suffix('m') {
        (m, 60.0)
    } else {
        (text, 1.0)
    };
    let value: f64 = number
        .trim()
        .parse()
        .map_err(|_| format!("not a duration: {text:?}"))?;
    if !value.is_finite() || value < 0.0 {
        return Err(format!("not a duration: {text:?}"));
    }
    Ok(Duration::from_secs_f64(value * scale))
}

fn rss(common: &Common, label: &str) -> Result<Report> {
    let pid = common.server_pid.context("rss needs --server-pid")?;
    Ok(Report {
        scenario: label.to_string(),
        ops: 0,
        elapsed: Duration::ZERO,
        rec: Recorder::default(),
        usage: Usage {
            server_cpu: None,
            server_rss_mib: Some(Proc::pid(pid).rss_mib()?),
            bench_cpu: 0.0,
        },
        note: String::new(),
    })
}

#[tokio::main]
async fn main() -> Result<()> {
    let cli = Cli::parse();
    let (report, common) = match &cli.scenario {
        Scenario::Register { common, args } => (unary::register(common, args).await?, common),
        Scenario::Heartbeat {
            common,
            instances,
            ttl,
        } => (unary::heartbeat(common, *instances, *ttl).await?, common),
        Scenario::Discover { common, args } => (discover::discover(common, args).await?, common),
        Scenario::Push { common, args } => (push::push(common, args).await?, common),
        Scenario::ConfigGet { common, args } => (config::config_get(common, args).await?, common),
        Scenario::ConfigWatch { common, args } => {
            (watch::config_watch(common, args).await?, common)
        }
        Scenario::ConfigIdle { common, args } => (idle::config_idle(common, args).await?, common),
        Scenario::SdkPick { common, args } => (sdk::pick(common, args).await?, common),
        Scenario::SdkWatch { common, args } => (sdk::watch(common, args).await?, common),
        Scenario::XdsPush { common, args } => (xds::xds_push(common, args).await?, common),
        Scenario::Rss { common, label } => (rss(common, label)?, common),
    };
    report.print(common.markdown.as_deref())
}
