//! Inviting by email as Label Studio does it: `POST /api/invite/send-email`,
//! `POST /api/invite/revoke`, and `POST /api/invite/accept` for existing accounts.

use std::collections::BTreeMap;

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::representations::MembershipSummary;
use crate::auth::Caller;
use crate::domain::invitation::split_addresses;
use crate::domain::{EmailAddress, Role};
use crate::error::{ApiError, FieldError, Problem};
use crate::http::extractors::choice;
use crate::http::idempotency::{self, Begun, IdempotencyKey};
use crate::http::input::Json;
use crate::http::rate_limit::Limited;
use crate::services;
use crate::services::invitations::{self, AddressResult, BulkInvite, DEFAULT_EXPIRY_DAYS, Outcome};
use crate::state::AppState;

/// Addresses as a list, or as the comma-separated text a person types.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(untagged)]
pub enum Emails {
    List(Vec<String>),
    Text(String),
}

/// A bulk invitation.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[schema(example = json!({"emails": ["ann@example.org", "bob@example.org"], "role": "AN", "expires_in_days": 7}))]
pub struct SendInvitesRequest {
    /// `["a@x.org", "b@y.org"]` or `"a@x.org, b@y.org"` (commas, semicolons or new lines); at
    /// most `INVITE_MAX_ADDRESSES` (default 500).
    #[schema(required = true, value_type = Emails)]
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
        let role = choice(self.role.as_deref(), "/role", Role::from_code, &mut errors)
            .unwrap_or(Role::Annotator);
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

/// What happened to one address of a bulk invitation.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum AddressStatus {
    Invited,
    /// A pending invitation of the address was replaced by this one.
    Reinvited,
    AlreadyMember,
    InvalidEmail,
    /// Listed earlier in the same request.
    Duplicate,
}

/// What happened to one address.
#[derive(Serialize, ToSchema)]
pub struct AddressResultBody {
    pub email: String,
    /// `invited`, `reinvited` (a pending invitation was replaced), `already_member`,
    /// `invalid_email` or `duplicate` (listed earlier in the request).
    pub status: AddressStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invitation_id: Option<i32>,
    /// Only with `send_email: false`: the link to deliver yourself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub invite_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<&'static str>,
}

#[derive(Serialize, ToSchema)]
#[schema(example = json!({"results": [{"email": "ann@example.org", "status": "invited", "invitation_id": 7}, {"email": "bob@example.org", "status": "already_member", "detail": "already a member of the organization"}], "summary": {"invited": 1, "already_member": 1}}))]
pub struct SendInvitesResponse {
    pub results: Vec<AddressResultBody>,
    /// How many addresses ended in each status.
    pub summary: BTreeMap<AddressStatus, usize>,
}

fn result_body(result: AddressResult) -> AddressResultBody {
    let (status, detail) = match result.outcome {
        Outcome::Invited => (AddressStatus::Invited, None),
        Outcome::Reinvited => (
            AddressStatus::Reinvited,
            Some("replaced the pending invitation of this address"),
        ),
        Outcome::AlreadyMember => (
            AddressStatus::AlreadyMember,
            Some("already a member of the organization"),
        ),
        Outcome::InvalidEmail => (AddressStatus::InvalidEmail, Some("not an email address")),
        Outcome::Duplicate => (
            AddressStatus::Duplicate,
            Some("listed earlier in this request"),
        ),
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
#[utoipa::path(tag = "invitations", security(("bearer" = [])), request_body = SendInvitesRequest, params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: the same key and body within 24 hours replay the first response (with `Idempotent-Replayed: true`) and do nothing twice")), responses(
    (status = 200, description = "One result per address, and a count of each outcome", body = SendInvitesResponse),
    (status = 400, description = "No addresses, too many, unknown role or expiry out of range", body = Problem, content_type = "application/problem+json"),
    (status = 401, description = "Missing, invalid or expired token", body = Problem, content_type = "application/problem+json"),
    (status = 403, description = "`permission_denied` or `role_not_assignable`", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "`idempotency_key_in_use`", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "`idempotency_key_reused`: the key came with another request", body = Problem, content_type = "application/problem+json"),
    (status = 429, description = "`email_limit_reached`: the address or the organization had its invitation emails for the day; wait `Retry-After` seconds", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
))]
#[post("/api/invite/send-email")]
pub async fn send_invites(
    state: web::Data<AppState>,
    caller: Caller,
    key: IdempotencyKey,
    body: Json<SendInvitesRequest>,
) -> Result<HttpResponse, ApiError> {
    let operation = "POST /api/invite/send-email";
    // Authorized before a stored response is replayed: a replay is no way around a role lost
    // since the first request.
    services::access::managing_now(&state, &caller).await?;
    let claim =
        match idempotency::begin(&state, key, Some(caller.user.id), operation, &*body).await? {
            Begun::Replay(response) => return Ok(response),
            Begun::Proceed(claim) => claim,
        };
    let request = body
        .into_inner()
        .parse(state.settings.invite_max_addresses)?;
    let results = invitations::invite_many(&state, &caller, request, claim.as_ref()).await?;
    let results: Vec<AddressResultBody> = results.into_iter().map(result_body).collect();
    let mut summary = BTreeMap::new();
    for result in &results {
        *summary.entry(result.status).or_insert(0) += 1;
    }
    let body = SendInvitesResponse { results, summary };
    idempotency::finish(&state, claim, StatusCode::OK, &body).await
}

