//! The examples' Polaris client: a `polaris.yaml` in the working directory, else
//! `POLARIS_ADDR` or 127.0.0.1:8091 (shared with the polaris-volo examples).

#![allow(dead_code, unused_imports)]

#[path = "../../../polaris-sdk/examples/common/mod.rs"]
mod sdk;

use std::time::Duration;

pub use sdk::http;

/// Logs to stderr (stdout carries the examples' output), `RUST_LOG` controlled (info).
pub fn init_logs() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .try_init();
}

/// The example client: `./polaris.yaml` when present (official keys), otherwise
/// `POLARIS_ADDR` or the README server's default address, with no local persistence.
pub async fn client() -> polaris_sdk::Result<polaris_sdk::Client> {
    let file = std::path::Path::new("polaris.yaml");
    let builder = polaris_sdk::Client::builder();
    if file.is_file() {
        return builder.config_file(file).build().await;
    }
    builder
        .addresses([sdk::naming_addr()])
        .config_addresses([sdk::config_addr()])
        .persist_dir(None)
        .config_persist_dir(None)
        .timeout(Duration::from_secs(3))
        .build()
        .await
}
