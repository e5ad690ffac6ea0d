//! `/api/invitations`: list, read, resend and revoke email invitations.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::domain::Role;
use crate::domain::invitation::{DeliveryState, InvitationStatus};
use crate::domain::page::PageRequest;
use crate::entities::invitation;
use crate::error::{ApiError, ErrorCode, Problem};
use crate::http::extractors::{choice, search_term};
use crate::http::idempotency::{self, Begun, IdempotencyKey};
use crate::http::input::Query;
use crate::http::pagination::page_links;
use crate::services::access::stored_role;
use crate::services::invitations::{self, InvitationQuery};
use crate::services::{self, now, utc};
use crate::state::AppState;

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
    #[param(value_type = Option<InvitationStatus>)]
    pub status: Option<String>,
    /// Case-insensitive part of the address.
    pub email: Option<String>,
    /// One role code.
    #[param(value_type = Option<Role>)]
    pub role: Option<String>,
    #[param(minimum = 1)]
    pub page: Option<u64>,
    #[param(minimum = 1, maximum = 1000)]
    pub page_size: Option<u64>,
}

#[derive(Serialize, ToSchema)]
pub struct InvitationPageBody {
    pub count: u64,
    /// The next page of the same query, as a relative reference (`/api/...?page=3`) to resolve
    /// against the URL requested; null on the last page.
    pub next: Option<String>,
    /// The previous page of the same query, as `next`; null on the first page.
    pub previous: Option<String>,
    pub results: Vec<InvitationBody>,
}

/// Lists the organization's invitations, newest first (Owner, Administrator).
#[utoipa::path(tag = "invitations", security(("bearer" = [])), params(InvitationsQuery), responses(
    (status = 200, description = "One page of invitations, newest first, and how many match", body = InvitationPageBody),
    (status = 400, description = "Invalid query", body = Problem, content_type = "application/problem+json"),
    (status = 401, description = "Missing, invalid or expired token", body = Problem, content_type = "application/problem+json"),
    (status = 403, description = "Not an Owner or Administrator", body = Problem, content_type = "application/problem+json"),
))]
#[get("/api/invitations")]
pub async fn list_invitations(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    query: Query<InvitationsQuery>,
) -> Result<web::Json<InvitationPageBody>, ApiError> {
    let mut errors = Vec::new();
    let page = PageRequest::parse(query.page, query.page_size, &mut errors);
    let status = choice(
        query.status.as_deref(),
        "/query/status",
        InvitationStatus::parse,
        &mut errors,
    );
    let role = choice(
        query.role.as_deref(),
        "/query/role",
        Role::from_code,
        &mut errors,
    );
    let email = search_term(query.email.as_deref(), "/query/email", &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let filters = InvitationQuery {
        status,
        email,
        role,
        page,
    };
    let (count, rows) = invitations::list(&state, &caller, &filters).await?;
    let (next, previous) = page_links(&req, page, count);
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
    (status = 200, description = "The invitation", body = InvitationBody),
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
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
pub struct ResendRequest {
    /// Days until the new link expires, 1 to 30 (default 7).
    #[schema(minimum = 1, maximum = 30)]
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
#[utoipa::path(tag = "invitations", security(("bearer" = [])), params(("id" = i32, Path, description = "Invitation id"), ("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: the same key and body within 24 hours replay the first response (with `Idempotent-Replayed: true`) and do nothing twice")),
    request_body(content = Option<ResendRequest>, description = "Optional"),
    responses(
        (status = 200, description = "The invitation with its new link; the old link no longer works", body = ResentInvitation),
        (status = 400, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not allowed to grant the invitation's role", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`invitation_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`invitation_not_pending` or `idempotency_key_in_use`", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "`idempotency_key_reused`: the key came with another request", body = Problem, content_type = "application/problem+json"),
        (status = 429, description = "`email_limit_reached`: the address or the organization had its invitation emails for the day; wait `Retry-After` seconds", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
    ))]
#[post("/api/invitations/{id}/resend")]
pub async fn resend_invitation(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i32>,
    key: IdempotencyKey,
    body: web::Bytes,
) -> Result<HttpResponse, ApiError> {
    let request: ResendRequest = if body.iter().all(u8::is_ascii_whitespace) {
        ResendRequest::default()
    } else {
        let value = serde_json::from_slice(&body)
            .map_err(|_| ApiError::new(ErrorCode::MalformedJson, "The body is not valid JSON."))?;
        crate::http::input::json_value(value)?
    };
    let mut errors = Vec::new();
    let days = super::invite_email::parse_expiry(request.expires_in_days, &mut errors);
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let id = id.into_inner();
    let operation = format!("POST /api/invitations/{id}/resend");
    // Authorized before a stored response is replayed (see `send_invites`).
    services::access::managing_now(&state, &caller).await?;
    let claim =
        match idempotency::begin(&state, key, Some(caller.user.id), &operation, &request).await? {
            Begun::Replay(response) => return Ok(response),
            Begun::Proceed(claim) => claim,
        };
    let send_email = request.send_email.unwrap_or(true);
    let (row, invite_url) =
        invitations::resend(&state, &caller, id, days, send_email, claim.as_ref()).await?;
    let body = ResentInvitation {
        invitation: InvitationBody::of(&state, row)?,
        invite_url,
    };
    idempotency::finish(&state, claim, StatusCode::OK, &body).await
}

/// Revokes a pending invitation (Owner, Administrator).
#[utoipa::path(tag = "invitations", security(("bearer" = [])), params(("id" = i32, Path, description = "Invitation id")), responses(
    (status = 200, description = "The revoked invitation", body = InvitationBody),
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
