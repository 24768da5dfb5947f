//! Polaris for Volo (CloudWeGo's Rust RPC framework), on top of `polaris-sdk`, through
//! Volo's own plug points:
//!
//! * [`PolarisDiscover`]: Volo's `Discover` over the SDK's cache; `watch` delivers the
//!   changes the server pushes.
//! * [`PolarisLoadBalance`]: Volo's `LoadBalance` running the SDK's router chain and
//!   balancer per call; its [`RouteLabelsLayer`] (outer) hands it each request's method,
//!   metadata and [`HashKey`] / [`CallLbPolicy`], which Volo's balancer would not see.
//! * [`CircuitBreakerLayer`] (inner): checks the service and method breakers and reports
//!   each call's gRPC status and latency to the service, method and instance breakers.
//! * [`PolicyLayer`] (outer): per-method timeouts and degradation from
//!   [`polaris_sdk::RpcPolicies`], fixed or followed live from the config center.
//! * [`PolarisServer`] + [`ServeVolo`]: registers a volo-grpc server (heartbeats included)
//!   once it listens; on the shutdown signal it deregisters, drains, then stops gracefully.
//! * [`RateLimitLayer`]: a server layer answering `RESOURCE_EXHAUSTED` past a Polaris rate
//!   limit.
//!
//! The discover, the balancer, the route-labels and the breaker layers serve volo-http
//! clients too (feature `http`, on by default): a request to `http://<service>/<path>` is
//! routed on its HTTP method, path, query and headers, and the breakers hear its status
//! (5xx and unanswered calls are failures).
//!
//! ```no_run
//! # async fn demo() -> Result<(), polaris_volo::BoxError> {
//! use polaris_volo::echo::{EchoClientBuilder, EchoRequest};
//! use polaris_volo::{CircuitBreakerLayer, PolarisDiscover, PolarisLoadBalance};
//!
//! let client = polaris_sdk::Client::builder().addresses(["127.0.0.1:8091"]).build().await?;
//! let discover = PolarisDiscover::new(&client);
//! let balance = PolarisLoadBalance::new();
//! let echo = EchoClientBuilder::new("EchoServerVolo")
//!     .layer_outer(balance.route_labels_layer())
//!     .layer_inner(CircuitBreakerLayer::new(&discover))
//!     .discover(discover)
//!     .load_balance(balance)
//!     .build();
//! let answer = echo.echo(EchoRequest { value: "hi".into() }).await?;
//! println!("{}", answer.into_inner().value);
//! # Ok(()) }
//! ```
//!
//! Volo's gRPC client makes a single attempt (request bodies are streams), so there is no
//! transparent failover or retry: an instance that refuses connections is avoided for 2 s
//! after each refusal, and ejected by its breaker after the rule's consecutive errors.

/// The maps looked up on every call, with a fast (seeded) hasher rather than SipHash.
type FastMap<K, V> = std::collections::HashMap<K, V, foldhash::fast::RandomState>;
/// A set with the hasher of [`FastMap`].
type FastSet<K> = std::collections::HashSet<K, foldhash::fast::RandomState>;

mod balance;
mod breaker;
mod discover;
#[cfg(feature = "http")]
mod http_client;
mod policy;
mod ratelimit;
mod route;
mod server;

pub use balance::{PolarisLoadBalance, RouteLabels};
pub use breaker::{CircuitBreakerLayer, CircuitBreakerService, is_breaker_failure};
pub use discover::PolarisDiscover;
pub use polaris_sdk::lifecycle::{BoxError, ShutdownSignal};
pub use polaris_sdk::local_host;
pub use policy::{CallDeadline, PolicyLayer, PolicyService};
pub use ratelimit::{RateLimit, RateLimitLayer};
pub use route::{CallLbPolicy, HashKey, RouteLabelsLayer, RouteLabelsService};
pub use server::{PolarisServer, ServeVolo, VoloShutdown};

/// The Echo service of the examples, tests and benchmarks (polaris-tonic's `proto/echo.proto`), generated
/// by volo-build.
pub mod echo {
    #![allow(missing_docs, clippy::all, unused_imports, dead_code)]
    include!(concat!(env!("OUT_DIR"), "/echo_gen.rs"));
    pub use echo_gen::polaris::examples::echo::*;
}
