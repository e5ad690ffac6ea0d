//! The organizations a caller belongs to.

use sea_orm::JoinType;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, RelationTrait};

use super::access::{OrganizationRef, acting_now, active_in_token_organization};
use crate::auth::Caller;
use crate::entities::{membership, organization};
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

/// Every organization the caller has a live membership in, oldest first; only for a caller with
/// an active role in its token's organization.
pub async fn list_mine(
    state: &AppState,
    caller: &Caller,
) -> Result<Vec<organization::Model>, ApiError> {
    active_in_token_organization(caller)?;
    Ok(organization::Entity::find()
        .join(
            JoinType::InnerJoin,
            organization::Relation::Membership.def(),
        )
        .filter(membership::Column::UserId.eq(caller.user.id))
        .filter(membership::Column::DeletedAt.is_null())
        .order_by_asc(organization::Column::Id)
        .all(state.db.read())
        .await?)
}

/// One organization the caller is an active member of.
pub async fn get(
    state: &AppState,
    caller: &Caller,
    organization_id: i32,
) -> Result<organization::Model, ApiError> {
    acting_now(
        state,
        caller,
        organization_id,
        OrganizationRef::Path,
        |_| true,
    )
    .await?;
    organization::Entity::find_by_id(organization_id)
        .one(state.db.read())
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::OrganizationNotFound, "No such organization."))
}
