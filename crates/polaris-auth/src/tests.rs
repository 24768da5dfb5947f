//! Domain tests of `Auth` on the in-memory store.

use std::collections::BTreeSet;
use std::sync::Arc;

use polaris_store::memory::{MemoryData, MemoryStore};
use polaris_types::{AuthAction, Code, ResourceKind, StrategyResource, UserRole};

use crate::*;

async fn open(data: &MemoryData, options: AuthOptions) -> Arc<Auth> {
    Auth::open(Arc::new(MemoryStore::open(data.clone())), options)
        .await
        .expect("open")
}

async fn admin_and_auth(options: AuthOptions) -> (Arc<Auth>, Operator) {
    let auth = open(&MemoryData::default(), options).await;
    let admin = auth
        .authenticate(Origin::Console, Some(DEFAULT_ADMIN_TOKEN))
        .expect("the default admin token works");
    (auth, admin)
}

fn spec(name: &str) -> UserSpec {
    UserSpec {
        name: name.to_string(),
        password: "secret123".to_string(),
        ..UserSpec::default()
    }
}

fn namespace(name: &str) -> StrategyResource {
    StrategyResource {
        kind: ResourceKind::Namespace,
        id: name.to_string(),
        namespace: String::new(),
        name: String::new(),
    }
}

fn strategy(name: &str, action: AuthAction, users: &[&str], groups: &[&str]) -> StrategySpec {
    StrategySpec {
        name: name.to_string(),
        comment: String::new(),
        action,
        users: users.iter().map(|u| u.to_string()).collect(),
        groups: groups.iter().map(|g| g.to_string()).collect(),
        resources: BTreeSet::new(),
    }
}

#[tokio::test]
async fn the_default_admin_is_created_once_and_survives_reopening() {
    let data = MemoryData::default();
    let auth = open(&data, AuthOptions::default()).await;
    let admin = auth
        .authenticate(Origin::Console, Some(DEFAULT_ADMIN_TOKEN))
        .unwrap();
    assert!(
        matches!(&admin, Operator::User { id, role: UserRole::Main, .. } if id == DEFAULT_ADMIN_ID)
    );
    let login = auth.login(None, "polaris", "polaris").await.unwrap();
    assert_eq!(login.token, DEFAULT_ADMIN_TOKEN);
    auth.create_user(&admin, spec("alice")).await.unwrap();
    let reopened = open(&data, AuthOptions::default()).await;
    let state = reopened.state();
    assert_eq!(state.users.len(), 2);
    assert_eq!(
        state
            .strategies
            .values()
            .filter(|s| s.default_strategy)
            .count(),
        2
    );
}

#[tokio::test]
async fn a_lower_password_cost_hashes_new_passwords_and_the_default_admin_at_it() {
    let (auth, admin) = admin_and_auth(AuthOptions {
        password_cost: 4,
        ..AuthOptions::default()
    })
    .await;
    let cost = |id: &str| auth.state().users[id].password_hash[4..6].to_string();
    assert_eq!(cost(DEFAULT_ADMIN_ID), "04");
    assert!(auth.login(None, "polaris", "polaris").await.is_ok());
    let user = auth.create_user(&admin, spec("carol")).await.unwrap();
    assert_eq!(cost(&user.id), "04");
    assert!(
        auth.login(Some("polaris"), "carol", "secret123")
            .await
            .is_ok()
    );
    assert!(
        auth.login(Some("polaris"), "carol", "secret124")
            .await
            .is_err()
    );

    let (official, _) = admin_and_auth(AuthOptions::default()).await;
    assert_eq!(
        official.state().users[DEFAULT_ADMIN_ID].password_hash,
        DEFAULT_ADMIN_PASSWORD_HASH,
        "at the official cost the official hash is kept"
    );
}

