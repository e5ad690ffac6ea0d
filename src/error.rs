//! One error type for the whole service, rendered as RFC 9457 `application/problem+json` with a
//! stable machine-readable `code`. Framework failures (bad JSON, unknown routes, wrong methods,
//! oversized bodies) are converted here too, so a client never sees HTML or an empty body.

use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, ResponseError};
use sea_orm::DbErr;
use serde::Serialize;
use utoipa::ToSchema;

/// Stable, machine-readable problem codes. Clients branch on these, never on the English text.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    ValidationFailed,
    MalformedJson,
    UnsupportedMediaType,
    InvalidQuery,
    PayloadTooLarge,
    NotFound,
    MethodNotAllowed,
    AuthenticationRequired,
    TokenInvalid,
    TokenExpired,
    TokenRevoked,
    InvalidCredentials,
    PermissionDenied,
    AccountNotActivated,
    AccountDeactivated,
    MembershipRemoved,
    OrganizationNotFound,
    MemberNotFound,
    InviteTokenUnknown,
    SignupRequiresInvite,
    EmailTaken,
    ConcurrentChange,
    AlreadyMember,
    InvitationNotFound,
    InvitationExpired,
    InvitationRevoked,
    InvitationUsed,
    InvitationSuperseded,
    InvitationEmailMismatch,
    InvitationInviterNotAllowed,
    InvitationNotPending,
    PasswordResetInvalid,
    RoleNotAssignable,
    OwnRoleChange,
    OwnerProtected,
    TransferTargetInvalid,
    IdempotencyKeyReused,
    IdempotencyKeyInUse,
    RateLimited,
    OriginNotAllowed,
    EmailLimitReached,
    DatabaseUnavailable,
    DeadlineExceeded,
    ServerBusy,
    InternalError,
}

