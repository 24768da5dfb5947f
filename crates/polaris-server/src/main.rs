//! `polaris-server`: parses the command line, loads the configuration and runs the server.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use polaris_server::{config, logging, run};

/// With the `jemalloc` feature (on by default): jemalloc with its background purging thread
/// instead of the platform allocator, so that pages freed after a burst (many streams or long
/// polls closing) go back to the OS, and allocation costs less CPU per request (ADR 012).
#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[derive(Parser)]
#[command(
    name = "polaris-server",
    about = "PolarisMesh-compatible service discovery and governance server"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Starts the server (embedded defaults when no configuration file is given).
    Start {
        /// Path of a polaris-server.yaml.
        #[arg(short, long)]
        config: Option<PathBuf>,
    },
    /// Prints the version.
    Version,
}

fn main() -> ExitCode {
    match Cli::parse().command {
        Command::Version => {
            println!("polaris-server {}", env!("CARGO_PKG_VERSION"));
            ExitCode::SUCCESS
        }
        Command::Start { config } => match start(config) {
            Ok(()) => ExitCode::SUCCESS,
            Err(err) => {
                eprintln!("polaris-server: {err:#}");
                ExitCode::FAILURE
            }
        },
    }
}

fn start(config_path: Option<PathBuf>) -> anyhow::Result<()> {
    let env: HashMap<String, String> = std::env::vars().collect();
    let loaded = config::load(config_path.as_deref(), &env)?;
    let _log_guard = logging::init(&loaded.config.logger)?;
    for warning in &loaded.warnings {
        tracing::warn!("{warning}");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let server = run::Server::bind(&loaded.config).await?;
        server.serve(run::shutdown_signal()).await
    })
}
