//! One settings tree: defaults in code, overridden by the environment variables of [`VARIABLES`],
//! validated once at boot. Tests build `Settings` in code and never touch the environment.

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
    /// Whether a SQLite file that does not exist may be created: when `DATABASE_URL` is unset (a
    /// first run on the default path) and for the commands that set a database up; never for a
    /// server whose `DATABASE_URL` names a file, where a missing one is a lost one.
    pub create_missing_database: bool,
    /// `DATABASE_MAX_CONNECTIONS`: the pool's size; on SQLite, the readers beside its one writer.
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
    /// `REQUEST_TIMEOUT`: longest a request may take, database calls included, before it is
    /// answered 503 (a frozen or unreachable database must not hang clients).
    pub request_timeout: Duration,
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
    /// `EMAIL_CLAIM_LEASE`: how long a sender's claim on a message holds without renewal; after
    /// a crash mid-send, the longest the message waits for another instance.
    pub email_claim_lease: Duration,
    /// `EMAIL_CONCURRENCY`: messages one instance sends at once.
    pub email_concurrency: usize,
    /// `EMAIL_POLL_INTERVAL`: how often the sender looks for due messages.
    pub email_poll_interval: Duration,
    /// Whether this process runs the background sender (tests drive it explicitly instead).
    pub run_email_sender: bool,
    /// `INVITE_MAX_ADDRESSES`: most addresses one bulk invitation request may carry.
    pub invite_max_addresses: usize,
    /// `EMAILS_PER_RECIPIENT_PER_DAY`: invitation emails one address may be sent in 24 hours,
    /// resends included (0 turns the limit off).
    pub emails_per_recipient_per_day: u32,
    /// `EMAILS_PER_ORGANIZATION_PER_DAY`: invitation emails one organization may send in 24
    /// hours (0 turns the limit off).
    pub emails_per_organization_per_day: u32,
    /// `CORS_ALLOWED_ORIGINS`: browser origins allowed to call the API (`*` for any); none by
    /// default, which leaves CORS off.
    pub cors_allowed_origins: Vec<String>,
    /// `TRUST_FORWARDED_FOR`: take the client address from the last `X-Forwarded-For` entry, the
    /// one the proxy in front appended (only behind such a proxy; anyone can send the header).
    pub trust_forwarded_for: bool,
    /// `SERVE_PAGES`: the signup, sign-in and Organization pages (off for API-only deployments).
    pub serve_pages: bool,
    /// `METRICS_TOKEN`: the bearer token a Prometheus scraper sends to `GET /metrics`; without
    /// one the endpoint does not exist.
    pub metrics_token: Option<Secret>,
    /// `RATE_LIMIT_PER_ADDRESS`: login, signup, lookup and accept requests one client address may
    /// make per minute, for each of the four (0 turns the limit off).
    pub rate_limit_per_address: u32,
    /// `RATE_LIMIT_PER_EMAIL`: signup attempts per minute for one email address, failed logins
    /// per minute for one email from one client address, and accepts per minute for one account
    /// (0 turns the limit off).
    pub rate_limit_per_email: u32,
}

