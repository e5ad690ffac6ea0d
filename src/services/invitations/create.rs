use chrono::NaiveDateTime;
use sea_orm::ActiveValue::Set;
use sea_orm::{ActiveModelTrait, DatabaseTransaction};

use crate::domain::invitation::{DeliveryState, InvitationStatus};
use crate::domain::token::{random_url_token, token_hash};
use crate::domain::{EmailAddress, Role};
use crate::email::outbox;
use crate::email::templates::{self, InvitationEmail};
use crate::entities::{invitation, organization, user};
use crate::error::{ApiError, ErrorCode};
use crate::services::{is_unique_violation, now};
use crate::state::AppState;

/// Everything needed to create the invitations of one request.
pub(super) struct NewInvitations<'a> {
    pub(super) state: &'a AppState,
    pub(super) organization: &'a organization::Model,
    pub(super) inviter: &'a user::Model,
    pub(super) role: Role,
    pub(super) expires_at: NaiveDateTime,
    pub(super) send_email: bool,
}

impl NewInvitations<'_> {
    /// Inserts a pending invitation (and queues its email); returns it with its raw token.
    pub(super) async fn create(
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

    pub(super) fn initial_delivery(&self) -> DeliveryState {
        if self.send_email {
            DeliveryState::Queued
        } else {
            DeliveryState::NotSent
        }
    }

    pub(super) async fn queue_email(
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
            expires_at: crate::services::utc(invitation.expires_at),
            link: &link,
        });
        let domain = self.state.settings.email_domain();
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
