//! Email invitations: `POST /api/invite/send-email`, `POST /api/invite/revoke`,
//! `POST /api/invite/accept`, and `/api/invitations` to list, read, resend and revoke.

use std::collections::BTreeMap;

use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::pagination::PageRequest;
use super::representations::MembershipSummary;
use crate::auth::Caller;
use crate::domain::invitation::{DeliveryState, InvitationStatus, split_addresses};
use crate::domain::{EmailAddress, Role};
use crate::entities::invitation;
use crate::error::{ApiError, ErrorCode, FieldError, Problem};
use crate::services::access::stored_role;
use crate::services::invitations::{
    self, AddressResult, BulkInvite, DEFAULT_EXPIRY_DAYS, InvitationQuery, Outcome,
};
use crate::services::{now, utc};
use crate::state::AppState;

/// Addresses as a list, or as the comma-separated text a person types.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum Emails {
    List(Vec<String>),
    Text(String),
}

/// A bulk invitation.
#[derive(Debug, Deserialize, ToSchema)]
pub struct SendInvitesRequest {
    /// `["a@x.org", "b@y.org"]` or `"a@x.org, b@y.org"` (commas, semicolons or new lines).
    pub emails: Option<Emails>,
    /// `AD`, `MA`, `RE` or `AN`; Annotator when omitted.
    #[schema(value_type = Option<Role>)]
    pub role: Option<String>,
    /// Days until the invitations expire, 1 to 30 (default 7).
    #[schema(minimum = 1, maximum = 30)]
    pub expires_in_days: Option<u32>,
    /// False: no email is sent and each result carries `invite_url` to deliver yourself.
    pub send_email: Option<bool>,
}

fn parse_role(raw: Option<&str>, default: Role, errors: &mut Vec<FieldError>) -> Role {
    match raw {
        None => default,
        Some(code) => Role::from_code(code).unwrap_or_else(|| {
            errors.push(FieldError::new(
                "/role",
                "invalid_choice",
                format!("unknown role {code:?}"),
            ));
            default
        }),
    }
}

fn parse_expiry(days: Option<u32>, errors: &mut Vec<FieldError>) -> u32 {
    let days = days.unwrap_or(DEFAULT_EXPIRY_DAYS);
    if !(1..=30).contains(&days) {
        errors.push(FieldError::new(
            "/expires_in_days",
            "out_of_range",
            "must be 1 to 30",
        ));
    }
    days
}

impl SendInvitesRequest {
    fn parse(self, max_addresses: usize) -> Result<BulkInvite, ApiError> {
        let mut errors = Vec::new();
        let addresses = match self.emails {
            Some(Emails::List(list)) => list,
            Some(Emails::Text(text)) => split_addresses(&text),
            None => Vec::new(),
        };
        if addresses.is_empty() {
            errors.push(FieldError::new(
                "/emails",
                "required",
                "give at least one address",
            ));
        } else if addresses.len() > max_addresses {
            errors.push(FieldError::new(
                "/emails",
                "too_many",
                format!(
                    "at most {max_addresses} addresses per request, got {}",
                    addresses.len()
                ),
            ));
        }
        let role = parse_role(self.role.as_deref(), Role::Annotator, &mut errors);
        let expires_in_days = parse_expiry(self.expires_in_days, &mut errors);
        if !errors.is_empty() {
            return Err(ApiError::validation(errors));
        }
        Ok(BulkInvite {
            addresses,
            role,
            expires_in_days,
            send_email: self.send_email.unwrap_or(true),
        })
    }
}

/// What happened to one address.
#[derive(Serialize, ToSchema)]
pub struct AddressResultBody {
    pub email: String,
    /// `invited`, `reinvited` (a pending invitation was replaced), `already_member`,
    /// `invalid_email` or `duplicate` (listed earlier in the request).
    pub status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invitation_id: Option<i32>,
    /// Only with `send_email: false`: the link to deliver yourself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invite_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<&'static str>,
}

#[derive(Serialize, ToSchema)]
pub struct SendInvitesResponse {
    pub results: Vec<AddressResultBody>,
    /// How many addresses ended in each status.
    pub summary: BTreeMap<&'static str, usize>,
}

