//! The background sender: claims due outbox messages, delivers them over SMTP, and records the
//! outcome on the message and its invitation. Every instance runs one; claims are single
//! conditional UPDATEs holding a lease (`EMAIL_CLAIM_LEASE`) that starts when the claim is made
//! and is renewed while the message is being sent, so two instances never send the same message
//! unless one stopped mid-send.

use std::time::Duration;

use chrono::{Duration as ChronoDuration, NaiveDateTime, Timelike};
use lettre::message::{Mailbox, MultiPart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, DatabaseTransaction, DbErr, EntityTrait, QueryFilter,
    QueryOrder, QuerySelect,
};
use serde_json::json;
use tokio::sync::watch;

use super::backoff::retry_delay;
use super::outbox::{FAILED, QUEUED, SENDING, SENT};
use crate::db::Db;
use crate::domain::audit::{AuditAction, AuditTarget};
use crate::domain::invitation::DeliveryState;
use crate::entities::{email_outbox, invitation};
use crate::services::audit::{self, AuditEntry};
use crate::services::now;
use crate::settings::Settings;

/// Longest a single SMTP exchange may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(20);

/// What one pass over the due messages did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    pub sent: usize,
    pub retrying: usize,
    pub failed: usize,
}

/// Why a send failed, and whether trying again can help.
struct SendFailure {
    permanent: bool,
    detail: String,
}

pub struct EmailSender {
    settings: Settings,
    db: Db,
    transport: Option<AsyncSmtpTransport<Tokio1Executor>>,
    from: Mailbox,
}

impl EmailSender {
    /// A sender for the configured `SMTP_URL` (none: messages stay queued).
    pub fn new(settings: Settings, db: Db) -> Result<EmailSender, String> {
        let url = settings
            .smtp_url
            .as_ref()
            .map(|url| url.expose().to_owned());
        EmailSender::with_smtp_url(settings, db, url.as_deref())
    }

    /// A sender for `smtp_url`, whatever the settings say (tests point it at their SMTP sink).
    pub fn with_smtp_url(
        settings: Settings,
        db: Db,
        smtp_url: Option<&str>,
    ) -> Result<EmailSender, String> {
        let transport = smtp_url
            .map(|url| {
                AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                    .map(|builder| builder.timeout(Some(SMTP_TIMEOUT)).build())
                    .map_err(|error| format!("invalid SMTP_URL: {error}"))
            })
            .transpose()?;
        let from = settings
            .email_from
            .parse()
            .map_err(|error| format!("invalid EMAIL_FROM: {error}"))?;
        Ok(EmailSender {
            settings,
            db,
            transport,
            from,
        })
    }

