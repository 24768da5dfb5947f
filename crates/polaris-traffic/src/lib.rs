//! Client-side traffic policy for the Polaris Rust SDK, with no IO: the router chain, the load
//! balancers, the circuit breaker state machines and the rate limiters, all driven by the rules
//! the server delivers through Discover. Time is passed in or read from `tokio::time` so every
//! window and state change can be tested on paused time.
#![warn(missing_docs)]

pub mod balance;
pub mod breaker;
mod hash;
mod instance;
pub mod limiter;
pub mod router;
mod rules;

pub use instance::{Instance, Location, ServiceInstances};
pub use rules::{ServiceKey, Skipped};