#[tokio::test]
async fn tokens_are_checked_by_origin_and_strictness() {
    let (auth, admin) = admin_and_auth(AuthOptions {
        client_open: true,
        ..AuthOptions::default()
    })
    .await;
    let user = auth.create_user(&admin, spec("bob")).await.unwrap();
    let code = |origin, token: Option<&str>| auth.authenticate(origin, token).map_err(|e| e.code);
    assert_eq!(code(Origin::Console, None), Err(Code::NotAllowedAccess));
    assert_eq!(
        code(Origin::Console, Some("garbage")),
        Err(Code::NotAllowedAccess)
    );
    assert!(matches!(
        code(Origin::Console, Some(&user.token)),
        Ok(Operator::User { .. })
    ));
    // A non-strict client switch lets a missing or unknown token through as anonymous.
    assert_eq!(code(Origin::Client, None), Ok(Operator::Anonymous));
    assert_eq!(
        code(Origin::Client, Some("garbage")),
        Ok(Operator::Anonymous)
    );
    // The auth module never degrades.
    assert_eq!(code(Origin::AuthModule, None), Err(Code::NotAllowedAccess));

    let refreshed = auth.refresh_user_token(&admin, &user.id).await.unwrap();
    assert_eq!(
        code(Origin::Console, Some(&user.token)),
        Err(Code::TokenNotExisted)
    );
    assert!(code(Origin::Console, Some(&refreshed.token)).is_ok());

    auth.set_user_token_enabled(&admin, &user.id, false)
        .await
        .unwrap();
    assert_eq!(
        code(Origin::Console, Some(&refreshed.token)),
        Err(Code::TokenDisabled)
    );
    assert_eq!(
        code(Origin::Client, Some(&refreshed.token)),
        Err(Code::TokenDisabled),
        "never anonymous"
    );

    let closed = open(
        &MemoryData::default(),
        AuthOptions {
            console_open: false,
            ..AuthOptions::default()
        },
    )
    .await;
    assert_eq!(
        closed.authenticate(Origin::Console, None),
        Ok(Operator::Unchecked)
    );
    assert_eq!(
        closed.authenticate(Origin::Client, None),
        Ok(Operator::Unchecked)
    );
}

#[tokio::test]
async fn strategies_grant_read_or_write_through_users_and_groups() {
    let (auth, admin) = admin_and_auth(AuthOptions::default()).await;
    let reader = auth.create_user(&admin, spec("reader")).await.unwrap();
    let member = auth.create_user(&admin, spec("member")).await.unwrap();
    let reader_op = auth
        .authenticate(Origin::Console, Some(&reader.token))
        .unwrap();
    let member_op = auth
        .authenticate(Origin::Console, Some(&member.token))
        .unwrap();
    let mut read_one = strategy("read-one", AuthAction::ReadOnly, &[&reader.id], &[]);
    read_one.resources.insert(namespace("shop"));
    auth.create_strategy(&admin, read_one).await.unwrap();
    let shop = ResourceRef::namespace("shop");
    let cart = ResourceRef::service("shop", "cart");
    let other = ResourceRef::service("bank", "ledger");
    assert!(
        auth.authorize(&reader_op, Access::Read, &[shop.clone(), cart.clone()])
            .is_ok()
    );
    assert_eq!(
        auth.authorize(&reader_op, Access::Write, std::slice::from_ref(&cart))
            .unwrap_err()
            .code,
        Code::NotAllowedAccess
    );
    assert!(
        auth.authorize(&reader_op, Access::Read, std::slice::from_ref(&other))
            .is_err()
    );
    assert!(!auth.can_read(&reader_op, &other));

    // A read-write strategy on a group reaches its members, and only them.
    let group = auth
        .create_group(
            &admin,
            GroupSpec {
                name: "ops".into(),
                user_ids: [member.id.clone()].into(),
                ..GroupSpec::default()
            },
        )
        .await
        .unwrap();
    let mut write_all = strategy("write-all", AuthAction::ReadWrite, &[], &[&group.id]);
    write_all.resources.insert(StrategyResource {
        kind: ResourceKind::Service,
        id: "*".into(),
        namespace: String::new(),
        name: String::new(),
    });
    auth.create_strategy(&admin, write_all).await.unwrap();
    assert!(
        auth.authorize(&member_op, Access::Write, &[cart.clone(), other.clone()])
            .is_ok()
    );
    assert!(
        auth.authorize(&member_op, Access::Write, std::slice::from_ref(&shop))
            .is_err(),
        "services only"
    );
    assert!(
        auth.authorize(&reader_op, Access::Write, std::slice::from_ref(&other))
            .is_err()
    );

    // Anonymous callers read, never write; owners do everything.
    assert!(
        auth.authorize(
            &Operator::Anonymous,
            Access::Read,
            std::slice::from_ref(&other)
        )
        .is_ok()
    );
    assert!(
        auth.authorize(
            &Operator::Anonymous,
            Access::Write,
            std::slice::from_ref(&other)
        )
        .is_err()
    );
    assert!(auth.authorize(&admin, Access::Write, &[other]).is_ok());
}

