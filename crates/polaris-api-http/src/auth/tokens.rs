//! The token endpoints of users and user groups (`/core/v1/user/token...`,
//! `/core/v1/usergroup/token...`): one handler per verb, the principal kind as an argument.

use axum::Router;
use axum::body::Body;
use axum::response::Response;
use axum::routing::{get, put};
use polaris_types::{Code, PolarisError, Result};
use serde_json::{Value, json};

use super::json::{boolean, group_token_out, user_token_out};
use super::routes::{Console, reply, with_id};
use crate::AppState;
use crate::body::Query;
use crate::reply::Reply;

/// Whose token an endpoint serves.
#[derive(Clone, Copy)]
pub(super) enum Principal {
    User,
    Group,
}

impl Principal {
    /// The reply field.
    fn field(self) -> &'static str {
        match self {
            Principal::User => "user",
            Principal::Group => "userGroup",
        }
    }

    /// The principal the query names, with its token. Users are found by `id`, or by `name`
    /// under `owner`; groups by `id`.
    fn token(self, c: &Console, query: &Query) -> Result<Value> {
        let (auth, op) = (c.auth(), &c.op);
        let id = query.get("id").filter(|id| !id.is_empty());
        match (self, id, query.get("name").filter(|n| !n.is_empty())) {
            (Principal::Group, _, _) => {
                let group = auth.group(op, query.get("id").unwrap_or_default())?;
                Ok(group_token_out(&group))
            }
            (Principal::User, Some(id), _) => Ok(user_token_out(&auth.user(op, id)?)),
            (Principal::User, None, Some(name)) => {
                let user = auth.user_by_name(op, query.get("owner"), name)?;
                Ok(user_token_out(&user))
            }
            (Principal::User, None, None) => Err(PolarisError::new(
                Code::InvalidParameter,
                "id or name is required",
            )),
        }
    }
}

/// `{prefix}/token`, `{prefix}/token/status` and `{prefix}/token/refresh` for `kind`.
pub(super) fn routes(router: Router<AppState>, prefix: &str, kind: Principal) -> Router<AppState> {
    router
        .route(
            &format!("{prefix}/token"),
            get(move |c, q| token(c, q, kind)),
        )
        .route(
            &format!("{prefix}/token/status"),
            put(move |c, b| status(c, b, kind)),
        )
        .route(
            &format!("{prefix}/token/refresh"),
            put(move |c, b| refresh(c, b, kind)),
        )
}

/// `GET .../token`.
pub(super) async fn token(c: Console, query: Query, kind: Principal) -> Response {
    reply(
        kind.token(&c, &query)
            .map(|out| Reply::ok().with(kind.field(), out)),
    )
}

/// `PUT .../token/status`: `{id, token_enable}`.
pub(super) async fn status(c: Console, body: Body, kind: Principal) -> Response {
    with_id(body, |id, req| async move {
        let enable = boolean(&req, "token_enable").unwrap_or(false);
        let (auth, op) = (c.auth(), &c.op);
        let (id, on) = match kind {
            Principal::User => {
                let user = auth.set_user_token_enabled(op, &id, enable).await?;
                (user.id, user.token_enable)
            }
            Principal::Group => {
                let group = auth.set_group_token_enabled(op, &id, enable).await?;
                (group.id, group.token_enable)
            }
        };
        let out = json!({ "id": id, "token_enable": on });
        Ok(Reply::ok().with(kind.field(), out))
    })
    .await
}

/// `PUT .../token/refresh`: `{id}`.
pub(super) async fn refresh(c: Console, body: Body, kind: Principal) -> Response {
    with_id(body, |id, _| async move {
        let (auth, op) = (c.auth(), &c.op);
        let out = match kind {
            Principal::User => user_token_out(&auth.refresh_user_token(op, &id).await?),
            Principal::Group => group_token_out(&auth.refresh_group_token(op, &id).await?),
        };
        Ok(Reply::ok().with(kind.field(), out))
    })
    .await
}
