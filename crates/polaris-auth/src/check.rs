//! Who is calling ([`Auth::authenticate`]) and whether they may do it ([`Auth::authorize`]).
//!
//! Admin and main accounts may do everything. Sub accounts and groups may read what one of
//! their strategies (their own or one of their groups') names, and write what a read-write
//! strategy names. A strategy naming a namespace covers everything inside it (services,
//! instances, rules and config groups); `*` names every resource of its kind. Anonymous callers
//! (let through by a non-strict switch) may read but never write.

use polaris_types::{
    AuthAction, Code, PolarisError, ResourceKind, Result, Strategy, StrategyResource, UserRole,
};

use crate::token::TokenOwner;
use crate::{Auth, AuthState};

/// Which side of the server a request comes from: the checks and their switches differ.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Console and OpenAPI management (`consoleOpen`, `consoleStrict`).
    Console,
    /// SDK traffic: registration, discovery, config reads (`clientOpen`, `clientStrict`).
    Client,
    /// The user, group and strategy APIs: always need a valid token, never anonymous.
    AuthModule,
}

/// Whether a request reads or changes what it names.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Access {
    Read,
    Write,
}

#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub(crate) enum PrincipalKind {
    User,
    Group,
}

/// The caller, as established from its token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Operator {
    /// Checks are switched off for this kind of request.
    Unchecked,
    /// No usable token, and the strict flag is off: treated as an anonymous caller.
    Anonymous,
    /// A user token.
    User {
        id: String,
        name: String,
        role: UserRole,
        /// The main account: the user itself unless it is a sub account.
        owner_id: String,
    },
    /// A group token.
    Group {
        id: String,
        name: String,
        owner_id: String,
    },
}

impl Operator {
    /// Whether the operator is an admin or main account.
    pub fn is_owner(&self) -> bool {
        matches!(self, Operator::Unchecked)
            || matches!(self, Operator::User { role, .. } if *role != UserRole::Sub)
    }

    /// The user id, for a user token.
    pub fn user_id(&self) -> Option<&str> {
        match self {
            Operator::User { id, .. } => Some(id),
            _ => None,
        }
    }

    /// The name used as `owner`/operator on the resources it writes.
    pub fn name(&self) -> &str {
        match self {
            Operator::User { name, .. } | Operator::Group { name, .. } => name,
            Operator::Anonymous | Operator::Unchecked => "",
        }
    }
}

/// A resource a request names: a namespace (`name` empty), or a service or config group in a
/// namespace.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ResourceRef {
    pub kind: ResourceKind,
    pub namespace: String,
    pub name: String,
}

impl ResourceRef {
    pub fn namespace(namespace: impl Into<String>) -> Self {
        ResourceRef {
            kind: ResourceKind::Namespace,
            namespace: namespace.into(),
            name: String::new(),
        }
    }

    pub fn service(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        ResourceRef {
            kind: ResourceKind::Service,
            namespace: namespace.into(),
            name: name.into(),
        }
    }

