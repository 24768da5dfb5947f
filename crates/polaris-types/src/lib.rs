//! The vocabulary every other polaris-rs crate speaks: Polaris response codes ([`Code`]), the
//! naming model ([`Namespace`], [`Service`], [`Instance`]), identifiers and revisions, and the
//! validation rules the official server applies to names. This crate does no IO and knows no wire
//! format: adapters translate these types to JSON or protobuf, stores persist them.

mod auth;
pub mod code;
mod config;
mod contract;
mod error;
mod id;
mod instance_metadata;
mod model;
mod rule;
mod sym;
pub mod time;
pub mod validate;
mod visible;

pub use auth::{AuthAction, ResourceKind, Strategy, StrategyResource, User, UserGroup, UserRole};
pub use code::{BatchRule, Code};
pub use config::{
    ConfigFile, ConfigFileKey, ConfigGroup, ConfigRelease, ConfigTemplate, FileAttrs, GrayLabel,
    GroupAttrs, ReleaseHistory, ReleaseKind,
};
pub use contract::{ContractInterface, ContractKey, ServiceContract};
pub use error::{PolarisError, Result};
pub use id::{Revision, instance_id, new_revision, new_token, new_uuid};
pub use instance_metadata::InstanceMetadata;
pub use model::{
    HealthCheck, Instance, InstanceKey, Location, Metadata, Millis, Namespace, Service, ServiceKey,
};
pub use rule::{Rule, RuleBody, RuleKind, RuleTarget, TargetRole};
pub use sym::Sym;
pub use visible::{Resource, Visible};

/// Name of the namespace that always exists and holds unqualified services.
pub const DEFAULT_NAMESPACE: &str = "default";
/// Name of the system namespace created at first start.
pub const POLARIS_NAMESPACE: &str = "Polaris";
