//! Changing who is in an organization and with which role: role assignment (which activates a
//! pending user, or deactivates with `DI`), removal and ownership transfer, under the role rules
//! of `domain::role`. Each locks the caller's and the target's memberships first
//! (`access::acting_on`), so the role that decides is the role as it stands.

use chrono::NaiveDateTime;
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde_json::json;

use super::{Member, counts, not_a_member, read_member};
use crate::auth::Caller;
use crate::domain::Role;
use crate::domain::audit::{AuditAction, AuditTarget};
use crate::domain::role::GrantRefusal;
use crate::entities::membership;
use crate::entities::timestamp::Timestamp;
use crate::error::{ApiError, ErrorCode};
use crate::services::access::{acting_on, stored_role};
use crate::services::audit::{self, AuditEntry};
use crate::services::{now, tokens};
use crate::state::AppState;

/// Sets a member's role: activates a pending user, changes a role, or deactivates with `DI`.
pub async fn assign_role(
    state: &AppState,
    caller: &Caller,
    organization_id: i32,
    user_id: i32,
    role: Role,
) -> Result<Member, ApiError> {
    let caller_id = caller.user.id;
    let (member, current) = state
        .db
        .transaction(async move |txn| {
            let (acting, target) =
                acting_on(txn, caller, organization_id, user_id, Role::manages_members).await?;
            let target = target.ok_or_else(not_a_member)?;
            let mut member = read_member(txn, organization_id, user_id)
                .await?
                .ok_or_else(not_a_member)?;
            let current = stored_role(&member.role)?;
            Role::check_grant(acting.role, caller.user.id, user_id, current, role)
                .map_err(refusal)?;
            // The member was read with its user before the change, so the answer needs no second read.
            let at = change_role(txn, member.id, organization_id, current, role).await?;
            // A deactivated person keeps no way in: their tokens would come back on reactivation.
            if role == Role::Deactivated && current != Role::Deactivated {
                tokens::end_sessions(txn, &target, at).await?;
            }
            member.role = role.code().to_owned();
            member.updated_at = Timestamp(at);
            let entry = AuditEntry::new(
                organization_id,
                AuditAction::MemberRoleChanged,
                Some(caller.user.id),
                AuditTarget::User(user_id),
            )
            .before(json!({ "role": current.code() }))
            .after(json!({ "role": role.code() }));
            audit::record(txn, [entry]).await?;
            Ok::<_, ApiError>((member, current))
        })
        .await?;
    log::info!(
        "user {caller_id} set the role of user {user_id} in organization {organization_id} from {current} to {role}"
    );
    Ok(member)
}

/// Removes a member (kept as history); not yourself, not the Owner.
pub async fn remove(
    state: &AppState,
    caller: &Caller,
    organization_id: i32,
    user_id: i32,
) -> Result<(), ApiError> {
    let caller_id = caller.user.id;
    state
        .db
        .transaction(async move |txn| {
            let (_, target) =
                acting_on(txn, caller, organization_id, user_id, Role::manages_members).await?;
            if user_id == caller.user.id {
                return Err(ApiError::new(
                    ErrorCode::OwnRoleChange,
                    "You cannot remove yourself from the organization.",
                ));
            }
            let target = target.ok_or_else(not_a_member)?;
            let role = stored_role(&target.role)?;
            if role == Role::Owner {
                return Err(refusal(GrantRefusal::OwnerProtected));
            }
            // The row is locked since `acting_on`, so `role` is still its role.
            let at = now();
            membership::Entity::update_many()
                .col_expr(membership::Column::DeletedAt, Expr::value(at))
                .col_expr(membership::Column::UpdatedAt, Expr::value(at))
                .filter(membership::Column::Id.eq(target.id))
                .exec(txn)
                .await?;
            tokens::end_sessions(txn, &target, at).await?;
            counts::shift(txn, organization_id, Some(role), None).await?;
            let entry = AuditEntry::new(
                organization_id,
                AuditAction::MemberRemoved,
                Some(caller.user.id),
                AuditTarget::User(user_id),
            )
            .before(json!({ "role": role.code() }));
            audit::record(txn, [entry]).await?;
            Ok::<_, ApiError>(())
        })
        .await?;
    log::info!("user {caller_id} removed user {user_id} from organization {organization_id}");
    Ok(())
}

/// Ends every session and personal token a member holds in the organization, at once: for a
/// stolen laptop or a token pasted where it should not be. Anyone's but the Owner's, whose only
/// the Owner ends.
pub async fn end_sessions(
    state: &AppState,
    caller: &Caller,
    organization_id: i32,
    user_id: i32,
) -> Result<(), ApiError> {
    let caller_id = caller.user.id;
    let revoked = state
        .db
        .transaction(async move |txn| {
            let (_, target) =
                acting_on(txn, caller, organization_id, user_id, Role::manages_members).await?;
            let target = target.ok_or_else(not_a_member)?;
            if stored_role(&target.role)? == Role::Owner && user_id != caller.user.id {
                return Err(refusal(GrantRefusal::OwnerProtected));
            }
            let revoked = tokens::end_sessions(txn, &target, now()).await?;
            let entry = AuditEntry::new(
                organization_id,
                AuditAction::MemberSessionsEnded,
                Some(caller.user.id),
                AuditTarget::User(user_id),
            )
            .after(json!({ "revoked_tokens": revoked }));
            audit::record(txn, [entry]).await?;
            Ok::<_, ApiError>(revoked)
        })
        .await?;
    log::info!(
        "user {caller_id} ended the sessions of user {user_id} in organization {organization_id} ({revoked} tokens)"
    );
    Ok(())
}

