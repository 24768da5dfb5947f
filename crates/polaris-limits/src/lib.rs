//! Limits per client and per connection, shared by every listener of polaris-rs, so that one
//! misbehaving client cannot take the server from the others: connection counts per listener
//! and per client address ([`conn`], applied by each listener before a byte is read, through
//! [`ConnLimiter::admission`]), token buckets per client
//! address for write requests ([`rate`]), and the metrics that count every refusal
//! ([`metrics`]). The adapters own the protocol answers (gRPC reply codes, HTTP 429) and the
//! limits that live inside a protocol (HTTP/2 streams per connection, subscriptions per
//! Discover stream, files per config watch); the configuration keys follow the official
//! `apiservers[].option.connLimit` and `plugin.ratelimit` shapes.

pub mod conn;
pub mod metrics;
pub mod rate;

pub use conn::{Admission, ConnLimitOptions, ConnLimiter, ConnPermit, ConnRefusal};
pub use metrics::{Limit, metrics, register};
pub use rate::{IpRateLimiter, IpRateOptions};

/// HTTP/2 streams one connection may have open at once on the gRPC and xDS ports (the
/// `maxConcurrentStreams` option). Official SDKs open a handful per connection.
pub const DEFAULT_MAX_CONCURRENT_STREAMS: u32 = 1_000;

/// Resources one Discover stream may subscribe to with push on (the
/// `maxSubscriptionsPerStream` option of `service-grpc`).
pub const DEFAULT_MAX_SUBSCRIPTIONS_PER_STREAM: usize = 10_000;
