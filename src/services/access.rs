//! The role a caller acts with in an organization, read from the database on every request.

use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Select};
use tokio::sync::SemaphorePermit;

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

/// A turn among `organization_id`'s managing writes (`crate::turns`) for a caller who manages
/// it. Others are refused here as the write's transaction would refuse them (the read every
/// request makes is as fresh): they neither queue ahead of the organization's managers nor wait
/// for its locks. The transaction checks the role again, under its locks.
pub async fn managing_turn<'a>(
    state: &'a AppState,
    caller: &Caller,
    organization_id: i32,
    reference: OrganizationRef,
) -> Result<Option<SemaphorePermit<'a>>, ApiError> {
    acting_now(
        state,
        caller,
        organization_id,
        reference,
        Role::manages_members,
    )
    .await?;
    state.organization_writes.take(organization_id).await
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

/// Loads the caller's membership and checks that its current role satisfies `allowed`. Reads
/// through `db`, so inside a transaction the check sees the transaction's view.
pub async fn acting_in<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    organization_id: i32,
    reference: OrganizationRef,
    allowed: fn(Role) -> bool,
) -> Result<Acting, ApiError> {
    let membership = live_membership(db, organization_id, caller.user.id).await?;
    check(membership, reference, allowed)
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
        live_membership(&state.reads, organization_id, caller.user.id).await?
    };
    check(membership, reference, allowed)
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
/// read in one query and locked until the transaction ends (PostgreSQL, MariaDB; SQLite's
/// single writer serialises anyway), so a concurrent change to either waits.
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
