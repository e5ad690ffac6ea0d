//! The organizations a caller belongs to.

use sea_orm::JoinType;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, RelationTrait};

use sea_orm::ActiveModelTrait;
use sea_orm::ActiveValue::Set;
use serde_json::json;

use super::access::{OrganizationRef, acting_in, acting_now, active_in_token_organization};
use super::audit::{self, AuditEntry};
use crate::auth::Caller;
use crate::domain::Role;
use crate::domain::audit::{AuditAction, AuditTarget};
use crate::entities::{membership, organization};
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

/// Every organization the caller has a live membership in, oldest first; only for a caller with
/// an active role in its token's organization.
pub async fn list_mine(
    state: &AppState,
    caller: &Caller,
) -> Result<Vec<(organization::Model, String)>, ApiError> {
    active_in_token_organization(caller)?;
    let found = organization::Entity::find()
        .join(
            JoinType::InnerJoin,
            organization::Relation::Membership.def(),
        )
        .filter(membership::Column::UserId.eq(caller.user.id))
        .filter(membership::Column::DeletedAt.is_null())
        .order_by_asc(organization::Column::Id)
        .select_also(membership::Entity)
        .all(state.db.read())
        .await?;
    Ok(found
        .into_iter()
        .filter_map(|(organization, membership)| Some((organization, membership?.role)))
        .collect())
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

/// Renames an organization the caller manages (Owner, Administrator); audited with the old and
/// the new title.
pub async fn rename(
    state: &AppState,
    caller: &Caller,
    organization_id: i32,
    title: String,
) -> Result<organization::Model, ApiError> {
    let caller_id = caller.user.id;
    let renamed = state
        .db
        .transaction(async move |txn| {
            acting_in(
                txn,
                caller,
                organization_id,
                OrganizationRef::Path,
                Role::manages_members,
            )
            .await?;
            let current = organization::Entity::find_by_id(organization_id)
                .one(txn)
                .await?
                .ok_or_else(|| {
                    ApiError::new(ErrorCode::OrganizationNotFound, "No such organization.")
                })?;
            let before = current.title.clone();
            let mut row: organization::ActiveModel = current.into();
            row.title = Set(title);
            let renamed = row.update(txn).await?;
            let entry = AuditEntry::new(
                organization_id,
                AuditAction::OrganizationRenamed,
                Some(caller.user.id),
                AuditTarget::Organization(organization_id),
            )
            .before(json!({ "title": before }))
            .after(json!({ "title": renamed.title }));
            audit::record(txn, [entry]).await?;
            Ok::<_, ApiError>(renamed)
        })
        .await?;
    log::info!("user {caller_id} renamed organization {organization_id}");
    Ok(renamed)
}
