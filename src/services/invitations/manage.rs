use chrono::{Duration as ChronoDuration, NaiveDateTime};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Select,
};

use serde_json::json;

use super::create::NewInvitations;
use super::mail_limits;
use super::{
    close, in_organization, invite_refusal, locked_in_organization, managing, not_pending,
    organization_of,
};
use crate::auth::Caller;
use crate::domain::audit::{AuditAction, AuditTarget};
use crate::domain::invitation::InvitationStatus;
use crate::domain::page::PageRequest;
use crate::domain::token::{random_url_token, token_hash};
use crate::domain::{EmailAddress, Role};
use crate::email::outbox;
use crate::entities::invitation;
use crate::error::{ApiError, ErrorCode};
use crate::http::idempotency::Claim;
use crate::services::access::{managing_now, stored_role};
use crate::services::audit::{self, AuditEntry};
use crate::services::pages::read_page;
use crate::services::{contains_pattern, now};
use crate::state::AppState;

/// Filters of the invitations list.
#[derive(Debug, Default)]
pub struct InvitationQuery {
    pub status: Option<InvitationStatus>,
    pub email: Option<String>,
    pub role: Option<Role>,
    pub page: PageRequest,
}

/// One page of invitations, newest first, and how many match.
pub async fn list(
    state: &AppState,
    caller: &Caller,
    query: &InvitationQuery,
) -> Result<(u64, Vec<invitation::Model>), ApiError> {
    managing_now(state, caller).await?;
    let select = filtered(caller.organization_id, query, now());
    let count = select.clone().count(state.db.read()).await?;
    let newest_first = select
        .order_by_desc(invitation::Column::Id)
        .into_model::<invitation::Model>();
    let rows = read_page(state.db.read(), newest_first, query.page).await?;
    Ok((count, rows))
}

fn filtered(
    organization_id: i32,
    query: &InvitationQuery,
    at: NaiveDateTime,
) -> Select<invitation::Entity> {
    let mut select =
        invitation::Entity::find().filter(invitation::Column::OrganizationId.eq(organization_id));
    if let Some(status) = query.status {
        select = select.filter(invitation::Column::Status.eq(status.stored()));
        select = match status {
            InvitationStatus::Pending => select.filter(invitation::Column::ExpiresAt.gt(at)),
            InvitationStatus::Expired => select.filter(invitation::Column::ExpiresAt.lte(at)),
            _ => select,
        };
    }
    if let Some(email) = query.email.as_deref() {
        select = select
            .filter(Expr::col(invitation::Column::EmailNormalized).like(contains_pattern(email)));
    }
    if let Some(role) = query.role {
        select = select.filter(invitation::Column::Role.eq(role.code()));
    }
    select
}

/// One invitation of the caller's organization.
pub async fn get(
    state: &AppState,
    caller: &Caller,
    id: i32,
) -> Result<invitation::Model, ApiError> {
    managing_now(state, caller).await?;
    in_organization(state.db.read(), caller.organization_id, id).await
}

/// A new token and expiry for a pending or expired invitation, and a new email; the old link
/// stops working. Returns the invitation and, when `send_email` is false, the new link.
pub async fn resend(
    state: &AppState,
    caller: &Caller,
    id: i32,
    expires_in_days: u32,
    send_email: bool,
    once: Option<&Claim>,
) -> Result<(invitation::Model, Option<String>), ApiError> {
    let caller_id = caller.user.id;
    let (updated, token) = state
        .db
        .transaction(async move |txn| {
            if let Some(claim) = once {
                claim.hold(txn).await?;
            }
            let acting = managing(txn, caller).await?;
            let current = locked_in_organization(txn, caller.organization_id, id).await?;
            if current.status != InvitationStatus::Pending.stored() {
                return Err(not_pending());
            }
            let previous_expiry = crate::services::utc(current.expires_at);
            let role = stored_role(&current.role)?;
            Role::check_invite(acting.role, role).map_err(invite_refusal)?;
            if send_email {
                let recipient = [current.email_normalized.clone()];
                mail_limits::check(txn, &state.settings, caller.organization_id, &recipient)
                    .await?;
            }
            let organization = organization_of(txn, caller.organization_id).await?;
            outbox::cancel_for_invitations(txn, vec![current.id]).await?;
            let invitation = NewInvitations {
                state,
                organization: &organization,
                inviter: &caller.user,
                role,
                expires_at: now() + ChronoDuration::days(i64::from(expires_in_days)),
                send_email,
            };
            let token = random_url_token();
            let mut row: invitation::ActiveModel = current.into();
            row.token_hash = Set(token_hash(&token));
            row.expires_at = Set(invitation.expires_at);
            row.invited_by = Set(caller.user.id);
            row.updated_at = Set(now());
            row.delivery_state = Set(invitation.initial_delivery().as_str().to_owned());
            row.delivery_attempts = Set(0);
            row.delivery_error = Set(None);
            row.delivered_at = Set(None);
            let updated = row.update(txn).await?;
            if send_email {
                invitation.queue_email(txn, &updated, &token).await?;
            }
            let entry = AuditEntry::new(
                updated.organization_id,
                AuditAction::InvitationResent,
                Some(caller.user.id),
                AuditTarget::Invitation(updated.id),
            )
            .before(json!({ "expires_at": previous_expiry }))
            .after(json!({
                "expires_at": crate::services::utc(updated.expires_at),
                "delivery": updated.delivery_state,
            }));
            audit::record(txn, [entry]).await?;
            Ok::<_, ApiError>((updated, token))
        })
        .await?;
    log::info!("user {caller_id} resent invitation {}", updated.id);
    Ok((updated, (!send_email).then(|| state.invite_url(&token))))
}

/// Revokes a pending invitation by id.
pub async fn revoke(
    state: &AppState,
    caller: &Caller,
    id: i32,
) -> Result<invitation::Model, ApiError> {
    let caller_id = caller.user.id;
    let revoked = state
        .db
        .transaction(async move |txn| {
            managing(txn, caller).await?;
            let current = locked_in_organization(txn, caller.organization_id, id).await?;
            if current.status != InvitationStatus::Pending.stored() {
                return Err(not_pending());
            }
            close(txn, &[current.id], InvitationStatus::Revoked).await?;
            let revoked = in_organization(txn, caller.organization_id, id).await?;
            let entry = AuditEntry::new(
                revoked.organization_id,
                AuditAction::InvitationRevoked,
                Some(caller.user.id),
                AuditTarget::Invitation(revoked.id),
            )
            .before(json!({ "status": current.status }))
            .after(json!({ "status": revoked.status }));
            audit::record(txn, [entry]).await?;
            Ok::<_, ApiError>(revoked)
        })
        .await?;
    log::info!("user {caller_id} revoked invitation {id}");
    Ok(revoked)
}

/// Revokes the pending invitation of an address (Label Studio's `POST /api/invite/revoke`).
pub async fn revoke_by_email(
    state: &AppState,
    caller: &Caller,
    email: &EmailAddress,
) -> Result<invitation::Model, ApiError> {
    let pending = invitation::Entity::find()
        .filter(invitation::Column::OrganizationId.eq(caller.organization_id))
        .filter(invitation::Column::PendingKey.eq(email.normalized()))
        .one(state.db.read())
        .await?;
    match pending {
        Some(pending) => revoke(state, caller, pending.id).await,
        None => {
            crate::services::access::managing_now(state, caller).await?;
            Err(ApiError::new(
                ErrorCode::InvitationNotFound,
                "This address has no pending invitation.",
            ))
        }
    }
}
