//! Polaris for tonic, on top of `polaris-sdk`: what grpc-go-polaris gives gRPC-Go.
//!
//! * [`PolarisChannel`]: a `tower::Service` any generated tonic client accepts. Per request
//!   it runs the router chain (labels from the request metadata and the bare method as
//!   `$path`) and the load balancer ([`HashKey`] / [`CallLbPolicy`] request extensions),
//!   checks the circuit breakers, calls the instance over its own lazily connected channel,
//!   fails over to another instance on connection errors, applies per-method timeouts,
//!   retries and degradation ([`polaris_sdk::RpcPolicies`], fixed or watched from the config
//!   center), and reports each call's gRPC status and latency to the breakers. The instance
//!   list is the SDK's cache, updated by server push.
//! * [`PolarisServer`]: registers a tonic server's services (heartbeats included) once it
//!   listens; on the shutdown signal it deregisters, drains, then stops gracefully.
//! * [`RateLimitLayer`]: a server layer answering `RESOURCE_EXHAUSTED` past a Polaris rate
//!   limit.
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! use polaris_tonic::echo::{EchoRequest, echo_client::EchoClient};
//!
//! let client = polaris_sdk::Client::builder().addresses(["127.0.0.1:8091"]).build().await?;
//! let channel = polaris_tonic::PolarisChannel::builder(client, "EchoServerTonic").build();
//! let mut echo = EchoClient::new(channel);
//! let answer = echo.echo(EchoRequest { value: "hi".into() }).await?;
//! println!("{}", answer.into_inner().value);
//! # Ok(()) }
//! ```

mod body;
mod channel;
mod ratelimit;
mod server;

pub use body::ReportingBody;
pub use channel::{
    CallLbPolicy, ChannelBuilder, HashKey, PolarisChannel, ResponseFuture, is_breaker_failure,
};
pub use polaris_sdk::lifecycle::{BoxError, ShutdownSignal};
pub use polaris_sdk::local_host;
pub use ratelimit::{RateLimit, RateLimitLayer};
pub use server::{PolarisServer, ServeTonic};

/// The Echo service of the examples, tests and benchmarks (`proto/echo.proto`).
pub mod echo {
    #![allow(missing_docs, clippy::all)]
    tonic::include_proto!("polaris.examples.echo");
}
