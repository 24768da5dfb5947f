//! Access control, as the official server's default auth plugin does it: users (admin, main and
//! sub accounts), user groups, strategies that grant principals read or read-write access to
//! namespaces, services and config groups, and tokens in the official encrypted format. The
//! state lives in memory behind an `ArcSwap` and every change is written through the store
//! before it is published, like the other domain services. [`Auth::authenticate`] turns a token
//! into an [`Operator`] (honouring `consoleOpen`/`clientOpen` and their strict flags) and
//! [`Auth::authorize`] decides whether that operator may read or write the resources a request
//! names. Adapters name the operation as an [`Endpoint`] and let [`Auth::allowed`] decide (and
//! [`Auth::visible`] build the filter their list queries apply); they never decide themselves.

mod check;
mod decide;
pub mod endpoint;
mod follow;
mod groups;
mod password;
mod state;
mod strategies;
pub mod token;
mod users;

use std::sync::Arc;

use arc_swap::ArcSwap;
use polaris_store::{Mutation, NamingStore};
use polaris_types::{AuthAction, Code, Millis, PolarisError, Result};

use crate::check::PrincipalKind;

pub use check::{Access, Operator, Origin, ResourceRef};
pub use endpoint::{Callers, Endpoint, Scope, Target};
pub use groups::{GroupSpec, GroupUpdate};
pub use state::AuthState;
pub use strategies::{ResourceSet, StrategySpec, StrategyUpdate};
pub use users::{LoginInfo, UserSpec, UserUpdate};

/// Id, name, token and password hash of the default admin the official server ships with.
pub const DEFAULT_ADMIN_ID: &str = "65e4789a6d5b49669adf1e9e8387549c";
pub const DEFAULT_ADMIN_NAME: &str = "polaris";
pub const DEFAULT_ADMIN_TOKEN: &str =
    "nu/0WRA4EqSR1FagrjRj0fZwPXuGlMpX+zCuWu4uMqy8xr1vRjisSbA25aAC3mtU8MeeRsKhQiDAynUR09I=";
/// The default admin's password, of which the hash below is the official one at cost 10.
const DEFAULT_ADMIN_PASSWORD: &str = "polaris";
const DEFAULT_ADMIN_PASSWORD_HASH: &str =
    "$2a$10$3izWuZtE5SBdAtSZci.gs.iZ2pAn9I8hEqYrC6gwJp1dyjqQnrrum";
const DEFAULT_ADMIN_STRATEGY_ID: &str = "fbca9bfa04ae4ead86e1ecf5811e32a9";

/// The `auth` section of the server configuration, with the official defaults.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuthOptions {
    /// Check console (OpenAPI) requests.
    pub console_open: bool,
    /// With `console_open`, refuse a missing or unknown token instead of acting anonymously.
    pub console_strict: bool,
    /// Check client (SDK) requests: registration, discovery, config reads.
    pub client_open: bool,
    /// With `client_open`, refuse a missing or unknown token instead of acting anonymously.
    pub client_strict: bool,
    /// The AES key of tokens (16, 24 or 32 bytes).
    pub salt: String,
    /// The bcrypt cost of new password hashes: [`password::COST`] as officially. Only a test or
    /// fuzz stack lowers it, to keep each input cheap; below the official cost the default
    /// admin's password is hashed afresh at this cost instead of stored as the official hash.
    pub password_cost: u32,
}

impl Default for AuthOptions {
    fn default() -> Self {
        AuthOptions {
            console_open: true,
            console_strict: true,
            client_open: false,
            client_strict: false,
            salt: "polarismesh@2021".to_string(),
            password_cost: password::COST,
        }
    }
}

/// The access-control service: one per server, shared by every adapter.
pub struct Auth {
    options: AuthOptions,
    store: Arc<dyn NamingStore>,
    state: ArcSwap<AuthState>,
    /// Serialises writers so that each change starts from the state the previous one left.
    writer: tokio::sync::Mutex<()>,
    logins: password::LoginGuard,
    /// Tokens already decrypted, with their owner (decryption is deterministic).
    read_tokens: token::ReadTokens,
}

