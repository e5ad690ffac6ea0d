//! Refresh tokens and personal access tokens: issued with a recorded `jti`, exchanged for access
//! tokens, revoked. Access tokens are never stored; they are short-lived and re-checked against
//! the user and membership on every request.

use chrono::{Duration as ChronoDuration, NaiveDateTime};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder,
};

use super::access::{active_in_token_organization, live_membership, stored_role};
use super::now;
use crate::auth::jwt::new_claims;
use crate::auth::{Caller, TokenType};
use crate::domain::Role;
use crate::domain::token::random_url_token;
use crate::entities::{issued_token, membership};
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

/// Recorded kind of a refresh token.
pub const SESSION: &str = "session";
pub const PERSONAL: &str = "personal";

/// What login and signup hand out.
pub struct TokenPair {
    pub access: String,
    pub refresh: String,
    pub expires_in: u64,
}

/// A refresh JWT just created, with its record.
pub struct IssuedRefresh {
    pub token: String,
    pub record: issued_token::Model,
}

/// Signs an access token for `user_id` acting in `organization_id`.
pub fn access_token(
    state: &AppState,
    user_id: i32,
    organization_id: i32,
    role: Role,
) -> Result<String, ApiError> {
    let claims = new_claims(
        user_id,
        organization_id,
        role,
        TokenType::Access,
        state.settings.access_token_ttl,
        random_url_token(),
    );
    state.jwt.sign(&claims)
}

/// Signs a refresh token of `kind` and records its `jti` so it can be revoked.
pub async fn issue_refresh<C: ConnectionTrait>(
    db: &C,
    state: &AppState,
    user_id: i32,
    organization_id: i32,
    role: Role,
    kind: &str,
) -> Result<IssuedRefresh, ApiError> {
    let ttl = if kind == PERSONAL {
        state.settings.personal_token_ttl
    } else {
        state.settings.refresh_token_ttl
    };
    let claims = new_claims(
        user_id,
        organization_id,
        role,
        TokenType::Refresh,
        ttl,
        random_url_token(),
    );
    let token = state.jwt.sign(&claims)?;
    let created_at = now();
    let lifetime = ChronoDuration::seconds(claims.exp - claims.iat);
    let record = issued_token::ActiveModel {
        jti: Set(claims.jti),
        user_id: Set(user_id),
        organization_id: Set(organization_id),
        kind: Set(kind.to_owned()),
        created_at: Set(created_at),
        expires_at: Set(created_at + lifetime),
        revoked_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await?;
    Ok(IssuedRefresh { token, record })
}

/// An access and a session refresh token, recorded through `db` (a transaction at signup).
pub async fn issue_pair<C: ConnectionTrait>(
    db: &C,
    state: &AppState,
    user_id: i32,
    organization_id: i32,
    role: Role,
) -> Result<TokenPair, ApiError> {
    let refresh = issue_refresh(db, state, user_id, organization_id, role, SESSION).await?;
    Ok(TokenPair {
        access: access_token(state, user_id, organization_id, role)?,
        refresh: refresh.token,
        expires_in: state.settings.access_token_ttl.as_secs(),
    })
}

/// The live record behind a refresh token, or the reason it cannot be used.
async fn live_record(state: &AppState, refresh: &str) -> Result<issued_token::Model, ApiError> {
    let claims = state.jwt.verify(refresh, TokenType::Refresh)?;
    let record = issued_token::Entity::find()
        .filter(issued_token::Column::Jti.eq(claims.jti))
        .one(state.db.read())
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::TokenInvalid, "The token is not valid."))?;
    if record.revoked_at.is_some() {
        return Err(ApiError::new(
            ErrorCode::TokenRevoked,
            "The token has been revoked.",
        ));
    }
    Ok(record)
}

/// Exchanges a live refresh token for a new access token.
pub async fn refresh(state: &AppState, refresh: &str) -> Result<String, ApiError> {
    let record = live_record(state, refresh).await?;
    let role =
        match live_membership(state.db.read(), record.organization_id, record.user_id).await? {
            Some(membership) => stored_role(&membership.role)?,
            None => Role::NotActivated,
        };
    access_token(state, record.user_id, record.organization_id, role)
}

/// Revokes a refresh token; revoking one twice is not an error.
pub async fn revoke(state: &AppState, refresh: &str) -> Result<(), ApiError> {
    let record = match live_record(state, refresh).await {
        Err(error) if error.code() == ErrorCode::TokenRevoked => return Ok(()),
        other => other?,
    };
    let mut record: issued_token::ActiveModel = record.into();
    record.revoked_at = Set(Some(now()));
    state
        .db
        .transaction(async move |txn| record.update(txn).await)
        .await?;
    Ok(())
}

/// Inside a managing transaction: ends every session and personal token of `membership`'s person
/// in its organization at `at`. Refresh and personal tokens are revoked in their rows; access
/// tokens, which are never stored, are refused from now on by their issue time.
pub async fn end_sessions<C: ConnectionTrait>(
    db: &C,
    membership: &membership::Model,
    at: NaiveDateTime,
) -> Result<u64, ApiError> {
    membership::Entity::update_many()
        .col_expr(membership::Column::SessionsEndedAt, Expr::value(at))
        .filter(membership::Column::Id.eq(membership.id))
        .exec(db)
        .await?;
    let revoked = issued_token::Entity::update_many()
        .col_expr(issued_token::Column::RevokedAt, Expr::value(at))
        .filter(issued_token::Column::UserId.eq(membership.user_id))
        .filter(issued_token::Column::OrganizationId.eq(membership.organization_id))
        .filter(issued_token::Column::RevokedAt.is_null())
        .exec(db)
        .await?;
    Ok(revoked.rows_affected)
}

/// Creates a personal access token for the caller, acting in the token's organization.
pub async fn create_personal(state: &AppState, caller: &Caller) -> Result<IssuedRefresh, ApiError> {
    let role = active_in_token_organization(caller)?.role;
    let (user_id, organization_id) = (caller.user.id, caller.organization_id);
    state
        .db
        .transaction(async |txn| {
            issue_refresh(txn, state, user_id, organization_id, role, PERSONAL).await
        })
        .await
}

/// The caller's personal access tokens that are neither revoked nor expired, newest first.
pub async fn list_personal(
    state: &AppState,
    caller: &Caller,
) -> Result<Vec<issued_token::Model>, ApiError> {
    active_in_token_organization(caller)?;
    Ok(issued_token::Entity::find()
        .filter(issued_token::Column::UserId.eq(caller.user.id))
        .filter(issued_token::Column::Kind.eq(PERSONAL))
        .filter(issued_token::Column::RevokedAt.is_null())
        .filter(issued_token::Column::ExpiresAt.gt(now()))
        .order_by_desc(issued_token::Column::Id)
        .all(state.db.read())
        .await?)
}
