//! The role a caller acts with in an organization, read from the database on every request.

use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Select,
};

use crate::auth::Caller;
use crate::domain::Role;
use crate::entities::{membership, organization};
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

/// How the organization was named, which decides how "not a member" is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OrganizationRef {
    /// The organization the token acts in: a removed member is told so (403).
    Token,
    /// An organization in the path: another organization's resources do not exist (404).
    Path,
}

/// The caller's current membership and role in an organization.
#[derive(Debug)]
pub struct Acting {
    pub membership: membership::Model,
    pub role: Role,
}

/// Parses a stored role code; a bad value in the database is an internal error, not a client one.
pub fn stored_role(code: &str) -> Result<Role, ApiError> {
    Role::from_code(code).ok_or_else(|| ApiError::Internal(format!("unknown stored role {code:?}")))
}

/// The live (not removed) membership of `user_id` in `organization_id`.
pub async fn live_membership<C: ConnectionTrait>(
    db: &C,
    organization_id: i32,
    user_id: i32,
) -> Result<Option<membership::Model>, ApiError> {
    Ok(find_live_membership(organization_id, user_id)
        .one(db)
        .await?)
}

/// The query behind `live_membership`, for callers that lock the row or join its user.
pub fn find_live_membership(organization_id: i32, user_id: i32) -> Select<membership::Entity> {
    membership::Entity::find()
        .filter(membership::Column::OrganizationId.eq(organization_id))
        .filter(membership::Column::UserId.eq(user_id))
        .filter(membership::Column::DeletedAt.is_null())
}

/// Inside a write transaction: locks the caller's membership until the transaction ends and
/// checks that its current role satisfies `allowed`. A concurrent change to the caller's role
/// waits for this transaction, or this one sees it.
pub async fn acting_in<C: ConnectionTrait>(
    txn: &C,
    caller: &Caller,
    organization_id: i32,
    reference: OrganizationRef,
    allowed: fn(Role) -> bool,
) -> Result<Acting, ApiError> {
    let membership = find_live_membership(organization_id, caller.user.id)
        .lock_exclusive()
        .one(txn)
        .await?;
    check(membership, reference, allowed)
}

/// Inside a write transaction: locks the caller's and `target_id`'s live memberships of
/// `organization_id` until it ends, checks the caller's role against `allowed`, and returns the
/// target's membership (`None`: not a member). One statement locks both in the order of their
/// user ids, so two managers changing each other at once wait for one another, and the second
/// sees what the first did, instead of each acting on a role the other is taking away.
pub async fn acting_on<C: ConnectionTrait>(
    txn: &C,
    caller: &Caller,
    organization_id: i32,
    target_id: i32,
    allowed: fn(Role) -> bool,
) -> Result<(Acting, Option<membership::Model>), ApiError> {
    let locked = membership::Entity::find()
        .filter(membership::Column::OrganizationId.eq(organization_id))
        .filter(membership::Column::UserId.is_in([caller.user.id, target_id]))
        .filter(membership::Column::DeletedAt.is_null())
        .order_by_asc(membership::Column::UserId)
        .lock_exclusive()
        .all(txn)
        .await?;
    let mut caller_membership = None;
    let mut target = None;
    for membership in locked {
        if membership.user_id == caller.user.id {
            caller_membership = Some(membership.clone());
        }
        if membership.user_id == target_id {
            target = Some(membership);
        }
    }
    let acting = check(caller_membership, OrganizationRef::Path, allowed)?;
    Ok((acting, target))
}

/// Like `acting_in`, for requests that only read: the membership in the token's organization was
/// read with the caller (same request, one query), so only another organization costs a query.
pub async fn acting_now(
    state: &AppState,
    caller: &Caller,
    organization_id: i32,
    reference: OrganizationRef,
    allowed: fn(Role) -> bool,
) -> Result<Acting, ApiError> {
    let membership = if organization_id == caller.organization_id {
        caller.membership.clone()
    } else {
        live_membership(state.db.read(), organization_id, caller.user.id).await?
    };
    check(membership, reference, allowed)
}

/// The caller with an active role in the organization its token acts in: a pending or
/// deactivated person may read whoami and sign out, nothing else.
pub fn active_in_token_organization(caller: &Caller) -> Result<Acting, ApiError> {
    check(caller.membership.clone(), OrganizationRef::Token, |_| true)
}

fn check(
    membership: Option<membership::Model>,
    reference: OrganizationRef,
    allowed: fn(Role) -> bool,
) -> Result<Acting, ApiError> {
    let Some(membership) = membership else {
        return Err(match reference {
            OrganizationRef::Path => {
                ApiError::new(ErrorCode::OrganizationNotFound, "No such organization.")
            }
            OrganizationRef::Token => ApiError::new(
                ErrorCode::MembershipRemoved,
                "You are no longer a member of this organization.",
            ),
        });
    };
    let role = stored_role(&membership.role)?;
    match role {
        Role::NotActivated => Err(ApiError::new(
            ErrorCode::AccountNotActivated,
            "An Owner or Administrator has to assign you a role first.",
        )),
        Role::Deactivated => Err(ApiError::new(
            ErrorCode::AccountDeactivated,
            "Your account in this organization is deactivated.",
        )),
        role if !allowed(role) => Err(ApiError::new(
            ErrorCode::PermissionDenied,
            format!("The {} role may not do this.", role.code()),
        )),
        role => Ok(Acting { membership, role }),
    }
}

/// The caller acting as an Owner or Administrator of the organization its token acts in.
pub async fn managing_own_organization<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
) -> Result<Acting, ApiError> {
    acting_in(
        db,
        caller,
        caller.organization_id,
        OrganizationRef::Token,
        Role::manages_members,
    )
    .await
}

/// `managing_own_organization` for a change to the organization's own row, for the caller
/// `user_id` acting in `organization_id` (its token's): the membership and the organization are
/// read in one query and locked until the transaction ends, so a concurrent change to either
/// waits.
pub async fn managing_own_organization_row<C: ConnectionTrait>(
    db: &C,
    organization_id: i32,
    user_id: i32,
) -> Result<(Acting, organization::Model), ApiError> {
    let found = find_live_membership(organization_id, user_id)
        // An inner join: PostgreSQL locks no row on the nullable side of an outer one.
        .inner_join(organization::Entity)
        .select_also(organization::Entity)
        .lock_exclusive()
        .one(db)
        .await?;
    let (membership, organization) = found.unzip();
    let acting = check(membership, OrganizationRef::Token, Role::manages_members)?;
    let organization = organization
        .flatten()
        .ok_or_else(|| ApiError::new(ErrorCode::OrganizationNotFound, "No such organization."))?;
    Ok((acting, organization))
}

/// `managing_own_organization` for requests that only read (see `acting_now`).
pub async fn managing_now(state: &AppState, caller: &Caller) -> Result<Acting, ApiError> {
    acting_now(
        state,
        caller,
        caller.organization_id,
        OrganizationRef::Token,
        Role::manages_members,
    )
    .await
}
