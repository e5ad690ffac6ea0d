//! The authenticated caller, extracted from `Authorization: Bearer <access JWT>`.
//!
//! The token says who is calling; the user row, read on every request (so a deleted account stops
//! at once), says in which organization: the person's active one, which `PATCH /api/current-user`
//! switches for every token they hold, personal ones included, as in Label Studio. The token's
//! own organization counts only for an account that never had an active one. Roles are read by
//! the services, never taken from the token.

use std::future::Future;
use std::pin::Pin;

use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{Condition, EntityTrait, JoinType, QuerySelect, RelationTrait};

use super::TokenType;
use crate::entities::{membership, organization, user};
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

/// A caller holding a valid access token for an existing user.
#[derive(Clone, Debug)]
pub struct Caller {
    pub user: user::Model,
    /// The organization the caller acts in: their active one.
    pub organization_id: i32,
    /// The live membership in that organization, read with the user in the same query; `None`
    /// once removed. Read-only requests use it; transactions read the membership again.
    pub membership: Option<membership::Model>,
    /// That organization, read in the same query through the membership (so `None` without
    /// one): `GET /api/invite` then needs no second round trip.
    pub organization: Option<organization::Model>,
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Caller, ApiError>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let state = req.app_data::<web::Data<AppState>>().cloned();
        let token = bearer_token(req);
        Box::pin(async move {
            let state = state.ok_or_else(|| ApiError::Internal("state missing".into()))?;
            let claims = state.jwt.verify(&token?, TokenType::Access)?;
            let (user, membership, organization) =
                user_with_membership(&state, claims.user_id()?, claims.org)
                    .await?
                    .ok_or_else(|| {
                        ApiError::new(
                            ErrorCode::TokenInvalid,
                            "The token's user no longer exists.",
                        )
                    })?;
            let ended = membership.as_ref().and_then(|m| m.sessions_ended_at);
            if ended.is_some_and(|ended| claims.iat < ended.and_utc().timestamp()) {
                return Err(ApiError::new(
                    ErrorCode::TokenRevoked,
                    "An Owner or Administrator ended this session; sign in again.",
                ));
            }
            Ok(Caller {
                organization_id: user.active_organization_id.unwrap_or(claims.org),
                user,
                membership,
                organization,
            })
        })
    }
}

/// A user, their live membership in an organization, and that organization.
type CallerRow = (
    user::Model,
    Option<membership::Model>,
    Option<organization::Model>,
);

/// The user, their live membership in their active organization (`token_organization` for an
/// account without one) and that organization, in one query (LEFT JOINs whose condition names
/// the organization, so a user without one still comes back).
async fn user_with_membership(
    state: &AppState,
    user_id: i32,
    token_organization: i32,
) -> Result<Option<CallerRow>, ApiError> {
    let in_organization =
        user::Relation::Membership
            .def()
            .on_condition(move |users, memberships| {
                let acting = Func::coalesce([
                    Expr::col((users, user::Column::ActiveOrganizationId)),
                    Expr::val(token_organization),
                ]);
                Condition::all()
                    .add(
                        Expr::col((memberships.clone(), membership::Column::OrganizationId))
                            .eq(acting),
                    )
                    .add(Expr::col((memberships, membership::Column::DeletedAt)).is_null())
            });
    let query = user::Entity::find_by_id(user_id)
        .join(JoinType::LeftJoin, in_organization)
        .select_also(membership::Entity)
        .find_also(membership::Entity, organization::Entity);
    // The first read of nearly every request: where a lost connection shows first.
    Ok(state
        .db
        .read_with_retry(async |db| query.clone().one(db).await)
        .await?)
}

fn bearer_token(req: &HttpRequest) -> Result<String, ApiError> {
    let missing = || {
        ApiError::new(
            ErrorCode::AuthenticationRequired,
            "Send an access token as `Authorization: Bearer <token>`.",
        )
    };
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(missing)?
        .to_str()
        .map_err(|_| missing())?;
    let (scheme, token) = value.trim().split_once(' ').ok_or_else(missing)?;
    if !scheme.eq_ignore_ascii_case("bearer") || token.trim().is_empty() {
        return Err(missing());
    }
    Ok(token.trim().to_owned())
}
