//! Email invitations: bulk invite with a role, the lifecycle (pending, accepted, revoked, expired,
//! superseded), resend and revoke, and accepting one. Rows and their outgoing messages are written
//! in one transaction; the email sender delivers them later.

mod accept;
mod bulk;
mod create;
mod mail_limits;
mod manage;

pub use accept::{
    Accepted, accept, accepted_entries, consume, ensure_acceptable, ensure_usable, find_by_token,
    refuse,
};
pub use bulk::{AddressResult, BulkInvite, Outcome, invite_many};
pub use manage::{InvitationQuery, get, list, resend, revoke, revoke_by_email};

use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter, QuerySelect,
    Select,
};

use crate::domain::invitation::InvitationStatus;
use crate::domain::role::GrantRefusal;
use crate::email::outbox;
use crate::entities::{invitation, organization};
use crate::error::{ApiError, ErrorCode};
use crate::services::now;

/// Days an invitation lives when the inviter does not say.
pub const DEFAULT_EXPIRY_DAYS: u32 = 7;

/// Ends invitations with `status` (superseded or revoked) and cancels their unsent emails.
pub(super) async fn close<C: ConnectionTrait>(
    db: &C,
    ids: &[i32],
    status: InvitationStatus,
) -> Result<(), ApiError> {
    if ids.is_empty() {
        return Ok(());
    }
    let at = now();
    let mut update = invitation::Entity::update_many()
        .col_expr(invitation::Column::Status, Expr::value(status.stored()))
        .col_expr(
            invitation::Column::PendingKey,
            Expr::value(Option::<String>::None),
        )
        .col_expr(invitation::Column::UpdatedAt, Expr::value(at));
    if status == InvitationStatus::Revoked {
        update = update.col_expr(invitation::Column::RevokedAt, Expr::value(at));
    }
    update
        .filter(invitation::Column::Id.is_in(ids.iter().copied()))
        .exec(db)
        .await?;
    outbox::cancel_for_invitations(db, ids.to_vec()).await?;
    Ok(())
}

pub(super) async fn organization_of<C: ConnectionTrait>(
    db: &C,
    organization_id: i32,
) -> Result<organization::Model, ApiError> {
    organization::Entity::find_by_id(organization_id)
        .one(db)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::OrganizationNotFound, "No such organization."))
}

pub(super) fn invite_refusal(refusal: GrantRefusal) -> ApiError {
    match refusal {
        GrantRefusal::NotAllowed => {
            ApiError::new(ErrorCode::PermissionDenied, "Your role may not invite.")
        }
        _ => ApiError::new(
            ErrorCode::RoleNotAssignable,
            "An invitation may carry AD, MA, RE or AN.",
        ),
    }
}

pub(super) use crate::services::access::managing_own_organization as managing;

/// An invitation of the organization.
pub(super) async fn in_organization<C: ConnectionTrait>(
    db: &C,
    organization_id: i32,
    id: i32,
) -> Result<invitation::Model, ApiError> {
    found(find_in_organization(organization_id, id).one(db).await?)
}

/// `in_organization`, locked until the transaction ends (PostgreSQL, MariaDB): of a resend and
/// a revoke at once, the second sees what the first did, so no new email is queued for an
/// invitation just revoked.
pub(super) async fn locked_in_organization(
    txn: &DatabaseTransaction,
    organization_id: i32,
    id: i32,
) -> Result<invitation::Model, ApiError> {
    found(
        find_in_organization(organization_id, id)
            .lock_exclusive()
            .one(txn)
            .await?,
    )
}

fn find_in_organization(organization_id: i32, id: i32) -> Select<invitation::Entity> {
    invitation::Entity::find_by_id(id)
        .filter(invitation::Column::OrganizationId.eq(organization_id))
}

fn found(invitation: Option<invitation::Model>) -> Result<invitation::Model, ApiError> {
    invitation.ok_or_else(|| ApiError::new(ErrorCode::InvitationNotFound, "No such invitation."))
}

pub(super) fn not_pending() -> ApiError {
    ApiError::new(
        ErrorCode::InvitationNotPending,
        "Only a pending or expired invitation can be resent or revoked.",
    )
}