    pub fn config_group(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        ResourceRef {
            kind: ResourceKind::ConfigGroup,
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

impl Auth {
    /// Establishes the caller of a request from `origin` and its token (header, metadata or
    /// body field). Fails with 401001, 401003 (disabled) or 401004 (not the current token).
    pub fn authenticate(&self, origin: Origin, token: Option<&str>) -> Result<Operator> {
        let (open, strict) = match origin {
            Origin::Console => (self.options.console_open, self.options.console_strict),
            Origin::Client => (self.options.client_open, self.options.client_strict),
            Origin::AuthModule => (true, true),
        };
        if !open {
            return Ok(Operator::Unchecked);
        }
        let token = token.map(str::trim).filter(|t| !t.is_empty());
        match self.operator_of(token) {
            Ok(operator) => Ok(operator),
            // Only a missing, unreadable or stale token may degrade to anonymous; a disabled
            // one never does.
            Err(err) if !strict && err.code != Code::TokenDisabled => Ok(Operator::Anonymous),
            Err(err) => Err(err),
        }
    }

    fn operator_of(&self, token: Option<&str>) -> Result<Operator> {
        let Some(token) = token else {
            return Err(PolarisError::new(
                Code::NotAllowedAccess,
                "no auth token given",
            ));
        };
        let owner = self
            .read_tokens
            .read(self.options.salt.as_bytes(), token)
            .map_err(|_| PolarisError::new(Code::NotAllowedAccess, "invalid token"))?;
        let state = self.state.load();
        let (current, enabled, operator) = match owner {
            TokenOwner::User(id) => {
                let user = state
                    .users
                    .get(&id)
                    .ok_or_else(|| PolarisError::new(Code::NotAllowedAccess, "no such user"))?;
                let owner_id = if user.owner.is_empty() {
                    user.id.clone()
                } else {
                    user.owner.clone()
                };
                let operator = Operator::User {
                    id: user.id.clone(),
                    name: user.name.clone(),
                    role: user.role,
                    owner_id,
                };
                (user.token.as_str(), user.token_enable, operator)
            }
            TokenOwner::Group(id) => {
                let group = state.groups.get(&id).ok_or_else(|| {
                    PolarisError::new(Code::NotAllowedAccess, "no such user group")
                })?;
                let operator = Operator::Group {
                    id: group.id.clone(),
                    name: group.name.clone(),
                    owner_id: group.owner.clone(),
                };
                (group.token.as_str(), group.token_enable, operator)
            }
        };
        if current != token {
            return Err(PolarisError::new(Code::TokenNotExisted, ""));
        }
        if !enabled {
            return Err(PolarisError::new(Code::TokenDisabled, ""));
        }
        Ok(operator)
    }

    /// Whether `operator` may `access` every one of `resources`; 401001 names the first refused.
    pub fn authorize(
        &self,
        operator: &Operator,
        access: Access,
        resources: &[ResourceRef],
    ) -> Result<()> {
        if operator.is_owner() {
            return Ok(());
        }
        let state = self.state.load();
        for resource in resources {
            if !may(&state, operator, access, resource) {
                let what = if resource.name.is_empty() {
                    format!("namespace {}", resource.namespace)
                } else {
                    format!("{}/{}", resource.namespace, resource.name)
                };
                return Err(PolarisError::new(
                    Code::NotAllowedAccess,
                    format!(
                        "no permission to {} {what}",
                        match access {
                            Access::Read => "read",
                            Access::Write => "write",
                        }
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Whether `operator` may see `resource` (list answers keep only what this allows).
    pub fn can_read(&self, operator: &Operator, resource: &ResourceRef) -> bool {
        operator.is_owner() || may(&self.state.load(), operator, Access::Read, resource)
    }
}

/// The main account an operator manages users, groups or strategies for; sub accounts and
/// groups may not (403002).
pub(crate) fn main_account(operator: &Operator, what: &str) -> Result<String> {
    match operator {
        Operator::Unchecked => Ok(crate::DEFAULT_ADMIN_ID.to_string()),
        Operator::User { role, owner_id, .. } if *role != UserRole::Sub => Ok(owner_id.clone()),
        _ => Err(PolarisError::new(
            Code::OperationRoleForbidden,
            format!("only main accounts can manage {what}"),
        )),
    }
}

pub(crate) fn may(
    state: &AuthState,
    operator: &Operator,
    access: Access,
    resource: &ResourceRef,
) -> bool {
    let (user, groups): (Option<&str>, Vec<&str>) = match operator {
        Operator::Unchecked => return true,
        // Anonymous callers (a non-strict switch let a missing or stale token through) may
        // read, never write.
        Operator::Anonymous => return access == Access::Read,
        Operator::User { id, .. } => (
            Some(id.as_str()),
            state
                .memberships
                .get(id)
                .map(|g| g.iter().map(String::as_str).collect())
                .unwrap_or_default(),
        ),
        Operator::Group { id, .. } => (None, vec![id.as_str()]),
    };
    state.strategies.values().any(|s| {
        let applies = user.is_some_and(|u| s.users.contains(u))
            || groups.iter().any(|g| s.groups.contains(*g));
        applies
            && (access == Access::Read || s.action == AuthAction::ReadWrite)
            && grants(s, resource)
    })
}

/// Whether `strategy` covers `resource`.
pub(crate) fn grants(strategy: &Strategy, resource: &ResourceRef) -> bool {
    strategy.resources.iter().any(|r| entry_covers(r, resource))
}

fn entry_covers(entry: &StrategyResource, resource: &ResourceRef) -> bool {
    let all = entry.id == "*";
    match entry.kind {
        ResourceKind::Namespace => {
            all || entry.id == resource.namespace
                || (entry.id.is_empty() && entry.name == resource.namespace)
        }
        kind if kind == resource.kind => {
            all || (entry.namespace == resource.namespace && entry.name == resource.name)
        }
        _ => false,
    }
}
