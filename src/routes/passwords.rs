//! `POST /api/current-user/password`, `POST /api/auth/password-reset` and its `/confirm`.

use actix_web::{HttpResponse, post, web};
use serde::Deserialize;
use utoipa::ToSchema;

use super::tokens::TokenResponse;
use crate::auth::Caller;
use crate::domain::{EmailAddress, Password};
use crate::error::{ApiError, FieldError, Problem};
use crate::http::input::Json;
use crate::http::rate_limit::Limited;
use crate::services::passwords;
use crate::state::AppState;

/// A password change: the current one, and the new one.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"current_password": "correct horse battery", "new_password": "staple battery horse"}))]
pub struct PasswordChange {
    #[serde(default)]
    #[schema(required = true, format = Password)]
    pub current_password: String,
    /// 8 to 128 characters.
    #[serde(default)]
    #[schema(required = true, min_length = 8, max_length = 128, format = Password)]
    pub new_password: String,
}

/// Asks for a reset link by email.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordResetRequest {
    #[serde(default)]
    #[schema(required = true, format = Email)]
    pub email: String,
}

/// Sets a new password with the token of an emailed reset link.
#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordResetConfirm {
    #[serde(default)]
    #[schema(required = true, min_length = 1)]
    pub token: String,
    /// 8 to 128 characters.
    #[serde(default)]
    #[schema(required = true, min_length = 8, max_length = 128, format = Password)]
    pub password: String,
}

fn new_password(raw: String, pointer: &str) -> Result<Password, ApiError> {
    if raw.is_empty() {
        return Err(ApiError::validation(vec![FieldError::new(
            pointer,
            "required",
            "a new password is required",
        )]));
    }
    Password::parse(raw).ok_or_else(|| {
        ApiError::validation(vec![FieldError::new(
            pointer,
            "invalid_length",
            "must be 8 to 128 characters",
        )])
    })
}

/// Changes the signed-in person's password. Every other session and personal token of theirs
/// ends; the answer carries fresh tokens for this one.
#[utoipa::path(tag = "accounts", security(("bearer" = [])), request_body = PasswordChange, responses(
    (status = 200, description = "Changed; tokens for this session", body = TokenResponse),
    (status = 400, description = "`validation_failed`: a wrong current password (`/current_password`) or a new one of the wrong length", body = Problem, content_type = "application/problem+json"),
    (status = 401, description = "Missing, invalid or expired token", body = Problem, content_type = "application/problem+json"),
    (status = 429, description = "`rate_limited`: wait `Retry-After` seconds", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
))]
#[post("/api/current-user/password")]
pub async fn change_password(
    state: web::Data<AppState>,
    caller: Caller,
    body: Json<PasswordChange>,
) -> Result<web::Json<TokenResponse>, ApiError> {
    state
        .rate_limits
        .check_email(Limited::Password, &caller.user.email_normalized)?;
    let body = body.into_inner();
    let new = new_password(body.new_password, "/new_password")?;
    let pair = passwords::change(&state, &caller, body.current_password, new).await?;
    Ok(web::Json(TokenResponse::from(pair)))
}

/// Emails a reset link (valid once, for an hour) when the address has an account. The answer is
/// the same either way, so it tells nobody who has one.
#[utoipa::path(tag = "accounts", request_body = PasswordResetRequest, responses(
    (status = 202, description = "If the address has an account, a reset link is on its way"),
    (status = 400, description = "`validation_failed`: not an email address", body = Problem, content_type = "application/problem+json"),
    (status = 429, description = "`rate_limited`: wait `Retry-After` seconds", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
))]
#[post("/api/auth/password-reset")]
pub async fn request_password_reset(
    state: web::Data<AppState>,
    body: Json<PasswordResetRequest>,
) -> Result<HttpResponse, ApiError> {
    state.rate_limits.check_address(Limited::Password)?;
    let email = EmailAddress::parse(&body.email).ok_or_else(|| {
        ApiError::validation(vec![FieldError::new(
            "/email",
            "invalid_email",
            "not an email address",
        )])
    })?;
    state
        .rate_limits
        .check_email(Limited::Password, email.normalized())?;
    passwords::request_reset(&state, &email).await?;
    Ok(HttpResponse::Accepted().finish())
}

/// Sets a new password with an emailed reset link's token; every session and personal token of
/// the person ends, and they sign in with the new password.
#[utoipa::path(tag = "accounts", request_body = PasswordResetConfirm, responses(
    (status = 204, description = "The password is set; sign in with it"),
    (status = 400, description = "`password_reset_invalid` (unknown, used or expired link) or `validation_failed`", body = Problem, content_type = "application/problem+json"),
    (status = 429, description = "`rate_limited`: wait `Retry-After` seconds", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
))]
#[post("/api/auth/password-reset/confirm")]
pub async fn confirm_password_reset(
    state: web::Data<AppState>,
    body: Json<PasswordResetConfirm>,
) -> Result<HttpResponse, ApiError> {
    state.rate_limits.check_address(Limited::Password)?;
    let body = body.into_inner();
    let new = new_password(body.password, "/password")?;
    passwords::confirm_reset(&state, &body.token, new).await?;
    Ok(HttpResponse::NoContent().finish())
}