#[tokio::test]
async fn management_rules_and_codes() {
    let (auth, admin) = admin_and_auth(AuthOptions::default()).await;
    let sub = auth.create_user(&admin, spec("carol")).await.unwrap();
    let sub_op = auth
        .authenticate(Origin::Console, Some(&sub.token))
        .unwrap();
    fn code<T: std::fmt::Debug>(r: polaris_types::Result<T>) -> Code {
        r.unwrap_err().code
    }
    assert_eq!(
        code(auth.create_user(&admin, spec("carol")).await),
        Code::UserExisted
    );
    assert_eq!(
        code(
            auth.create_user(
                &admin,
                UserSpec {
                    password: "123".into(),
                    ..spec("dave")
                }
            )
            .await
        ),
        Code::InvalidUserPassword
    );
    assert_eq!(
        code(auth.create_user(&admin, spec("bad name!")).await),
        Code::InvalidUserName
    );
    assert_eq!(
        code(auth.create_user(&sub_op, spec("eve")).await),
        Code::OperationRoleForbidden
    );
    assert_eq!(
        code(
            auth.create_strategy(&sub_op, strategy("s", AuthAction::ReadOnly, &[], &[]))
                .await
        ),
        Code::OperationRoleForbidden
    );
    assert_eq!(
        code(
            auth.create_strategy(&admin, strategy("s", AuthAction::ReadOnly, &["ghost"], &[]))
                .await
        ),
        Code::NotFoundUser
    );
    assert_eq!(
        code(auth.delete_user(&admin, DEFAULT_ADMIN_ID).await),
        Code::NotAllowedAccess,
        "not oneself"
    );

    let default = auth.state().default_strategy_of(&sub.id).cloned().unwrap();
    let update = StrategyUpdate {
        id: default.id.clone(),
        add_users: [DEFAULT_ADMIN_ID.to_string()].into(),
        ..StrategyUpdate::default()
    };
    assert_eq!(
        code(auth.update_strategy(&admin, update).await),
        Code::NotAllowModifyDefaultStrategyPrincipal
    );
    assert_eq!(
        code(auth.delete_strategy(&admin, &default.id).await),
        Code::BadRequest
    );
    assert_eq!(
        code(
            auth.update_user(
                &admin,
                UserUpdate {
                    id: sub.id.clone(),
                    ..UserUpdate::default()
                }
            )
            .await
        ),
        Code::NoNeedUpdate
    );

    // A sub account changes its own password only with the old one.
    assert_eq!(
        code(
            auth.update_password(&sub_op, &sub.id, Some("wrong-old"), "newpass1")
                .await
        ),
        Code::NotAllowedAccess
    );
    auth.update_password(&sub_op, &sub.id, Some("secret123"), "newpass1")
        .await
        .unwrap();
    assert!(
        auth.login(Some("polaris"), "carol", "newpass1")
            .await
            .is_ok()
    );
    assert_eq!(
        auth.login(Some("polaris"), "carol", "secret123")
            .await
            .unwrap_err()
            .code,
        Code::NotAllowedAccess
    );

    // Deleting a user takes its default strategy and memberships with it.
    let group = auth
        .create_group(
            &admin,
            GroupSpec {
                name: "g".into(),
                user_ids: [sub.id.clone()].into(),
                ..GroupSpec::default()
            },
        )
        .await
        .unwrap();
    auth.delete_user(&admin, &sub.id).await.unwrap();
    let state = auth.state();
    assert!(state.default_strategy_of(&sub.id).is_none());
    assert!(!state.groups[&group.id].user_ids.contains(&sub.id));
    assert!(
        auth.delete_user(&admin, &sub.id).await.is_ok(),
        "unknown ids succeed"
    );
}

