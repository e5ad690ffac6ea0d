//! The organization's shareable invite link: read it, reset it, look a token up.

use sea_orm::sea_query::{
    Alias, Asterisk, CommonTableExpression, Expr, Query, SubQueryStatement, WithClause,
};
use sea_orm::{
    ColumnTrait, DbBackend, EntityTrait, QueryFilter, QuerySelect, QueryTrait, UpdateMany,
};

use serde_json::json;

use super::access::{
    OrganizationRef, find_live_membership, managing_now, managing_own_organization,
    managing_own_organization_row, managing_turn,
};
use super::audit::{self, AuditEntry, fingerprint};
use super::invitations;
use crate::auth::Caller;
use crate::domain::Role;
use crate::domain::audit::{AuditAction, AuditTarget};
use crate::domain::token::{is_plausible, random_url_token};
use crate::entities::{invitation, membership, organization};
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
    let _turn = managing_turn(
        state,
        caller,
        caller.organization_id,
        OrganizationRef::Token,
    )
    .await?;
    let organization = if state.db.get_database_backend() == DbBackend::Postgres {
        reset_in_one_statement(state, caller).await?
    } else {
        reset_in_transaction(state, caller).await?
    };
    log::info!(
        "user {} reset the invite link of organization {}",
        caller.user.id,
        organization.id
    );
    Ok(organization)
}

/// SQLite and MariaDB: the organization's row is read, locked (MariaDB; SQLite's single writer
/// serialises anyway), so that of two resets at once the second waits and records the link the
/// first made as the one it replaced.
async fn reset_in_transaction(
    state: &AppState,
    caller: &Caller,
) -> Result<organization::Model, ApiError> {
    let caller = caller.clone();
    state
        .writes
        .run(move |txn| {
            Box::pin(async move {
                let (_, organization) = managing_own_organization_row(txn, &caller).await?;
                let before = fingerprint(&organization.invite_token);
                let replaced = organization::Model {
                    invite_token: random_url_token(),
                    ..organization
                };
                link_update(replaced.id, &replaced.invite_token)
                    .exec(txn)
                    .await?;
                let entry = link_reset_entry(&caller, &replaced.invite_token)
                    .before(json!({ "link": before }));
                audit::record(txn, [entry]).await?;
                Ok::<_, ApiError>(replaced)
            })
        })
        .await
}

/// PostgreSQL: one statement, committed on its own, locks the organization's row with the
/// caller's managing membership, replaces the link and records the entry with the link it
/// replaced. Resets of one organization take turns on that lock, and this way none holds it
/// across a round trip to the service (BENCHMARKS.md, session 10).
async fn reset_in_one_statement(
    state: &AppState,
    caller: &Caller,
) -> Result<organization::Model, ApiError> {
    let token = random_url_token();
    let locked = Alias::new("locked_link");
    let replaced = Alias::new("replaced_link");
    let lock = find_live_membership(caller.organization_id, caller.user.id)
        .filter(membership::Column::Role.is_in(managing_role_codes()))
        .inner_join(organization::Entity)
        .select_only()
        .column(organization::Column::InviteToken)
        .lock_exclusive()
        .into_query();
    // The EXISTS makes the update wait for the lock, so it changes the row the lock read.
    let update = link_update(caller.organization_id, &token)
        .filter(Expr::exists(
            Query::select().expr(1).from(locked.clone()).to_owned(),
        ))
        .into_query()
        .returning_all()
        .to_owned();
    let record = audit::insert_selected(
        link_reset_entry(caller, &token),
        audit::link_fingerprint_in_postgres(Expr::col((
            locked.clone(),
            organization::Column::InviteToken,
        ))),
        [locked.clone(), replaced.clone()],
    )?;
    let statement = Query::select()
        .column(Asterisk)
        .from(replaced.clone())
        .to_owned()
        .with(
            WithClause::new()
                .cte(cte(lock, locked))
                .cte(cte(update, replaced))
                .cte(cte(record, Alias::new("recorded_reset")))
                .to_owned(),
        );
    let replaced = organization::Entity::find()
        .from_raw_sql(DbBackend::Postgres.build(&statement))
        .one(&state.db)
        .await?;
    match replaced {
        Some(organization) => Ok(organization),
        // Not a manager (any more), or no such organization: say which.
        None => {
            managing_own_organization(&state.db, caller).await?;
            Err(ApiError::new(
                ErrorCode::OrganizationNotFound,
                "No such organization.",
            ))
        }
    }
}

/// The UPDATE that gives organization `organization_id` the link `token`.
fn link_update(organization_id: i32, token: &str) -> UpdateMany<organization::Entity> {
    organization::Entity::update_many()
        .col_expr(organization::Column::InviteToken, Expr::value(token))
        .filter(organization::Column::Id.eq(organization_id))
}

fn cte(query: impl Into<SubQueryStatement>, name: Alias) -> CommonTableExpression {
    CommonTableExpression::new()
        .query(query)
        .table_name(name)
        .to_owned()
}

fn managing_role_codes() -> impl Iterator<Item = &'static str> {
    Role::ALL
        .into_iter()
        .filter(|role| role.manages_members())
        .map(Role::code)
}

/// The audit entry of a reset to `token`, without the link it replaced.
fn link_reset_entry(caller: &Caller, token: &str) -> AuditEntry {
    AuditEntry::new(
        caller.organization_id,
        AuditAction::InviteLinkReset,
        Some(caller.user.id),
        AuditTarget::Organization(caller.organization_id),
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
