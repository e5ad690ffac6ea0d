//! Email invitations: bulk invite with a role, the lifecycle (pending, accepted, revoked, expired,
//! superseded), resend and revoke, and accepting one. Rows and their outgoing messages are written
//! in one transaction; the email sender delivers them later.

use std::collections::HashSet;

use chrono::{Duration as ChronoDuration, NaiveDateTime};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait, LikeExpr};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, JoinType,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, RelationTrait, Select, TransactionTrait,
};

use super::access::{OrganizationRef, acting_in, live_membership, stored_role};
use super::{is_unique_violation, now};
use crate::auth::Caller;
use crate::domain::invitation::{DeliveryState, InvitationStatus};
use crate::domain::role::GrantRefusal;
use crate::domain::token::{random_url_token, token_hash};
use crate::domain::{EmailAddress, Role};
use crate::email::outbox;
use crate::email::templates::{self, InvitationEmail};
use crate::entities::{invitation, membership, organization, user};
use crate::error::{ApiError, ErrorCode};
use crate::routes::pagination::PageRequest;
use crate::state::AppState;

pub const DEFAULT_EXPIRY_DAYS: u32 = 7;

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
) -> Result<Vec<AddressResult>, ApiError> {
    let txn = state.db.begin().await?;
    let acting = acting_in(
        &txn,
        caller,
        caller.organization_id,
        OrganizationRef::Token,
        Role::manages_members,
    )
    .await?;
    Role::check_invite(acting.role, request.role).map_err(invite_refusal)?;
    let organization = organization_of(&txn, caller.organization_id).await?;

    let mut results = Vec::with_capacity(request.addresses.len());
    let mut to_invite: Vec<(usize, EmailAddress)> = Vec::new();
    let mut seen = HashSet::new();
    for (index, raw) in request.addresses.iter().enumerate() {
        let parsed = EmailAddress::parse(raw);
        let outcome = match &parsed {
            None => Outcome::InvalidEmail,
            Some(email) if !seen.insert(email.normalized().to_owned()) => Outcome::Duplicate,
            Some(email) => {
                to_invite.push((index, email.clone()));
                Outcome::Invited
            }
        };
        results.push(AddressResult {
            email: parsed.map_or_else(|| raw.trim().to_owned(), |e| e.as_typed().to_owned()),
            outcome,
            invitation_id: None,
            invite_url: None,
        });
    }

    let normalized: Vec<String> = to_invite
        .iter()
        .map(|(_, e)| e.normalized().to_owned())
        .collect();
    let members = member_emails(&txn, organization.id, &normalized).await?;
    let superseded = supersede_pending(&txn, organization.id, &normalized).await?;
    let expires_at = now() + ChronoDuration::days(i64::from(request.expires_in_days));
    let invitation = Invitation {
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
        let (created, token) = invitation.create(&txn, &email).await?;
        result.invitation_id = Some(created.id);
        result.invite_url = (!request.send_email).then(|| state.invite_url(&token));
    }
    txn.commit().await?;
    log::info!(
        "user {} invited {} addresses to organization {} as {}",
        caller.user.id,
        results.iter().filter(|r| r.invitation_id.is_some()).count(),
        organization.id,
        request.role
    );
    Ok(results)
}

/// Everything needed to create invitations of one request.
struct Invitation<'a> {
    state: &'a AppState,
    organization: &'a organization::Model,
    inviter: &'a user::Model,
    role: Role,
    expires_at: NaiveDateTime,
    send_email: bool,
}