fn result_body(result: AddressResult) -> AddressResultBody {
    let (status, detail) = match result.outcome {
        Outcome::Invited => ("invited", None),
        Outcome::Reinvited => (
            "reinvited",
            Some("replaced the pending invitation of this address"),
        ),
        Outcome::AlreadyMember => (
            "already_member",
            Some("already a member of the organization"),
        ),
        Outcome::InvalidEmail => ("invalid_email", Some("not an email address")),
        Outcome::Duplicate => ("duplicate", Some("listed earlier in this request")),
    };
    AddressResultBody {
        email: result.email,
        status,
        invitation_id: result.invitation_id,
        invite_url: result.invite_url,
        detail,
    }
}

/// Invites addresses with a role (Owner, Administrator). Refused whole only for request-level
/// faults; otherwise one result per address. Emails are queued, never sent inside the request.
#[utoipa::path(tag = "invitations", security(("bearer" = [])), request_body = SendInvitesRequest, responses(
    (status = 200, body = SendInvitesResponse),
    (status = 400, description = "No addresses, too many, unknown role or expiry out of range", body = Problem, content_type = "application/problem+json"),
    (status = 401, description = "Missing, invalid or expired token", body = Problem, content_type = "application/problem+json"),
    (status = 403, description = "`permission_denied` or `role_not_assignable`", body = Problem, content_type = "application/problem+json"),
))]
#[post("/api/invite/send-email")]
pub async fn send_invites(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<SendInvitesRequest>,
) -> Result<web::Json<SendInvitesResponse>, ApiError> {
    let request = body
        .into_inner()
        .parse(state.settings.invite_max_addresses)?;
    let results = invitations::invite_many(&state, &caller, request).await?;
    let results: Vec<AddressResultBody> = results.into_iter().map(result_body).collect();
    let mut summary = BTreeMap::new();
    for result in &results {
        *summary.entry(result.status).or_insert(0) += 1;
    }
    Ok(web::Json(SendInvitesResponse { results, summary }))
}

/// Delivery of the invitation email.
#[derive(Serialize, ToSchema)]
pub struct DeliveryBody {
    pub state: DeliveryState,
    /// Sends tried so far.
    pub attempts: i32,
    pub last_error: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
}

/// An invitation; its token is never shown.
#[derive(Serialize, ToSchema)]
pub struct InvitationBody {
    pub id: i32,
    pub organization: i32,
    pub email: String,
    pub role: Role,
    pub status: InvitationStatus,
    pub invited_by: i32,
    pub accepted_by: Option<i32>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
    pub accepted_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub delivery: DeliveryBody,
}