impl Auth {
    /// Loads users, groups and strategies, creating the default admin and its strategy on the
    /// first start.
    pub async fn open(store: Arc<dyn NamingStore>, options: AuthOptions) -> Result<Arc<Auth>> {
        if !token::valid_salt(options.salt.as_bytes()) {
            return Err(PolarisError::new(
                Code::InvalidParameter,
                "auth salt must be 16, 24 or 32 bytes",
            ));
        }
        let users = store.load_users().await?;
        let groups = store.load_user_groups().await?;
        let strategies = store.load_strategies().await?;
        let state = AuthState::build(users, groups, strategies);
        let auth = Arc::new(Auth {
            options,
            store,
            state: ArcSwap::from_pointee(state),
            writer: tokio::sync::Mutex::new(()),
            logins: password::LoginGuard::default(),
            read_tokens: token::ReadTokens::default(),
        });
        if auth.state.load().users.is_empty() {
            auth.create_default_admin().await?;
        }
        Ok(auth)
    }

    /// The options this service runs with.
    pub fn options(&self) -> &AuthOptions {
        &self.options
    }

    /// The current state, for reads.
    pub fn state(&self) -> Arc<AuthState> {
        self.state.load_full()
    }

    async fn create_default_admin(&self) -> Result<()> {
        let now = now_millis();
        let password_hash = if self.options.password_cost == password::COST {
            DEFAULT_ADMIN_PASSWORD_HASH.to_string()
        } else {
            password::hash(
                DEFAULT_ADMIN_PASSWORD.to_string(),
                self.options.password_cost,
            )
            .await?
        };
        let admin = polaris_types::User {
            id: DEFAULT_ADMIN_ID.to_string(),
            name: DEFAULT_ADMIN_NAME.to_string(),
            password_hash,
            owner: String::new(),
            source: "Polaris".to_string(),
            token: DEFAULT_ADMIN_TOKEN.to_string(),
            token_enable: true,
            comment: "default polaris admin account".to_string(),
            mobile: String::new(),
            email: String::new(),
            role: polaris_types::UserRole::Main,
            ctime: now,
            mtime: now,
        };
        let mut strategy = strategies::default_strategy_for(
            DEFAULT_ADMIN_STRATEGY_ID.to_string(),
            &admin.name,
            polaris_types::AuthAction::ReadWrite,
            check::PrincipalKind::User,
            &admin.id,
            &admin.id,
            now,
        );
        strategy.comment = "default admin".to_string();
        strategy.resources = strategies::everything();
        let _guard = self.writer.lock().await;
        self.commit(vec![
            Mutation::PutUser(admin),
            Mutation::PutStrategy(strategy),
        ])
        .await
    }

    /// Writes `batch` durably, then publishes it. Callers hold `self.writer`.
    /// Commits a new principal (`put`) together with its default read-write strategy.
    async fn commit_principal(
        &self,
        put: Mutation,
        kind: PrincipalKind,
        (id, name): (&str, &str),
        owner: &str,
        now: Millis,
    ) -> Result<()> {
        let action = AuthAction::ReadWrite;
        let strategy =
            strategies::default_strategy_for(new_id(), name, action, kind, id, owner, now);
        self.commit(vec![put, Mutation::PutStrategy(strategy)])
            .await
    }

    async fn commit(&self, batch: Vec<Mutation>) -> Result<()> {
        self.store.apply(batch.clone()).await?;
        let mut next = AuthState::clone(&self.state.load());
        next.apply(batch);
        self.state.store(Arc::new(next));
        Ok(())
    }

    fn issue_token(&self, owner: &token::TokenOwner) -> String {
        token::issue(self.options.salt.as_bytes(), owner)
    }
}

/// A principal's source, `Polaris` unless given.
fn source_or_polaris(source: String) -> String {
    if source.is_empty() {
        "Polaris".to_string()
    } else {
        source
    }
}

fn now_millis() -> Millis {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as Millis)
        .unwrap_or_default()
}

fn new_id() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

#[cfg(test)]
mod tests;
