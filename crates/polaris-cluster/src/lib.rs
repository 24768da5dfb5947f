//! Cluster mode: several polaris-server nodes sharing one SQL database. [`follower`] keeps each
//! node's caches in step with the store through the commit-ordered change feed of
//! `polaris_store::feed`, applying what other nodes committed through each domain's own cache
//! operations; its [`FeedStatus`] tells readiness checks and the maintenance view how far
//! behind the node is. [`membership`] renews each node's row and competes for the fenced leader
//! lease that runs the maintenance jobs. [`redis_beats`] keeps heartbeats in Redis, and
//! [`ownership`] spreads the checks over the live nodes.

pub mod follower;
pub mod membership;
pub mod ownership;
pub mod redis_beats;
pub mod redis_hints;

pub use follower::{DomainState, Domains, FeedStatus, Follower, FollowerOptions};
pub use membership::{ClusterView, Membership, MembershipOptions, NodeIdentity};
pub use ownership::LiveNodes;
pub use redis_beats::{BeatStoreState, RedisBeats, RedisOptions};
pub use redis_hints::RedisHints;
