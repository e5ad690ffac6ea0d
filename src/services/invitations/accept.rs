use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter,
};
use serde_json::json;

use crate::auth::Caller;
use crate::domain::audit::{AuditAction, AuditTarget};
use crate::domain::invitation::InvitationStatus;
use crate::domain::token::token_hash;
use crate::domain::{EmailAddress, Role};
use crate::entities::{invitation, membership, organization, user};
use crate::error::{ApiError, ErrorCode};
use crate::services::access::{live_membership, stored_role};
use crate::services::audit::{self, AuditEntry};
use crate::services::members::counts as member_counts;
use crate::services::now;
use crate::state::AppState;

/// The invitation a raw token belongs to, if any.
pub async fn find_by_token<C: ConnectionTrait>(
    db: &C,
    token: &str,
) -> Result<Option<invitation::Model>, ApiError> {
    Ok(invitation::Entity::find()
        .filter(invitation::Column::TokenHash.eq(token_hash(token)))
        .one(db)
        .await?)
}

/// Refuses an invitation that can no longer be used, with a code per reason.
pub fn ensure_usable(invitation: &invitation::Model) -> Result<(), ApiError> {
    let refusal = |code, detail: &str| Err(ApiError::new(code, detail));
    match InvitationStatus::effective(&invitation.status, invitation.expires_at, now()) {
        InvitationStatus::Pending => Ok(()),
        InvitationStatus::Expired => refusal(
            ErrorCode::InvitationExpired,
            "This invitation has expired; ask for a new one.",
        ),
        InvitationStatus::Revoked => {
            refusal(ErrorCode::InvitationRevoked, "This invitation was revoked.")
        }
        InvitationStatus::Accepted => refusal(
            ErrorCode::InvitationUsed,
            "This invitation has already been used.",
        ),
        InvitationStatus::Superseded => refusal(
            ErrorCode::InvitationSuperseded,
            "A newer invitation replaced this one; use the link in the latest email.",
        ),
    }
}

/// Checks that `email` is the invited address and that the inviter may still grant the role.
/// Nothing is consumed when this fails.
pub async fn ensure_acceptable<C: ConnectionTrait>(
    db: &C,
    invitation: &invitation::Model,
    email: &EmailAddress,
) -> Result<Role, ApiError> {
    ensure_usable(invitation)?;
    if invitation.email_normalized != email.normalized() {
        log::warn!(
            "refused an invitation {} for another address",
            invitation.id
        );
        return Err(ApiError::new(
            ErrorCode::InvitationEmailMismatch,
            "This invitation was sent to another address; sign up with that address.",
        ));
    }
    let role = stored_role(&invitation.role)?;
    let inviter_role = live_membership(db, invitation.organization_id, invitation.invited_by)
        .await?
        .map(|m| stored_role(&m.role))
        .transpose()?;
    if inviter_role.is_none_or(|inviter| Role::check_invite(inviter, role).is_err()) {
        log::warn!(
            "refused invitation {}: its inviter may no longer grant {role}",
            invitation.id
        );
        return Err(ApiError::new(
            ErrorCode::InvitationInviterNotAllowed,
            "The person who invited you may no longer grant this role; ask for a new invitation.",
        ));
    }
    Ok(role)
}

/// Marks the invitation accepted by `user_id`, unless someone else got there first.
pub async fn consume<C: ConnectionTrait>(
    db: &C,
    invitation: &invitation::Model,
    user_id: i32,
) -> Result<(), ApiError> {
    let at = now();
    let updated = invitation::Entity::update_many()
        .col_expr(
            invitation::Column::Status,
            Expr::value(InvitationStatus::Accepted.stored()),
        )
        .col_expr(
            invitation::Column::PendingKey,
            Expr::value(Option::<String>::None),
        )
        .col_expr(invitation::Column::AcceptedBy, Expr::value(user_id))
        .col_expr(invitation::Column::AcceptedAt, Expr::value(at))
        .col_expr(invitation::Column::UpdatedAt, Expr::value(at))
        .filter(invitation::Column::Id.eq(invitation.id))
        .filter(invitation::Column::Status.eq(InvitationStatus::Pending.stored()))
        .exec(db)
        .await?;
    if updated.rows_affected != 1 {
        return Err(ApiError::new(
            ErrorCode::InvitationUsed,
            "This invitation has already been used.",
        ));
    }
    Ok(())
}

