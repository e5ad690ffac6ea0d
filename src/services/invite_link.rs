//! The organization's shareable invite link: read it, reset it, look a token up.

use sea_orm::ActiveValue::Set;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter};

use serde_json::json;

use super::access::{managing_now, managing_own_organization_row};
use super::audit::{self, AuditEntry, fingerprint};
use super::invitations;
use crate::auth::Caller;
use crate::domain::audit::{AuditAction, AuditTarget};
use crate::domain::token::{is_plausible, random_url_token};
use crate::entities::{invitation, organization};
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

/// The caller's organization, whose `invite_token` is the link; Owners and Administrators only.
pub async fn current(state: &AppState, caller: &Caller) -> Result<organization::Model, ApiError> {
    managing_now(state, caller).await?;
    // Read with the membership managing_now just accepted, so it is there.
    caller
        .organization
        .clone()
        .ok_or_else(|| ApiError::Internal("membership without organization".into()))
}

/// Replaces the link token; the old one stops working for every instance at once, because
/// signup looks the token up in the shared database.
pub async fn reset(state: &AppState, caller: &Caller) -> Result<organization::Model, ApiError> {
    let caller = caller.clone();
    let caller_id = caller.user.id;
    let organization = state
        .writes
        .run(move |txn| {
            Box::pin(async move {
                // Locked (PostgreSQL, MariaDB; SQLite's single writer serialises anyway) so that
                // of two resets at once the second waits and records the link the first made as
                // the one it replaced.
                let (_, organization) = managing_own_organization_row(txn, &caller).await?;
                let before = fingerprint(&organization.invite_token);
                let mut active: organization::ActiveModel = organization.into();
                active.invite_token = Set(random_url_token());
                let organization = active.update(txn).await?;
                let entry = AuditEntry::new(
                    organization.id,
                    AuditAction::InviteLinkReset,
                    Some(caller.user.id),
                    AuditTarget::Organization(organization.id),
                )
                .before(json!({ "link": before }))
                .after(json!({ "link": fingerprint(&organization.invite_token) }));
                audit::record(txn, [entry]).await?;
                Ok::<_, ApiError>(organization)
            })
        })
        .await?;
    log::info!(
        "user {caller_id} reset the invite link of organization {}",
        organization.id
    );
    Ok(organization)
}

/// What a token is, as a signup page needs to know before using it.
pub enum Lookup {
    Link(organization::Model),
    Email(organization::Model, Box<invitation::Model>),
}

/// Describes a link or invitation token; looking up never consumes anything. Invitations that
/// can no longer be used are refused with their own codes.
pub async fn lookup(state: &AppState, token: &str) -> Result<Lookup, ApiError> {
    let unknown = || {
        ApiError::new(
            ErrorCode::InviteTokenUnknown,
            "No invite link or invitation has this token; it may have been reset.",
        )
    };
    if !is_plausible(token) {
        return Err(unknown());
    }
    let link = organization::Entity::find()
        .filter(organization::Column::InviteToken.eq(token))
        .one(&state.reads)
        .await?;
    if let Some(organization) = link {
        return Ok(Lookup::Link(organization));
    }
    let invitation = invitations::find_by_token(&state.reads, token)
        .await?
        .ok_or_else(unknown)?;
    invitations::ensure_usable(&invitation)?;
    let organization = find_organization(state, invitation.organization_id).await?;
    Ok(Lookup::Email(organization, Box::new(invitation)))
}

async fn find_organization(state: &AppState, id: i32) -> Result<organization::Model, ApiError> {
    organization::Entity::find_by_id(id)
        .one(&state.reads)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::OrganizationNotFound, "No such organization."))
}