    /// Runs until `shutdown` turns true; a pass in progress (and the message in flight) finishes.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        if self.transport.is_none() {
            log::warn!("SMTP_URL is not set: invitation emails stay queued until it is");
            return;
        }
        loop {
            if let Err(error) = self.deliver(None, Some(&shutdown)).await {
                log::error!("email sender pass failed: {error}");
            }
            tokio::select! {
                _ = tokio::time::sleep(self.settings.email_poll_interval) => {}
                _ = shutdown.changed() => break,
            }
            if *shutdown.borrow() {
                break;
            }
        }
        log::info!("email sender stopped");
    }

    /// Claims and sends every message due at `now`, `EMAIL_CONCURRENCY` at a time (tests pass a
    /// later `now` to make retries due).
    pub async fn deliver_due(&self, now: NaiveDateTime) -> Result<DeliveryReport, DbErr> {
        self.deliver(Some(now), None).await
    }

    /// Like `deliver_due`, at the clock's time for each batch when `due_at` is `None`; stops
    /// between batches once `stop` turns true: on shutdown the messages in flight finish and the
    /// rest wait for the next start (or another instance).
    async fn deliver(
        &self,
        due_at: Option<NaiveDateTime>,
        stop: Option<&watch::Receiver<bool>>,
    ) -> Result<DeliveryReport, DbErr> {
        let mut report = DeliveryReport::default();
        let Some(transport) = &self.transport else {
            return Ok(report);
        };
        let concurrency = self.settings.email_concurrency;
        loop {
            if stop.is_some_and(|stop| *stop.borrow()) {
                return Ok(report);
            }
            let now = due_at.unwrap_or_else(now);
            let candidates = self.due_ids(now, concurrency).await?;
            if candidates.is_empty() {
                return Ok(report);
            }
            let mut claimed = Vec::new();
            for id in candidates {
                if let Some(message) = self.claim(id, now).await? {
                    claimed.push(message);
                }
            }
            let outcomes = self.send_renewing(transport, &claimed).await;
            for (message, outcome) in claimed.into_iter().zip(outcomes) {
                match self.record(message, outcome, now).await? {
                    DeliveryState::Sent => report.sent += 1,
                    DeliveryState::Failed => report.failed += 1,
                    DeliveryState::Queued | DeliveryState::NotSent => report.retrying += 1,
                }
            }
        }
    }

    /// At most `limit` ids of messages to take at `now`: those whose sender stopped mid-send
    /// (its lease ran out), then the queued ones in the order they fell due. Two reads, each a
    /// range of `ix_email_outbox_due` (status, then due time) in its own order, reading no more
    /// than `limit` rows: as one query with an OR, the databases sorted every due message to
    /// find the first few, which with a long queue took seconds a batch.
    async fn due_ids(&self, now: NaiveDateTime, limit: usize) -> Result<Vec<i32>, DbErr> {
        let first_ids = |condition: Condition, limit: usize| {
            email_outbox::Entity::find()
                .select_only()
                .column(email_outbox::Column::Id)
                .filter(condition)
                .order_by_asc(email_outbox::Column::NextAttemptAt)
                .limit(u64::try_from(limit).unwrap_or(u64::MAX))
                .into_tuple::<i32>()
                .all(self.db.read())
        };
        let mut ids = first_ids(lease_ran_out(now), limit).await?;
        let left = limit.saturating_sub(ids.len());
        if left > 0 {
            ids.extend(first_ids(queued_and_due(now), left).await?);
        }
        Ok(ids)
    }

    /// Takes the message if nobody else has: one conditional UPDATE, atomic on every backend.
    /// The lease runs from this moment, not from the start of the pass.
    async fn claim(
        &self,
        id: i32,
        now: NaiveDateTime,
    ) -> Result<Option<email_outbox::Model>, DbErr> {
        let updated = email_outbox::Entity::update_many()
            .col_expr(email_outbox::Column::Status, Expr::value(SENDING))
            .col_expr(
                email_outbox::Column::ClaimedUntil,
                Expr::value(self.lease_from_now()),
            )
            .col_expr(
                email_outbox::Column::Attempts,
                Expr::col(email_outbox::Column::Attempts).add(1),
            )
            .filter(email_outbox::Column::Id.eq(id))
            .filter(due(now));
        let updated = self
            .db
            .transaction(async move |txn| updated.exec(txn).await)
            .await?;
        if updated.rows_affected != 1 {
            return Ok(None);
        }
        email_outbox::Entity::find_by_id(id)
            .one(self.db.read())
            .await
    }

    /// When a lease taken now ends, in whole seconds: stored exactly on every database (MariaDB
    /// keeps no fractions), so a renewal can name the lease it extends.
    fn lease_from_now(&self) -> NaiveDateTime {
        let lease = ChronoDuration::from_std(self.settings.email_claim_lease)
            .unwrap_or(ChronoDuration::minutes(5));
        let end = now() + lease + ChronoDuration::seconds(1);
        end.with_nanosecond(0).unwrap_or(end)
    }

    /// Sends the claimed messages at once, renewing their leases every third of a lease until
    /// every send is over, so a slow SMTP server never lets another instance take them.
    async fn send_renewing(
        &self,
        transport: &AsyncSmtpTransport<Tokio1Executor>,
        claimed: &[email_outbox::Model],
    ) -> Vec<Result<(), SendFailure>> {
        let sending = futures_util::future::join_all(
            claimed.iter().map(|message| self.send(transport, message)),
        );
        tokio::pin!(sending);
        let mut leases: Vec<(i32, Option<NaiveDateTime>)> = claimed
            .iter()
            .map(|message| (message.id, message.claimed_until))
            .collect();
        let mut renewal = tokio::time::interval(self.settings.email_claim_lease / 3);
        renewal.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        renewal.tick().await;
        loop {
            tokio::select! {
                outcomes = &mut sending => return outcomes,
                _ = renewal.tick() => self.renew(&mut leases).await,
            }
        }
    }

    /// Extends each lease this sender still holds; a lease another instance took over (this one
    /// was too late) is left alone and logged.
    async fn renew(&self, leases: &mut [(i32, Option<NaiveDateTime>)]) {
        for (id, held) in leases.iter_mut() {
            let Some(until) = *held else { continue };
            let extended = self.lease_from_now();
            let update = email_outbox::Entity::update_many()
                .col_expr(email_outbox::Column::ClaimedUntil, Expr::value(extended))
                .filter(email_outbox::Column::Id.eq(*id))
                .filter(email_outbox::Column::Status.eq(SENDING))
                .filter(email_outbox::Column::ClaimedUntil.eq(until));
            match self
                .db
                .transaction(async move |txn| update.exec(txn).await)
                .await
            {
                Ok(done) if done.rows_affected == 1 => *held = Some(extended),
                Ok(_) => {
                    log::warn!("email {id}: the claim was lost before its send finished");
                    *held = None;
                }
                Err(error) => log::warn!("email {id}: renewing the claim failed: {error}"),
            }
        }
    }

    async fn send(
        &self,
        transport: &AsyncSmtpTransport<Tokio1Executor>,
        message: &email_outbox::Model,
    ) -> Result<(), SendFailure> {
        let permanent = |detail: String| SendFailure {
            permanent: true,
            detail,
        };
        let to: Mailbox = message
            .recipient
            .parse()
            .map_err(|_| permanent("the recipient address cannot be used".into()))?;
        let email = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(message.subject.clone())
            .message_id(Some(message.message_id.clone()))
            .multipart(MultiPart::alternative_plain_html(
                message.text_body.clone(),
                message.html_body.clone(),
            ))
            .map_err(|error| permanent(format!("the message cannot be built: {error}")))?;
        transport
            .send(email)
            .await
            .map(|_| ())
            .map_err(|error| SendFailure {
                permanent: error.is_permanent(),
                detail: error.to_string(),
            })
    }

    /// Stores the outcome on the message and its invitation; returns the new delivery state.
    async fn record(
        &self,
        message: email_outbox::Model,
        outcome: Result<(), SendFailure>,
        now: NaiveDateTime,
    ) -> Result<DeliveryState, DbErr> {
        let attempts = message.attempts;
        let max_attempts = i32::try_from(self.settings.email_max_attempts).unwrap_or(i32::MAX);
        let (state, error) = match outcome {
            Ok(()) => (DeliveryState::Sent, None),
            Err(failure) if failure.permanent || attempts >= max_attempts => {
                (DeliveryState::Failed, Some(failure.detail))
            }
            Err(failure) => (DeliveryState::Queued, Some(failure.detail)),
        };
        let error: Option<String> = error.map(|detail| detail.chars().take(480).collect());
        match &state {
            DeliveryState::Sent => crate::metrics::EMAILS_SENT.inc(),
            DeliveryState::Failed => crate::metrics::EMAIL_FAILURES
                .with_label_values(&["gave_up"])
                .inc(),
            DeliveryState::Queued | DeliveryState::NotSent => crate::metrics::EMAIL_FAILURES
                .with_label_values(&["will_retry"])
                .inc(),
        }
        match (&state, &error) {
            (DeliveryState::Sent, _) => {
                log::info!("email {} sent (attempt {attempts})", message.id)
            }
            (_, Some(_)) => log::warn!(
                "email {} attempt {attempts} failed; now {}",
                message.id,
                state.as_str()
            ),
            _ => {}
        }
        let invitation_id = message.invitation_id;
        let mut row: email_outbox::ActiveModel = message.into();
        row.claimed_until = Set(None);
        row.last_error = Set(error.clone());
        match state {
            DeliveryState::Queued => {
                let delay = retry_delay(
                    u32::try_from(attempts).unwrap_or(1),
                    self.settings.email_retry_base,
                );
                row.status = Set(QUEUED.to_owned());
                row.next_attempt_at = Set(
                    now + ChronoDuration::from_std(delay).unwrap_or(ChronoDuration::minutes(5))
                );
            }
            DeliveryState::Sent | DeliveryState::Failed | DeliveryState::NotSent => {
                row.status = Set(if state == DeliveryState::Sent {
                    SENT
                } else {
                    FAILED
                }
                .to_owned());
                row.sent_at = Set((state == DeliveryState::Sent).then_some(now));
                // The bodies hold the invitation link; once delivery is over they are not kept.
                row.text_body = Set(String::new());
                row.html_body = Set(String::new());
            }
        }
        // The message, its invitation and the audit entry of a finished delivery change together.
        self.db
            .transaction(async move |txn| {
                row.update(txn).await?;
                if let Some(invitation_id) = invitation_id {
                    invitation::Entity::update_many()
                        .col_expr(
                            invitation::Column::DeliveryState,
                            Expr::value(state.as_str()),
                        )
                        .col_expr(invitation::Column::DeliveryAttempts, Expr::value(attempts))
                        .col_expr(
                            invitation::Column::DeliveryError,
                            Expr::value(error.clone()),
                        )
                        .col_expr(
                            invitation::Column::DeliveredAt,
                            Expr::value((state == DeliveryState::Sent).then_some(now)),
                        )
                        .filter(invitation::Column::Id.eq(invitation_id))
                        .exec(txn)
                        .await?;
                    let finished = match state {
                        DeliveryState::Sent => Some(AuditAction::InvitationDelivered),
                        DeliveryState::Failed => Some(AuditAction::InvitationDeliveryFailed),
                        DeliveryState::Queued | DeliveryState::NotSent => None,
                    };
                    if let Some(action) = finished {
                        record_delivery(txn, invitation_id, action, attempts, error).await?;
                    }
                }
                Ok::<_, DbErr>(())
            })
            .await?;
        Ok(state)
    }
}

