//! `POST /api/signup`, `POST /api/auth/login`, `GET /api/current-user/whoami`.

use actix_web::http::StatusCode;
use actix_web::{HttpResponse, get, patch, post, web};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use super::representations::{MembershipSummary, UserBody};
use super::tokens::TokenResponse;
use crate::auth::Caller;
use crate::domain::{EmailAddress, Password};
use crate::error::{ApiError, ErrorCode, FieldError, Problem};
use crate::http::extractors::{field_errors, plain_text, validate};
use crate::http::idempotency::{self, Begun, IdempotencyKey};
use crate::http::input::Json;
use crate::http::rate_limit::Limited;
use crate::services::accounts::{self, NewAccount};
use crate::state::AppState;

/// A signup. Without `token` on an empty instance it founds the first organization.
#[derive(Debug, Deserialize, Serialize, Validate, ToSchema)]
#[schema(example = json!({"email": "ann@example.org", "password": "correct horse battery", "first_name": "Ann", "last_name": "Lee", "token": "3q2-7wEjZ0cN1z1Yg3x1y6f0m8b9Yx3kqWcX4lV2s1M"}))]
pub struct SignupRequest {
    #[serde(default)]
    #[validate(length(min = 1, code = "required", message = "email is required"))]
    #[schema(required = true, format = Email, max_length = 254)]
    pub email: String,
    /// 8 to 128 characters.
    #[serde(default)]
    #[schema(required = true, min_length = 8, max_length = 128, format = Password)]
    pub password: String,
    #[serde(default)]
    #[validate(
        length(max = 150, code = "too_long", message = "at most 150 characters"),
        custom(function = "plain_text")
    )]
    #[schema(max_length = 150)]
    pub first_name: String,
    #[serde(default)]
    #[validate(
        length(max = 150, code = "too_long", message = "at most 150 characters"),
        custom(function = "plain_text")
    )]
    #[schema(max_length = 150)]
    pub last_name: String,
    /// An invite link token (joins as pending) or an email invitation token (joins with its role).
    pub token: Option<String>,
    /// Title of the organization the first signup creates.
    #[validate(
        length(min = 1, max = 200, code = "length", message = "1 to 200 characters"),
        custom(function = "plain_text")
    )]
    #[schema(min_length = 1, max_length = 200)]
    pub organization_title: Option<String>,
}

impl SignupRequest {
    fn into_account(self) -> Result<NewAccount, ApiError> {
        let mut errors = match self.validate() {
            Ok(()) => Vec::new(),
            Err(errors) => field_errors(&errors),
        };
        let email = EmailAddress::parse(&self.email);
        if email.is_none() && !self.email.is_empty() {
            errors.push(FieldError::new(
                "/email",
                "invalid_email",
                "not an email address",
            ));
        }
        let missing_password = self.password.is_empty();
        let password = Password::parse(self.password);
        if missing_password {
            errors.push(FieldError::new(
                "/password",
                "required",
                "password is required",
            ));
        } else if password.is_none() {
            errors.push(FieldError::new(
                "/password",
                "invalid_length",
                "must be 8 to 128 characters",
            ));
        }
        match (email, password) {
            (Some(email), Some(password)) if errors.is_empty() => Ok(NewAccount {
                email,
                password,
                first_name: self.first_name.trim().to_owned(),
                last_name: self.last_name.trim().to_owned(),
                token: self.token.filter(|token| !token.is_empty()),
                organization_title: self.organization_title.map(|t| t.trim().to_owned()),
            }),
            _ => Err(ApiError::validation(errors)),
        }
    }
}

/// What signup returns: the account, where it landed, and tokens to use at once.
#[derive(Serialize, ToSchema)]
pub struct SignupResponse {
    pub user: UserBody,
    pub organization_membership: MembershipSummary,
    pub access: String,
    pub refresh: String,
}