/// Makes `user_id` the Owner and the caller an Administrator, in one transaction.
pub async fn transfer_ownership(
    state: &AppState,
    caller: &Caller,
    organization_id: i32,
    user_id: i32,
) -> Result<Member, ApiError> {
    let caller_id = caller.user.id;
    let member = state
        .db
        .transaction(async move |txn| {
            let (acting, target) = acting_on(txn, caller, organization_id, user_id, |role| {
                role == Role::Owner
            })
            .await?;
            let target = target
                .filter(|target| target.user_id != caller.user.id)
                .filter(|target| stored_role(&target.role).is_ok_and(Role::is_active))
                .ok_or_else(|| {
                    ApiError::new(
                        ErrorCode::TransferTargetInvalid,
                        "Ownership can only go to another member with an active role.",
                    )
                })?;
            set_role(txn, acting.membership, Role::Administrator).await?;
            let new_owner = set_role(txn, target, Role::Owner).await?;
            let member = with_user(txn, new_owner).await?;
            let entry = AuditEntry::new(
                organization_id,
                AuditAction::OwnershipTransferred,
                Some(caller.user.id),
                AuditTarget::Organization(organization_id),
            )
            .before(json!({ "owner": caller.user.id }))
            .after(json!({ "owner": user_id }));
            audit::record(txn, [entry]).await?;
            Ok::<_, ApiError>(member)
        })
        .await?;
    log::info!(
        "user {caller_id} transferred ownership of organization {organization_id} to user {user_id}"
    );
    Ok(member)
}

/// Changes a live membership's role from the role it was read with (see [`change_role`]).
async fn set_role<C: ConnectionTrait>(
    db: &C,
    membership: membership::Model,
    role: Role,
) -> Result<membership::Model, ApiError> {
    let previous = stored_role(&membership.role)?;
    let at = change_role(
        db,
        membership.id,
        membership.organization_id,
        previous,
        role,
    )
    .await?;
    Ok(membership::Model {
        role: role.code().to_owned(),
        updated_at: at,
        ..membership
    })
}

/// Changes a live membership's role from `previous`, and the per-role counts with it; returns
/// when. A concurrent change in between (two transfers at once, two people assigning one
/// member) makes this a 409 rather than a silent overwrite: on every backend the UPDATE waits
/// for the other transaction and then matches nothing.
async fn change_role<C: ConnectionTrait>(
    db: &C,
    membership_id: i32,
    organization_id: i32,
    previous: Role,
    role: Role,
) -> Result<NaiveDateTime, ApiError> {
    let at = now();
    let updated = membership::Entity::update_many()
        .col_expr(membership::Column::Role, Expr::value(role.code()))
        .col_expr(membership::Column::UpdatedAt, Expr::value(at))
        .filter(membership::Column::Id.eq(membership_id))
        .filter(membership::Column::Role.eq(previous.code()))
        .filter(membership::Column::DeletedAt.is_null())
        .exec(db)
        .await?;
    if updated.rows_affected != 1 {
        return Err(changed_meanwhile());
    }
    counts::shift(db, organization_id, Some(previous), Some(role)).await?;
    Ok(at)
}

/// A membership just changed in `db`'s transaction, read back with its user.
async fn with_user<C: ConnectionTrait>(
    db: &C,
    membership: membership::Model,
) -> Result<Member, ApiError> {
    read_member(db, membership.organization_id, membership.user_id)
        .await?
        .ok_or_else(|| ApiError::Internal("changed membership not found".into()))
}

fn changed_meanwhile() -> ApiError {
    ApiError::new(
        ErrorCode::ConcurrentChange,
        "Another request changed this membership at the same moment; reload and try again.",
    )
}

fn refusal(refusal: GrantRefusal) -> ApiError {
    match refusal {
        GrantRefusal::NotAllowed => ApiError::new(
            ErrorCode::PermissionDenied,
            "Your role may not assign roles.",
        ),
        GrantRefusal::OwnerNotAssignable => ApiError::new(
            ErrorCode::RoleNotAssignable,
            "The Owner role moves only through ownership transfer.",
        ),
        GrantRefusal::OwnRole => {
            ApiError::new(ErrorCode::OwnRoleChange, "Nobody changes their own role.")
        }
        GrantRefusal::OwnerProtected => ApiError::new(
            ErrorCode::OwnerProtected,
            "The Owner's membership changes only through ownership transfer.",
        ),
    }
}