impl InvitationBody {
    fn of(state: &AppState, row: invitation::Model) -> Result<InvitationBody, ApiError> {
        let delivery_state = DeliveryState::parse(&row.delivery_state)
            .ok_or_else(|| ApiError::Internal("unknown stored delivery state".into()))?;
        let last_error = match (&row.delivery_error, delivery_state) {
            (None, DeliveryState::Queued) if state.settings.smtp_url.is_none() => {
                Some("SMTP is not configured; the message waits in the queue".to_owned())
            }
            (error, _) => error.clone(),
        };
        Ok(InvitationBody {
            id: row.id,
            organization: row.organization_id,
            role: stored_role(&row.role)?,
            status: InvitationStatus::effective(&row.status, row.expires_at, now()),
            invited_by: row.invited_by,
            accepted_by: row.accepted_by,
            created_at: utc(row.created_at),
            updated_at: utc(row.updated_at),
            expires_at: utc(row.expires_at),
            accepted_at: row.accepted_at.map(utc),
            revoked_at: row.revoked_at.map(utc),
            delivery: DeliveryBody {
                state: delivery_state,
                attempts: row.delivery_attempts,
                last_error,
                sent_at: row.delivered_at.map(utc),
            },
            email: row.email,
        })
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct InvitationsQuery {
    /// `pending`, `accepted`, `revoked`, `expired` or `superseded`.
    pub status: Option<String>,
    /// Case-insensitive part of the address.
    pub email: Option<String>,
    /// One role code.
    pub role: Option<String>,
    #[param(minimum = 1)]
    pub page: Option<u64>,
    #[param(minimum = 1, maximum = 1000)]
    pub page_size: Option<u64>,
}

#[derive(Serialize, ToSchema)]
pub struct InvitationPageBody {
    pub count: u64,
    pub next: Option<String>,
    pub previous: Option<String>,
    pub results: Vec<InvitationBody>,
}

/// Lists the organization's invitations, newest first (Owner, Administrator).
#[utoipa::path(tag = "invitations", security(("bearer" = [])), params(InvitationsQuery), responses(
    (status = 200, body = InvitationPageBody),
    (status = 400, description = "Invalid query", body = Problem, content_type = "application/problem+json"),
    (status = 401, description = "Missing, invalid or expired token", body = Problem, content_type = "application/problem+json"),
    (status = 403, description = "Not an Owner or Administrator", body = Problem, content_type = "application/problem+json"),
))]
#[get("/api/invitations")]
pub async fn list_invitations(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    query: web::Query<InvitationsQuery>,
) -> Result<web::Json<InvitationPageBody>, ApiError> {
    let mut errors = Vec::new();
    let page = PageRequest::parse(query.page, query.page_size, &mut errors);
    let status = query
        .status
        .as_deref()
        .filter(|s| !s.is_empty())
        .and_then(|raw| {
            let status = InvitationStatus::parse(raw);
            if status.is_none() {
                errors.push(FieldError::new(
                    "/query/status",
                    "invalid_choice",
                    format!("unknown status {raw:?}"),
                ));
            }
            status
        });
    let role = query
        .role
        .as_deref()
        .filter(|r| !r.is_empty())
        .and_then(|raw| {
            let role = Role::from_code(raw);
            if role.is_none() {
                errors.push(FieldError::new(
                    "/query/role",
                    "invalid_choice",
                    format!("unknown role {raw:?}"),
                ));
            }
            role
        });
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let filters = InvitationQuery {
        status,
        email: query.email.clone().filter(|e| !e.trim().is_empty()),
        role,
        page: Some(page),
    };
    let (count, rows) = invitations::list(&state, &caller, &filters).await?;
    let (next, previous) = page.links(&req, &state, count);
    Ok(web::Json(InvitationPageBody {
        count,
        next,
        previous,
        results: rows
            .into_iter()
            .map(|row| InvitationBody::of(&state, row))
            .collect::<Result<_, _>>()?,
    }))
}

/// One invitation (Owner, Administrator).
#[utoipa::path(tag = "invitations", security(("bearer" = [])), params(("id" = i32, Path, description = "Invitation id")), responses(
    (status = 200, body = InvitationBody),
    (status = 401, description = "Missing, invalid or expired token", body = Problem, content_type = "application/problem+json"),
    (status = 403, description = "Not an Owner or Administrator", body = Problem, content_type = "application/problem+json"),
    (status = 404, description = "`invitation_not_found`", body = Problem, content_type = "application/problem+json"),
))]
#[get("/api/invitations/{id}")]
pub async fn get_invitation(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i32>,
) -> Result<web::Json<InvitationBody>, ApiError> {
    let row = invitations::get(&state, &caller, id.into_inner()).await?;
    Ok(web::Json(InvitationBody::of(&state, row)?))
}

/// Optional settings of a resend.
#[derive(Debug, Default, Deserialize, ToSchema)]
pub struct ResendRequest {
    /// Days until the new link expires, 1 to 30 (default 7).
    pub expires_in_days: Option<u32>,
    /// False: no email; the response carries the new `invite_url`.
    pub send_email: Option<bool>,
}

#[derive(Serialize, ToSchema)]
pub struct ResentInvitation {
    #[serde(flatten)]
    pub invitation: InvitationBody,
    /// Only with `send_email: false`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invite_url: Option<String>,
}

