//! Cluster mode: several polaris-server nodes sharing one SQL database. [`follower`] keeps each
//! node's caches in step with the store through the commit-ordered change feed of
//! `polaris_store::feed`, applying what other nodes committed through each domain's own cache
//! operations; its [`FeedStatus`] tells readiness checks and the maintenance view how far
//! behind the node is.

pub mod follower;

pub use follower::{DomainState, Domains, FeedStatus, Follower, FollowerOptions};
