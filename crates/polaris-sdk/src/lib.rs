//! The Polaris Rust SDK: one cheap-to-clone [`Client`] that registers providers, discovers and
//! caches services (push when the server offers it, revision polling otherwise), routes and
//! balances calls through `polaris-traffic`, and reads and watches configuration files.
//!
//! ```no_run
//! # async fn demo() -> polaris_sdk::Result<()> {
//! use polaris_sdk::{Client, Criteria, InstanceSpec, ServiceKey};
//!
//! let client = Client::builder().addresses(["127.0.0.1:8091"]).build().await?;
//! let registration = client
//!     .provider()
//!     .register(InstanceSpec::new("default", "echo", "127.0.0.1", 9090).protocol("grpc"))
//!     .await?;
//! let echo = ServiceKey::new("default", "echo");
//! let one = client.consumer().get_one_instance(&echo, &Criteria::default()).await?;
//! println!("call {}:{}", one.host, one.port);
//! registration.deregister().await?;
//! # Ok(()) }
//! ```
//!
//! # Map
//!
//! * [`Client::builder`] from code or a `polaris.yaml` ([`Settings`], official keys).
//! * [`Client::provider`]: [`Provider::register`] returns a [`Registration`] guard that
//!   heartbeats every TTL and registers again after a "not found"; [`Client::shutdown`] and
//!   [`shutdown_signal`] for a graceful exit.
//! * [`Client::consumer`]: [`Consumer::get_all_instances`], [`Consumer::get_instances`]
//!   (router chain), [`Consumer::get_one_instance`] (router chain and load balancer),
//!   [`Consumer::watch`], [`Consumer::get_rules`] / [`Consumer::watch_rules`],
//!   [`Consumer::report`] and [`Consumer::check`] for circuit breaking.
//! * [`ServerRegistration`]: register a served application while it serves; deregister,
//!   drain and stop gracefully on the shutdown signal.
//! * [`Client::limiter`]: [`Limiter::acquire`] against the RATE_LIMIT rules.
//! * [`Client::config`]: [`ConfigCenter::get_file`], [`ConfigCenter::get_as`] and
//!   [`ConfigCenter::watch_file`] (decrypted, typed, with a local copy for outages).
//! * [`RpcPolicies`]: per-method timeouts, retries and degradation from the config center,
//!   followed live (used by `polaris-tonic` and `polaris-volo`).
#![warn(missing_docs)]

mod client;
pub mod config;
pub mod config_center;
pub mod consumer;
mod error;
mod fault_detect;
pub mod governance;
pub mod lifecycle;
pub mod provider;
mod rpc;
pub mod rpc_policy;

pub use client::{Client, ClientBuilder};
pub use config::Settings;
pub use config_center::{ConfigCenter, ConfigFile, FileWatch, Format};
pub use consumer::{
    Consumer, Criteria, LbPolicy, ResourceKind, ResourceWatch, RuleSet, ServiceKey, ServiceWatch,
    Snapshot,
};
pub use error::{Error, Result, codes};
pub use fault_detect::probe;
pub use governance::{CallResult, Limiter, Permit, Quota, ServerLimit, code_text};
pub use lifecycle::{ServerRegistration, local_host};
pub use polaris_matcher::RequestContext;
pub use polaris_traffic::{Instance, Location, ServiceInstances};
pub use provider::{InstanceSpec, Provider, Registration, shutdown_signal};
pub use rpc_policy::{RetryPolicy, RpcPolicies, RpcPolicy, SuiteKeys};