/// What an existing account gets by accepting an invitation while signed in.
pub struct Accepted {
    pub membership: membership::Model,
    pub tokens: crate::services::tokens::TokenPair,
}

/// An existing account accepts an invitation sent to its address, or joins an organization
/// through its invite link (pending, as a new signup through the link would).
pub async fn accept(state: &AppState, caller: &Caller, token: &str) -> Result<Accepted, ApiError> {
    let caller_id = caller.user.id;
    let token = token.to_owned();
    let accepted = state
        .db
        .transaction(async move |txn| {
            let Some(invitation) = find_by_token(txn, &token).await? else {
                return join_by_link(txn, state, caller, &token)
                    .await
                    .map(|joined| joined.map(|accepted| (accepted, None, Role::NotActivated)));
            };
            let email = EmailAddress::parse(&caller.user.email)
                .ok_or_else(|| ApiError::Internal("stored email does not parse".into()))?;
            let role = match ensure_acceptable(txn, &invitation, &email).await {
                Ok(role) => role,
                Err(refusal) => {
                    return refuse(txn, &invitation, Some(caller.user.id), refusal)
                        .await
                        .map(Err);
                }
            };
            let joined = join_organization(
                txn,
                invitation.organization_id,
                caller.user.id,
                role,
                Some(invitation.invited_by),
            )
            .await?;
            let Some(Joined {
                membership,
                former_role,
            }) = joined
            else {
                let refusal = ApiError::new(
                    ErrorCode::AlreadyMember,
                    "You are already a member of this organization.",
                );
                return refuse(txn, &invitation, Some(caller.user.id), refusal)
                    .await
                    .map(Err);
            };
            consume(txn, &invitation, caller.user.id).await?;
            let entries =
                accepted_entries(&invitation, caller.user.id, role, former_role.as_deref());
            audit::record(txn, entries).await?;
            let mut account: user::ActiveModel = caller.user.clone().into();
            account.active_organization_id = Set(Some(invitation.organization_id));
            account.update(txn).await?;
            let tokens = crate::services::tokens::issue_pair(
                txn,
                state,
                caller.user.id,
                invitation.organization_id,
                role,
            )
            .await?;
            let accepted = Accepted { membership, tokens };
            Ok::<_, ApiError>(Ok((accepted, Some(invitation), role)))
        })
        .await??;
    // A link join has no invitation, and logged itself.
    let (accepted, Some(invitation), role) = accepted else {
        return Ok(accepted.0);
    };
    log::info!(
        "user {caller_id} accepted invitation {} into organization {} as {role}",
        invitation.id,
        invitation.organization_id
    );
    Ok(accepted)
}

/// Inside `accept`'s transaction: the caller joins the organization whose invite link `token` is,
/// as pending (`NO`). A removed member comes back pending; a live member is told so.
async fn join_by_link(
    txn: &DatabaseTransaction,
    state: &AppState,
    caller: &Caller,
    token: &str,
) -> Result<Result<Accepted, ApiError>, ApiError> {
    let organization = organization::Entity::find()
        .filter(organization::Column::InviteToken.eq(token))
        .one(txn)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::InviteTokenUnknown,
                "No invite link or invitation has this token; the link may have been reset.",
            )
        })?;
    let role = Role::NotActivated;
    let joined = join_organization(txn, organization.id, caller.user.id, role, None).await?;
    let Some(Joined {
        membership,
        former_role,
    }) = joined
    else {
        return Ok(Err(ApiError::new(
            ErrorCode::AlreadyMember,
            "You are already a member of this organization.",
        )));
    };
    let joined = AuditEntry::new(
        organization.id,
        AuditAction::MemberJoined,
        Some(caller.user.id),
        AuditTarget::User(caller.user.id),
    )
    .after(json!({ "role": role.code(), "via": "invite_link" }));
    let joined = match &former_role {
        Some(former) => joined.before(json!({ "role": former, "removed": true })),
        None => joined,
    };
    audit::record(txn, [joined]).await?;
    // The person keeps acting where they were; the tokens returned act in the new organization.
    let tokens =
        crate::services::tokens::issue_pair(txn, state, caller.user.id, organization.id, role)
            .await?;
    log::info!(
        "user {} joined organization {} through its invite link, pending",
        caller.user.id,
        organization.id
    );
    Ok(Ok(Accepted { membership, tokens }))
}