/// The audit entry of a delivery that is over; the sender acts for nobody, so it has no actor.
async fn record_delivery(
    txn: &DatabaseTransaction,
    invitation_id: i32,
    action: AuditAction,
    attempts: i32,
    error: Option<String>,
) -> Result<(), DbErr> {
    let Some(invitation) = invitation::Entity::find_by_id(invitation_id)
        .one(txn)
        .await?
    else {
        return Ok(());
    };
    let entry = AuditEntry::new(
        invitation.organization_id,
        action,
        None,
        AuditTarget::Invitation(invitation_id),
    )
    .after(json!({ "attempts": attempts, "error": error }));
    audit::record(txn, [entry])
        .await
        .map_err(|error| DbErr::Custom(error.to_string()))
}

/// Messages a sender may take at `now`: queued and due, or claimed by a sender whose lease ran out.
fn due(now: NaiveDateTime) -> Condition {
    Condition::any()
        .add(queued_and_due(now))
        .add(lease_ran_out(now))
}

fn queued_and_due(now: NaiveDateTime) -> Condition {
    Condition::all()
        .add(email_outbox::Column::Status.eq(QUEUED))
        .add(email_outbox::Column::NextAttemptAt.lte(now))
}

/// Claimed by a sender that has not recorded an outcome within its lease: it stopped.
fn lease_ran_out(now: NaiveDateTime) -> Condition {
    Condition::all()
        .add(email_outbox::Column::Status.eq(SENDING))
        .add(email_outbox::Column::ClaimedUntil.lt(now))
}