impl Invitation<'_> {
    /// Inserts a pending invitation (and queues its email); returns it with its raw token.
    async fn create(
        &self,
        txn: &DatabaseTransaction,
        email: &EmailAddress,
    ) -> Result<(invitation::Model, String), ApiError> {
        let token = random_url_token();
        let at = now();
        let inserted = invitation::ActiveModel {
            organization_id: Set(self.organization.id),
            email: Set(email.as_typed().to_owned()),
            email_normalized: Set(email.normalized().to_owned()),
            role: Set(self.role.code().to_owned()),
            token_hash: Set(token_hash(&token)),
            status: Set(InvitationStatus::Pending.stored().to_owned()),
            pending_key: Set(Some(email.normalized().to_owned())),
            invited_by: Set(self.inviter.id),
            accepted_by: Set(None),
            created_at: Set(at),
            updated_at: Set(at),
            expires_at: Set(self.expires_at),
            accepted_at: Set(None),
            revoked_at: Set(None),
            delivery_state: Set(self.initial_delivery().as_str().to_owned()),
            delivery_attempts: Set(0),
            delivery_error: Set(None),
            delivered_at: Set(None),
            ..Default::default()
        }
        .insert(txn)
        .await
        .map_err(concurrent_change)?;
        if self.send_email {
            self.queue_email(txn, &inserted, &token).await?;
        }
        Ok((inserted, token))
    }

    fn initial_delivery(&self) -> DeliveryState {
        if self.send_email {
            DeliveryState::Queued
        } else {
            DeliveryState::NotSent
        }
    }

    async fn queue_email(
        &self,
        txn: &DatabaseTransaction,
        invitation: &invitation::Model,
        token: &str,
    ) -> Result<(), ApiError> {
        let link = self.state.invite_url(token);
        let inviter = display_name(self.inviter);
        let message = templates::invitation(&InvitationEmail {
            organization: &self.organization.title,
            inviter: &inviter,
            role: self.role,
            expires_at: super::utc(invitation.expires_at),
            link: &link,
        });
        let domain = self
            .state
            .settings
            .email_from
            .rsplit('@')
            .next()
            .unwrap_or("localhost");
        let domain = domain.trim_end_matches('>');
        outbox::enqueue(txn, Some(invitation.id), &invitation.email, message, domain).await?;
        Ok(())
    }
}

fn display_name(user: &user::Model) -> String {
    let name = format!("{} {}", user.first_name, user.last_name);
    match name.trim() {
        "" => user.email.clone(),
        name => name.to_owned(),
    }
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
    emails: &[String],
) -> Result<HashSet<String>, ApiError> {
    let mut superseded = HashSet::new();
    for chunk in emails.chunks(500) {
        let pending = invitation::Entity::find()
            .filter(invitation::Column::OrganizationId.eq(organization_id))
            .filter(invitation::Column::PendingKey.is_in(chunk.iter().cloned()))
            .all(db)
            .await?;
        let ids: Vec<i32> = pending.iter().map(|i| i.id).collect();
        close(db, &ids, InvitationStatus::Superseded).await?;
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

/// Ends invitations with `status` (superseded or revoked) and cancels their unsent emails.
async fn close<C: ConnectionTrait>(
    db: &C,
    ids: &[i32],
    status: InvitationStatus,
) -> Result<(), ApiError> {
    if ids.is_empty() {
        return Ok(());
    }
    let at = now();
    let mut update = invitation::Entity::update_many()
        .col_expr(invitation::Column::Status, Expr::value(status.stored()))
        .col_expr(
            invitation::Column::PendingKey,
            Expr::value(Option::<String>::None),
        )
        .col_expr(invitation::Column::UpdatedAt, Expr::value(at));
    if status == InvitationStatus::Revoked {
        update = update.col_expr(invitation::Column::RevokedAt, Expr::value(at));
    }
    update
        .filter(invitation::Column::Id.is_in(ids.iter().copied()))
        .exec(db)
        .await?;
    outbox::cancel_for_invitations(db, ids.to_vec()).await?;
    Ok(())
}

async fn organization_of<C: ConnectionTrait>(
    db: &C,
    organization_id: i32,
) -> Result<organization::Model, ApiError> {
    organization::Entity::find_by_id(organization_id)
        .one(db)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::OrganizationNotFound, "No such organization."))
}

fn concurrent_change(error: sea_orm::DbErr) -> ApiError {
    if is_unique_violation(&error) {
        ApiError::new(
            ErrorCode::ConcurrentChange,
            "Another request invited the same address at the same moment; try again.",
        )
    } else {
        error.into()
    }
}

fn invite_refusal(refusal: GrantRefusal) -> ApiError {
    match refusal {
        GrantRefusal::NotAllowed => {
            ApiError::new(ErrorCode::PermissionDenied, "Your role may not invite.")
        }
        _ => ApiError::new(
            ErrorCode::RoleNotAssignable,
            "An invitation may carry AD, MA, RE or AN.",
        ),
    }
}

