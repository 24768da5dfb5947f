//! Following a shared store: users, groups and strategies other nodes committed go through
//! [`AuthState::apply`], the step every local write takes after its commit (a full reload
//! rebuilds the state from the listed records instead, dropping what is gone). The writer lock
//! is held from before the feed is read until its rows are applied, so a stale row never
//! overwrites a newer local write.

use std::sync::Arc;

use polaris_store::Mutation;
use polaris_store::feed::{FeedBatch, FeedDomain, FeedFollower};

use crate::{Auth, AuthState};

fn unchanged(state: &AuthState, mutation: &Mutation) -> bool {
    match mutation {
        Mutation::PutUser(u) => state.users.get(&u.id) == Some(u),
        Mutation::DeleteUser { id } => !state.users.contains_key(id),
        Mutation::PutUserGroup(g) => state.groups.get(&g.id) == Some(g),
        Mutation::DeleteUserGroup { id } => !state.groups.contains_key(id),
        Mutation::PutStrategy(s) => state.strategies.get(&s.id) == Some(s),
        Mutation::DeleteStrategy { id } => !state.strategies.contains_key(id),
        _ => true,
    }
}

impl FeedFollower for Auth {
    const DOMAIN: FeedDomain = FeedDomain::Auth;

    fn writer(&self) -> &tokio::sync::Mutex<()> {
        &self.writer
    }

    fn apply_batch(&self, batch: FeedBatch) -> usize {
        let current = self.state.load_full();
        if batch.full {
            let (mut users, mut groups, mut strategies) = (Vec::new(), Vec::new(), Vec::new());
            for mutation in batch.mutations {
                match mutation {
                    Mutation::PutUser(u) => users.push(u),
                    Mutation::PutUserGroup(g) => groups.push(g),
                    Mutation::PutStrategy(s) => strategies.push(s),
                    _ => {}
                }
            }
            let next = AuthState::build(users, groups, strategies);
            let same = next.users == current.users
                && next.groups == current.groups
                && next.strategies == current.strategies;
            if !same {
                self.state.store(Arc::new(next));
            }
            return usize::from(!same);
        }
        let changes: Vec<Mutation> = batch
            .mutations
            .into_iter()
            .filter(|m| !unchanged(&current, m))
            .collect();
        let changed = changes.len();
        if changed > 0 {
            let mut next = AuthState::clone(&current);
            next.apply(changes);
            self.state.store(Arc::new(next));
        }
        changed
    }
}
