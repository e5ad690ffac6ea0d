//! The authenticated caller, extracted from `Authorization: Bearer <access JWT>`.
//!
//! The token says who is calling and in which organization; the user row is read on every request
//! so a deleted account stops at once. Roles are read by the services, never taken from the token.

use std::future::Future;
use std::pin::Pin;
use std::sync::OnceLock;

use actix_web::http::header;
use actix_web::{FromRequest, HttpRequest, dev::Payload, web};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    Condition, DbBackend, DbErr, EntityTrait, FromQueryResult, JoinType, QueryResult, QuerySelect,
    QueryTrait, RelationTrait, SelectorRaw, Statement, Value,
};

use crate::auth::TokenType;
use crate::entities::{membership, organization, user};
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

/// A caller holding a valid access token for an existing user.
#[derive(Clone, Debug)]
pub struct Caller {
    pub user: user::Model,
    /// The organization the token acts in.
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
            let token = token?;
            let claims = state.jwt.verify(&token, TokenType::Access)?;
            let (user, membership, organization) =
                user_with_membership(&state, claims.user_id()?, claims.org)
                    .await?
                    .ok_or_else(|| {
                        ApiError::new(
                            ErrorCode::TokenInvalid,
                            "The token's user no longer exists.",
                        )
                    })?;
            Ok(Caller {
                user,
                organization_id: claims.org,
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

/// The user, their live membership in `organization_id` and the organization, in one query (LEFT
/// JOINs whose condition names the organization, so a user without one still comes back).
async fn user_with_membership(
    state: &AppState,
    user_id: i32,
    organization_id: i32,
) -> Result<Option<CallerRow>, ApiError> {
    let statement = caller_statement(state.reads.get_database_backend(), user_id, organization_id);
    let row = SelectorRaw::<sea_orm::SelectModel<DecodedCaller>>::from_statement(statement)
        .one(&state.reads)
        .await?;
    Ok(row.map(|DecodedCaller(row)| row))
}

/// The caller query as sea-query writes it for `backend`: `find_also`'s columns, prefixed `A_`,
/// `B_`, `C_`.
fn written_caller_statement(backend: DbBackend, user_id: i32, organization_id: i32) -> Statement {
    let in_organization =
        user::Relation::Membership
            .def()
            .on_condition(move |_users, memberships| {
                Condition::all()
                    .add(
                        Expr::col((memberships.clone(), membership::Column::OrganizationId))
                            .eq(organization_id),
                    )
                    .add(Expr::col((memberships, membership::Column::DeletedAt)).is_null())
            });
    user::Entity::find_by_id(user_id)
        .join(JoinType::LeftJoin, in_organization)
        .select_also(membership::Entity)
        .find_also(membership::Entity, organization::Entity)
        .build(backend)
}

/// The caller query for `backend`, its SQL built once: every authenticated request runs it, and
/// building it (a join, its condition, three entities' columns) was about 6% of the time a
/// `GET /api/invite` took (BENCHMARKS.md, session 13). Only the two values change; they follow
/// the SQL's order, the join's condition before the `WHERE` (checked by a test).
fn caller_statement(backend: DbBackend, user_id: i32, organization_id: i32) -> Statement {
    static SQL: [OnceLock<String>; 3] = [OnceLock::new(), OnceLock::new(), OnceLock::new()];
    let slot = match backend {
        DbBackend::Postgres => 0,
        DbBackend::MySql => 1,
        _ => 2,
    };
    let sql = SQL[slot].get_or_init(|| written_caller_statement(backend, 0, 0).sql);
    Statement::from_sql_and_values(
        backend,
        sql.clone(),
        [Value::from(organization_id), Value::from(user_id)],
    )
}

/// A caller row decoded as `find_also` decodes one (`SelectThreeModel`).
struct DecodedCaller(CallerRow);

impl FromQueryResult for DecodedCaller {
    fn from_query_result(row: &QueryResult, _prefix: &str) -> Result<Self, DbErr> {
        Ok(DecodedCaller((
            user::Model::from_query_result(row, "A_")?,
            membership::Model::from_query_result_optional(row, "B_")?,
            organization::Model::from_query_result_optional(row, "C_")?,
        )))
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_caller_query_is_the_one_sea_query_writes_with_its_values_in_order() {
        for backend in [DbBackend::Sqlite, DbBackend::Postgres, DbBackend::MySql] {
            let written = written_caller_statement(backend, 7, 9);
            let cached = caller_statement(backend, 7, 9);
            assert_eq!(cached.sql, written.sql, "{backend:?}");
            assert_eq!(cached.values, written.values, "{backend:?}");
        }
    }
}