// ----- finding and using invitations -------------------------------------------------------

/// The invitation a raw token belongs to, if any.
pub async fn find_by_token<C: ConnectionTrait>(
    db: &C,
    token: &str,
) -> Result<Option<invitation::Model>, ApiError> {
    Ok(invitation::Entity::find()
        .filter(invitation::Column::TokenHash.eq(token_hash(token)))
        .one(db)
        .await?)
}

/// Refuses an invitation that can no longer be used, with a code per reason.
pub fn ensure_usable(invitation: &invitation::Model) -> Result<(), ApiError> {
    let refusal = |code, detail: &str| Err(ApiError::new(code, detail));
    match InvitationStatus::effective(&invitation.status, invitation.expires_at, now()) {
        InvitationStatus::Pending => Ok(()),
        InvitationStatus::Expired => refusal(
            ErrorCode::InvitationExpired,
            "This invitation has expired; ask for a new one.",
        ),
        InvitationStatus::Revoked => {
            refusal(ErrorCode::InvitationRevoked, "This invitation was revoked.")
        }
        InvitationStatus::Accepted => refusal(
            ErrorCode::InvitationUsed,
            "This invitation has already been used.",
        ),
        InvitationStatus::Superseded => refusal(
            ErrorCode::InvitationSuperseded,
            "A newer invitation replaced this one; use the link in the latest email.",
        ),
    }
}

/// Checks that `email` is the invited address and that the inviter may still grant the role.
/// Nothing is consumed when this fails.
pub async fn ensure_acceptable<C: ConnectionTrait>(
    db: &C,
    invitation: &invitation::Model,
    email: &EmailAddress,
) -> Result<Role, ApiError> {
    ensure_usable(invitation)?;
    if invitation.email_normalized != email.normalized() {
        log::warn!(
            "refused an invitation {} for another address",
            invitation.id
        );
        return Err(ApiError::new(
            ErrorCode::InvitationEmailMismatch,
            "This invitation was sent to another address; sign up with that address.",
        ));
    }
    let role = stored_role(&invitation.role)?;
    let inviter_role = live_membership(db, invitation.organization_id, invitation.invited_by)
        .await?
        .map(|m| stored_role(&m.role))
        .transpose()?;
    if inviter_role.is_none_or(|inviter| Role::check_invite(inviter, role).is_err()) {
        log::warn!(
            "refused invitation {}: its inviter may no longer grant {role}",
            invitation.id
        );
        return Err(ApiError::new(
            ErrorCode::InvitationInviterNotAllowed,
            "The person who invited you may no longer grant this role; ask for a new invitation.",
        ));
    }
    Ok(role)
}

/// Marks the invitation accepted by `user_id`, unless someone else got there first.
pub async fn consume<C: ConnectionTrait>(
    db: &C,
    invitation: &invitation::Model,
    user_id: i32,
) -> Result<(), ApiError> {
    let at = now();
    let updated = invitation::Entity::update_many()
        .col_expr(
            invitation::Column::Status,
            Expr::value(InvitationStatus::Accepted.stored()),
        )
        .col_expr(
            invitation::Column::PendingKey,
            Expr::value(Option::<String>::None),
        )
        .col_expr(invitation::Column::AcceptedBy, Expr::value(user_id))
        .col_expr(invitation::Column::AcceptedAt, Expr::value(at))
        .col_expr(invitation::Column::UpdatedAt, Expr::value(at))
        .filter(invitation::Column::Id.eq(invitation.id))
        .filter(invitation::Column::Status.eq(InvitationStatus::Pending.stored()))
        .exec(db)
        .await?;
    if updated.rows_affected != 1 {
        return Err(ApiError::new(
            ErrorCode::InvitationUsed,
            "This invitation has already been used.",
        ));
    }
    Ok(())
}

/// What an existing account gets by accepting an invitation while signed in.
pub struct Accepted {
    pub membership: membership::Model,
    pub tokens: super::tokens::TokenPair,
}