impl Default for Settings {
    fn default() -> Settings {
        Settings {
            database_url: "sqlite://data/org-members.sqlite3?mode=rwc".to_owned(),
            create_missing_database: true,
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
            request_timeout: Duration::from_secs(5),
            workers: None,
            smtp_url: None,
            email_from: "org-members <no-reply@localhost>".to_owned(),
            email_max_attempts: 10,
            email_retry_base: Duration::from_secs(10),
            email_claim_lease: Duration::from_secs(5 * 60),
            email_concurrency: 4,
            email_poll_interval: Duration::from_secs(2),
            run_email_sender: true,
            invite_max_addresses: 500,
            emails_per_recipient_per_day: 5,
            emails_per_organization_per_day: 2000,
            cors_allowed_origins: Vec::new(),
            trust_forwarded_for: false,
            metrics_token: None,
            serve_pages: true,
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

    /// Reads settings through `lookup` (the environment, or a map in tests): each of
    /// [`VARIABLES`] that is set and not blank.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Settings, SettingsError> {
        let mut settings = Settings::default();
        for variable in VARIABLES {
            if let Some(value) = lookup(variable.name).filter(|value| !value.trim().is_empty()) {
                (variable.set)(&mut settings, variable.name, &value)?;
            }
        }
        if settings.smtp_url.is_some() && settings.public_url.is_none() {
            return Err(invalid(
                "PUBLIC_URL",
                "must be set when SMTP_URL is: invitation emails carry an absolute link to it",
            ));
        }
        Ok(settings)
    }

    /// The domain of `EMAIL_FROM`, which the Message-IDs of outgoing emails end in.
    pub fn email_domain(&self) -> &str {
        let domain = self.email_from.rsplit('@').next().unwrap_or("localhost");
        domain.trim_end_matches('>')
    }

    /// Whether the database is SQLite (one writer connection, WAL).
    pub fn is_sqlite(&self) -> bool {
        self.database_url.starts_with("sqlite:")
    }
}

/// One environment variable the service reads: the one list `org-members --help`, README's
/// table and [`Settings::from_lookup`] all come from.
pub struct Variable {
    pub name: &'static str,
    /// The default as people read it.
    pub default: &'static str,
    pub meaning: &'static str,
    /// Parses a value into the settings; the name is the variable's, for the error.
    set: Setter,
}

type Setter = fn(&mut Settings, &'static str, &str) -> Result<(), SettingsError>;

/// Logging is set up before the settings are read (`main`): these are documented, not parsed here.
fn read_by_the_logger(_: &mut Settings, _: &'static str, _: &str) -> Result<(), SettingsError> {
    Ok(())
}

/// Every variable, in the order the documentation lists them.
pub const VARIABLES: &[Variable] = &[
    Variable {
        name: "DATABASE_URL",
        default: "`sqlite://data/org-members.sqlite3?mode=rwc`",
        meaning: "`sqlite:`, `postgres://` or `mysql://` (MariaDB) URL; a SQLite file it names must exist (`org-members migrate` creates it): only the default path is created by the server",
        set: |s, name, raw| {
            s.database_url = parse_database_url(name, raw)?;
            s.create_missing_database = false;
            Ok(())
        },
    },
    Variable {
        name: "DATABASE_MAX_CONNECTIONS",
        default: "`10`",
        meaning: "PostgreSQL or MariaDB: the connection pool's size; SQLite: read connections beside its one writer",
        set: |s, name, raw| {
            s.database_max_connections = parse_count(name, raw, 1, 1000)?;
            Ok(())
        },
    },
    Variable {
        name: "HOST",
        default: "`127.0.0.1`",
        meaning: "address to listen on",
        set: |s, _, raw| {
            s.host = raw.trim().to_owned();
            Ok(())
        },
    },
    Variable {
        name: "PORT",
        default: "`8080`",
        meaning: "port to listen on",
        set: |s, name, raw| {
            s.port = raw
                .trim()
                .parse()
                .map_err(|_| invalid(name, "expected a port number from 0 to 65535"))?;
            Ok(())
        },
    },
    Variable {
        name: "JWT_SECRET",
        default: "generated",
        meaning: "HS256 signing key, at least 32 bytes; when unset one is generated once and kept in the database, so restarts and sibling instances agree",
        set: |s, name, raw| {
            if raw.len() < MIN_JWT_SECRET_BYTES {
                return Err(invalid(
                    name,
                    format!("must be at least {MIN_JWT_SECRET_BYTES} bytes"),
                ));
            }
            s.jwt_secret = Some(Secret::new(raw));
            Ok(())
        },
    },
    Variable {
        name: "PUBLIC_URL",
        default: "none",
        meaning: "base of invite links (`<PUBLIC_URL>/user/signup/?token=...`); links are relative without it",
        set: |s, name, raw| {
            s.public_url = Some(parse_public_url(name, raw)?);
            Ok(())
        },
    },
    Variable {
        name: "ACCESS_TOKEN_TTL",
        default: "`15m`",
        meaning: "access token lifetime: seconds, or `90s`, `15m`, `12h`, `30d`",
        set: |s, name, raw| {
            s.access_token_ttl = parse_duration(name, raw)?;
            Ok(())
        },
    },
    Variable {
        name: "REFRESH_TOKEN_TTL",
        default: "`7d`",
        meaning: "lifetime of the refresh token given at login and signup",
        set: |s, name, raw| {
            s.refresh_token_ttl = parse_duration(name, raw)?;
            Ok(())
        },
    },
    Variable {
        name: "PERSONAL_TOKEN_TTL",
        default: "`365d`",
        meaning: "lifetime of personal access tokens (`POST /api/token/`)",
        set: |s, name, raw| {
            s.personal_token_ttl = parse_duration(name, raw)?;
            Ok(())
        },
    },
    Variable {
        name: "DISABLE_SIGNUP_WITHOUT_LINK",
        default: "`false`",
        meaning: "`true`: signup needs an invite link or invitation token",
        set: |s, name, raw| {
            s.disable_signup_without_link |= parse_bool(name, raw)?;
            Ok(())
        },
    },
    Variable {
        name: "LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK",
        default: "`false`",
        meaning: "Label Studio's name for the same switch; either one closes signup",
        set: |s, name, raw| {
            s.disable_signup_without_link |= parse_bool(name, raw)?;
            Ok(())
        },
    },
    Variable {
        name: "MAX_BODY_BYTES",
        default: "`262144`",
        meaning: "larger request bodies get a 413 problem",
        set: |s, name, raw| {
            s.max_body_bytes = parse_count(name, raw, 1024, u32::MAX)? as usize;
            Ok(())
        },
    },
    Variable {
        name: "REQUEST_TIMEOUT",
        default: "`5s`",
        meaning: "longest a request may take before it is answered 503 `deadline_exceeded` with `Retry-After`; on PostgreSQL also each statement's `statement_timeout`",
        set: |s, name, raw| {
            let timeout = parse_duration(name, raw)?;
            if timeout < Duration::from_secs(1) {
                return Err(invalid(name, "expected at least 1s"));
            }
            s.request_timeout = timeout;
            Ok(())
        },
    },
    Variable {
        name: "WORKERS",
        default: "one per core",
        meaning: "HTTP worker threads",
        set: |s, name, raw| {
            s.workers = Some(parse_count(name, raw, 1, 256)? as usize);
            Ok(())
        },
    },
    Variable {
        name: "SMTP_URL",
        default: "none",
        meaning: "lettre's URL form: `smtp://host:25`, `smtp://user:pass@host:587?tls=required`, `smtps://user:pass@host:465`; without it invitations stay queued",
        set: |s, name, raw| {
            lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::from_url(raw)
                .map_err(|error| invalid(name, format!("not an SMTP URL ({error})")))?;
            s.smtp_url = Some(Secret::new(raw));
            Ok(())
        },
    },
    Variable {
        name: "EMAIL_FROM",
        default: "`org-members <no-reply@localhost>`",
        meaning: "sender mailbox of invitation emails",
        set: |s, name, raw| {
            raw.parse::<lettre::message::Mailbox>()
                .map_err(|_| invalid(name, "expected `Name <address>` or an address"))?;
            s.email_from = raw.to_owned();
            Ok(())
        },
    },
    Variable {
        name: "EMAIL_MAX_ATTEMPTS",
        default: "`10`",
        meaning: "sends tried before a message is marked `failed` (a permanent SMTP refusal fails at once)",
        set: |s, name, raw| {
            s.email_max_attempts = parse_count(name, raw, 1, 100)?;
            Ok(())
        },
    },
    Variable {
        name: "EMAIL_RETRY_BASE",
        default: "`10s`",
        meaning: "wait after the first failed try; doubles each time, at most 30 minutes",
        set: |s, name, raw| {
            s.email_retry_base = parse_duration(name, raw)?;
            Ok(())
        },
    },
    Variable {
        name: "EMAIL_CLAIM_LEASE",
        default: "`5m`",
        meaning: "how long a sender's claim on a message holds; renewed while it sends, so only a sender that stopped loses it, and its message goes out again after at most this long",
        set: |s, name, raw| {
            let lease = parse_duration(name, raw)?;
            if lease < Duration::from_secs(1) {
                return Err(invalid(name, "expected at least 1s"));
            }
            s.email_claim_lease = lease;
            Ok(())
        },
    },
    Variable {
        name: "EMAIL_CONCURRENCY",
        default: "`4`",
        meaning: "messages one instance sends at once",
        set: |s, name, raw| {
            s.email_concurrency = parse_count(name, raw, 1, 64)? as usize;
            Ok(())
        },
    },
    Variable {
        name: "EMAIL_POLL_INTERVAL",
        default: "`2s`",
        meaning: "how often each instance's sender looks for due messages",
        set: |s, name, raw| {
            s.email_poll_interval = parse_duration(name, raw)?;
            Ok(())
        },
    },
    Variable {
        name: "INVITE_MAX_ADDRESSES",
        default: "`500`",
        meaning: "most addresses in one `POST /api/invite/send-email`",
        set: |s, name, raw| {
            s.invite_max_addresses = parse_count(name, raw, 1, 10_000)? as usize;
            Ok(())
        },
    },
    Variable {
        name: "EMAILS_PER_RECIPIENT_PER_DAY",
        default: "`5`",
        meaning: "invitation emails one address may be sent in 24 hours, resends included; more answer 429 `email_limit_reached`; `0` turns it off",
        set: |s, name, raw| {
            s.emails_per_recipient_per_day = parse_count(name, raw, 0, 1_000_000)?;
            Ok(())
        },
    },
    Variable {
        name: "EMAILS_PER_ORGANIZATION_PER_DAY",
        default: "`2000`",
        meaning: "invitation emails one organization may send in 24 hours; more answer 429 `email_limit_reached`; `0` turns it off",
        set: |s, name, raw| {
            s.emails_per_organization_per_day = parse_count(name, raw, 0, 100_000_000)?;
            Ok(())
        },
    },
    Variable {
        name: "CORS_ALLOWED_ORIGINS",
        default: "none (CORS off)",
        meaning: "browser origins allowed to call the API, comma-separated (`https://app.example.org,http://localhost:3000`), or `*`",
        set: |s, name, raw| {
            s.cors_allowed_origins = parse_origins(name, raw)?;
            Ok(())
        },
    },
    Variable {
        name: "TRUST_FORWARDED_FOR",
        default: "`false`",
        meaning: "take the client address (rate limits, audit log) from the last `X-Forwarded-For` entry; set it only behind a proxy that appends one",
        set: |s, name, raw| {
            s.trust_forwarded_for = parse_bool(name, raw)?;
            Ok(())
        },
    },
    Variable {
        name: "SERVE_PAGES",
        default: "`true`",
        meaning: "serve the pages (`/user/signup/`, `/user/login/`, `/organization/`); `false` for an API-only deployment",
        set: |s, name, raw| {
            s.serve_pages = parse_bool(name, raw)?;
            Ok(())
        },
    },
    Variable {
        name: "METRICS_TOKEN",
        default: "none (`/metrics` off)",
        meaning: "bearer token a Prometheus scraper sends to `GET /metrics`, at least 16 bytes; unset, the endpoint does not exist",
        set: |s, name, raw| {
            if raw.len() < 16 {
                return Err(invalid(name, "must be at least 16 bytes"));
            }
            s.metrics_token = Some(Secret::new(raw));
            Ok(())
        },
    },
    Variable {
        name: "RATE_LIMIT_PER_ADDRESS",
        default: "`60`",
        meaning: "login, signup, invite lookup and accept requests per minute from one client address, each counted apart; `0` turns it off",
        set: |s, name, raw| {
            s.rate_limit_per_address = parse_count(name, raw, 0, 1_000_000)?;
            Ok(())
        },
    },
    Variable {
        name: "RATE_LIMIT_PER_EMAIL",
        default: "`10`",
        meaning: "signup attempts per minute for one email address, failed logins per minute for one email from one client address (a correct password is never counted), accepts per minute for one account; `0` turns it off",
        set: |s, name, raw| {
            s.rate_limit_per_email = parse_count(name, raw, 0, 1_000_000)?;
            Ok(())
        },
    },
    Variable {
        name: "RUST_LOG",
        default: "`info`",
        meaning: "log filter (`env_logger` syntax)",
        set: read_by_the_logger,
    },
    Variable {
        name: "LOG_FORMAT",
        default: "text",
        meaning: "`json`: one JSON object per log line, for log shippers",
        set: read_by_the_logger,
    },
];

/// The variables as `--help` lists them.
pub fn help_text() -> String {
    let width = VARIABLES.iter().map(|v| v.name.len()).max().unwrap_or(0);
    let mut text = String::from("Configuration (environment variables):\n");
    for variable in VARIABLES {
        let default = variable.default.replace('`', "");
        let meaning = variable.meaning.replace('`', "");
        text += &format!(
            "  {:width$}  {meaning} (default: {default})\n",
            variable.name
        );
    }
    text
}

/// The variables as README's table lists them.
pub fn markdown_table() -> String {
    let mut table = String::from("| variable | default | meaning |\n|---|---|---|\n");
    for variable in VARIABLES {
        table += &format!(
            "| `{}` | {} | {} |\n",
            variable.name, variable.default, variable.meaning
        );
    }
    table
}

fn parse_database_url(variable: &'static str, url: &str) -> Result<String, SettingsError> {
    let known = [
        "sqlite:",
        "postgres://",
        "postgresql://",
        "mysql://",
        "mariadb://",
    ];
    if !known.iter().any(|scheme| url.starts_with(scheme)) {
        return Err(invalid(
            variable,
            "expected a sqlite:, postgres:// or mysql:// URL",
        ));
    }
    // sqlx speaks MySQL's protocol to MariaDB; accept the name people type.
    Ok(url.replacen("mariadb://", "mysql://", 1))
}

fn parse_public_url(variable: &'static str, raw: &str) -> Result<String, SettingsError> {
    let url =
        url::Url::parse(raw).map_err(|error| invalid(variable, format!("not a URL ({error})")))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(invalid(variable, "expected an http:// or https:// URL"));
    }
    Ok(raw.trim_end_matches('/').to_owned())
}

/// `https://app.example.org, http://localhost:3000` or `*`.
fn parse_origins(variable: &'static str, raw: &str) -> Result<Vec<String>, SettingsError> {
    raw.split(',')
        .map(str::trim)
        .filter(|origin| !origin.is_empty())
        .map(|origin| {
            if origin == "*" {
                return Ok(origin.to_owned());
            }
            let url = url::Url::parse(origin)
                .map_err(|_| invalid(variable, format!("{origin:?} is not an origin")))?;
            let bare = url.path() == "/" && url.query().is_none() && !origin.ends_with('/');
            if !matches!(url.scheme(), "http" | "https") || url.host().is_none() || !bare {
                return Err(invalid(
                    variable,
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

    /// Each documented default, read as a value, is the default the code has: the list that
    /// `--help` and README show cannot drift from what the service does unset.
    #[test]
    fn every_documented_default_is_the_default() {
        let defaults = format!("{:?}", Settings::default());
        for variable in VARIABLES {
            let shown = variable.default.trim_matches('`');
            if variable.default.starts_with('`') {
                let mut settings = Settings::default();
                (variable.set)(&mut settings, variable.name, shown).expect(variable.name);
                // Naming a file, even the default one, is what makes a missing file a lost one.
                settings.create_missing_database = true;
                assert_eq!(format!("{settings:?}"), defaults, "{}", variable.name);
            }
        }
    }

    /// README's configuration table is this list's, word for word.
    #[test]
    fn the_readme_lists_every_variable_as_the_code_does() {
        let readme = include_str!("../README.md");
        let table = markdown_table();
        assert!(
            readme.contains(&table),
            "README.md's configuration table differs from settings::VARIABLES; it should read:\n{table}"
        );
    }

    /// Emails sent with relative links would be dead ends: an SMTP server without the public URL
    /// stops the start, naming the variable that is missing.
    #[test]
    fn smtp_without_a_public_url_is_refused() {
        let error = from(&[("SMTP_URL", "smtp://mail:25")]).expect_err("no PUBLIC_URL");
        assert_eq!(error.variable, "PUBLIC_URL");
        let settings = from(&[
            ("SMTP_URL", "smtp://mail:25"),
            ("PUBLIC_URL", "https://members.example.org"),
        ])
        .expect("both");
        assert!(settings.smtp_url.is_some());
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
