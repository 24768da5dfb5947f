//! Login and user accounts: main accounts own sub accounts, every account has one token and a
//! default strategy, passwords are bcrypt hashes.

use polaris_store::Mutation;
use polaris_types::{Code, PolarisError, Result, User, UserRole};

use crate::check::PrincipalKind;
use crate::token::TokenOwner;
use crate::{Auth, Operator, new_id, now_millis, password, source_or_polaris, strategies};

/// Longest user, group or strategy name, in characters.
pub const MAX_NAME_CHARS: usize = 64;

/// What the login answer carries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginInfo {
    pub user_id: String,
    pub name: String,
    pub role: UserRole,
    pub owner_id: String,
    pub token: String,
}

/// A user to create.
#[derive(Clone, Debug, Default)]
pub struct UserSpec {
    pub name: String,
    pub password: String,
    pub comment: String,
    pub mobile: String,
    pub email: String,
    pub source: String,
}

/// Changes to a user's profile; `None` keeps a field.
#[derive(Clone, Debug, Default)]
pub struct UserUpdate {
    pub id: String,
    pub comment: Option<String>,
    pub mobile: Option<String>,
    pub email: Option<String>,
}

/// Checks a user, group or strategy name as the official server does.
pub fn check_name(name: &str, code: Code) -> Result<()> {
    let fail = |why: &str| Err(PolarisError::new(code, why));
    if name.is_empty() {
        return fail("empty name");
    }
    if name == "polariadmin" {
        return fail("illegal username");
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return fail("name too long");
    }
    let allowed = |c: char| {
        c.is_ascii_alphanumeric()
            || matches!(c, '_' | '-' | '.')
            || ('\u{4E00}'..='\u{9FA5}').contains(&c)
    };
    if !name.chars().all(allowed) {
        return fail("name contains invalid character");
    }
    Ok(())
}

fn check_password(password: &str) -> Result<()> {
    if !(6..=17).contains(&password.len()) {
        return Err(PolarisError::new(
            Code::InvalidUserPassword,
            "password len need 6 ~ 17",
        ));
    }
    Ok(())
}

fn check_profile(mobile: &str, email: &str, comment: &str) -> Result<()> {
    if !mobile.is_empty() && mobile.chars().count() != 11 {
        return Err(PolarisError::new(Code::InvalidUserMobile, "invalid mobile"));
    }
    if !email.is_empty() && (email.len() > 64 || !email.contains('@')) {
        return Err(PolarisError::new(Code::InvalidUserEmail, "invalid email"));
    }
    if comment.chars().count() > 1024 {
        return Err(PolarisError::new(
            Code::InvalidParameter,
            "comment too long",
        ));
    }
    Ok(())
}

/// Whether `operator` may see and manage `user`: admins everyone, main accounts themselves and
/// their sub accounts, sub accounts themselves.
pub(crate) fn can_manage_user(operator: &Operator, user: &User) -> bool {
    match operator {
        Operator::Unchecked => true,
        Operator::User { id, role, .. } => {
            *role == UserRole::Admin || user.id == *id || user.owner == *id
        }
        Operator::Group { .. } | Operator::Anonymous => false,
    }
}

impl Auth {
    /// Checks a name and password; `owner` (the main account's name) defaults to `name`.
    pub async fn login(
        &self,
        owner: Option<&str>,
        name: &str,
        password: &str,
    ) -> Result<LoginInfo> {
        let owner = owner.filter(|o| !o.is_empty()).unwrap_or(name);
        if name.is_empty() || name.len() > 256 || owner.len() > 256 || password.len() > 256 {
            return Err(PolarisError::new(Code::NotFoundUser, ""));
        }
        let account = format!("{owner}\u{0}{name}");
        self.logins.admit(&account)?;
        let user = self
            .state
            .load()
            .user_by_name(owner, name)
            .cloned()
            .ok_or_else(|| PolarisError::new(Code::NotFoundUser, ""))?;
        let ok = self
            .logins
            .verify(password.to_string(), user.password_hash.clone())
            .await;
        self.logins.record(&account, ok);
        if !ok {
            return Err(PolarisError::new(
                Code::NotAllowedAccess,
                "name or password is wrong",
            ));
        }
        Ok(LoginInfo {
            user_id: user.id,
            name: user.name,
            role: user.role,
            owner_id: user.owner,
            token: user.token,
        })
    }