impl ErrorCode {
    /// HTTP status and title of each code; exhaustive, so a new code forces a decision.
    pub fn status_and_title(self) -> (StatusCode, &'static str) {
        use ErrorCode::*;
        match self {
            ValidationFailed => (StatusCode::BAD_REQUEST, "The request has invalid fields"),
            MalformedJson => (
                StatusCode::BAD_REQUEST,
                "The request body is not valid JSON",
            ),
            UnsupportedMediaType => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "The request body must be application/json",
            ),
            InvalidQuery => (StatusCode::BAD_REQUEST, "The query string is invalid"),
            PayloadTooLarge => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "The request body is too large",
            ),
            NotFound => (StatusCode::NOT_FOUND, "No such resource"),
            MethodNotAllowed => (
                StatusCode::METHOD_NOT_ALLOWED,
                "Method not allowed on this resource",
            ),
            AuthenticationRequired => (StatusCode::UNAUTHORIZED, "Authentication required"),
            TokenInvalid => (StatusCode::UNAUTHORIZED, "The token is invalid"),
            TokenExpired => (StatusCode::UNAUTHORIZED, "The token has expired"),
            TokenRevoked => (StatusCode::UNAUTHORIZED, "The token has been revoked"),
            InvalidCredentials => (StatusCode::UNAUTHORIZED, "Wrong email or password"),
            PermissionDenied => (StatusCode::FORBIDDEN, "Permission denied"),
            AccountNotActivated => (
                StatusCode::FORBIDDEN,
                "The account is waiting for a role to be assigned",
            ),
            AccountDeactivated => (StatusCode::FORBIDDEN, "The account is deactivated"),
            MembershipRemoved => (
                StatusCode::FORBIDDEN,
                "The account is no longer a member of this organization",
            ),
            OrganizationNotFound => (StatusCode::NOT_FOUND, "No such organization"),
            MemberNotFound => (StatusCode::NOT_FOUND, "No such member"),
            InviteTokenUnknown => (StatusCode::NOT_FOUND, "No invitation has this token"),
            SignupRequiresInvite => (
                StatusCode::FORBIDDEN,
                "Signup requires an invite link or invitation",
            ),
            EmailTaken => (
                StatusCode::CONFLICT,
                "An account with this email already exists",
            ),
            ConcurrentChange => (
                StatusCode::CONFLICT,
                "Another request changed the same data at the same moment; try again",
            ),
            AlreadyMember => (
                StatusCode::CONFLICT,
                "Already a member of this organization",
            ),
            InvitationNotFound => (StatusCode::NOT_FOUND, "No such invitation"),
            InvitationExpired => (StatusCode::GONE, "The invitation has expired"),
            InvitationRevoked => (StatusCode::GONE, "The invitation was revoked"),
            InvitationUsed => (StatusCode::GONE, "The invitation has already been used"),
            InvitationSuperseded => (StatusCode::GONE, "A newer invitation replaced this one"),
            InvitationEmailMismatch => (
                StatusCode::FORBIDDEN,
                "The invitation was sent to another address",
            ),
            InvitationInviterNotAllowed => (
                StatusCode::FORBIDDEN,
                "The person who invited you may no longer grant this role",
            ),
            InvitationNotPending => (StatusCode::CONFLICT, "The invitation is no longer pending"),
            PasswordResetInvalid => (
                StatusCode::BAD_REQUEST,
                "The password reset link is unknown, used or expired",
            ),
            RoleNotAssignable => (StatusCode::FORBIDDEN, "This role cannot be assigned"),
            OwnRoleChange => (StatusCode::FORBIDDEN, "Nobody changes their own role"),
            OwnerProtected => (
                StatusCode::FORBIDDEN,
                "The Owner's membership changes only through ownership transfer",
            ),
            TransferTargetInvalid => (
                StatusCode::BAD_REQUEST,
                "Ownership can only go to another active member",
            ),
            IdempotencyKeyReused => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "The Idempotency-Key was already used for a different request",
            ),
            IdempotencyKeyInUse => (
                StatusCode::CONFLICT,
                "A request with this Idempotency-Key is in progress",
            ),
            RateLimited => (StatusCode::TOO_MANY_REQUESTS, "Too many requests"),
            OriginNotAllowed => (
                StatusCode::FORBIDDEN,
                "This origin may not call the API from a browser",
            ),
            EmailLimitReached => (
                StatusCode::TOO_MANY_REQUESTS,
                "Too many emails to this address or from this organization today",
            ),
            DatabaseUnavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "The database is unavailable",
            ),
            DeadlineExceeded => (
                StatusCode::SERVICE_UNAVAILABLE,
                "The request did not finish in time",
            ),
            ServerBusy => (
                StatusCode::SERVICE_UNAVAILABLE,
                "The service is too busy to take this request now",
            ),
            InternalError => (StatusCode::INTERNAL_SERVER_ERROR, "Internal server error"),
        }
    }

    pub fn as_str(self) -> String {
        serde_json::to_value(self)
            .ok()
            .and_then(|value| value.as_str().map(str::to_owned))
            .unwrap_or_default()
    }
}

/// One problem with one field of the request.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct FieldError {
    /// JSON Pointer (RFC 6901) to the field in the request body, or `/query/<name>`.
    pub pointer: String,
    /// Stable code of the field problem (`required`, `invalid_email`, `too_short`, ...).
    pub code: String,
    pub detail: String,
}

impl FieldError {
    pub fn new(pointer: impl Into<String>, code: &str, detail: impl Into<String>) -> FieldError {
        FieldError {
            pointer: pointer.into(),
            code: code.to_owned(),
            detail: detail.into(),
        }
    }
}

/// An RFC 9457 problem document.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// URI naming the problem type: `urn:org-members:problem:<code>`.
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// Stable machine-readable code; branch on this, not on `title` or `detail`.
    pub code: ErrorCode,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
    /// The request's id, also in the `X-Request-Id` header and the access log.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// Every failure a request can end in.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("{code:?}: {detail}")]
    Problem {
        code: ErrorCode,
        detail: String,
        errors: Vec<FieldError>,
    },
    /// Refused for now (a 429 or 503, by `code`): the client may try again after `retry_after`.
    #[error("{code:?} for {retry_after:?}: {detail}")]
    RetryLater {
        code: ErrorCode,
        detail: String,
        retry_after: std::time::Duration,
    },
    #[error("database: {0}")]
    Database(#[from] DbErr),
    #[error("internal: {0}")]
    Internal(String),
}

impl ApiError {
    pub fn new(code: ErrorCode, detail: impl Into<String>) -> ApiError {
        ApiError::Problem {
            code,
            detail: detail.into(),
            errors: Vec::new(),
        }
    }

