//! The access-control model: users (main and sub accounts), user groups, and strategies that
//! grant principals read or read-write access to namespaces, services and config groups.

use std::collections::BTreeSet;

use crate::Millis;

/// A user's role, with the official numeric values.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum UserRole {
    /// Manages every tenant (`0`).
    Admin,
    /// A main account, owner of its sub accounts and of everything they create (`20`).
    Main,
    /// A sub account of a main account (`50`).
    Sub,
}

impl UserRole {
    /// The value stored and sent as `user_type`.
    pub const fn value(self) -> u32 {
        match self {
            UserRole::Admin => 0,
            UserRole::Main => 20,
            UserRole::Sub => 50,
        }
    }

    /// Parses a stored value.
    pub fn from_value(value: u32) -> Option<UserRole> {
        match value {
            0 => Some(UserRole::Admin),
            20 => Some(UserRole::Main),
            50 => Some(UserRole::Sub),
            _ => None,
        }
    }

    /// The name the login answer carries in `role`.
    pub const fn name(self) -> &'static str {
        match self {
            UserRole::Admin => "admin",
            UserRole::Main => "main",
            UserRole::Sub => "sub",
        }
    }
}

/// A user account. `password_hash` is a bcrypt hash; `token` is the user's one valid token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub name: String,
    pub password_hash: String,
    /// Id of the main account for a sub account, empty for main and admin accounts.
    pub owner: String,
    pub source: String,
    pub token: String,
    pub token_enable: bool,
    pub comment: String,
    pub mobile: String,
    pub email: String,
    pub role: UserRole,
    pub ctime: Millis,
    pub mtime: Millis,
}

/// A group of users; a group has its own token and strategies.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UserGroup {
    pub id: String,
    pub name: String,
    /// Id of the main account that owns the group.
    pub owner: String,
    pub source: String,
    pub token: String,
    pub token_enable: bool,
    pub comment: String,
    pub user_ids: BTreeSet<String>,
    pub ctime: Millis,
    pub mtime: Millis,
}

/// What a strategy lets its principals do.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum AuthAction {
    /// Read only (`ONLY_READ`, 0).
    ReadOnly,
    /// Read and write (`READ_WRITE`, 1).
    ReadWrite,
}

/// The kinds of resource a strategy can name.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ResourceKind {
    Namespace,
    Service,
    ConfigGroup,
}

/// One resource a strategy names. `id` is `*` for every resource of its kind; otherwise a
/// namespace is named by its name and services and config groups by namespace and name (the
/// official server's ids are kept in `id` when a client sends them).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StrategyResource {
    pub kind: ResourceKind,
    pub id: String,
    pub namespace: String,
    pub name: String,
}

/// An authorization strategy: principals, resources and the action granted.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Strategy {
    pub id: String,
    pub name: String,
    pub users: BTreeSet<String>,
    pub groups: BTreeSet<String>,
    pub resources: BTreeSet<StrategyResource>,
    pub action: AuthAction,
    pub comment: String,
    /// Id of the main account that owns the strategy.
    pub owner: String,
    /// Every user and group has exactly one default strategy, deleted with it.
    pub default_strategy: bool,
    pub source: String,
    pub ctime: Millis,
    pub mtime: Millis,
}
