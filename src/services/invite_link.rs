//! The organization's shareable invite link: read it, reset it, look a token up.

use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, UpdateMany};
use serde_json::json;

use super::access::{managing_now, managing_own_organization_row};
use super::audit::{self, AuditEntry, fingerprint};
use super::invitations;
use crate::auth::Caller;
use crate::batches::Batches;
use crate::domain::audit::{AuditAction, AuditTarget};
use crate::domain::token::{is_plausible, random_url_token};
use crate::entities::{invitation, organization};
use crate::error::{ApiError, ErrorCode};
use crate::request_context::{self, RequestContext};
use crate::state::AppState;
use crate::writes::Writes;

/// The caller's organization, whose `invite_token` is the link; Owners and Administrators only.
pub async fn current(state: &AppState, caller: &Caller) -> Result<organization::Model, ApiError> {
    managing_now(state, caller).await?;
    // Read with the membership managing_now just accepted, so it is there.
    caller
        .organization
        .clone()
        .ok_or_else(|| ApiError::Internal("membership without organization".into()))
}

/// One caller's link resets of one organization, run in batches keyed by (organization, user)
/// (see `crate::batches`); each waits with its request, for its audit entry.
pub type LinkResets =
    Batches<(i32, i32), Option<RequestContext>, Result<organization::Model, ApiError>>;

/// Replaces the link token; the old one stops working for every instance at once, because
/// signup looks the token up in the shared database. The caller's resets of this organization
/// that arrive while another of theirs runs are made together, in one transaction
/// (`reset_together`); each is answered with its own link.
pub async fn reset(state: &AppState, caller: &Caller) -> Result<organization::Model, ApiError> {
    // Refused at once, without waiting for a batch, if the role read with the caller cannot.
    managing_now(state, caller).await?;
    let (organization_id, user_id) = (caller.organization_id, caller.user.id);
    let writes = state.writes.clone();
    let run = move |requests| reset_together(writes.clone(), organization_id, user_id, requests);
    let organization = state
        .link_resets
        .join((organization_id, user_id), request_context::current(), run)
        .await
        .unwrap_or_else(|| Err(ApiError::Internal("a batch of link resets failed".into())))?;
    log::info!("user {user_id} reset the invite link of organization {organization_id}");
    Ok(organization)
}

/// Runs the waiting resets of `user_id` in `organization_id`, one per request of `requests`,
/// in one transaction, in order: each replaces the link the one before made, and records so.
/// The caller's membership and the organization's row are locked first (PostgreSQL, MariaDB;
/// SQLite's single writer serialises anyway), so that another caller's resets wait and record
/// the last link this batch made as the one they replaced, and a change to the caller's role
/// waits for the batch.
async fn reset_together(
    writes: Writes,
    organization_id: i32,
    user_id: i32,
    requests: Vec<Option<RequestContext>>,
) -> Vec<Result<organization::Model, ApiError>> {
    let size = requests.len();
    let outcome = writes
        .run(move |txn| {
            Box::pin(async move {
                let (_, mut organization) =
                    managing_own_organization_row(txn, organization_id, user_id).await?;
                let mut replaced = Vec::with_capacity(requests.len());
                let mut entries = Vec::with_capacity(requests.len());
                for request in requests {
                    let token = random_url_token();
                    let entry = link_reset_entry(organization_id, user_id, &token)
                        .before(json!({ "link": fingerprint(&organization.invite_token) }))
                        .made_in(request);
                    entries.push(entry);
                    organization.invite_token = token;
                    replaced.push(organization.clone());
                }
                link_update(organization.id, &organization.invite_token)
                    .exec(txn)
                    .await?;
                audit::record(txn, entries).await?;
                Ok::<_, ApiError>(replaced)
            })
        })
        .await;
    match outcome {
        Ok(replaced) => replaced.into_iter().map(Ok).collect(),
        Err(error) => error.shared_by(size),
    }
}

/// The UPDATE that gives organization `organization_id` the link `token`.
fn link_update(organization_id: i32, token: &str) -> UpdateMany<organization::Entity> {
    organization::Entity::update_many()
        .col_expr(organization::Column::InviteToken, Expr::value(token))
        .filter(organization::Column::Id.eq(organization_id))
}

/// The audit entry of `user_id`'s reset of `organization_id`'s link to `token`, without the
/// link it replaced.
fn link_reset_entry(organization_id: i32, user_id: i32, token: &str) -> AuditEntry {
    AuditEntry::new(
        organization_id,
        AuditAction::InviteLinkReset,
        Some(user_id),
        AuditTarget::Organization(organization_id),
    )
    .after(json!({ "link": fingerprint(token) }))
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