/// An existing account accepts an invitation sent to its address.
pub async fn accept(state: &AppState, caller: &Caller, token: &str) -> Result<Accepted, ApiError> {
    let txn = state.db.begin().await?;
    let invitation = find_by_token(&txn, token).await?.ok_or_else(|| {
        ApiError::new(
            ErrorCode::InviteTokenUnknown,
            "No invitation has this token.",
        )
    })?;
    let email = EmailAddress::parse(&caller.user.email)
        .ok_or_else(|| ApiError::Internal("stored email does not parse".into()))?;
    let role = ensure_acceptable(&txn, &invitation, &email).await?;
    let existing = membership::Entity::find()
        .filter(membership::Column::OrganizationId.eq(invitation.organization_id))
        .filter(membership::Column::UserId.eq(caller.user.id))
        .one(&txn)
        .await?;
    let membership = match existing {
        Some(live) if live.deleted_at.is_none() => {
            return Err(ApiError::new(
                ErrorCode::AlreadyMember,
                "You are already a member of this organization.",
            ));
        }
        // A former member comes back: the history row is reused, with the invited role.
        Some(removed) => {
            let mut row: membership::ActiveModel = removed.into();
            row.role = Set(role.code().to_owned());
            row.invited_by = Set(Some(invitation.invited_by));
            row.deleted_at = Set(None);
            row.updated_at = Set(now());
            row.update(&txn).await?
        }
        None => {
            super::accounts::insert_membership(
                &txn,
                invitation.organization_id,
                caller.user.id,
                role,
                Some(invitation.invited_by),
            )
            .await?
        }
    };
    consume(&txn, &invitation, caller.user.id).await?;
    let mut account: user::ActiveModel = caller.user.clone().into();
    account.active_organization_id = Set(Some(invitation.organization_id));
    account.update(&txn).await?;
    let tokens = super::tokens::issue_pair(
        &txn,
        state,
        caller.user.id,
        invitation.organization_id,
        role,
    )
    .await?;
    txn.commit().await?;
    log::info!(
        "user {} accepted invitation {} into organization {} as {role}",
        caller.user.id,
        invitation.id,
        invitation.organization_id
    );
    Ok(Accepted { membership, tokens })
}

// ----- managing invitations ----------------------------------------------------------------

/// Filters of the invitations list.
#[derive(Debug, Default)]
pub struct InvitationQuery {
    pub status: Option<InvitationStatus>,
    pub email: Option<String>,
    pub role: Option<Role>,
    pub page: Option<PageRequest>,
}

/// One page of invitations, newest first, and how many match.
pub async fn list(
    state: &AppState,
    caller: &Caller,
    query: &InvitationQuery,
) -> Result<(u64, Vec<invitation::Model>), ApiError> {
    managing(&state.db, caller).await?;
    let select = filtered(caller.organization_id, query, now());
    let count = select.clone().count(&state.db).await?;
    let page = query.page.unwrap_or(PageRequest {
        page: 1,
        page_size: 20,
    });
    let rows = select
        .order_by_desc(invitation::Column::Id)
        .offset(page.offset())
        .limit(page.page_size)
        .all(&state.db)
        .await?;
    Ok((count, rows))
}

fn filtered(
    organization_id: i32,
    query: &InvitationQuery,
    at: NaiveDateTime,
) -> Select<invitation::Entity> {
    let mut select =
        invitation::Entity::find().filter(invitation::Column::OrganizationId.eq(organization_id));
    if let Some(status) = query.status {
        select = select.filter(invitation::Column::Status.eq(status.stored()));
        select = match status {
            InvitationStatus::Pending => select.filter(invitation::Column::ExpiresAt.gt(at)),
            InvitationStatus::Expired => select.filter(invitation::Column::ExpiresAt.lte(at)),
            _ => select,
        };
    }
    if let Some(email) = query.email.as_deref() {
        let escaped = email
            .to_lowercase()
            .replace('!', "!!")
            .replace('%', "!%")
            .replace('_', "!_");
        select = select.filter(
            Expr::col(invitation::Column::EmailNormalized)
                .like(LikeExpr::new(format!("%{escaped}%")).escape('!')),
        );
    }
    if let Some(role) = query.role {
        select = select.filter(invitation::Column::Role.eq(role.code()));
    }
    select
}

/// One invitation of the caller's organization.
pub async fn get(
    state: &AppState,
    caller: &Caller,
    id: i32,
) -> Result<invitation::Model, ApiError> {
    managing(&state.db, caller).await?;
    in_organization(&state.db, caller.organization_id, id).await
}

