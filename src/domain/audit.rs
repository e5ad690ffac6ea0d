//! What the audit log records: one action name per kind of change, stable on the wire.

use serde::Serialize;
use utoipa::ToSchema;

/// Kinds of audited change. The `snake.case` names are part of the API: filters use them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub enum AuditAction {
    #[serde(rename = "organization.created")]
    OrganizationCreated,
    #[serde(rename = "organization.renamed")]
    OrganizationRenamed,
    #[serde(rename = "organization.ownership_transferred")]
    OwnershipTransferred,
    #[serde(rename = "invite_link.reset")]
    InviteLinkReset,
    #[serde(rename = "invitation.created")]
    InvitationCreated,
    #[serde(rename = "invitation.superseded")]
    InvitationSuperseded,
    #[serde(rename = "invitation.resent")]
    InvitationResent,
    #[serde(rename = "invitation.revoked")]
    InvitationRevoked,
    #[serde(rename = "invitation.accepted")]
    InvitationAccepted,
    #[serde(rename = "invitation.accept_refused")]
    InvitationAcceptRefused,
    #[serde(rename = "invitation.delivered")]
    InvitationDelivered,
    #[serde(rename = "invitation.delivery_failed")]
    InvitationDeliveryFailed,
    #[serde(rename = "member.joined")]
    MemberJoined,
    #[serde(rename = "member.role_changed")]
    MemberRoleChanged,
    #[serde(rename = "member.removed")]
    MemberRemoved,
    #[serde(rename = "member.sessions_ended")]
    MemberSessionsEnded,
    #[serde(rename = "account.password_changed")]
    PasswordChanged,
    #[serde(rename = "account.password_reset")]
    PasswordReset,
}

impl AuditAction {
    pub const ALL: [AuditAction; 18] = [
        AuditAction::OrganizationCreated,
        AuditAction::OrganizationRenamed,
        AuditAction::OwnershipTransferred,
        AuditAction::InviteLinkReset,
        AuditAction::InvitationCreated,
        AuditAction::InvitationSuperseded,
        AuditAction::InvitationResent,
        AuditAction::InvitationRevoked,
        AuditAction::InvitationAccepted,
        AuditAction::InvitationAcceptRefused,
        AuditAction::InvitationDelivered,
        AuditAction::InvitationDeliveryFailed,
        AuditAction::MemberJoined,
        AuditAction::MemberRoleChanged,
        AuditAction::MemberRemoved,
        AuditAction::MemberSessionsEnded,
        AuditAction::PasswordChanged,
        AuditAction::PasswordReset,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditAction::OrganizationCreated => "organization.created",
            AuditAction::OrganizationRenamed => "organization.renamed",
            AuditAction::OwnershipTransferred => "organization.ownership_transferred",
            AuditAction::InviteLinkReset => "invite_link.reset",
            AuditAction::InvitationCreated => "invitation.created",
            AuditAction::InvitationSuperseded => "invitation.superseded",
            AuditAction::InvitationResent => "invitation.resent",
            AuditAction::InvitationRevoked => "invitation.revoked",
            AuditAction::InvitationAccepted => "invitation.accepted",
            AuditAction::InvitationAcceptRefused => "invitation.accept_refused",
            AuditAction::InvitationDelivered => "invitation.delivered",
            AuditAction::InvitationDeliveryFailed => "invitation.delivery_failed",
            AuditAction::MemberJoined => "member.joined",
            AuditAction::MemberRoleChanged => "member.role_changed",
            AuditAction::MemberRemoved => "member.removed",
            AuditAction::MemberSessionsEnded => "member.sessions_ended",
            AuditAction::PasswordChanged => "account.password_changed",
            AuditAction::PasswordReset => "account.password_reset",
        }
    }

    pub fn parse(raw: &str) -> Option<AuditAction> {
        AuditAction::ALL.into_iter().find(|a| a.as_str() == raw)
    }
}

/// What an entry is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditTarget {
    Organization(i32),
    Invitation(i32),
    User(i32),
}

impl AuditTarget {
    pub const TYPES: [&'static str; 3] = ["organization", "invitation", "user"];

    pub fn parts(self) -> (&'static str, i32) {
        match self {
            AuditTarget::Organization(id) => ("organization", id),
            AuditTarget::Invitation(id) => ("invitation", id),
            AuditTarget::User(id) => ("user", id),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wire_names_parse_back_and_match_serde() {
        for action in AuditAction::ALL {
            assert_eq!(AuditAction::parse(action.as_str()), Some(action));
            assert_eq!(
                serde_json::to_value(action).ok(),
                Some(serde_json::Value::from(action.as_str()))
            );
        }
        assert_eq!(AuditAction::parse("member.deleted"), None);
    }
}
