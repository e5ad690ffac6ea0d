//! Daily limits on invitation emails, per recipient (resends included) and per organization, so
//! that no Administrator can mail-bomb an address or make the service a spam relay. Counted from
//! the outbox over the last 24 hours, cancelled messages included: a message may have gone out
//! before it was cancelled, and resending in a loop must not be free.

use std::time::Duration;

use chrono::{Duration as ChronoDuration, NaiveDateTime};
use sea_orm::sea_query::{Expr, ExprTrait, Func};
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, FromQueryResult, JoinType, QueryFilter, QuerySelect,
    RelationDef, Select,
};

use crate::entities::timestamp::Timestamp;
use crate::entities::{email_outbox, invitation};
use crate::error::{ApiError, ErrorCode};
use crate::services::now;
use crate::settings::Settings;

const WINDOW_HOURS: i64 = 24;

/// Messages of the window, and when the oldest of them leaves it.
#[derive(FromQueryResult)]
struct Sent {
    count: i64,
    oldest: Option<Timestamp>,
}

/// Refuses, before anything is queued, a request whose emails to `recipients` (normalized
/// addresses) would pass either daily limit of `organization_id`.
pub(super) async fn check<C: ConnectionTrait>(
    db: &C,
    settings: &Settings,
    organization_id: i32,
    recipients: &[String],
) -> Result<(), ApiError> {
    if recipients.is_empty() {
        return Ok(());
    }
    let since = now() - ChronoDuration::hours(WINDOW_HOURS);
    let per_organization = settings.emails_per_organization_per_day;
    if per_organization > 0 {
        let sent = sent_since(since)
            .filter(invitation::Column::OrganizationId.eq(organization_id))
            .into_model::<Sent>()
            .one(db)
            .await?;
        if let Some(sent) = sent
            && sent.count + recipients.len() as i64 > i64::from(per_organization)
        {
            return Err(limit_reached(
                format!("The organization may send {per_organization} invitation emails a day."),
                sent.oldest,
            ));
        }
    }
    let per_recipient = settings.emails_per_recipient_per_day;
    if per_recipient > 0 {
        for chunk in recipients.chunks(500) {
            let busiest = sent_since(since)
                .column_as(invitation::Column::EmailNormalized, "email")
                .filter(invitation::Column::EmailNormalized.is_in(chunk.iter().cloned()))
                .group_by(invitation::Column::EmailNormalized)
                .having(
                    Expr::expr(Func::count(Expr::col((
                        email_outbox::Entity,
                        email_outbox::Column::Id,
                    ))))
                    .gte(per_recipient),
                )
                .into_model::<Sent>()
                .one(db)
                .await?;
            if let Some(sent) = busiest {
                return Err(limit_reached(
                    format!("An address may be sent {per_recipient} invitation emails a day."),
                    sent.oldest,
                ));
            }
        }
    }
    Ok(())
}

/// Outbox messages of invitations created since `since`: their count and oldest creation time.
fn sent_since(since: NaiveDateTime) -> Select<email_outbox::Entity> {
    let to_invitation: RelationDef = email_outbox::Entity::belongs_to(invitation::Entity)
        .from(email_outbox::Column::InvitationId)
        .to(invitation::Column::Id)
        .into();
    email_outbox::Entity::find()
        .select_only()
        .column_as(email_outbox::Column::Id.count(), "count")
        .column_as(email_outbox::Column::CreatedAt.min(), "oldest")
        .join(JoinType::InnerJoin, to_invitation)
        .filter(email_outbox::Column::CreatedAt.gt(since))
}

fn limit_reached(detail: String, oldest: Option<Timestamp>) -> ApiError {
    // The oldest message leaving the window frees the first place.
    let frees_at = oldest.map_or_else(now, |t| t.0) + ChronoDuration::hours(WINDOW_HOURS);
    let wait = (frees_at - now()).to_std().unwrap_or_default();
    let retry_after = wait.max(Duration::from_secs(1));
    ApiError::RetryLater {
        code: ErrorCode::EmailLimitReached,
        detail: format!(
            "{detail} Try again in {} minutes.",
            retry_after.as_secs().div_ceil(60)
        ),
        retry_after,
    }
}
