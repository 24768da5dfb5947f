//! Users, user groups and auth strategies.

use super::*;

pub(crate) fn user(user: &User) -> Encoded {
    Encoded {
        values: vec![
            s(&user.id),
            s(&user.name),
            s(&user.password_hash),
            s(&user.owner),
            s(&user.source),
            s(&user.token),
            b(user.token_enable),
            s(&user.comment),
            s(&user.mobile),
            s(&user.email),
            n(user.role.value()),
        ],
        ctime: user.ctime,
        mtime: user.mtime,
    }
}

pub(crate) fn decode_user(c: &mut Cursor) -> StoreResult<User> {
    let (id, name, password_hash, owner, source, token) = (
        c.text()?,
        c.text()?,
        c.text()?,
        c.text()?,
        c.text()?,
        c.text()?,
    );
    let (token_enable, comment, mobile, email) = (c.bool()?, c.text()?, c.text()?, c.text()?);
    let role = c.u32()?;
    let role = UserRole::from_value(role).ok_or_else(|| corrupt(format!("user type {role}")))?;
    let (ctime, mtime) = c.times()?;
    Ok(User {
        id,
        name,
        password_hash,
        owner,
        source,
        token,
        token_enable,
        comment,
        mobile,
        email,
        role,
        ctime,
        mtime,
    })
}

plain_record!(
    user_group,
    decode_user_group,
    UserGroup {
        id: text,
        name: text,
        owner: text,
        source: text,
        token: text,
        token_enable: bool,
        comment: text,
        user_ids: json,
    }
);

fn resource_kind_name(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::Namespace => "namespace",
        ResourceKind::Service => "service",
        ResourceKind::ConfigGroup => "config_group",
    }
}

pub(crate) fn strategy(st: &Strategy) -> Encoded {
    let resources: Vec<_> = st
        .resources
        .iter()
        .map(|r| (resource_kind_name(r.kind), &r.id, &r.namespace, &r.name))
        .collect();
    let action = match st.action {
        AuthAction::ReadOnly => 0,
        AuthAction::ReadWrite => 1,
    };
    Encoded {
        values: vec![
            s(&st.id),
            s(&st.name),
            json(&st.users),
            json(&st.groups),
            json(&resources),
            n(action),
            s(&st.comment),
            s(&st.owner),
            b(st.default_strategy),
            s(&st.source),
        ],
        ctime: st.ctime,
        mtime: st.mtime,
    }
}

pub(crate) fn decode_strategy(c: &mut Cursor) -> StoreResult<Strategy> {
    let (id, name, users, groups) = (c.text()?, c.text()?, c.json()?, c.json()?);
    let resources: Vec<(String, String, String, String)> = c.json()?;
    let resources = resources
        .into_iter()
        .map(|(kind, id, namespace, name)| {
            let kind = match kind.as_str() {
                "namespace" => ResourceKind::Namespace,
                "service" => ResourceKind::Service,
                "config_group" => ResourceKind::ConfigGroup,
                other => return Err(corrupt(format!("resource kind {other:?}"))),
            };
            Ok(StrategyResource {
                kind,
                id,
                namespace,
                name,
            })
        })
        .collect::<StoreResult<_>>()?;
    let action = match c.int()? {
        0 => AuthAction::ReadOnly,
        1 => AuthAction::ReadWrite,
        other => return Err(corrupt(format!("strategy action {other}"))),
    };
    let (comment, owner, default_strategy, source) = (c.text()?, c.text()?, c.bool()?, c.text()?);
    let (ctime, mtime) = c.times()?;
    Ok(Strategy {
        id,
        name,
        users,
        groups,
        resources,
        action,
        comment,
        owner,
        default_strategy,
        source,
        ctime,
        mtime,
    })
}
