//! User groups: named sets of users of one main account, with their own token and strategies.

use std::collections::BTreeSet;

use polaris_store::Mutation;
use polaris_types::{Code, PolarisError, Result, UserGroup, UserRole};

use crate::check::{PrincipalKind, main_account};
use crate::token::TokenOwner;
use crate::users::check_name;
use crate::{Auth, Operator, new_id, now_millis, source_or_polaris, strategies};

/// A group to create.
#[derive(Clone, Debug, Default)]
pub struct GroupSpec {
    pub name: String,
    pub comment: String,
    pub user_ids: BTreeSet<String>,
    pub source: String,
}

/// Changes to a group; `None` keeps a field.
#[derive(Clone, Debug, Default)]
pub struct GroupUpdate {
    pub id: String,
    pub comment: Option<String>,
    pub add_users: BTreeSet<String>,
    pub remove_users: BTreeSet<String>,
}

/// Whether `operator` may see `group`: its owner (and admins) and its members.
fn can_see(operator: &Operator, group: &UserGroup) -> bool {
    match operator {
        Operator::Unchecked => true,
        Operator::User { id, role, .. } => {
            *role == UserRole::Admin || group.owner == *id || group.user_ids.contains(id)
        }
        Operator::Group { id, .. } => group.id == *id,
        Operator::Anonymous => false,
    }
}

impl Auth {
    /// Creates a group owned by the operator's main account.
    pub async fn create_group(&self, operator: &Operator, spec: GroupSpec) -> Result<UserGroup> {
        let owner = main_account(operator, "user groups")?;
        check_name(&spec.name, Code::InvalidUserName)?;
        let _guard = self.writer.lock().await;
        let state = self.state.load();
        if state
            .groups
            .values()
            .any(|g| g.owner == owner && g.name == spec.name)
        {
            return Err(PolarisError::new(Code::UserGroupExisted, spec.name));
        }
        if let Some(missing) = spec.user_ids.iter().find(|u| !state.users.contains_key(*u)) {
            return Err(PolarisError::new(Code::NotFoundUser, missing.clone()));
        }
        let now = now_millis();
        let id = new_id();
        let group = UserGroup {
            token: self.issue_token(&TokenOwner::Group(id.clone())),
            id,
            name: spec.name,
            owner: owner.clone(),
            source: source_or_polaris(spec.source),
            token_enable: true,
            comment: spec.comment,
            user_ids: spec.user_ids,
            ctime: now,
            mtime: now,
        };
        let put = Mutation::PutUserGroup(group.clone());
        let principal = (group.id.as_str(), group.name.as_str());
        self.commit_principal(put, PrincipalKind::Group, principal, &owner, now)
            .await?;
        Ok(group)
    }

    /// The group `id`, if the operator may see it.
    pub fn group(&self, operator: &Operator, id: &str) -> Result<UserGroup> {
        let group = self
            .state
            .load()
            .groups
            .get(id)
            .cloned()
            .ok_or_else(|| PolarisError::new(Code::NotFoundUserGroup, id))?;
        if !can_see(operator, &group) {
            return Err(PolarisError::new(Code::NotAllowedAccess, ""));
        }
        Ok(group)
    }

    /// Every group the operator may see, in name order.
    pub fn groups(&self, operator: &Operator) -> Vec<UserGroup> {
        let mut groups: Vec<UserGroup> = self
            .state
            .load()
            .groups
            .values()
            .filter(|g| can_see(operator, g))
            .cloned()
            .collect();
        groups.sort_by(|a, b| a.name.cmp(&b.name).then(a.id.cmp(&b.id)));
        groups
    }

    /// Changes a group's comment and members; 200002 when nothing changes.
    pub async fn update_group(
        &self,
        operator: &Operator,
        update: GroupUpdate,
    ) -> Result<UserGroup> {
        main_account(operator, "user groups")?;
        let _guard = self.writer.lock().await;
        let mut group = self.group(operator, &update.id)?;
        let before = group.clone();
        let state = self.state.load();
        if let Some(missing) = update
            .add_users
            .iter()
            .find(|u| !state.users.contains_key(*u))
        {
            return Err(PolarisError::new(Code::NotFoundUser, missing.clone()));
        }
        if let Some(comment) = update.comment {
            group.comment = comment;
        }
        group.user_ids.extend(update.add_users);
        group.user_ids.retain(|u| !update.remove_users.contains(u));
        if group == before {
            return Err(PolarisError::new(Code::NoNeedUpdate, ""));
        }
        group.mtime = now_millis();
        self.commit(vec![Mutation::PutUserGroup(group.clone())])
            .await?;
        Ok(group)
    }

    /// Deletes a group and its default strategy; unknown ids succeed.
    pub async fn delete_group(&self, operator: &Operator, id: &str) -> Result<()> {
        main_account(operator, "user groups")?;
        let _guard = self.writer.lock().await;
        let state = self.state.load();
        let Some(group) = state.groups.get(id) else {
            return Ok(());
        };
        if !can_see(operator, group) {
            return Err(PolarisError::new(Code::NotAllowedAccess, ""));
        }
        let mut batch = vec![Mutation::DeleteUserGroup { id: id.to_string() }];
        batch.extend(strategies::forget_principal(
            &state,
            PrincipalKind::Group,
            id,
        ));
        self.commit(batch).await
    }

    /// Enables or disables a group's token (main accounts and admins only).
    pub async fn set_group_token_enabled(
        &self,
        operator: &Operator,
        id: &str,
        enable: bool,
    ) -> Result<UserGroup> {
        main_account(operator, "user groups")?;
        let _guard = self.writer.lock().await;
        let mut group = self.group(operator, id)?;
        group.token_enable = enable;
        group.mtime = now_millis();
        self.commit(vec![Mutation::PutUserGroup(group.clone())])
            .await?;
        Ok(group)
    }

    /// Issues a new token for a group; the old one stops working at once.
    pub async fn refresh_group_token(&self, operator: &Operator, id: &str) -> Result<UserGroup> {
        main_account(operator, "user groups")?;
        let _guard = self.writer.lock().await;
        let mut group = self.group(operator, id)?;
        group.token = self.issue_token(&TokenOwner::Group(group.id.clone()));
        group.mtime = now_millis();
        self.commit(vec![Mutation::PutUserGroup(group.clone())])
            .await?;
        Ok(group)
    }
}