/// A new token and expiry for a pending or expired invitation, and a new email; the old link
/// stops working. Returns the invitation and, when `send_email` is false, the new link.
pub async fn resend(
    state: &AppState,
    caller: &Caller,
    id: i32,
    expires_in_days: u32,
    send_email: bool,
) -> Result<(invitation::Model, Option<String>), ApiError> {
    let txn = state.db.begin().await?;
    let acting = managing(&txn, caller).await?;
    let current = in_organization(&txn, caller.organization_id, id).await?;
    if current.status != InvitationStatus::Pending.stored() {
        return Err(not_pending());
    }
    let role = stored_role(&current.role)?;
    Role::check_invite(acting.role, role).map_err(invite_refusal)?;
    let organization = organization_of(&txn, caller.organization_id).await?;
    outbox::cancel_for_invitations(&txn, vec![current.id]).await?;
    let invitation = Invitation {
        state,
        organization: &organization,
        inviter: &caller.user,
        role,
        expires_at: now() + ChronoDuration::days(i64::from(expires_in_days)),
        send_email,
    };
    let token = random_url_token();
    let mut row: invitation::ActiveModel = current.into();
    row.token_hash = Set(token_hash(&token));
    row.expires_at = Set(invitation.expires_at);
    row.invited_by = Set(caller.user.id);
    row.updated_at = Set(now());
    row.delivery_state = Set(invitation.initial_delivery().as_str().to_owned());
    row.delivery_attempts = Set(0);
    row.delivery_error = Set(None);
    row.delivered_at = Set(None);
    let updated = row.update(&txn).await?;
    if send_email {
        invitation.queue_email(&txn, &updated, &token).await?;
    }
    txn.commit().await?;
    log::info!("user {} resent invitation {}", caller.user.id, updated.id);
    Ok((updated, (!send_email).then(|| state.invite_url(&token))))
}

/// Revokes a pending invitation by id.
pub async fn revoke(
    state: &AppState,
    caller: &Caller,
    id: i32,
) -> Result<invitation::Model, ApiError> {
    let txn = state.db.begin().await?;
    managing(&txn, caller).await?;
    let current = in_organization(&txn, caller.organization_id, id).await?;
    if current.status != InvitationStatus::Pending.stored() {
        return Err(not_pending());
    }
    close(&txn, &[current.id], InvitationStatus::Revoked).await?;
    let revoked = in_organization(&txn, caller.organization_id, id).await?;
    txn.commit().await?;
    log::info!("user {} revoked invitation {id}", caller.user.id);
    Ok(revoked)
}

/// Revokes the pending invitation of an address (Label Studio's `POST /api/invite/revoke`).
pub async fn revoke_by_email(
    state: &AppState,
    caller: &Caller,
    email: &EmailAddress,
) -> Result<invitation::Model, ApiError> {
    let pending = invitation::Entity::find()
        .filter(invitation::Column::OrganizationId.eq(caller.organization_id))
        .filter(invitation::Column::PendingKey.eq(email.normalized()))
        .one(&state.db)
        .await?;
    match pending {
        Some(pending) => revoke(state, caller, pending.id).await,
        None => {
            managing(&state.db, caller).await?;
            Err(ApiError::new(
                ErrorCode::InvitationNotFound,
                "This address has no pending invitation.",
            ))
        }
    }
}

async fn managing<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
) -> Result<super::access::Acting, ApiError> {
    acting_in(
        db,
        caller,
        caller.organization_id,
        OrganizationRef::Token,
        Role::manages_members,
    )
    .await
}

async fn in_organization<C: ConnectionTrait>(
    db: &C,
    organization_id: i32,
    id: i32,
) -> Result<invitation::Model, ApiError> {
    invitation::Entity::find_by_id(id)
        .filter(invitation::Column::OrganizationId.eq(organization_id))
        .one(db)
        .await?
        .ok_or_else(|| ApiError::new(ErrorCode::InvitationNotFound, "No such invitation."))
}

fn not_pending() -> ApiError {
    ApiError::new(
        ErrorCode::InvitationNotPending,
        "Only a pending or expired invitation can be resent or revoked.",
    )
}
