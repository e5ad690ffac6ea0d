//! HS256 access and refresh tokens: what they carry and how they are checked.

use chrono::Utc;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation, errors::ErrorKind};
use serde::{Deserialize, Serialize};

use crate::domain::Role;
use crate::error::{ApiError, ErrorCode};

pub const ISSUER: &str = "org-members";
pub const AUDIENCE: &str = "org-members";

/// Which of the two kinds a token is; each is refused where the other is expected.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    Access,
    Refresh,
}

/// The claims of every token this service signs.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Claims {
    /// The user id, as a string (RFC 7519).
    pub sub: String,
    /// The organization the token acts in.
    pub org: i32,
    /// The role at issue time; informational only, the database decides.
    pub role: Role,
    pub token_type: TokenType,
    pub iat: i64,
    pub exp: i64,
    pub jti: String,
    pub iss: String,
    pub aud: String,
}

impl Claims {
    pub fn user_id(&self) -> Result<i32, ApiError> {
        self.sub
            .parse()
            .map_err(|_| ApiError::new(ErrorCode::TokenInvalid, "The token names no user."))
    }
}

/// Signing and verification keys derived from the one secret.
#[derive(Clone)]
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

/// The clock skew allowed on `exp` and `nbf`, in seconds.
const LEEWAY_SECONDS: u64 = 5;

impl JwtKeys {
    pub fn new(secret: &[u8]) -> JwtKeys {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        validation.set_required_spec_claims(&["exp", "iat", "sub", "iss", "aud"]);
        validation.validate_nbf = true;
        validation.leeway = LEEWAY_SECONDS;
        JwtKeys {
            encoding: EncodingKey::from_secret(secret),
            decoding: DecodingKey::from_secret(secret),
            validation,
        }
    }

    pub fn sign(&self, claims: &Claims) -> Result<String, ApiError> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(|error| ApiError::Internal(format!("signing a token failed: {error}")))
    }

    /// Verifies signature, issuer, audience and expiry, and that the token is of `expected` type.
    pub fn verify(&self, token: &str, expected: TokenType) -> Result<Claims, ApiError> {
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|error| match error.kind() {
                ErrorKind::ExpiredSignature => {
                    ApiError::new(ErrorCode::TokenExpired, "The token has expired.")
                }
                _ => ApiError::new(ErrorCode::TokenInvalid, "The token is not valid."),
            })?;
        if data.claims.token_type != expected {
            let detail = match expected {
                TokenType::Access => "A refresh token cannot be used as an access token.",
                TokenType::Refresh => "An access token cannot be used to refresh.",
            };
            return Err(ApiError::new(ErrorCode::TokenInvalid, detail));
        }
        Ok(data.claims)
    }
}

/// Claims for a new token of `token_type` that lives `ttl`.
pub fn new_claims(
    user_id: i32,
    organization_id: i32,
    role: Role,
    token_type: TokenType,
    ttl: std::time::Duration,
    jti: String,
) -> Claims {
    let now = Utc::now().timestamp();
    Claims {
        sub: user_id.to_string(),
        org: organization_id,
        role,
        token_type,
        iat: now,
        exp: now + i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2),
        jti,
        iss: ISSUER.to_owned(),
        aud: AUDIENCE.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn keys() -> JwtKeys {
        JwtKeys::new(b"0123456789abcdef0123456789abcdef")
    }

    fn claims(token_type: TokenType) -> Claims {
        new_claims(
            7,
            3,
            Role::Annotator,
            token_type,
            Duration::from_secs(60),
            "j".into(),
        )
    }

    #[test]
    fn a_signed_access_token_verifies_as_access_only() {
        let token = keys().sign(&claims(TokenType::Access)).expect("signs");
        let verified = keys().verify(&token, TokenType::Access).expect("verifies");
        assert_eq!((verified.user_id().ok(), verified.org), (Some(7), 3));
        let refused = keys()
            .verify(&token, TokenType::Refresh)
            .expect_err("wrong type");
        assert_eq!(refused.code(), ErrorCode::TokenInvalid);
    }

    #[test]
    fn another_key_and_expired_tokens_are_refused_with_distinct_codes() {
        let token = keys().sign(&claims(TokenType::Access)).expect("signs");
        let other = JwtKeys::new(b"ffffffffffffffffffffffffffffffff");
        assert_eq!(
            other
                .verify(&token, TokenType::Access)
                .expect_err("wrong key")
                .code(),
            ErrorCode::TokenInvalid
        );
        let mut old = claims(TokenType::Access);
        old.exp = Utc::now().timestamp() - 600;
        let expired = keys().sign(&old).expect("signs");
        assert_eq!(
            keys()
                .verify(&expired, TokenType::Access)
                .expect_err("expired")
                .code(),
            ErrorCode::TokenExpired
        );
    }
}
