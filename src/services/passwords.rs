//! Changing a password while signed in, and resetting a forgotten one through an emailed link.
//! Either ends every other session and personal token of the person, everywhere: whoever held
//! the old password may have signed in with it.

use chrono::Duration as ChronoDuration;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect,
};
use serde_json::json;

use super::access::stored_role;
use super::audit::{self, AuditEntry};
use super::now;
use super::tokens::{TokenPair, issue_pair};
use crate::auth::{Caller, password};
use crate::domain::audit::{AuditAction, AuditTarget};
use crate::domain::token::{random_url_token, token_hash};
use crate::domain::{EmailAddress, Password, Role};
use crate::email::{outbox, templates};
use crate::entities::{issued_token, membership, password_reset, user};
use crate::error::{ApiError, ErrorCode, FieldError};
use crate::state::AppState;

/// How long an emailed reset link works.
const RESET_LIFETIME: ChronoDuration = ChronoDuration::hours(1);

/// Sets a new password for the signed-in caller, who proves the current one. Every token of
/// theirs ends; the answer carries a fresh pair for this session.
pub async fn change(
    state: &AppState,
    caller: &Caller,
    current: String,
    new: Password,
) -> Result<TokenPair, ApiError> {
    if !password::verify(current, caller.user.password_hash.clone()).await? {
        return Err(ApiError::validation(vec![FieldError::new(
            "/current_password",
            "wrong_password",
            "this is not your current password",
        )]));
    }
    let hash = password::hash(new.expose().to_owned()).await?;
    let (user_id, organization_id) = (caller.user.id, caller.organization_id);
    let role = match &caller.membership {
        Some(membership) => stored_role(&membership.role)?,
        None => Role::NotActivated,
    };
    let pair = state
        .db
        .transaction(async move |txn| {
            set_password(txn, user_id, hash).await?;
            record(txn, user_id, AuditAction::PasswordChanged).await?;
            issue_pair(txn, state, user_id, organization_id, role).await
        })
        .await?;
    log::info!("user {user_id} changed their password; their other sessions ended");
    Ok(pair)
}

/// Emails a reset link when `email` has an account; says nothing either way, so the answer does
/// not tell who has one.
pub async fn request_reset(state: &AppState, email: &EmailAddress) -> Result<(), ApiError> {
    let Some(account) = user::Entity::find()
        .filter(user::Column::EmailNormalized.eq(email.normalized()))
        .one(state.db.read())
        .await?
    else {
        return Ok(());
    };
    let token = random_url_token();
    let message = templates::password_reset(&state.password_reset_url(&token));
    let domain = state.settings.email_domain().to_owned();
    let at = now();
    state
        .db
        .transaction(async move |txn| {
            password_reset::ActiveModel {
                user_id: Set(account.id),
                token_hash: Set(token_hash(&token)),
                created_at: Set(at),
                expires_at: Set(at + RESET_LIFETIME),
                used_at: Set(None),
                ..Default::default()
            }
            .insert(txn)
            .await?;
            outbox::enqueue(txn, None, &account.email, message, &domain).await?;
            Ok::<_, ApiError>(())
        })
        .await?;
    log::info!("password reset requested for user {}", account.id);
    Ok(())
}

/// Sets the password of the account an emailed reset link was for; the link works once, for an
/// hour, and every token of the person ends.
pub async fn confirm_reset(state: &AppState, token: &str, new: Password) -> Result<(), ApiError> {
    let invalid = || {
        ApiError::new(
            ErrorCode::PasswordResetInvalid,
            "This reset link is unknown, used or expired; ask for a new one.",
        )
    };
    let hash = password::hash(new.expose().to_owned()).await?;
    let hashed_token = token_hash(token);
    let user_id = state
        .db
        .transaction(async move |txn| {
            let reset = password_reset::Entity::find()
                .filter(password_reset::Column::TokenHash.eq(hashed_token))
                .lock_exclusive()
                .one(txn)
                .await?
                .filter(|reset| reset.used_at.is_none() && reset.expires_at > now())
                .ok_or_else(invalid)?;
            let user_id = reset.user_id;
            let mut used: password_reset::ActiveModel = reset.into();
            used.used_at = Set(Some(now()));
            used.update(txn).await?;
            set_password(txn, user_id, hash).await?;
            record(txn, user_id, AuditAction::PasswordReset).await?;
            Ok::<_, ApiError>(user_id)
        })
        .await?;
    log::info!("user {user_id} reset their password; their sessions ended");
    Ok(())
}

/// Stores the new hash and ends every session and personal token of the person, in every
/// organization: refresh tokens are revoked, older access tokens refused.
async fn set_password<C: ConnectionTrait>(
    txn: &C,
    user_id: i32,
    hash: String,
) -> Result<(), ApiError> {
    let at = now();
    user::Entity::update_many()
        .col_expr(user::Column::PasswordHash, Expr::value(hash))
        .filter(user::Column::Id.eq(user_id))
        .exec(txn)
        .await?;
    issued_token::Entity::update_many()
        .col_expr(issued_token::Column::RevokedAt, Expr::value(at))
        .filter(issued_token::Column::UserId.eq(user_id))
        .filter(issued_token::Column::RevokedAt.is_null())
        .exec(txn)
        .await?;
    membership::Entity::update_many()
        .col_expr(membership::Column::SessionsEndedAt, Expr::value(at))
        .filter(membership::Column::UserId.eq(user_id))
        .exec(txn)
        .await?;
    Ok(())
}

/// An account event goes in the audit log of each organization the person is a member of.
async fn record<C: ConnectionTrait>(
    txn: &C,
    user_id: i32,
    action: AuditAction,
) -> Result<(), ApiError> {
    let organizations: Vec<i32> = membership::Entity::find()
        .select_only()
        .column(membership::Column::OrganizationId)
        .filter(membership::Column::UserId.eq(user_id))
        .filter(membership::Column::DeletedAt.is_null())
        .into_tuple()
        .all(txn)
        .await?;
    let entries = organizations.into_iter().map(|organization_id| {
        AuditEntry::new(
            organization_id,
            action,
            Some(user_id),
            AuditTarget::User(user_id),
        )
        .after(json!({ "sessions_ended": true }))
    });
    audit::record(txn, entries).await
}
