//! The organization invite link: `GET /api/invite`, `POST /api/invite/reset-token`,
//! `GET /api/invite/lookup`.

use actix_web::{get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::domain::Role;
use crate::entities::organization;
use crate::error::{ApiError, ErrorCode, Problem};
use crate::http::input::Query;
use crate::http::rate_limit::Limited;
use crate::services::access::stored_role;
use crate::services::invite_link::{self, Lookup};
use crate::services::utc;
use crate::state::AppState;

/// The shareable link; people who sign up through it wait as `NO` until given a role.
#[derive(Serialize, ToSchema)]
pub struct InviteLink {
    pub token: String,
    /// `<PUBLIC_URL>/user/signup/?token=<token>`; relative when no public URL is configured.
    pub invite_url: String,
}

fn link_of(state: &AppState, organization: organization::Model) -> InviteLink {
    InviteLink {
        invite_url: state.invite_url(&organization.invite_token),
        token: organization.invite_token,
    }
}

/// The organization's invite link (Owner, Administrator).
#[utoipa::path(tag = "invite link", security(("bearer" = [])), responses(
    (status = 200, description = "The organization's invite link", body = InviteLink),
    (status = 401, description = "Missing, invalid or expired token", body = Problem, content_type = "application/problem+json"),
    (status = 403, description = "Not an Owner or Administrator", body = Problem, content_type = "application/problem+json"),
))]
#[get("/api/invite")]
pub async fn get_invite_link(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<web::Json<InviteLink>, ApiError> {
    let organization = invite_link::current(&state, &caller).await?;
    Ok(web::Json(link_of(&state, organization)))
}

/// Replaces the link; the old one stops working at once (Owner, Administrator).
#[utoipa::path(tag = "invite link", security(("bearer" = [])), responses(
    (status = 200, description = "The new invite link; the old one no longer works", body = InviteLink),
    (status = 401, description = "Missing, invalid or expired token", body = Problem, content_type = "application/problem+json"),
    (status = 403, description = "Not an Owner or Administrator", body = Problem, content_type = "application/problem+json"),
))]
#[post("/api/invite/reset-token")]
pub async fn reset_invite_link(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<web::Json<InviteLink>, ApiError> {
    let organization = invite_link::reset(&state, &caller).await?;
    Ok(web::Json(link_of(&state, organization)))
}

#[derive(Deserialize, IntoParams)]
pub struct LookupQuery {
    /// A link or invitation token.
    #[param(required = true, value_type = String)]
    pub token: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct OrganizationRef {
    pub id: i32,
    pub title: String,
}

/// Which kind of token a lookup found.
#[derive(Clone, Copy, Debug, Serialize, ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum InviteKind {
    /// The organization's shareable invite link: signup makes a pending (`NO`) member.
    Link,
    /// An email invitation: signup makes a member with its role.
    Email,
}

/// What a signup page needs to know about a token before using it.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"kind": "email", "organization": {"id": 1, "title": "Acme"}, "email": "ann@example.org", "role": "AN", "expires_at": "2026-12-13T09:30:00Z"}))]
pub struct InviteLookup {
    /// `link` for the organization link, `email` for an email invitation.
    pub kind: InviteKind,
    pub organization: OrganizationRef,
    /// The invited address (email invitations only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// The role the invitation grants (email invitations only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role: Option<Role>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<DateTime<Utc>>,
}

/// Describes a token without consuming it (anyone).
#[utoipa::path(tag = "invite link", params(LookupQuery), responses(
    (status = 200, description = "What the token is: an invite link or an email invitation, and its organization", body = InviteLookup),
    (status = 400, description = "No token given", body = Problem, content_type = "application/problem+json"),
    (status = 404, description = "`invite_token_unknown`", body = Problem, content_type = "application/problem+json"),
    (status = 410, description = "`invitation_expired`, `invitation_revoked`, `invitation_used` or `invitation_superseded`", body = Problem, content_type = "application/problem+json"),
    (status = 429, description = "`rate_limited`: wait `Retry-After` seconds", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
))]
#[get("/api/invite/lookup")]
pub async fn lookup_invite(
    state: web::Data<AppState>,
    query: Query<LookupQuery>,
) -> Result<web::Json<InviteLookup>, ApiError> {
    let token = query
        .token
        .as_deref()
        .filter(|token| !token.is_empty())
        .ok_or_else(|| ApiError::new(ErrorCode::InvalidQuery, "Give the token as ?token=."))?;
    state.rate_limits.check_address(Limited::Lookup)?;
    let organization_ref = |organization: organization::Model| OrganizationRef {
        id: organization.id,
        title: organization.title,
    };
    let found = match invite_link::lookup(&state, token).await? {
        Lookup::Link(organization) => InviteLookup {
            kind: InviteKind::Link,
            organization: organization_ref(organization),
            email: None,
            role: None,
            expires_at: None,
        },
        Lookup::Email(organization, invitation) => InviteLookup {
            kind: InviteKind::Email,
            organization: organization_ref(organization),
            role: Some(stored_role(&invitation.role)?),
            expires_at: Some(utc(invitation.expires_at)),
            email: Some(invitation.email),
        },
    };
    Ok(web::Json(found))
}
