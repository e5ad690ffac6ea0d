//! `POST /api/token/refresh/`, personal access tokens at `/api/token/`, `POST /api/token/blacklist/`.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::http::extractors::validate;
use crate::http::input::Json;
use crate::services::tokens::{self, TokenPair};
use crate::services::utc;
use crate::state::AppState;

/// Tokens handed out at login.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"access": "eyJhbGciOiJIUzI1NiJ9...", "refresh": "eyJhbGciOiJIUzI1NiJ9...", "token_type": "Bearer", "expires_in": 900}))]
pub struct TokenResponse {
    /// Access JWT for `Authorization: Bearer`.
    pub access: String,
    /// Refresh JWT for `POST /api/token/refresh/`.
    pub refresh: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

impl From<TokenPair> for TokenResponse {
    fn from(pair: TokenPair) -> TokenResponse {
        TokenResponse {
            access: pair.access,
            refresh: pair.refresh,
            token_type: "Bearer",
            expires_in: pair.expires_in,
        }
    }
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
pub struct RefreshRequest {
    /// A refresh JWT (from login, or a personal access token).
    #[serde(default)]
    #[schema(required = true, min_length = 1)]
    #[validate(length(min = 1, code = "required", message = "refresh is required"))]
    pub refresh: String,
}

/// A new access token. `token_type` and `expires_in` are as at login, so a single-page app can
/// schedule its next refresh without decoding the JWT.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"access": "eyJhbGciOiJIUzI1NiJ9...", "token_type": "Bearer", "expires_in": 900}))]
pub struct AccessResponse {
    /// Access JWT for `Authorization: Bearer`.
    pub access: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
}

/// Exchanges a refresh JWT for a new access JWT (what `label-studio-sdk` calls).
#[utoipa::path(tag = "tokens", request_body = RefreshRequest, responses(
    (status = 200, description = "A new access token", body = AccessResponse),
    (status = 400, description = "Missing field", body = Problem, content_type = "application/problem+json"),
    (status = 401, description = "`token_invalid`, `token_expired` or `token_revoked`", body = Problem, content_type = "application/problem+json"),
))]
#[post("/api/token/refresh")]
pub async fn refresh(
    state: web::Data<AppState>,
    body: Json<RefreshRequest>,
) -> Result<web::Json<AccessResponse>, ApiError> {
    validate(&*body)?;
    let access = tokens::refresh(&state, &body.refresh).await?;
    Ok(web::Json(AccessResponse {
        access,
        token_type: "Bearer",
        expires_in: state.settings.access_token_ttl.as_secs(),
    }))
}

/// A personal access token, shown once.
#[derive(Serialize, ToSchema)]
pub struct CreatedPersonalToken {
    /// A refresh JWT; give it to `label-studio-sdk` as its api key.
    pub token: String,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// A personal access token, without its secret.
#[derive(Serialize, ToSchema)]
pub struct PersonalTokenInfo {
    pub id: i32,
    pub created_at: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// Creates a personal access token for the caller.
#[utoipa::path(tag = "tokens", security(("bearer" = [])), responses(
    (status = 201, description = "The personal access token, shown only this once", body = CreatedPersonalToken),
    (status = 401, description = "Missing, invalid or expired token", body = Problem, content_type = "application/problem+json"),
    (status = 403, description = "`account_not_activated`, `account_deactivated` or `membership_removed`: only whoami and sign-out are open until a role is assigned", body = Problem, content_type = "application/problem+json"),
))]
#[post("/api/token")]
pub async fn create_personal_token(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let issued = tokens::create_personal(&state, &caller).await?;
    Ok(HttpResponse::Created().json(CreatedPersonalToken {
        token: issued.token,
        created_at: utc(issued.record.created_at),
        expires_at: utc(issued.record.expires_at),
    }))
}

/// The caller's live personal access tokens, never their secrets.
#[utoipa::path(tag = "tokens", security(("bearer" = [])), responses(
    (status = 200, description = "The caller's live personal access tokens, newest first", body = Vec<PersonalTokenInfo>),
    (status = 401, description = "Missing, invalid or expired token", body = Problem, content_type = "application/problem+json"),
    (status = 403, description = "`account_not_activated`, `account_deactivated` or `membership_removed`: only whoami and sign-out are open until a role is assigned", body = Problem, content_type = "application/problem+json"),
))]
#[get("/api/token")]
pub async fn list_personal_tokens(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<web::Json<Vec<PersonalTokenInfo>>, ApiError> {
    let records = tokens::list_personal(&state, &caller).await?;
    Ok(web::Json(
        records
            .into_iter()
            .map(|record| PersonalTokenInfo {
                id: record.id,
                created_at: utc(record.created_at),
                expires_at: utc(record.expires_at),
            })
            .collect(),
    ))
}

/// Revokes a refresh token or personal access token; it can no longer mint access tokens.
#[utoipa::path(tag = "tokens", request_body = RefreshRequest, responses(
    (status = 204, description = "Revoked (or already revoked)"),
    (status = 400, description = "Missing field", body = Problem, content_type = "application/problem+json"),
    (status = 401, description = "`token_invalid` or `token_expired`", body = Problem, content_type = "application/problem+json"),
))]
#[post("/api/token/blacklist")]
pub async fn blacklist(
    state: web::Data<AppState>,
    body: Json<RefreshRequest>,
) -> Result<HttpResponse, ApiError> {
    validate(&*body)?;
    tokens::revoke(&state, &body.refresh).await?;
    Ok(HttpResponse::NoContent().finish())
}