/// What joining left: the membership, and the role a removed membership it brought back had.
struct Joined {
    membership: membership::Model,
    former_role: Option<String>,
}

/// `user_id` becomes a member of `organization_id` with `role`: a new membership, or a removed
/// one brought back (its history row reused). `None`: a member already.
async fn join_organization(
    txn: &DatabaseTransaction,
    organization_id: i32,
    user_id: i32,
    role: Role,
    invited_by: Option<i32>,
) -> Result<Option<Joined>, ApiError> {
    let existing = membership::Entity::find()
        .filter(membership::Column::OrganizationId.eq(organization_id))
        .filter(membership::Column::UserId.eq(user_id))
        .one(txn)
        .await?;
    let former_role = existing.as_ref().map(|m| m.role.clone());
    let membership = match existing {
        Some(live) if live.deleted_at.is_none() => return Ok(None),
        Some(removed) => {
            let mut row: membership::ActiveModel = removed.into();
            row.role = Set(role.code().to_owned());
            row.invited_by = Set(invited_by);
            row.deleted_at = Set(None);
            row.updated_at = Set(now());
            let restored = row.update(txn).await?;
            member_counts::shift(txn, organization_id, None, Some(role)).await?;
            restored
        }
        None => {
            crate::services::accounts::insert_membership(
                txn,
                organization_id,
                user_id,
                role,
                invited_by,
            )
            .await?
        }
    };
    Ok(Some(Joined {
        membership,
        former_role,
    }))
}

/// The entries of an accepted invitation: the invitation used, and the member it made (or, with
/// `former_role`, the removed member it brought back).
pub fn accepted_entries(
    invitation: &invitation::Model,
    user_id: i32,
    role: Role,
    former_role: Option<&str>,
) -> [AuditEntry; 2] {
    let organization_id = invitation.organization_id;
    let joined = AuditEntry::new(
        organization_id,
        AuditAction::MemberJoined,
        Some(user_id),
        AuditTarget::User(user_id),
    )
    .after(json!({ "role": role.code(), "via": "invitation", "invitation": invitation.id }));
    let joined = match former_role {
        Some(former) => joined.before(json!({ "role": former, "removed": true })),
        None => joined,
    };
    [
        AuditEntry::new(
            organization_id,
            AuditAction::InvitationAccepted,
            Some(user_id),
            AuditTarget::Invitation(invitation.id),
        )
        .before(json!({ "status": invitation.status }))
        .after(json!({ "status": InvitationStatus::Accepted.stored(), "accepted_by": user_id })),
        joined,
    ]
}

/// Records a refused accept in `txn`, which holds nothing else. Returns the refusal to answer
/// with once `txn` commits; when the entry cannot be written the refusal stands all the same,
/// as an error, which rolls `txn` back.
pub async fn refuse(
    txn: &DatabaseTransaction,
    invitation: &invitation::Model,
    actor_id: Option<i32>,
    refusal: ApiError,
) -> Result<ApiError, ApiError> {
    let entry = AuditEntry::new(
        invitation.organization_id,
        AuditAction::InvitationAcceptRefused,
        actor_id,
        AuditTarget::Invitation(invitation.id),
    )
    .after(json!({ "reason": refusal.code() }));
    match audit::record(txn, [entry]).await {
        Ok(()) => Ok(refusal),
        Err(error) => {
            log::error!(
                "could not record a refused accept of invitation {}: {error}",
                invitation.id
            );
            Err(refusal)
        }
    }
}