/// New token, fresh expiry, the old link dead, the email queued again (Owner, Administrator).
/// The body is optional.
#[utoipa::path(tag = "invitations", security(("bearer" = [])), params(("id" = i32, Path, description = "Invitation id")),
    request_body(content = Option<ResendRequest>, description = "Optional"),
    responses(
        (status = 200, body = ResentInvitation),
        (status = 400, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not allowed to grant the invitation's role", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`invitation_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`invitation_not_pending`", body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/api/invitations/{id}/resend")]
pub async fn resend_invitation(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i32>,
    body: web::Bytes,
) -> Result<web::Json<ResentInvitation>, ApiError> {
    let request: ResendRequest = if body.iter().all(u8::is_ascii_whitespace) {
        ResendRequest::default()
    } else {
        serde_json::from_slice(&body)
            .map_err(|error| ApiError::new(ErrorCode::MalformedJson, error.to_string()))?
    };
    let mut errors = Vec::new();
    let days = parse_expiry(request.expires_in_days, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let send_email = request.send_email.unwrap_or(true);
    let (row, invite_url) =
        invitations::resend(&state, &caller, id.into_inner(), days, send_email).await?;
    Ok(web::Json(ResentInvitation {
        invitation: InvitationBody::of(&state, row)?,
        invite_url,
    }))
}

/// Revokes a pending invitation (Owner, Administrator).
#[utoipa::path(tag = "invitations", security(("bearer" = [])), params(("id" = i32, Path, description = "Invitation id")), responses(
    (status = 200, body = InvitationBody),
    (status = 401, description = "Missing, invalid or expired token", body = Problem, content_type = "application/problem+json"),
    (status = 403, description = "Not an Owner or Administrator", body = Problem, content_type = "application/problem+json"),
    (status = 404, description = "`invitation_not_found`", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "`invitation_not_pending`", body = Problem, content_type = "application/problem+json"),
))]
#[post("/api/invitations/{id}/revoke")]
pub async fn revoke_invitation(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i32>,
) -> Result<web::Json<InvitationBody>, ApiError> {
    let row = invitations::revoke(&state, &caller, id.into_inner()).await?;
    Ok(web::Json(InvitationBody::of(&state, row)?))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct RevokeByEmailRequest {
    pub email: Option<String>,
}

/// Revokes the pending invitation of an address (Label Studio's call; Owner, Administrator).
#[utoipa::path(tag = "invitations", security(("bearer" = [])), request_body = RevokeByEmailRequest, responses(
    (status = 204, description = "Revoked"),
    (status = 400, description = "Missing or invalid email", body = Problem, content_type = "application/problem+json"),
    (status = 401, description = "Missing, invalid or expired token", body = Problem, content_type = "application/problem+json"),
    (status = 403, description = "Not an Owner or Administrator", body = Problem, content_type = "application/problem+json"),
    (status = 404, description = "`invitation_not_found`", body = Problem, content_type = "application/problem+json"),
))]
#[post("/api/invite/revoke")]
pub async fn revoke_invite_by_email(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<RevokeByEmailRequest>,
) -> Result<HttpResponse, ApiError> {
    let email = body
        .email
        .as_deref()
        .and_then(EmailAddress::parse)
        .ok_or_else(|| {
            ApiError::validation(vec![FieldError::new(
                "/email",
                "invalid_email",
                "give the invited address",
            )])
        })?;
    invitations::revoke_by_email(&state, &caller, &email).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AcceptRequest {
    /// The token from the invitation link.
    pub token: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AcceptResponse {
    pub organization_membership: MembershipSummary,
    /// Tokens acting in the organization just joined.
    pub access: String,
    pub refresh: String,
}

/// An existing account accepts an email invitation sent to its address.
#[utoipa::path(tag = "invitations", security(("bearer" = [])), request_body = AcceptRequest, responses(
    (status = 200, body = AcceptResponse),
    (status = 400, description = "Missing token", body = Problem, content_type = "application/problem+json"),
    (status = 401, description = "Missing, invalid or expired token", body = Problem, content_type = "application/problem+json"),
    (status = 403, description = "`invitation_email_mismatch` or `invitation_inviter_not_allowed`", body = Problem, content_type = "application/problem+json"),
    (status = 404, description = "`invite_token_unknown`", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "`already_member`", body = Problem, content_type = "application/problem+json"),
    (status = 410, description = "`invitation_expired`, `invitation_revoked`, `invitation_used` or `invitation_superseded`", body = Problem, content_type = "application/problem+json"),
))]
#[post("/api/invite/accept")]
pub async fn accept_invitation(
    state: web::Data<AppState>,
    caller: Caller,
    body: web::Json<AcceptRequest>,
) -> Result<web::Json<AcceptResponse>, ApiError> {
    let token = body
        .token
        .as_deref()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| {
            ApiError::validation(vec![FieldError::new(
                "/token",
                "required",
                "token is required",
            )])
        })?;
    let accepted = invitations::accept(&state, &caller, token).await?;
    Ok(web::Json(AcceptResponse {
        organization_membership: MembershipSummary::of(&accepted.membership)?,
        access: accepted.tokens.access,
        refresh: accepted.tokens.refresh,
    }))
}
