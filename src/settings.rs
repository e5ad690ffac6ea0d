//! One settings tree: defaults in code, overridden by environment variables, validated once at
//! boot. Tests build `Settings` in code and never touch the environment.

use std::fmt;
use std::time::Duration;

/// Smallest accepted `JWT_SECRET`, in bytes: HS256 keys shorter than the hash are weak.
pub const MIN_JWT_SECRET_BYTES: usize = 32;

/// A secret whose `Debug` output is redacted.
#[derive(Clone)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: impl Into<String>) -> Secret {
        Secret(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// Everything the service can be configured with.
#[derive(Clone, Debug)]
pub struct Settings {
    /// `DATABASE_URL`: `sqlite://...`, `postgres://...` or `mysql://...`.
    pub database_url: String,
    /// `DATABASE_MAX_CONNECTIONS`: connections for requests, shared out among the HTTP workers
    /// (SQLite always uses one writer connection). One organization's managing writes use at
    /// most half of a worker's share at once (`turns`).
    pub database_max_connections: u32,
    /// `HOST` and `PORT` the server binds to.
    pub host: String,
    pub port: u16,
    /// `JWT_SECRET`; when absent, one is generated once and kept in the database.
    pub jwt_secret: Option<Secret>,
    /// `PUBLIC_URL`: base of invite links; relative links when absent.
    pub public_url: Option<String>,
    /// `ACCESS_TOKEN_TTL`, `REFRESH_TOKEN_TTL`, `PERSONAL_TOKEN_TTL`.
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub personal_token_ttl: Duration,
    /// `DISABLE_SIGNUP_WITHOUT_LINK` (or `LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK`).
    pub disable_signup_without_link: bool,
    /// `MAX_BODY_BYTES`: request bodies beyond this are refused with 413.
    pub max_body_bytes: usize,
    /// `WORKERS`: HTTP worker threads (default: one per core).
    pub workers: Option<usize>,
    /// `SMTP_URL`, lettre's URL form (`smtp://user:pass@host:587?tls=required`, `smtps://...`).
    /// Without it invitations stay queued.
    pub smtp_url: Option<Secret>,
    /// `EMAIL_FROM`: the sender mailbox, `Name <address>` or a bare address.
    pub email_from: String,
    /// `EMAIL_MAX_ATTEMPTS`: sends tried before a message is marked failed.
    pub email_max_attempts: u32,
    /// `EMAIL_RETRY_BASE`: delay after the first failure; doubles each time, at most 30 minutes.
    pub email_retry_base: Duration,
    /// `EMAIL_CONCURRENCY`: messages one instance sends at once.
    pub email_concurrency: usize,
    /// `EMAIL_POLL_INTERVAL`: how often the sender looks for due messages.
    pub email_poll_interval: Duration,
    /// Whether this process runs the background sender (tests drive it explicitly instead).
    pub run_email_sender: bool,
    /// `INVITE_MAX_ADDRESSES`: most addresses one bulk invitation request may carry.
    pub invite_max_addresses: usize,
    /// `CORS_ALLOWED_ORIGINS`: browser origins allowed to call the API (`*` for any); none by
    /// default, which leaves CORS off.
    pub cors_allowed_origins: Vec<String>,
    /// `TRUST_FORWARDED_FOR`: take the client address from the last `X-Forwarded-For` entry, the
    /// one the proxy in front appended (only behind such a proxy; anyone can send the header).
    pub trust_forwarded_for: bool,
    /// `RATE_LIMIT_PER_ADDRESS`: login, signup, lookup and accept requests one client address may
    /// make per minute, for each of the four (0 turns the limit off).
    pub rate_limit_per_address: u32,
    /// `RATE_LIMIT_PER_EMAIL`: login and signup attempts per minute for one email address, and
    /// accepts per minute for one account (0 turns the limit off).
    pub rate_limit_per_email: u32,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            database_url: "sqlite://data/org-members.sqlite3?mode=rwc".to_owned(),
            database_max_connections: 10,
            host: "127.0.0.1".to_owned(),
            port: 8080,
            jwt_secret: None,
            public_url: None,
            access_token_ttl: Duration::from_secs(15 * 60),
            refresh_token_ttl: Duration::from_secs(7 * 24 * 3600),
            personal_token_ttl: Duration::from_secs(365 * 24 * 3600),
            disable_signup_without_link: false,
            max_body_bytes: 256 * 1024,
            workers: None,
            smtp_url: None,
            email_from: "org-members <no-reply@localhost>".to_owned(),
            email_max_attempts: 10,
            email_retry_base: Duration::from_secs(10),
            email_concurrency: 4,
            email_poll_interval: Duration::from_secs(2),
            run_email_sender: true,
            invite_max_addresses: 500,
            cors_allowed_origins: Vec::new(),
            trust_forwarded_for: false,
            rate_limit_per_address: 60,
            rate_limit_per_email: 10,
        }
    }
}