/// Creates an account. Without `token`, the first signup of an empty instance founds the first
/// organization as its Owner, later ones join the default organization as pending (`NO`) unless
/// signup without a link is disabled. With an invite link token: joins as pending. With an email
/// invitation token: the email must match, and the account is active at once with the invited role.
#[utoipa::path(tag = "accounts", request_body = SignupRequest, params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: the same key and body within 24 hours replay the first response (with `Idempotent-Replayed: true`) and do nothing twice")), responses(
    (status = 201, description = "The account, its membership and tokens to use at once", body = SignupResponse),
    (status = 400, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
    (status = 403, description = "`signup_requires_invite`, `invitation_email_mismatch` or `invitation_inviter_not_allowed`", body = Problem, content_type = "application/problem+json"),
    (status = 404, description = "`invite_token_unknown`: no link or invitation has this token (a reset link, a typo)", body = Problem, content_type = "application/problem+json"),
    (status = 409, description = "`email_taken`: sign in and `POST /api/invite/accept` instead; `idempotency_key_in_use`", body = Problem, content_type = "application/problem+json"),
    (status = 410, description = "`invitation_expired`, `invitation_revoked`, `invitation_used` or `invitation_superseded`", body = Problem, content_type = "application/problem+json"),
    (status = 422, description = "`idempotency_key_reused`: the key came with another request", body = Problem, content_type = "application/problem+json"),
    (status = 429, description = "`rate_limited`: wait `Retry-After` seconds", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
))]
#[post("/api/signup")]
pub async fn signup(
    state: web::Data<AppState>,
    key: IdempotencyKey,
    body: Json<SignupRequest>,
) -> Result<HttpResponse, ApiError> {
    state.rate_limits.check_address(Limited::Signup)?;
    let claim = match idempotency::begin(&state, key, None, "POST /api/signup", &*body).await? {
        Begun::Replay(response) => return Ok(response),
        Begun::Proceed(claim) => claim,
    };
    let account = body.into_inner().into_account()?;
    state
        .rate_limits
        .check_email(Limited::Signup, account.email.normalized())?;
    let joined = accounts::signup(&state, account, claim.as_ref()).await?;
    let body = SignupResponse {
        user: UserBody::from(&joined.user),
        organization_membership: MembershipSummary::of(&joined.membership)?,
        access: joined.tokens.access,
        refresh: joined.tokens.refresh,
    };
    idempotency::finish(&state, claim, StatusCode::CREATED, &body).await
}

#[derive(Debug, Deserialize, Validate, ToSchema)]
#[schema(example = json!({"email": "owner@example.org", "password": "correct horse battery"}))]
pub struct LoginRequest {
    #[serde(default)]
    #[validate(length(min = 1, code = "required", message = "email is required"))]
    #[schema(required = true, min_length = 1)]
    pub email: String,
    #[serde(default)]
    #[validate(length(min = 1, code = "required", message = "password is required"))]
    #[schema(required = true, min_length = 1, format = Password)]
    pub password: String,
}

/// Exchanges email and password for tokens; a wrong email and a wrong password look the same.
#[utoipa::path(tag = "accounts", request_body = LoginRequest, responses(
    (status = 200, description = "Access and refresh tokens", body = TokenResponse),
    (status = 400, description = "Missing fields", body = Problem, content_type = "application/problem+json"),
    (status = 401, description = "`invalid_credentials`", body = Problem, content_type = "application/problem+json"),
    (status = 429, description = "`rate_limited`: wait `Retry-After` seconds", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
    (status = 503, description = "`server_busy`: too many passwords being checked at once; wait `Retry-After` seconds", body = Problem, content_type = "application/problem+json", headers(("Retry-After" = u64, description = "Seconds to wait"))),
))]
#[post("/api/auth/login")]
pub async fn login(
    state: web::Data<AppState>,
    body: Json<LoginRequest>,
) -> Result<web::Json<TokenResponse>, ApiError> {
    state.rate_limits.check_address(Limited::Login)?;
    validate(&*body)?;
    let body = body.into_inner();
    let email = EmailAddress::parse(&body.email);
    let email_key = email
        .as_ref()
        .map_or(body.email.as_str(), |e| e.normalized());
    state.rate_limits.check_login(email_key)?;
    match accounts::login(&state, &body.email, body.password).await {
        Ok(pair) => {
            state.rate_limits.forget_failed_logins(email_key);
            Ok(web::Json(TokenResponse::from(pair)))
        }
        Err(refused) => {
            if refused.code() == ErrorCode::InvalidCredentials {
                state.rate_limits.count_failed_login(email_key);
            }
            Err(refused)
        }
    }
}

