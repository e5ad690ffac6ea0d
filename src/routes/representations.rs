//! Wire shapes shared by several resources: users, members, membership summaries.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::Role;
use crate::entities::{membership, user};
use crate::error::ApiError;
use crate::services::access::stored_role;
use crate::services::members::{Member, PublicUser};
use crate::services::utc;

/// A user account, as Label Studio shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserBody {
    pub id: i32,
    /// The address as typed at signup.
    pub email: String,
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub date_joined: DateTime<Utc>,
    pub last_activity: Option<DateTime<Utc>>,
}

/// `UserBody` from either shape a user is read in: the whole row or its public columns.
macro_rules! user_body_from {
    ($($source:ty),+) => {$(
        impl From<&$source> for UserBody {
            fn from(user: &$source) -> UserBody {
                UserBody {
                    id: user.id,
                    email: user.email.clone(),
                    username: user.username.clone(),
                    first_name: user.first_name.clone(),
                    last_name: user.last_name.clone(),
                    date_joined: utc(user.date_joined),
                    last_activity: user.last_activity.map(utc),
                }
            }
        }
    )+};
}

user_body_from!(user::Model, PublicUser);

/// The caller's place in an organization.
#[derive(Debug, Serialize, ToSchema)]
pub struct MembershipSummary {
    pub organization_id: i32,
    pub role: Role,
    /// False while pending (`NO`) or deactivated (`DI`).
    pub active: bool,
}

impl MembershipSummary {
    pub fn of(membership: &membership::Model) -> Result<MembershipSummary, ApiError> {
        let role = stored_role(&membership.role)?;
        Ok(MembershipSummary {
            organization_id: membership.organization_id,
            role,
            active: role.is_active(),
        })
    }
}

/// One member of an organization.
#[derive(Debug, Serialize, ToSchema)]
pub struct MemberBody {
    /// The membership id.
    pub id: i32,
    /// The organization id.
    pub organization: i32,
    pub user: UserBody,
    pub role: Role,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Id of the user who invited this member, when known.
    pub invited_by: Option<i32>,
}

impl MemberBody {
    pub fn of(member: &Member) -> Result<MemberBody, ApiError> {
        Ok(MemberBody {
            id: member.id,
            organization: member.organization_id,
            user: UserBody::from(&member.user),
            role: stored_role(&member.role)?,
            created_at: utc(member.created_at),
            updated_at: utc(member.updated_at),
            invited_by: member.invited_by,
        })
    }
}
