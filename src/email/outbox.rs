//! The outbox: messages are written in the same transaction as the change that causes them, so a
//! committed invitation always has its email queued and a rolled-back one never does.

use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, DbErr, EntityTrait, QueryFilter};

use super::templates::Rendered;
use crate::entities::email_outbox;
use crate::services::now;

/// Outbox message states.
pub const QUEUED: &str = "queued";
pub const SENDING: &str = "sending";
pub const SENT: &str = "sent";
pub const FAILED: &str = "failed";
/// A message whose invitation was revoked or replaced before it went out.
pub const CANCELLED: &str = "cancelled";

/// Queues `message` for `recipient`, due at once.
pub async fn enqueue<C: ConnectionTrait>(
    db: &C,
    invitation_id: Option<i32>,
    recipient: &str,
    message: Rendered,
    sender_domain: &str,
) -> Result<email_outbox::Model, DbErr> {
    let at = now();
    email_outbox::ActiveModel {
        invitation_id: Set(invitation_id),
        recipient: Set(recipient.to_owned()),
        subject: Set(message.subject),
        text_body: Set(message.text),
        html_body: Set(message.html),
        // Stable across retries, so a receiver can drop the rare duplicate after a crash mid-send.
        message_id: Set(format!("<{}@{sender_domain}>", uuid::Uuid::new_v4())),
        status: Set(QUEUED.to_owned()),
        attempts: Set(0),
        next_attempt_at: Set(at),
        claimed_until: Set(None),
        last_error: Set(None),
        created_at: Set(at),
        sent_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await
}

/// Cancels the messages of an invitation that have not gone out yet (revoke, resend, supersede),
/// and forgets their bodies, which hold the now dead link.
pub async fn cancel_for_invitations<C: ConnectionTrait>(
    db: &C,
    invitation_ids: Vec<i32>,
) -> Result<(), DbErr> {
    if invitation_ids.is_empty() {
        return Ok(());
    }
    email_outbox::Entity::update_many()
        .col_expr(email_outbox::Column::Status, Expr::value(CANCELLED))
        .col_expr(email_outbox::Column::TextBody, Expr::value(""))
        .col_expr(email_outbox::Column::HtmlBody, Expr::value(""))
        .filter(email_outbox::Column::InvitationId.is_in(invitation_ids))
        .filter(email_outbox::Column::Status.eq(QUEUED))
        .exec(db)
        .await?;
    Ok(())
}
