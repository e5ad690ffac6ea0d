//! What request handlers share: the database, the settings, the JWT keys and the rate limits.

use std::sync::Arc;

use crate::auth::JwtKeys;
use crate::db::Db;
use crate::http::idempotency::IdempotencySecret;
use crate::http::rate_limit::RateLimits;
use crate::settings::Settings;

#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    pub settings: Settings,
    pub jwt: JwtKeys,
    pub idempotency: IdempotencySecret,
    /// Shared by every HTTP worker: a limit counts the whole instance's requests.
    pub rate_limits: Arc<RateLimits>,
}

impl AppState {
    /// `<PUBLIC_URL>/user/signup/?token=<token>`, relative when no public URL is configured.
    pub fn invite_url(&self, token: &str) -> String {
        let base = self.settings.public_url.as_deref().unwrap_or("");
        format!("{base}/user/signup/?token={token}")
    }

    /// The link of a password reset email.
    pub fn password_reset_url(&self, token: &str) -> String {
        let base = self.settings.public_url.as_deref().unwrap_or("");
        format!("{base}/user/password-reset/?token={token}")
    }
}
