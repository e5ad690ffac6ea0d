//! The organization's shareable invite link: read it, reset it, look a token up.

use sea_orm::ActiveValue::Set;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, TransactionTrait};

use super::access::{OrganizationRef, acting_in};
use crate::auth::Caller;
use crate::domain::Role;
use crate::domain::token::random_url_token;
use crate::entities::organization;
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

/// The caller's organization, whose `invite_token` is the link; Owners and Administrators only.
pub async fn current(state: &AppState, caller: &Caller) -> Result<organization::Model, ApiError> {
    acting_in(
        &state.db,
        caller,
        caller.organization_id,
        OrganizationRef::Token,
        Role::manages_members,
    )
    .await?;
    find_organization(state, caller.organization_id).await
}

/// Replaces the link token; the old one stops working for every instance at once, because
/// signup looks the token up in the shared database.
pub async fn reset(state: &AppState, caller: &Caller) -> Result<organization::Model, ApiError> {
    let txn = state.db.begin().await?;
    acting_in(
        &txn,
        caller,
        caller.organization_id,
        OrganizationRef::Token,
        Role::manages_members,
    )
    .await?;
    let organization = organization::Entity::find_by_id(caller.organization_id)
        .one(&txn)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::OrganizationNotFound, "No such organization."))?;
    let mut active: organization::ActiveModel = organization.into();
    active.invite_token = Set(random_url_token());
    let organization = active.update(&txn).await?;
    txn.commit().await?;
    log::info!(
        "user {} reset the invite link of organization {}",
        caller.user.id,
        organization.id
    );
    Ok(organization)
}

/// The organization a link token belongs to; looking up never consumes anything.
pub async fn lookup(state: &AppState, token: &str) -> Result<organization::Model, ApiError> {
    organization::Entity::find()
        .filter(organization::Column::InviteToken.eq(token))
        .one(&state.db)
        .await?
        .ok_or_else(|| {
            ApiError::new(
                ErrorCode::InviteTokenUnknown,
                "No invite link or invitation has this token; it may have been reset.",
            )
        })
}

async fn find_organization(state: &AppState, id: i32) -> Result<organization::Model, ApiError> {
    organization::Entity::find_by_id(id)
        .one(&state.db)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::OrganizationNotFound, "No such organization."))
}
