//! The organization's shareable invite link: read it, reset it, look a token up.

use sea_orm::sea_query::{CommonTableExpression, Expr, WithClause};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseTransaction, DbBackend, EntityTrait, QueryFilter,
    QueryTrait,
};

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
                let replaced = organization::Model {
                    invite_token: random_url_token(),
                    ..organization
                };
                let entry = AuditEntry::new(
                    replaced.id,
                    AuditAction::InviteLinkReset,
                    Some(caller.user.id),
                    AuditTarget::Organization(replaced.id),
                )
                .before(json!({ "link": before }))
                .after(json!({ "link": fingerprint(&replaced.invite_token) }));
                store_link(txn, &replaced, entry).await?;
                Ok::<_, ApiError>(replaced)
            })
        })
        .await?;
    log::info!(
        "user {caller_id} reset the invite link of organization {}",
        organization.id
    );
    Ok(organization)
}

/// Stores the organization's new link with the audit entry recording it. On PostgreSQL in one
/// statement (the update in a `WITH`): resets of one organization take turns on its row lock,
/// and a round trip less while holding it is a reset more per span (BENCHMARKS.md, session 9).
async fn store_link(
    txn: &DatabaseTransaction,
    organization: &organization::Model,
    entry: AuditEntry,
) -> Result<(), ApiError> {
    let update = organization::Entity::update_many()
        .col_expr(
            organization::Column::InviteToken,
            Expr::value(organization.invite_token.clone()),
        )
        .filter(organization::Column::Id.eq(organization.id))
        .into_query();
    if txn.get_database_backend() == DbBackend::Postgres {
        let together = audit::insert_statement([entry]).with(
            WithClause::new()
                .cte(
                    CommonTableExpression::new()
                        .query(update)
                        .table_name("replaced_link")
                        .to_owned(),
                )
                .to_owned(),
        );
        txn.execute(&together).await?;
        return Ok(());
    }
    txn.execute(&update).await?;
    audit::record(txn, [entry]).await
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
