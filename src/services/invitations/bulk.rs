use std::collections::HashSet;

use chrono::Duration as ChronoDuration;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, JoinType, QueryFilter, QuerySelect, RelationTrait,
};

use serde_json::json;

use super::create::NewInvitations;
use super::mail_limits;
use super::{close, invite_refusal, organization_of};
use crate::auth::Caller;
use crate::domain::audit::{AuditAction, AuditTarget};
use crate::domain::invitation::InvitationStatus;
use crate::domain::{EmailAddress, Role};
use crate::entities::{invitation, membership, user};
use crate::error::ApiError;
use crate::http::idempotency::Claim;
use crate::services::access::managing_own_organization;
use crate::services::audit::{self, AuditEntry};
use crate::services::now;
use crate::state::AppState;

/// A validated bulk invitation.
#[derive(Debug)]
pub struct BulkInvite {
    /// The addresses as given, in order.
    pub addresses: Vec<String>,
    pub role: Role,
    pub expires_in_days: u32,
    pub send_email: bool,
}

/// What happened to one address of a bulk invitation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Invited,
    /// A pending invitation for the address was superseded by this one.
    Reinvited,
    AlreadyMember,
    InvalidEmail,
    /// The same address appeared earlier in the request.
    Duplicate,
}

#[derive(Debug)]
pub struct AddressResult {
    pub email: String,
    pub outcome: Outcome,
    pub invitation_id: Option<i32>,
    /// The link, when the caller delivers it (`send_email: false`).
    pub invite_url: Option<String>,
}

/// Invites every address of `request` into the caller's organization.
pub async fn invite_many(
    state: &AppState,
    caller: &Caller,
    request: BulkInvite,
    once: Option<&Claim>,
) -> Result<Vec<AddressResult>, ApiError> {
    let caller_id = caller.user.id;
    let role = request.role;
    let (results, organization_id) = state
        .db
        .transaction(async move |txn| {
            if let Some(claim) = once {
                claim.hold(txn).await?;
            }
            let acting = managing_own_organization(txn, caller).await?;
            Role::check_invite(acting.role, request.role).map_err(invite_refusal)?;
            let organization = organization_of(txn, caller.organization_id).await?;

            let mut results = Vec::with_capacity(request.addresses.len());
            let mut to_invite: Vec<(usize, EmailAddress)> = Vec::new();
            let mut seen = HashSet::new();
            for (index, raw) in request.addresses.iter().enumerate() {
                let parsed = EmailAddress::parse(raw);
                let outcome = match &parsed {
                    None => Outcome::InvalidEmail,
                    Some(email) if !seen.insert(email.normalized().to_owned()) => {
                        Outcome::Duplicate
                    }
                    Some(email) => {
                        to_invite.push((index, email.clone()));
                        Outcome::Invited
                    }
                };
                results.push(AddressResult {
                    email: parsed
                        .map_or_else(|| raw.trim().to_owned(), |e| e.as_typed().to_owned()),
                    outcome,
                    invitation_id: None,
                    invite_url: None,
                });
            }

            let normalized: Vec<String> = to_invite
                .iter()
                .map(|(_, e)| e.normalized().to_owned())
                .collect();
            let members = member_emails(txn, organization.id, &normalized).await?;
            if request.send_email {
                let recipients: Vec<String> = normalized
                    .iter()
                    .filter(|email| !members.contains(*email))
                    .cloned()
                    .collect();
                mail_limits::check(txn, &state.settings, organization.id, &recipients).await?;
            }
            let mut audit_entries = Vec::new();
            let superseded = supersede_pending(
                txn,
                organization.id,
                caller.user.id,
                &normalized,
                &mut audit_entries,
            )
            .await?;
            let expires_at = now() + ChronoDuration::days(i64::from(request.expires_in_days));
            let invitation = NewInvitations {
                state,
                organization: &organization,
                inviter: &caller.user,
                role: request.role,
                expires_at,
                send_email: request.send_email,
            };
            for (index, email) in to_invite {
                let result = &mut results[index];
                if members.contains(email.normalized()) {
                    result.outcome = Outcome::AlreadyMember;
                    continue;
                }
                if superseded.contains(email.normalized()) {
                    result.outcome = Outcome::Reinvited;
                }
                let (created, token) = invitation.create(txn, &email).await?;
                audit_entries.push(created_entry(&created));
                result.invitation_id = Some(created.id);
                result.invite_url = (!request.send_email).then(|| state.invite_url(&token));
            }
            audit::record(txn, audit_entries).await?;
            Ok::<_, ApiError>((results, organization.id))
        })
        .await?;
    log::info!(
        "user {caller_id} invited {} addresses to organization {organization_id} as {role}",
        results.iter().filter(|r| r.invitation_id.is_some()).count(),
    );
    Ok(results)
}

/// The normalized addresses among `emails` that are live members of the organization.
async fn member_emails<C: ConnectionTrait>(
    db: &C,
    organization_id: i32,
    emails: &[String],
) -> Result<HashSet<String>, ApiError> {
    let mut found = HashSet::new();
    for chunk in emails.chunks(500) {
        let users = user::Entity::find()
            .join(JoinType::InnerJoin, user::Relation::Membership.def())
            .filter(membership::Column::OrganizationId.eq(organization_id))
            .filter(membership::Column::DeletedAt.is_null())
            .filter(user::Column::EmailNormalized.is_in(chunk.iter().cloned()))
            .all(db)
            .await?;
        found.extend(users.into_iter().map(|u| u.email_normalized));
    }
    Ok(found)
}

/// Marks the pending invitations of `emails` superseded; returns the addresses whose replaced
/// invitation had not expired yet (an expired one is replaced silently: it blocked nothing).
async fn supersede_pending<C: ConnectionTrait>(
    db: &C,
    organization_id: i32,
    actor_id: i32,
    emails: &[String],
    audit_entries: &mut Vec<AuditEntry>,
) -> Result<HashSet<String>, ApiError> {
    let mut superseded = HashSet::new();
    for chunk in emails.chunks(500) {
        // Locked (PostgreSQL, MariaDB): an invitation revoked or resent meanwhile is read as it
        // is once that commits, so a revoked one is not closed a second time.
        let pending = invitation::Entity::find()
            .filter(invitation::Column::OrganizationId.eq(organization_id))
            .filter(invitation::Column::PendingKey.is_in(chunk.iter().cloned()))
            .lock_exclusive()
            .all(db)
            .await?;
        let ids: Vec<i32> = pending.iter().map(|i| i.id).collect();
        close(db, &ids, InvitationStatus::Superseded).await?;
        audit_entries.extend(pending.iter().map(|replaced| {
            AuditEntry::new(
                organization_id,
                AuditAction::InvitationSuperseded,
                Some(actor_id),
                AuditTarget::Invitation(replaced.id),
            )
            .before(json!({ "status": replaced.status }))
            .after(json!({ "status": InvitationStatus::Superseded.stored() }))
        }));
        let at = now();
        superseded.extend(
            pending
                .into_iter()
                .filter(|i| i.expires_at > at)
                .map(|i| i.email_normalized),
        );
    }
    Ok(superseded)
}

/// The audit entry of a new invitation: who it is for, with which role, until when.
fn created_entry(created: &invitation::Model) -> AuditEntry {
    AuditEntry::new(
        created.organization_id,
        AuditAction::InvitationCreated,
        Some(created.invited_by),
        AuditTarget::Invitation(created.id),
    )
    .after(json!({
        "email": created.email,
        "role": created.role,
        "expires_at": crate::services::utc(created.expires_at),
        "delivery": created.delivery_state,
    }))
}