    /// A 429 `rate_limited`: too many attempts, try again after `retry_after`.
    pub fn too_many_requests(retry_after: std::time::Duration) -> ApiError {
        ApiError::RetryLater {
            code: ErrorCode::RateLimited,
            detail: format!(
                "Too many attempts; try again in {} seconds.",
                retry_after_seconds(retry_after)
            ),
            retry_after,
        }
    }

    /// A 400 `validation_failed` listing each bad field.
    pub fn validation(errors: Vec<FieldError>) -> ApiError {
        let detail = errors
            .iter()
            .map(|error| format!("{}: {}", error.pointer, error.detail))
            .collect::<Vec<_>>()
            .join("; ");
        ApiError::Problem {
            code: ErrorCode::ValidationFailed,
            detail,
            errors,
        }
    }

    /// The stable code this error renders with.
    pub fn code(&self) -> ErrorCode {
        match self {
            ApiError::Problem { code, .. } => *code,
            ApiError::RetryLater { code, .. } => *code,
            ApiError::Database(error) if crate::db::is_unavailable(error) => {
                ErrorCode::DatabaseUnavailable
            }
            ApiError::Database(_) | ApiError::Internal(_) => ErrorCode::InternalError,
        }
    }

    fn problem(&self) -> Problem {
        let code = self.code();
        let (status, title) = code.status_and_title();
        let (detail, errors) = match self {
            ApiError::Problem { detail, errors, .. } => (detail.clone(), errors.clone()),
            ApiError::RetryLater { detail, .. } => (detail.clone(), Vec::new()),
            // 5xx bodies never carry internal details; the cause is logged once.
            ApiError::Database(_) | ApiError::Internal(_) => (title.to_owned(), Vec::new()),
        };
        Problem {
            problem_type: format!("urn:org-members:problem:{}", code.as_str()),
            title: title.to_owned(),
            status: status.as_u16(),
            detail,
            code,
            errors,
            request_id: crate::http::request_context::current_id(),
        }
    }
}

/// Whole seconds, rounded up: `Retry-After` must not invite a retry that is refused again.
fn retry_after_seconds(wait: std::time::Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

/// What a 503 without a wait of its own asks: long enough for a restarted database or a
/// reconnect, short enough that a client retrying by it notices recovery soon.
const UNAVAILABLE_RETRY_AFTER: std::time::Duration = std::time::Duration::from_secs(2);

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.code().status_and_title().0
    }

    fn error_response(&self) -> HttpResponse {
        if self.code() == ErrorCode::DatabaseUnavailable {
            crate::metrics::DATABASE_UNAVAILABLE.inc();
        }
        if self.status_code().is_server_error() {
            let id = crate::http::request_context::current_id().unwrap_or_default();
            log::error!("request {id} failed: {self}");
        }
        let mut response = HttpResponse::build(self.status_code());
        response.content_type("application/problem+json");
        if self.status_code() == StatusCode::UNAUTHORIZED {
            // RFC 6750: a token that was presented and refused says so; a missing one does not.
            let challenge = match self.code() {
                ErrorCode::TokenInvalid | ErrorCode::TokenExpired | ErrorCode::TokenRevoked => {
                    r#"Bearer error="invalid_token""#
                }
                _ => "Bearer",
            };
            response.insert_header((
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(challenge),
            ));
        }
        match self {
            ApiError::RetryLater { retry_after, .. } => {
                response.insert_header((header::RETRY_AFTER, retry_after_seconds(*retry_after)));
            }
            _ if self.status_code() == StatusCode::SERVICE_UNAVAILABLE => {
                response.insert_header((
                    header::RETRY_AFTER,
                    retry_after_seconds(UNAVAILABLE_RETRY_AFTER),
                ));
            }
            _ => {}
        }
        response.json(self.problem())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_hundreds_hide_their_cause() {
        let error = ApiError::Internal("secret connection string".into());
        let problem = error.problem();
        assert_eq!(problem.status, 500);
        assert!(!problem.detail.contains("secret"));
        assert_eq!(
            problem.problem_type,
            "urn:org-members:problem:internal_error"
        );
    }
}
