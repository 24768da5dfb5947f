//! The in-memory picture of users, groups and strategies, rebuilt on every change (there are
//! few of them) and swapped atomically.

use std::collections::{BTreeMap, BTreeSet};

use polaris_store::Mutation;
use polaris_types::{Strategy, User, UserGroup};

/// Every user, group and strategy, plus the indexes checks need.
#[derive(Clone, Debug, Default)]
pub struct AuthState {
    pub users: BTreeMap<String, User>,
    pub groups: BTreeMap<String, UserGroup>,
    pub strategies: BTreeMap<String, Strategy>,
    /// User id to the ids of the groups it belongs to.
    pub memberships: BTreeMap<String, BTreeSet<String>>,
}

impl AuthState {
    /// The state holding exactly these records.
    pub fn build(users: Vec<User>, groups: Vec<UserGroup>, strategies: Vec<Strategy>) -> Self {
        let mut state = AuthState {
            users: users.into_iter().map(|u| (u.id.clone(), u)).collect(),
            groups: groups.into_iter().map(|g| (g.id.clone(), g)).collect(),
            strategies: strategies.into_iter().map(|s| (s.id.clone(), s)).collect(),
            memberships: BTreeMap::new(),
        };
        state.index();
        state
    }

    /// Applies writes that the store has acknowledged.
    pub fn apply(&mut self, batch: Vec<Mutation>) {
        for mutation in batch {
            match mutation {
                Mutation::PutUser(u) => drop(self.users.insert(u.id.clone(), u)),
                Mutation::DeleteUser { id } => drop(self.users.remove(&id)),
                Mutation::PutUserGroup(g) => drop(self.groups.insert(g.id.clone(), g)),
                Mutation::DeleteUserGroup { id } => drop(self.groups.remove(&id)),
                Mutation::PutStrategy(s) => drop(self.strategies.insert(s.id.clone(), s)),
                Mutation::DeleteStrategy { id } => drop(self.strategies.remove(&id)),
                _ => {}
            }
        }
        self.index();
    }

    fn index(&mut self) {
        self.memberships.clear();
        for group in self.groups.values() {
            for user in &group.user_ids {
                self.memberships
                    .entry(user.clone())
                    .or_default()
                    .insert(group.id.clone());
            }
        }
    }

    /// The user called `name` under the main account called `owner_name` (a main or admin
    /// account is its own owner).
    pub fn user_by_name(&self, owner_name: &str, name: &str) -> Option<&User> {
        if owner_name == name
            && let Some(user) = self
                .users
                .values()
                .find(|u| u.owner.is_empty() && u.name == name)
        {
            return Some(user);
        }
        let owner = self
            .users
            .values()
            .find(|u| u.owner.is_empty() && u.name == owner_name)?;
        self.users
            .values()
            .find(|u| u.owner == owner.id && u.name == name)
    }

    /// The default strategy of a user or group.
    pub fn default_strategy_of(&self, principal_id: &str) -> Option<&Strategy> {
        self.strategies.values().find(|s| {
            s.default_strategy
                && (s.users.contains(principal_id) || s.groups.contains(principal_id))
        })
    }
}