    /// Creates a sub account of the operator's main account (an admin creates main accounts).
    pub async fn create_user(&self, operator: &Operator, spec: UserSpec) -> Result<User> {
        let (owner_id, role) = match operator {
            Operator::User {
                role: UserRole::Admin,
                ..
            } => (String::new(), UserRole::Main),
            Operator::User {
                role: UserRole::Main,
                id,
                ..
            } => (id.clone(), UserRole::Sub),
            Operator::Unchecked => (crate::DEFAULT_ADMIN_ID.to_string(), UserRole::Sub),
            _ => {
                return Err(PolarisError::new(
                    Code::OperationRoleForbidden,
                    "only main accounts can create users",
                ));
            }
        };
        check_name(&spec.name, Code::InvalidUserName)?;
        check_password(&spec.password)?;
        check_profile(&spec.mobile, &spec.email, &spec.comment)?;
        let hash = password::hash(spec.password, self.options.password_cost).await?;
        let _guard = self.writer.lock().await;
        let state = self.state.load();
        let clash = state.users.values().any(|u| {
            u.name == spec.name && (u.owner == owner_id || (u.owner.is_empty() && u.id == owner_id))
        });
        if clash {
            return Err(PolarisError::new(Code::UserExisted, spec.name));
        }
        let now = now_millis();
        let id = new_id();
        let user = User {
            token: self.issue_token(&TokenOwner::User(id.clone())),
            id,
            name: spec.name,
            password_hash: hash,
            owner: owner_id.clone(),
            source: source_or_polaris(spec.source),
            token_enable: true,
            comment: spec.comment,
            mobile: spec.mobile,
            email: spec.email,
            role,
            ctime: now,
            mtime: now,
        };
        let strategy_owner = if owner_id.is_empty() {
            user.id.clone()
        } else {
            owner_id
        };
        let put = Mutation::PutUser(user.clone());
        let principal = (user.id.as_str(), user.name.as_str());
        self.commit_principal(put, PrincipalKind::User, principal, &strategy_owner, now)
            .await?;
        Ok(user)
    }

    /// The user `id`, if the operator may see it.
    pub fn user(&self, operator: &Operator, id: &str) -> Result<User> {
        let user = self
            .state
            .load()
            .users
            .get(id)
            .cloned()
            .ok_or_else(|| PolarisError::new(Code::NotFoundUser, id))?;
        if !can_manage_user(operator, &user) {
            return Err(PolarisError::new(Code::NotAllowedAccess, ""));
        }
        Ok(user)
    }

    /// Finds a user by name under `owner` (a main account's name; the operator's by default).
    pub fn user_by_name(
        &self,
        operator: &Operator,
        owner: Option<&str>,
        name: &str,
    ) -> Result<User> {
        let state = self.state.load();
        let owner_name = match owner.filter(|o| !o.is_empty()) {
            Some(owner) => owner.to_string(),
            None => match operator {
                Operator::User { owner_id, .. } => state
                    .users
                    .get(owner_id)
                    .map(|u| u.name.clone())
                    .ok_or_else(|| PolarisError::new(Code::NotFoundUser, ""))?,
                _ => crate::DEFAULT_ADMIN_NAME.to_string(),
            },
        };
        let user = state
            .user_by_name(&owner_name, name)
            .cloned()
            .ok_or_else(|| PolarisError::new(Code::NotFoundUser, name))?;
        if !can_manage_user(operator, &user) {
            return Err(PolarisError::new(Code::NotAllowedAccess, ""));
        }
        Ok(user)
    }

    /// Every user the operator may see, in name order.
    pub fn users(&self, operator: &Operator) -> Vec<User> {
        let mut users: Vec<User> = self
            .state
            .load()
            .users
            .values()
            .filter(|u| u.role != UserRole::Admin && can_manage_user(operator, u))
            .cloned()
            .collect();
        users.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        users
    }