/// A configuration value that cannot be used, naming the variable.
#[derive(Debug, thiserror::Error)]
#[error("invalid {variable}: {reason}")]
pub struct SettingsError {
    pub variable: &'static str,
    pub reason: String,
}

fn invalid(variable: &'static str, reason: impl Into<String>) -> SettingsError {
    SettingsError {
        variable,
        reason: reason.into(),
    }
}

impl Settings {
    /// Reads the process environment.
    pub fn from_env() -> Result<Settings, SettingsError> {
        Settings::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads settings through `lookup` (the environment, or a map in tests).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Settings, SettingsError> {
        let get = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let mut settings = Settings::default();
        if let Some(url) = get("DATABASE_URL") {
            settings.database_url = parse_database_url(&url)?;
        }
        if let Some(value) = get("DATABASE_MAX_CONNECTIONS") {
            settings.database_max_connections = value
                .parse()
                .ok()
                .filter(|n| (1..=1000).contains(n))
                .ok_or_else(|| {
                    invalid(
                        "DATABASE_MAX_CONNECTIONS",
                        "expected a number from 1 to 1000",
                    )
                })?;
        }
        if let Some(host) = get("HOST") {
            settings.host = host;
        }
        if let Some(port) = get("PORT") {
            settings.port = port
                .parse()
                .map_err(|_| invalid("PORT", "expected a port number from 0 to 65535"))?;
        }
        if let Some(secret) = get("JWT_SECRET") {
            if secret.len() < MIN_JWT_SECRET_BYTES {
                return Err(invalid(
                    "JWT_SECRET",
                    format!("must be at least {MIN_JWT_SECRET_BYTES} bytes"),
                ));
            }
            settings.jwt_secret = Some(Secret::new(secret));
        }
        if let Some(url) = get("PUBLIC_URL") {
            settings.public_url = Some(parse_public_url(&url)?);
        }
        if let Some(ttl) = get("ACCESS_TOKEN_TTL") {
            settings.access_token_ttl = parse_duration("ACCESS_TOKEN_TTL", &ttl)?;
        }
        if let Some(ttl) = get("REFRESH_TOKEN_TTL") {
            settings.refresh_token_ttl = parse_duration("REFRESH_TOKEN_TTL", &ttl)?;
        }
        if let Some(ttl) = get("PERSONAL_TOKEN_TTL") {
            settings.personal_token_ttl = parse_duration("PERSONAL_TOKEN_TTL", &ttl)?;
        }
        for name in [
            "DISABLE_SIGNUP_WITHOUT_LINK",
            "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK",
        ] {
            if let Some(value) = get(name) {
                settings.disable_signup_without_link |= parse_bool(name, &value)?;
            }
        }
        if let Some(value) = get("MAX_BODY_BYTES") {
            settings.max_body_bytes =
                value.parse().ok().filter(|n| *n >= 1024).ok_or_else(|| {
                    invalid("MAX_BODY_BYTES", "expected a number of bytes >= 1024")
                })?;
        }
        if let Some(value) = get("WORKERS") {
            settings.workers = Some(
                value
                    .parse()
                    .ok()
                    .filter(|n| (1..=256).contains(n))
                    .ok_or_else(|| invalid("WORKERS", "expected a number from 1 to 256"))?,
            );
        }
        if let Some(url) = get("SMTP_URL") {
            lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(&url)
                .map_err(|error| invalid("SMTP_URL", format!("not an SMTP URL ({error})")))?;
            settings.smtp_url = Some(Secret::new(url));
        }
        if let Some(from) = get("EMAIL_FROM") {
            from.parse::<lettre::message::Mailbox>()
                .map_err(|_| invalid("EMAIL_FROM", "expected `Name <address>` or an address"))?;
            settings.email_from = from;
        }
        if let Some(value) = get("EMAIL_MAX_ATTEMPTS") {
            settings.email_max_attempts = parse_count("EMAIL_MAX_ATTEMPTS", &value, 1, 100)?;
        }
        if let Some(value) = get("EMAIL_RETRY_BASE") {
            settings.email_retry_base = parse_duration("EMAIL_RETRY_BASE", &value)?;
        }
        if let Some(value) = get("EMAIL_CONCURRENCY") {
            settings.email_concurrency = parse_count("EMAIL_CONCURRENCY", &value, 1, 64)? as usize;
        }
        if let Some(value) = get("EMAIL_POLL_INTERVAL") {
            settings.email_poll_interval = parse_duration("EMAIL_POLL_INTERVAL", &value)?;
        }
        if let Some(value) = get("INVITE_MAX_ADDRESSES") {
            settings.invite_max_addresses =
                parse_count("INVITE_MAX_ADDRESSES", &value, 1, 10_000)? as usize;
        }
        if let Some(value) = get("CORS_ALLOWED_ORIGINS") {
            settings.cors_allowed_origins = parse_origins(&value)?;
        }
        if let Some(value) = get("TRUST_FORWARDED_FOR") {
            settings.trust_forwarded_for = parse_bool("TRUST_FORWARDED_FOR", &value)?;
        }
        if let Some(value) = get("RATE_LIMIT_PER_ADDRESS") {
            settings.rate_limit_per_address =
                parse_count("RATE_LIMIT_PER_ADDRESS", &value, 0, 1_000_000)?;
        }
        if let Some(value) = get("RATE_LIMIT_PER_EMAIL") {
            settings.rate_limit_per_email =
                parse_count("RATE_LIMIT_PER_EMAIL", &value, 0, 1_000_000)?;
        }
        Ok(settings)
    }

    /// Whether the database is SQLite (one writer connection, WAL).
    pub fn is_sqlite(&self) -> bool {
        self.database_url.starts_with("sqlite:")
    }
}

fn parse_database_url(url: &str) -> Result<String, SettingsError> {
    let known = [
        "sqlite:",
        "postgres://",
        "postgresql://",
        "mysql://",
        "mariadb://",
    ];
    if !known.iter().any(|scheme| url.starts_with(scheme)) {
        return Err(invalid(
            "DATABASE_URL",
            "expected a sqlite:, postgres:// or mysql:// URL",
        ));
    }
    // sqlx speaks MySQL's protocol to MariaDB; accept the name people type.
    Ok(url.replacen("mariadb://", "mysql://", 1))
}

fn parse_public_url(raw: &str) -> Result<String, SettingsError> {
    let url = url::Url::parse(raw)
        .map_err(|error| invalid("PUBLIC_URL", format!("not a URL ({error})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid("PUBLIC_URL", "expected an http:// or https:// URL"));
    }
    Ok(raw.trim_end_matches('/').to_owned())
}

/// `https://app.example.org, http://localhost:3000` or `*`.
fn parse_origins(raw: &str) -> Result<Vec<String>, SettingsError> {
    raw.split(',')
        .map(str::trim)
        .filter(|origin| !origin.is_empty())
        .map(|origin| {
            if origin == "*" {
                return Ok(origin.to_owned());
            }
            let url = url::Url::parse(origin).map_err(|_| {
                invalid(
                    "CORS_ALLOWED_ORIGINS",
                    format!("{origin:?} is not an origin"),
                )
            })?;
            let bare = url.path() == "/" && url.query().is_none() && !origin.ends_with('/');
            if !matches!(url.scheme(), "http" | "https") || url.host().is_none() || !bare {
                return Err(invalid(
                    "CORS_ALLOWED_ORIGINS",
                    format!("{origin:?} is not an origin like https://app.example.org"),
                ));
            }
            Ok(origin.to_owned())
        })
        .collect()
}

fn parse_count(
    variable: &'static str,
    raw: &str,
    min: u32,
    max: u32,
) -> Result<u32, SettingsError> {
    raw.trim()
        .parse()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| invalid(variable, format!("expected a number from {min} to {max}")))
}

fn parse_bool(variable: &'static str, raw: &str) -> Result<bool, SettingsError> {
    match raw.trim().to_ascii_lowercase().as_str() {
        "1" | "true" | "yes" | "on" => Ok(true),
        "0" | "false" | "no" | "off" => Ok(false),
        _ => Err(invalid(variable, "expected true or false")),
    }
}

/// Seconds as a plain number, or with a unit: `90s`, `15m`, `12h`, `30d`.
fn parse_duration(variable: &'static str, raw: &str) -> Result<Duration, SettingsError> {
    let raw = raw.trim();
    let (number, unit) = match raw.find(|c: char| !c.is_ascii_digit()) {
        Some(split) => raw.split_at(split),
        None => (raw, "s"),
    };
    let multiplier = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => {
            return Err(invalid(
                variable,
                "expected seconds or a number with s, m, h or d",
            ));
        }
    };
    number
        .parse::<u64>()
        .ok()
        .filter(|n| *n > 0)
        .and_then(|n| n.checked_mul(multiplier))
        .filter(|seconds| *seconds <= 10 * 365 * 86_400)
        .map(Duration::from_secs)
        .ok_or_else(|| invalid(variable, "expected a positive duration of at most 10 years"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn from(pairs: &[(&str, &str)]) -> Result<Settings, SettingsError> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Settings::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn no_configuration_serves_sqlite_on_localhost_8080() {
        let settings = from(&[]).expect("defaults are valid");
        assert!(settings.is_sqlite());
        assert_eq!((settings.host.as_str(), settings.port), ("127.0.0.1", 8080));
        assert!(!settings.disable_signup_without_link);
    }

    #[test]
    fn bad_values_name_their_variable() {
        for (name, value) in [
            ("PORT", "eighty"),
            ("JWT_SECRET", "short"),
            ("DATABASE_URL", "redis://x"),
            ("ACCESS_TOKEN_TTL", "15 parsecs"),
            ("DISABLE_SIGNUP_WITHOUT_LINK", "maybe"),
            ("PUBLIC_URL", "ftp://x"),
            ("SMTP_URL", "http://mail"),
            ("EMAIL_FROM", "not a mailbox"),
            ("INVITE_MAX_ADDRESSES", "0"),
            ("CORS_ALLOWED_ORIGINS", "https://app.example.org/path"),
        ] {
            let error = from(&[(name, value)]).expect_err(name);
            assert_eq!(error.variable, name);
        }
    }

    #[test]
    fn durations_take_units_and_label_studio_switch_is_honoured() {
        let settings = from(&[
            ("ACCESS_TOKEN_TTL", "5m"),
            ("LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK", "true"),
        ])
        .expect("valid");
        assert_eq!(settings.access_token_ttl, Duration::from_secs(300));
        assert!(settings.disable_signup_without_link);
    }
}
