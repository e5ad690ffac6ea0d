//! The organization's shareable invite link: read it, reset it, look a token up.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
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
    let (organization_id, user_id) = (caller.organization_id, caller.user.id);
    let organization = state
        .db
        .transaction(async move |txn| {
            // Locked until the end, so a concurrent reset waits and records this link as the
            // one it replaced, and a change to the caller's role waits too.
            let (_, mut organization) =
                managing_own_organization_row(txn, organization_id, user_id).await?;
            let token = random_url_token();
            let entry = AuditEntry::new(
                organization_id,
                AuditAction::InviteLinkReset,
                Some(user_id),
                AuditTarget::Organization(organization_id),
            )
            .before(json!({ "link": fingerprint(&organization.invite_token) }))
            .after(json!({ "link": fingerprint(&token) }));
            organization::Entity::update_many()
                .col_expr(
                    organization::Column::InviteToken,
                    Expr::value(token.as_str()),
                )
                .filter(organization::Column::Id.eq(organization_id))
                .exec(txn)
                .await?;
            audit::record(txn, [entry]).await?;
            organization.invite_token = token;
            Ok::<_, ApiError>(organization)
        })
        .await?;
    log::info!("user {user_id} reset the invite link of organization {organization_id}");
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
        .one(state.db.read())
        .await?;
    if let Some(organization) = link {
        return Ok(Lookup::Link(organization));
    }
    let invitation = invitations::find_by_token(state.db.read(), token)
        .await?
        .ok_or_else(unknown)?;
    invitations::ensure_usable(&invitation)?;
    let organization = find_organization(state, invitation.organization_id).await?;
    Ok(Lookup::Email(organization, Box::new(invitation)))
}

async fn find_organization(state: &AppState, id: i32) -> Result<organization::Model, ApiError> {
    organization::Entity::find_by_id(id)
        .one(state.db.read())
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::OrganizationNotFound, "No such organization."))
}
