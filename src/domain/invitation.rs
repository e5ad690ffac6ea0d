//! Invitation lifecycle and delivery states, and the address lists people type.

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Where an invitation is in its life. `expired` is never stored: it is a pending invitation
/// whose `expires_at` has passed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum InvitationStatus {
    Pending,
    Accepted,
    Revoked,
    Expired,
    /// A newer invitation for the same address replaced it.
    Superseded,
}

impl InvitationStatus {
    /// The stored form; `Expired` is stored as `pending`.
    pub fn stored(self) -> &'static str {
        match self {
            InvitationStatus::Pending | InvitationStatus::Expired => "pending",
            InvitationStatus::Accepted => "accepted",
            InvitationStatus::Revoked => "revoked",
            InvitationStatus::Superseded => "superseded",
        }
    }

    /// The status a client sees, given what is stored and the time.
    pub fn effective(stored: &str, expires_at: NaiveDateTime, now: NaiveDateTime) -> Self {
        match stored {
            "accepted" => InvitationStatus::Accepted,
            "revoked" => InvitationStatus::Revoked,
            "superseded" => InvitationStatus::Superseded,
            _ if expires_at <= now => InvitationStatus::Expired,
            _ => InvitationStatus::Pending,
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(raw.to_owned())).ok()
    }
}

/// How far the invitation email got.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Waiting for the sender (or for its next retry).
    Queued,
    /// Accepted by the SMTP server.
    Sent,
    /// Given up after the last retry; `last_error` says why.
    Failed,
    /// `send_email: false`: the link was returned to the inviter instead.
    NotSent,
}

impl DeliveryState {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryState::Queued => "queued",
            DeliveryState::Sent => "sent",
            DeliveryState::Failed => "failed",
            DeliveryState::NotSent => "not_sent",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        serde_json::from_value(serde_json::Value::String(raw.to_owned())).ok()
    }
}

/// Splits what a person typed (`"a@x.org, b@y.org"`, one per line, or `;`-separated) into
/// candidate addresses; empty pieces are dropped.
pub fn split_addresses(typed: &str) -> Vec<String> {
    typed
        .split(|c: char| c == ',' || c == ';' || c.is_whitespace())
        .filter(|piece| !piece.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{Duration, Utc};

    #[test]
    fn typed_lists_split_on_commas_semicolons_and_lines() {
        assert_eq!(
            split_addresses(" a@x.org, b@y.org;c@z.org\n d@w.org ,, "),
            ["a@x.org", "b@y.org", "c@z.org", "d@w.org"]
        );
        assert!(split_addresses(" , ").is_empty());
    }

    #[test]
    fn a_pending_invitation_past_its_expiry_reads_as_expired() {
        let now = Utc::now().naive_utc();
        let past = now - Duration::seconds(1);
        let future = now + Duration::days(1);
        assert_eq!(
            InvitationStatus::effective("pending", past, now),
            InvitationStatus::Expired
        );
        assert_eq!(
            InvitationStatus::effective("pending", future, now),
            InvitationStatus::Pending
        );
        assert_eq!(
            InvitationStatus::effective("accepted", past, now),
            InvitationStatus::Accepted
        );
        assert_eq!(InvitationStatus::Expired.stored(), "pending");
    }
}
