//! Organization roles, their wire codes, and the rules for who may grant what to whom.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An organization role, as Label Studio's two-letter code.
///
/// * `OW` Owner: everything; exactly one per organization; changes only through ownership transfer
/// * `AD` Administrator: invites, resets the link, lists members, assigns roles (not to the Owner or themselves)
/// * `MA` Manager: reads the members list
/// * `RE` Reviewer: own profile only
/// * `AN` Annotator: own profile only
/// * `NO` Not Activated ("Pending"): nothing but `whoami` until a role is assigned
/// * `DI` Deactivated: nothing but `whoami`; reactivated by assigning a role
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
pub enum Role {
    #[serde(rename = "OW")]
    Owner,
    #[serde(rename = "AD")]
    Administrator,
    #[serde(rename = "MA")]
    Manager,
    #[serde(rename = "RE")]
    Reviewer,
    #[serde(rename = "AN")]
    Annotator,
    #[serde(rename = "NO")]
    NotActivated,
    #[serde(rename = "DI")]
    Deactivated,
}

/// Why a role grant was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GrantRefusal {
    /// The acting role may not grant roles at all.
    NotAllowed,
    /// Owner is never granted; it moves only through ownership transfer.
    OwnerNotAssignable,
    /// Nobody changes their own role.
    OwnRole,
    /// The Owner's membership is out of reach for anyone but an ownership transfer.
    OwnerProtected,
}

impl Role {
    pub const ALL: [Role; 7] = [
        Role::Owner,
        Role::Administrator,
        Role::Manager,
        Role::Reviewer,
        Role::Annotator,
        Role::NotActivated,
        Role::Deactivated,
    ];

    /// The two-letter wire code.
    pub fn code(self) -> &'static str {
        match self {
            Role::Owner => "OW",
            Role::Administrator => "AD",
            Role::Manager => "MA",
            Role::Reviewer => "RE",
            Role::Annotator => "AN",
            Role::NotActivated => "NO",
            Role::Deactivated => "DI",
        }
    }

    /// The name people read.
    pub fn display_name(self) -> &'static str {
        match self {
            Role::Owner => "Owner",
            Role::Administrator => "Administrator",
            Role::Manager => "Manager",
            Role::Reviewer => "Reviewer",
            Role::Annotator => "Annotator",
            Role::NotActivated => "Not Activated",
            Role::Deactivated => "Deactivated",
        }
    }

    /// Parses a wire code; `None` for anything else.
    pub fn from_code(code: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|role| role.code() == code)
    }

    /// Pending and deactivated members may do nothing but `whoami`.
    pub fn is_active(self) -> bool {
        !matches!(self, Role::NotActivated | Role::Deactivated)
    }

    /// May get and reset the invite link and assign roles.
    pub fn manages_members(self) -> bool {
        matches!(self, Role::Owner | Role::Administrator)
    }

    /// May read the members list.
    pub fn reads_members(self) -> bool {
        matches!(self, Role::Owner | Role::Administrator | Role::Manager)
    }

    /// Roles an invitation may carry.
    pub fn is_invitable(self) -> bool {
        matches!(
            self,
            Role::Administrator | Role::Manager | Role::Reviewer | Role::Annotator
        )
    }

    /// Checks that `actor_role` may invite someone with `role`: the same ceiling as assignment,
    /// narrowed to the roles an invitation may carry.
    pub fn check_invite(actor_role: Role, role: Role) -> Result<(), GrantRefusal> {
        if !actor_role.manages_members() {
            return Err(GrantRefusal::NotAllowed);
        }
        if !role.is_invitable() {
            return Err(GrantRefusal::OwnerNotAssignable);
        }
        Ok(())
    }

    /// Checks that `actor` (with `actor_role`) may set `target`'s role from `current` to `new`.
    pub fn check_grant(
        actor_role: Role,
        actor_user_id: i32,
        target_user_id: i32,
        current: Role,
        new: Role,
    ) -> Result<(), GrantRefusal> {
        if !actor_role.manages_members() {
            return Err(GrantRefusal::NotAllowed);
        }
        if new == Role::Owner {
            return Err(GrantRefusal::OwnerNotAssignable);
        }
        if actor_user_id == target_user_id {
            return Err(GrantRefusal::OwnRole);
        }
        if current == Role::Owner {
            return Err(GrantRefusal::OwnerProtected);
        }
        Ok(())
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_round_trips() {
        for role in Role::ALL {
            assert_eq!(Role::from_code(role.code()), Some(role));
            let json = serde_json::to_string(&role).unwrap_or_default();
            assert_eq!(json, format!("\"{}\"", role.code()));
        }
        assert_eq!(Role::from_code("ow"), None);
    }

    #[test]
    fn only_owner_and_administrator_grant_roles() {
        for actor in Role::ALL {
            let result = Role::check_grant(actor, 1, 2, Role::NotActivated, Role::Annotator);
            assert_eq!(result.is_ok(), actor.manages_members(), "{actor}");
        }
    }

    #[test]
    fn owner_is_never_granted_and_never_touched() {
        for actor in [Role::Owner, Role::Administrator] {
            assert_eq!(
                Role::check_grant(actor, 1, 2, Role::Manager, Role::Owner),
                Err(GrantRefusal::OwnerNotAssignable)
            );
        }
        assert_eq!(
            Role::check_grant(Role::Administrator, 1, 2, Role::Owner, Role::Annotator),
            Err(GrantRefusal::OwnerProtected)
        );
    }

    #[test]
    fn invitations_carry_only_administrator_manager_reviewer_or_annotator() {
        for role in Role::ALL {
            let allowed = Role::check_invite(Role::Administrator, role).is_ok();
            assert_eq!(allowed, role.is_invitable(), "{role}");
        }
        assert!(Role::check_invite(Role::Manager, Role::Annotator).is_err());
    }

    #[test]
    fn nobody_changes_their_own_role() {
        assert_eq!(
            Role::check_grant(Role::Owner, 1, 1, Role::Owner, Role::Administrator),
            Err(GrantRefusal::OwnRole)
        );
    }
}