#[tokio::test]
async fn a_sub_account_keeps_what_it_creates() {
    let (auth, admin) = admin_and_auth(AuthOptions::default()).await;
    let sub = auth.create_user(&admin, spec("maker")).await.unwrap();
    let sub_op = auth
        .authenticate(Origin::Console, Some(&sub.token))
        .unwrap();
    let made = ResourceRef::namespace("made-by-maker");
    assert!(
        auth.authorize(&sub_op, Access::Write, std::slice::from_ref(&made))
            .is_err()
    );
    auth.grant_creator(&sub_op, made.clone()).await.unwrap();
    assert!(auth.authorize(&sub_op, Access::Write, &[made]).is_ok());
}

#[tokio::test]
async fn endpoints_decide_switches_writes_creates_and_visibility() {
    let (auth, admin) = admin_and_auth(AuthOptions::default()).await;
    // Never checked, or checked by their switch.
    assert!(!auth.checks(Endpoint::Heartbeat) && !auth.checks(Endpoint::ReportClient));
    assert!(
        !auth.checks(Endpoint::RegisterInstance),
        "clientOpen is off by default"
    );
    assert!(auth.checks(Endpoint::ListServices) && auth.checks(Endpoint::ListUsers));
    assert_eq!(
        auth.caller(Endpoint::ListServices, None).unwrap_err().code,
        Code::NotAllowedAccess
    );

    let reader = auth.create_user(&admin, spec("reader")).await.unwrap();
    let reader_op = auth
        .caller(Endpoint::ListServices, Some(&reader.token))
        .unwrap();
    let mut read_shop = strategy("read-shop", AuthAction::ReadOnly, &[&reader.id], &[]);
    read_shop.resources.insert(namespace("shop"));
    auth.create_strategy(&admin, read_shop).await.unwrap();

    let cart = ResourceRef::service("shop", "cart");
    assert!(
        auth.allowed(
            &reader_op,
            Endpoint::ListServices,
            std::slice::from_ref(&cart)
        )
        .is_ok()
    );
    assert!(
        auth.allowed(&reader_op, Endpoint::ListServices, &[])
            .is_ok()
    );
    assert!(
        auth.allowed(
            &reader_op,
            Endpoint::UpdateServices,
            std::slice::from_ref(&cart)
        )
        .is_err(),
        "read-only"
    );
    // A write naming nothing is refused for a sub account, allowed for the admin.
    assert_eq!(
        auth.allowed(&reader_op, Endpoint::DeleteServices, &[])
            .unwrap_err()
            .code,
        Code::NotAllowedAccess
    );
    assert!(auth.allowed(&admin, Endpoint::DeleteServices, &[]).is_ok());
    // A create is not checked against the namespace it creates.
    assert!(
        auth.allowed(
            &reader_op,
            Endpoint::CreateNamespaces,
            &[ResourceRef::namespace("new")]
        )
        .is_ok()
    );
    // Endpoints that name nothing are decided on the token.
    assert!(
        auth.allowed(&reader_op, Endpoint::ListConfigTemplates, &[])
            .is_ok()
    );

    let visible = auth.visible(&reader_op, Endpoint::ListServices);
    assert!(visible.service("shop", "cart") && visible.namespace("shop"));
    assert!(!visible.service("bank", "ledger") && !visible.config_group("bank", "g"));
    assert!(auth.visible(&admin, Endpoint::ListServices).is_everything());
    assert!(
        auth.visible(&reader_op, Endpoint::ListUsers)
            .is_everything()
    );
}
