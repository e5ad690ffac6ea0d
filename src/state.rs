//! What every request handler shares: the database pool, the settings and the JWT keys.

use sea_orm::DatabaseConnection;

use crate::auth::JwtKeys;
use crate::idempotency::IdempotencySecret;
use crate::rate_limit::RateLimits;
use crate::settings::Settings;

pub struct AppState {
    /// Writes and transactions. On SQLite, the single writer connection.
    pub db: DatabaseConnection,
    /// Plain reads outside transactions. On SQLite, a pool of read-only connections that read
    /// in parallel under WAL; elsewhere the same pool as `db`.
    pub reads: DatabaseConnection,
    /// The email sender and housekeeping, outside requests (see `db::connect_background`).
    pub background: DatabaseConnection,
    pub settings: Settings,
    pub jwt: JwtKeys,
    pub idempotency: IdempotencySecret,
    pub rate_limits: RateLimits,
}

impl AppState {
    /// `<PUBLIC_URL>/user/signup/?token=<token>`, relative when no public URL is configured.
    pub fn invite_url(&self, token: &str) -> String {
        let base = self.settings.public_url.as_deref().unwrap_or("");
        format!("{base}/user/signup/?token={token}")
    }
}