/// The caller, and their membership in the organization the token acts in.
#[derive(Serialize, ToSchema)]
pub struct WhoAmI {
    #[serde(flatten)]
    pub user: UserBody,
    /// The organization the token acts in.
    pub active_organization: i32,
    /// Null when the caller was removed from that organization.
    pub organization_membership: Option<MembershipSummary>,
}

/// Who the caller is; the one call pending and deactivated users may make.
#[utoipa::path(tag = "accounts", security(("bearer" = [])), responses(
    (status = 200, description = "The caller, with their membership in the token's organization", body = WhoAmI),
    (status = 401, description = "Missing, invalid or expired token", body = Problem, content_type = "application/problem+json"),
))]
#[get("/api/current-user/whoami")]
pub async fn whoami(caller: Caller) -> Result<web::Json<WhoAmI>, ApiError> {
    Ok(web::Json(WhoAmI {
        user: UserBody::from(&caller.user),
        active_organization: caller.organization_id,
        organization_membership: caller
            .membership
            .as_ref()
            .map(MembershipSummary::of)
            .transpose()?,
    }))
}

/// The signed-in person, as Label Studio's `GET /api/current-user` shows them.
#[derive(Serialize, ToSchema)]
pub struct CurrentUser {
    #[serde(flatten)]
    pub user: UserBody,
    /// The organization the person acts in, with every token they hold.
    pub active_organization: i32,
}

/// What a person may change about themselves; fields left out stay as they are.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[schema(example = json!({"first_name": "Ann", "active_organization": 2}))]
pub struct CurrentUserUpdate {
    #[validate(
        length(max = 150, code = "too_long", message = "at most 150 characters"),
        custom(function = "plain_text")
    )]
    #[schema(max_length = 150)]
    pub first_name: Option<String>,
    #[validate(
        length(max = 150, code = "too_long", message = "at most 150 characters"),
        custom(function = "plain_text")
    )]
    #[schema(max_length = 150)]
    pub last_name: Option<String>,
    /// Switches the organization the person acts in, on their very next request and for every
    /// token they hold (personal ones included, as in Label Studio); kept for their next login.
    /// Needs a live membership there.
    pub active_organization: Option<i32>,
}

/// The signed-in person (label-studio-sdk's `users.get_current_user`); anyone signed in,
/// pending and deactivated people included.
#[utoipa::path(tag = "accounts", security(("bearer" = [])), responses(
    (status = 200, description = "The signed-in person and the organization they act in", body = CurrentUser),
    (status = 401, description = "Missing, invalid or expired token", body = Problem, content_type = "application/problem+json"),
))]
#[get("/api/current-user")]
pub async fn current_user(caller: Caller) -> web::Json<CurrentUser> {
    web::Json(CurrentUser {
        user: UserBody::from(&caller.user),
        active_organization: caller.organization_id,
    })
}

/// Edits the person's name, or switches the organization they act in
/// (label-studio-sdk's `users.update_current_user`).
#[utoipa::path(tag = "accounts", security(("bearer" = [])), request_body = CurrentUserUpdate, responses(
    (status = 200, description = "The person as they are now", body = CurrentUser),
    (status = 400, description = "`validation_failed`: a name that is not plain text or too long, or an organization the person is not a member of (`/active_organization`)", body = Problem, content_type = "application/problem+json"),
    (status = 401, description = "Missing, invalid or expired token", body = Problem, content_type = "application/problem+json"),
))]
#[patch("/api/current-user")]
pub async fn update_current_user(
    state: web::Data<AppState>,
    caller: Caller,
    body: Json<CurrentUserUpdate>,
) -> Result<web::Json<CurrentUser>, ApiError> {
    validate(&*body)?;
    let change = body.into_inner();
    let user = accounts::update_profile(
        &state,
        &caller,
        accounts::ProfileChange {
            first_name: change.first_name.map(|name| name.trim().to_owned()),
            last_name: change.last_name.map(|name| name.trim().to_owned()),
            active_organization: change.active_organization,
        },
    )
    .await?;
    Ok(web::Json(CurrentUser {
        user: UserBody::from(&user),
        active_organization: user
            .active_organization_id
            .unwrap_or(caller.organization_id),
    }))
}
