//! Client-side traffic policy for the Polaris Rust SDK, with no IO: the router chain, the load
//! balancers, the circuit breaker state machines and the rate limiters, all driven by the rules
//! the server delivers through Discover. Time is read from `tokio::time` so every window and
//! state change can be tested on paused time.
//!
//! # Pieces
//!
//! * [`router`]: [`router::RouterChain`] runs the official chain (`laneRouter`;
//!   `ruleBasedRouter`, `nearbyBasedRouter`; `filterOnlyRouter`, plus `dstMetaRouter` when
//!   configured) over an `Arc<[Arc<Instance>]>` for one call described by a
//!   [`router::RouteContext`]. Rules are compiled once per revision
//!   ([`router::RoutingRules`], [`router::LaneRules`]) and shared through the context.
//! * [`balance`]: [`balance::LoadBalancer`] implementations (weighted random, smooth
//!   weighted round robin, ring hash, maglev) picking one instance of a routed set, with an
//!   optional hash key in [`balance::Criteria`].
//! * [`breaker`]: [`breaker::CircuitBreakers`] (service, method and instance level, from v2
//!   `CircuitBreakerRule`s or the official defaults), usable as the `filterOnlyRouter`'s
//!   [`router::InstanceGate`], and [`breaker::FaultDetectRules`] turning `FaultDetector`
//!   rules into probe descriptions for the SDK to run.
//! * [`limiter`]: [`limiter::RateLimiter`] (reject, unirate and concurrency limits from
//!   `RateLimit` rules), deciding synchronously; the SDK sleeps on [`limiter::Admission::Wait`].
//!
//! # Example
//!
//! ```
//! use std::sync::Arc;
//!
//! use polaris_traffic::balance::{Criteria, LoadBalancer, WeightedRandomBalancer};
//! use polaris_traffic::router::{InstanceList, RouteContext, RouterChain};
//! use polaris_traffic::{Instance, ServiceKey};
//!
//! let instances: InstanceList = (0..3u32)
//!     .map(|i| {
//!         Arc::new(Instance {
//!             id: format!("orders-{i}").into(),
//!             host: "10.0.0.1".into(),
//!             port: 8000 + i,
//!             weight: 100,
//!             healthy: i != 1,
//!             ..Default::default()
//!         })
//!     })
//!     .collect();
//! let chain = RouterChain::default();
//! let cx = RouteContext {
//!     destination: ServiceKey::new("default", "orders"),
//!     ..Default::default()
//! };
//! let routed = chain.route(&cx, &instances)?;
//! assert_eq!(routed.len(), 2, "the unhealthy instance is filtered out");
//! let picked = WeightedRandomBalancer::new().pick(&routed, &Criteria::default());
//! assert!(picked.is_some_and(|i| i.healthy));
//! # Ok::<(), polaris_traffic::router::RouteError>(())
//! ```
//!
//! # Steady-state cost
//!
//! Routers return their input `Arc` when they remove nothing and memoise what they compute
//! per input set, and balancers cache their derived structures (cumulative weights, ring,
//! maglev table) per set, so routing and picking on an unchanged snapshot allocate nothing:
//! weighted random is a binary search, ring hash a binary search, maglev one lookup.
//!
//! # Rule input
//!
//! Every compiler takes the prost messages of `polaris-proto` and returns the compiled form
//! plus a list of [`Skipped`] rules (with the reason) instead of failing: one bad rule never
//! disables the others, and nothing here panics on rule content.
#![warn(missing_docs)]

/// A hash map with `foldhash`'s seeded fast hasher: the maps looked up on every call (by
/// service, method, instance) hash their keys several times per call, and SipHash cost
/// about 500 instructions per breaker lookup.
pub type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;

/// A hash set with the hasher of [`FastMap`].
pub type FastSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;

pub mod balance;
pub mod breaker;
mod hash;
mod instance;
pub mod limiter;
pub mod router;
mod rules;

/// A current-thread runtime on paused time, for property tests that drive their own clock.
#[cfg(test)]
pub(crate) fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .start_paused(true)
        .build()
        .unwrap()
}

pub use instance::{Instance, Location, ServiceInstances};
pub use rules::{ServiceKey, Skipped};
