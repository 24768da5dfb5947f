//! Test and example support shared by the SDK and the framework integrations (dev-only, never
//! published): `server` runs the real `polaris-server` binary on loopback ports, `examples`
//! runs a crate's examples as processes against it, `bench` measures CPU time and prints the
//! overhead tables of the benchmark examples, `docs` checks generated documentation sections,
//! `fixtures` holds the rules the tests and
//! examples create, and, with the `sdk` feature, `echo` is the Echo test provider's behaviour,
//! `suite` the scenarios every framework integration must pass and `example` the examples'
//! client set-up and providers; with the `tls` feature, `tls` makes certificates at test time.

pub mod bench;
pub mod docs;
#[cfg(feature = "sdk")]
pub mod echo;
#[cfg(feature = "sdk")]
pub mod example;
pub mod examples;
pub mod fixtures;
#[cfg(feature = "sdk")]
pub mod quickstart;
pub mod server;
#[cfg(feature = "sdk")]
pub mod suite;
#[cfg(feature = "tls")]
pub mod tls;

pub use examples::{Example, run_consumer};
pub use server::{ADMIN_TOKEN, TestServer, binary, eventually, free_port};