pub(super) fn parse_expiry(days: Option<u32>, errors: &mut Vec<FieldError>) -> u32 {
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

#[derive(Debug, Deserialize, ToSchema)]
pub struct RevokeByEmailRequest {
    #[schema(required = true, value_type = String, format = Email)]
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
    body: Json<RevokeByEmailRequest>,
) -> Result<HttpResponse, ApiError> {
    let given = body
        .email
        .as_deref()
        .filter(|email| !email.trim().is_empty());
    let email = given.and_then(EmailAddress::parse).ok_or_else(|| {
        let (code, detail) = match given {
            None => ("required", "give the invited address"),
            Some(_) => ("invalid_email", "not an email address"),
        };
        ApiError::validation(vec![FieldError::new("/email", code, detail)])
    });
    let email = email?;
    invitations::revoke_by_email(&state, &caller, &email).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct AcceptRequest {
    /// The token of an email invitation, or of an organization's invite link.
    #[schema(required = true, value_type = String, min_length = 1)]
    pub token: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct AcceptResponse {
    pub organization_membership: MembershipSummary,
    /// Tokens acting in the organization just joined.
    pub access: String,
    pub refresh: String,
}

/// An existing account, signed in, accepts an email invitation sent to its address (joining with
/// its role) or joins an organization through its invite link (pending, `NO`, until an Owner or
/// Administrator assigns a role). What a signed-up person does instead of `POST /api/signup`,
/// which answers 409 `email_taken` for an existing address.
#[utoipa::path(tag = "invitations", security(("bearer" = [])), request_body = AcceptRequest, responses(
    (status = 200, description = "The membership the invitation or link gave, and tokens acting in that organization", body = AcceptResponse),
    (status = 400, description = "Missing token", body = Problem, content_type = "application/problem+json"),
    (status = 401, description = "Missing, invalid or expired token", body = Problem, content_type = "application/problem+json"),
    (status = 403, description = "`invitation_email_mismatch` or `invitation_inviter_not_allowed`", body = Problem, content_type = "application/problem+json"),
    (status = 404, description = "`invite_token_unknown`", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "`already_member`", body = Problem, content_type = "application/problem+json"),
    (status = 410, description = "`invitation_expired`, `invitation_revoked`, `invitation_used` or `invitation_superseded`", body = Problem, content_type = "application/problem+json"),
    (status = 429, description = "`rate_limited`: wait `Retry-After` seconds", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
))]
#[post("/api/invite/accept")]
pub async fn accept_invitation(
    state: web::Data<AppState>,
    caller: Caller,
    body: Json<AcceptRequest>,
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
    state.rate_limits.check_address(Limited::Accept)?;
    state
        .rate_limits
        .check_email(Limited::Accept, &caller.user.email_normalized)?;
    let accepted = invitations::accept(&state, &caller, token).await?;
    Ok(web::Json(AcceptResponse {
        organization_membership: MembershipSummary::of(&accepted.membership)?,
        access: accepted.tokens.access,
        refresh: accepted.tokens.refresh,
    }))
}
