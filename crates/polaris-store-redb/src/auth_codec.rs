//! On-disk encoding of users, user groups and auth strategies, in the same versioned-JSON
//! format as the other records (see `codec`). Each table is keyed by the record's id.

use std::collections::BTreeSet;

use polaris_store::{StoreError, StoreResult};
use polaris_types::{
    AuthAction, Millis, ResourceKind, Strategy, StrategyResource, User, UserGroup, UserRole,
};
use serde::{Deserialize, Serialize};

use crate::codec::{decode, encode};

#[derive(Serialize, Deserialize)]
struct UserV1 {
    id: String,
    name: String,
    password_hash: String,
    owner: String,
    source: String,
    token: String,
    token_enable: bool,
    comment: String,
    mobile: String,
    email: String,
    role: u32,
    ctime: Millis,
    mtime: Millis,
}

#[derive(Serialize, Deserialize)]
struct GroupV1 {
    id: String,
    name: String,
    owner: String,
    source: String,
    token: String,
    token_enable: bool,
    comment: String,
    user_ids: BTreeSet<String>,
    ctime: Millis,
    mtime: Millis,
}

#[derive(Serialize, Deserialize)]
struct ResourceV1 {
    /// 0 namespace, 1 service, 2 config group (the official `ResourceType` numbers).
    kind: u32,
    id: String,
    namespace: String,
    name: String,
}

#[derive(Serialize, Deserialize)]
struct StrategyV1 {
    id: String,
    name: String,
    users: BTreeSet<String>,
    groups: BTreeSet<String>,
    resources: Vec<ResourceV1>,
    /// 0 read only, 1 read-write (the official `AuthAction` numbers).
    action: u32,
    comment: String,
    owner: String,
    default_strategy: bool,
    source: String,
    ctime: Millis,
    mtime: Millis,
}

pub(crate) fn encode_user(u: &User) -> Vec<u8> {
    encode(&UserV1 {
        id: u.id.clone(),
        name: u.name.clone(),
        password_hash: u.password_hash.clone(),
        owner: u.owner.clone(),
        source: u.source.clone(),
        token: u.token.clone(),
        token_enable: u.token_enable,
        comment: u.comment.clone(),
        mobile: u.mobile.clone(),
        email: u.email.clone(),
        role: u.role.value(),
        ctime: u.ctime,
        mtime: u.mtime,
    })
}

pub(crate) fn decode_user(bytes: &[u8]) -> StoreResult<User> {
    let u: UserV1 = decode("user", bytes)?;
    let role = UserRole::from_value(u.role)
        .ok_or_else(|| StoreError::Corrupt(format!("user {}: unknown role {}", u.id, u.role)))?;
    Ok(User {
        id: u.id,
        name: u.name,
        password_hash: u.password_hash,
        owner: u.owner,
        source: u.source,
        token: u.token,
        token_enable: u.token_enable,
        comment: u.comment,
        mobile: u.mobile,
        email: u.email,
        role,
        ctime: u.ctime,
        mtime: u.mtime,
    })
}

pub(crate) fn encode_group(g: &UserGroup) -> Vec<u8> {
    encode(&GroupV1 {
        id: g.id.clone(),
        name: g.name.clone(),
        owner: g.owner.clone(),
        source: g.source.clone(),
        token: g.token.clone(),
        token_enable: g.token_enable,
        comment: g.comment.clone(),
        user_ids: g.user_ids.clone(),
        ctime: g.ctime,
        mtime: g.mtime,
    })
}

pub(crate) fn decode_group(bytes: &[u8]) -> StoreResult<UserGroup> {
    let g: GroupV1 = decode("user group", bytes)?;
    Ok(UserGroup {
        id: g.id,
        name: g.name,
        owner: g.owner,
        source: g.source,
        token: g.token,
        token_enable: g.token_enable,
        comment: g.comment,
        user_ids: g.user_ids,
        ctime: g.ctime,
        mtime: g.mtime,
    })
}

pub(crate) fn encode_strategy(s: &Strategy) -> Vec<u8> {
    let resources = s
        .resources
        .iter()
        .map(|r| ResourceV1 {
            kind: match r.kind {
                ResourceKind::Namespace => 0,
                ResourceKind::Service => 1,
                ResourceKind::ConfigGroup => 2,
            },
            id: r.id.clone(),
            namespace: r.namespace.clone(),
            name: r.name.clone(),
        })
        .collect();
    encode(&StrategyV1 {
        id: s.id.clone(),
        name: s.name.clone(),
        users: s.users.clone(),
        groups: s.groups.clone(),
        resources,
        action: match s.action {
            AuthAction::ReadOnly => 0,
            AuthAction::ReadWrite => 1,
        },
        comment: s.comment.clone(),
        owner: s.owner.clone(),
        default_strategy: s.default_strategy,
        source: s.source.clone(),
        ctime: s.ctime,
        mtime: s.mtime,
    })
}

pub(crate) fn decode_strategy(bytes: &[u8]) -> StoreResult<Strategy> {
    let s: StrategyV1 = decode("auth strategy", bytes)?;
    let corrupt = |what: String| StoreError::Corrupt(format!("auth strategy {}: {what}", s.id));
    let mut resources = BTreeSet::new();
    for r in s.resources {
        let kind = match r.kind {
            0 => ResourceKind::Namespace,
            1 => ResourceKind::Service,
            2 => ResourceKind::ConfigGroup,
            other => return Err(corrupt(format!("unknown resource kind {other}"))),
        };
        resources.insert(StrategyResource {
            kind,
            id: r.id,
            namespace: r.namespace,
            name: r.name,
        });
    }
    let action = match s.action {
        0 => AuthAction::ReadOnly,
        1 => AuthAction::ReadWrite,
        other => return Err(corrupt(format!("unknown action {other}"))),
    };
    Ok(Strategy {
        id: s.id,
        name: s.name,
        users: s.users,
        groups: s.groups,
        resources,
        action,
        comment: s.comment,
        owner: s.owner,
        default_strategy: s.default_strategy,
        source: s.source,
        ctime: s.ctime,
        mtime: s.mtime,
    })
}