    /// Changes a user's profile; 200002 when nothing changes.
    pub async fn update_user(&self, operator: &Operator, update: UserUpdate) -> Result<User> {
        let _guard = self.writer.lock().await;
        let mut user = self.user(operator, &update.id)?;
        let before = user.clone();
        if let Some(comment) = update.comment {
            user.comment = comment;
        }
        if let Some(mobile) = update.mobile {
            user.mobile = mobile;
        }
        if let Some(email) = update.email {
            user.email = email;
        }
        check_profile(&user.mobile, &user.email, &user.comment)?;
        if user == before {
            return Err(PolarisError::new(Code::NoNeedUpdate, ""));
        }
        user.mtime = now_millis();
        self.commit(vec![Mutation::PutUser(user.clone())]).await?;
        Ok(user)
    }

    /// Changes a password. Admins and main accounts may skip the old password.
    pub async fn update_password(
        &self,
        operator: &Operator,
        id: &str,
        old: Option<&str>,
        new: &str,
    ) -> Result<()> {
        let user = self.user(operator, id)?;
        check_password(new)?;
        if !operator.is_owner() {
            let old = old.unwrap_or_default().to_string();
            if !self.logins.verify(old, user.password_hash.clone()).await {
                return Err(PolarisError::new(
                    Code::NotAllowedAccess,
                    "original password is wrong",
                ));
            }
        }
        let hash = password::hash(new.to_string(), self.options.password_cost).await?;
        let _guard = self.writer.lock().await;
        let mut user = self.user(operator, id)?;
        user.password_hash = hash;
        user.mtime = now_millis();
        self.commit(vec![Mutation::PutUser(user)]).await
    }

    /// Deletes a user with its default strategy and memberships. Unknown ids succeed; an
    /// operator cannot delete itself, nor a main account that still has sub accounts.
    pub async fn delete_user(&self, operator: &Operator, id: &str) -> Result<()> {
        let _guard = self.writer.lock().await;
        let state = self.state.load();
        let Some(user) = state.users.get(id) else {
            return Ok(());
        };
        if !can_manage_user(operator, user) || operator.user_id() == Some(id) {
            return Err(PolarisError::new(Code::NotAllowedAccess, ""));
        }
        if user.role != UserRole::Sub && state.users.values().any(|u| u.owner == user.id) {
            return Err(PolarisError::new(Code::SubAccountExisted, ""));
        }
        let mut batch = vec![Mutation::DeleteUser { id: id.to_string() }];
        batch.extend(strategies::forget_principal(
            &state,
            PrincipalKind::User,
            id,
        ));
        for group in state.groups.values().filter(|g| g.user_ids.contains(id)) {
            let mut group = group.clone();
            group.user_ids.remove(id);
            batch.push(Mutation::PutUserGroup(group));
        }
        self.commit(batch).await
    }

    /// Enables or disables a user's token. Only admins may change a main account's token.
    pub async fn set_user_token_enabled(
        &self,
        operator: &Operator,
        id: &str,
        enable: bool,
    ) -> Result<User> {
        let _guard = self.writer.lock().await;
        let mut user = self.user(operator, id)?;
        let admin = matches!(
            operator,
            Operator::Unchecked
                | Operator::User {
                    role: UserRole::Admin,
                    ..
                }
        );
        if !admin && user.role != UserRole::Sub {
            return Err(PolarisError::new(
                Code::NotAllowedAccess,
                "only disable sub-account token",
            ));
        }
        if !operator.is_owner() {
            return Err(PolarisError::new(
                Code::NotAllowedAccess,
                "sub accounts cannot change tokens",
            ));
        }
        user.token_enable = enable;
        user.mtime = now_millis();
        self.commit(vec![Mutation::PutUser(user.clone())]).await?;
        Ok(user)
    }

    /// Issues a new token for a user; the old one stops working at once.
    pub async fn refresh_user_token(&self, operator: &Operator, id: &str) -> Result<User> {
        let _guard = self.writer.lock().await;
        let mut user = self.user(operator, id)?;
        user.token = self.issue_token(&TokenOwner::User(user.id.clone()));
        user.mtime = now_millis();
        self.commit(vec![Mutation::PutUser(user.clone())]).await?;
        Ok(user)
    }
}
