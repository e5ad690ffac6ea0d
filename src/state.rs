//! What every request handler shares: the database pool, the settings and the JWT keys.

use sea_orm::DatabaseConnection;

use crate::auth::JwtKeys;
use crate::settings::Settings;

pub struct AppState {
    pub db: DatabaseConnection,
    pub settings: Settings,
    pub jwt: JwtKeys,
}

impl AppState {
    /// `<PUBLIC_URL>/user/signup/?token=<token>`, relative when no public URL is configured.
    pub fn invite_url(&self, token: &str) -> String {
        let base = self.settings.public_url.as_deref().unwrap_or("");
        format!("{base}/user/signup/?token={token}")
    }
}
