//! Conformance checks for users, user groups and auth strategies.

use std::collections::BTreeSet;

use polaris_types::{
    AuthAction, ResourceKind, Strategy, StrategyResource, User, UserGroup, UserRole,
};

use super::{StoreHarness, apply};
use crate::Mutation;

fn user(id: &str, role: UserRole, token: &str) -> User {
    User {
        id: id.to_string(),
        name: format!("name-{id}"),
        password_hash: "$2a$10$abcdefghijklmnopqrstuv".to_string(),
        owner: if role == UserRole::Sub {
            "main".to_string()
        } else {
            String::new()
        },
        source: "Polaris".to_string(),
        token: token.to_string(),
        token_enable: role != UserRole::Sub,
        comment: "c".to_string(),
        mobile: "13800000000".to_string(),
        email: "a@b.c".to_string(),
        role,
        ctime: 10,
        mtime: 20,
    }
}

/// Users, groups and strategies round-trip every field, a put replaces by id, a delete
/// forgets, and all of it survives reopening.
pub async fn auth_records_round_trip(harness: &impl StoreHarness) {
    let store = harness.open().await;
    let main = user("main", UserRole::Main, "t1");
    let sub = user("sub", UserRole::Sub, "t2");
    let gone = user("gone", UserRole::Admin, "t3");
    let mut sub_refreshed = sub.clone();
    sub_refreshed.token = "t2-new".to_string();
    let group = UserGroup {
        id: "g1".to_string(),
        name: "ops".to_string(),
        owner: "main".to_string(),
        source: "Polaris".to_string(),
        token: "gt".to_string(),
        token_enable: true,
        comment: "group".to_string(),
        user_ids: BTreeSet::from(["sub".to_string()]),
        ctime: 1,
        mtime: 2,
    };
    let strategy = Strategy {
        id: "s1".to_string(),
        name: "read ns1".to_string(),
        users: BTreeSet::from(["sub".to_string()]),
        groups: BTreeSet::from(["g1".to_string()]),
        resources: BTreeSet::from([
            StrategyResource {
                kind: ResourceKind::Namespace,
                id: "ns1".to_string(),
                namespace: String::new(),
                name: String::new(),
            },
            StrategyResource {
                kind: ResourceKind::Service,
                id: "*".to_string(),
                namespace: String::new(),
                name: String::new(),
            },
            StrategyResource {
                kind: ResourceKind::ConfigGroup,
                id: String::new(),
                namespace: "ns1".to_string(),
                name: "app".to_string(),
            },
        ]),
        action: AuthAction::ReadOnly,
        comment: "c".to_string(),
        owner: "main".to_string(),
        default_strategy: false,
        source: "Polaris".to_string(),
        ctime: 3,
        mtime: 4,
    };
    let mut default_strategy = strategy.clone();
    default_strategy.id = "s2".to_string();
    default_strategy.action = AuthAction::ReadWrite;
    default_strategy.default_strategy = true;
    apply(
        &*store,
        vec![
            Mutation::PutUser(main.clone()),
            Mutation::PutUser(sub.clone()),
            Mutation::PutUser(gone.clone()),
            Mutation::PutUserGroup(group.clone()),
            Mutation::PutStrategy(strategy.clone()),
            Mutation::PutStrategy(default_strategy.clone()),
        ],
    )
    .await;
    apply(
        &*store,
        vec![
            Mutation::PutUser(sub_refreshed.clone()),
            Mutation::DeleteUser {
                id: "gone".to_string(),
            },
            Mutation::DeleteStrategy {
                id: "s2".to_string(),
            },
            Mutation::DeleteUserGroup {
                id: "absent".to_string(),
            },
        ],
    )
    .await;
    store.close().await.expect("close");
    drop(store);
    let store = harness.open().await;
    assert_eq!(
        store.load_users().await.expect("users"),
        vec![main, sub_refreshed]
    );
    assert_eq!(store.load_user_groups().await.expect("groups"), vec![group]);
    assert_eq!(
        store.load_strategies().await.expect("strategies"),
        vec![strategy]
    );
    store.close().await.expect("close");
}
