//! Command-line interface: what each subcommand does and the configuration it reads.

use clap::{Parser, Subcommand};

use crate::domain::{EmailAddress, Password};
use crate::settings::Settings;
use crate::startup::Application;

const CONFIGURATION: &str = "\
Configuration (environment variables):
  DATABASE_URL                 sqlite://data/org-members.sqlite3?mode=rwc (default), postgres://..., mysql://...
  DATABASE_MAX_CONNECTIONS     PostgreSQL/MariaDB connections for requests, shared out among workers (default 10)
  HOST, PORT                   where to listen (default 127.0.0.1:8080)
  JWT_SECRET                   HS256 key, at least 32 bytes (default: generated once, kept in the database)
  PUBLIC_URL                   base of invite links, e.g. https://members.example.org
  ACCESS_TOKEN_TTL             access token lifetime: seconds or 15m, 12h, 30d (default 15m)
  REFRESH_TOKEN_TTL            login refresh token lifetime (default 7d)
  PERSONAL_TOKEN_TTL           personal access token lifetime (default 365d)
  DISABLE_SIGNUP_WITHOUT_LINK  true: signup needs an invite link or invitation
                               (LABEL_STUDIO_DISABLE_SIGNUP_WITHOUT_LINK is honoured too)
  MAX_BODY_BYTES               largest accepted request body (default 262144)
  WORKERS                      HTTP worker threads (default: one per core)
  SMTP_URL                     smtp://host:25, smtp://user:pass@host:587?tls=required, smtps://...
                               (default none: invitation emails stay queued)
  EMAIL_FROM                   sender mailbox (default \"org-members <no-reply@localhost>\")
  EMAIL_MAX_ATTEMPTS           tries before a message is marked failed (default 10)
  EMAIL_RETRY_BASE             first retry delay, doubling up to 30m (default 10s)
  EMAIL_CONCURRENCY            messages sent at once per instance (default 4)
  EMAIL_POLL_INTERVAL          how often the sender looks for due messages (default 2s)
  INVITE_MAX_ADDRESSES         most addresses per bulk invitation (default 500)
  CORS_ALLOWED_ORIGINS         browser origins allowed to call the API, comma-separated, or * (default none: CORS off)
  TRUST_FORWARDED_FOR          client address = last X-Forwarded-For entry; only behind one proxy (default false)
  RATE_LIMIT_PER_ADDRESS       login/signup/lookup/accept requests per minute per client address, each (default 60, 0 = off)
  RATE_LIMIT_PER_EMAIL         login/signup attempts per minute per email, accepts per account (default 10, 0 = off)
  RUST_LOG                     log filter (default info)
  LOG_FORMAT                   json: one JSON object per log line (default: text)";

#[derive(Parser, Debug)]
#[command(name = "org-members", version, about = "Organization members service: invite links, pending users, roles.", after_help = CONFIGURATION)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the API (the default when no subcommand is given).
    #[command(after_help = CONFIGURATION)]
    Serve,
    /// Apply database migrations and exit.
    #[command(after_help = CONFIGURATION)]
    Migrate,
    /// Create an organization with its Owner (the first one becomes the default organization).
    #[command(after_help = CONFIGURATION)]
    Bootstrap {
        /// The Owner's email.
        #[arg(long)]
        email: String,
        /// The Owner's password (8 to 128 characters).
        #[arg(long)]
        password: String,
        /// The organization's title.
        #[arg(long)]
        organization: String,
    },
    /// Print the OpenAPI document and exit.
    Openapi,
    /// Seed a large organization for benchmarks (all members share one password).
    #[command(hide = true)]
    Seed {
        #[arg(long)]
        owner: String,
        #[arg(long)]
        password: String,
        /// Members besides the Owner; a tenth of them pending.
        #[arg(long, default_value_t = 1000)]
        members: usize,
        /// Pending invitations.
        #[arg(long, default_value_t = 100)]
        invitations: usize,
    },
    /// Exit 0 when the service on this machine's PORT answers `GET /health` (for container
    /// health checks: the runtime image has no curl).
    Healthcheck,
}

/// Runs one command.
pub async fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Openapi => {
            print!("{}", crate::openapi::spec_json());
            Ok(())
        }
        Command::Serve => {
            let application = Application::build(Settings::from_env()?).await?;
            let settings = &application.state().settings;
            log::info!(
                "listening on http://{}:{}",
                settings.host,
                application.port()
            );
            application.run_until_stopped().await?;
            Ok(())
        }
        Command::Migrate => {
            let db = crate::db::connect(&Settings::from_env()?).await?;
            db.migrate().await?;
            println!("migrations applied");
            Ok(())
        }
        Command::Seed {
            owner,
            password,
            members,
            invitations,
        } => {
            let state = crate::startup::prepare_state(Settings::from_env()?).await?;
            let seeded =
                crate::seed::organization(&state, &owner, &password, members, invitations).await?;
            println!("{} {}", seeded.organization_id, seeded.owner_email);
            Ok(())
        }
        Command::Healthcheck => healthcheck(Settings::from_env()?.port),
        Command::Bootstrap {
            email,
            password,
            organization,
        } => bootstrap(email, password, organization).await,
    }
}

async fn bootstrap(
    email: String,
    password: String,
    title: String,
) -> Result<(), Box<dyn std::error::Error>> {
    let email = EmailAddress::parse(&email).ok_or("--email is not an email address")?;
    let password = Password::parse(password).ok_or("--password must be 8 to 128 characters")?;
    let title = title.trim();
    if title.is_empty() || title.chars().count() > 200 {
        return Err("--organization must be 1 to 200 characters".into());
    }
    let state = crate::startup::prepare_state(Settings::from_env()?).await?;
    let (organization, user) =
        crate::services::accounts::bootstrap(&state, email, password, title).await?;
    println!(
        "created organization {} ({:?}) with Owner user {}",
        organization.id, organization.title, user.id
    );
    Ok(())
}

fn healthcheck(port: u16) -> Result<(), Box<dyn std::error::Error>> {
    use std::io::{Read, Write};
    use std::time::Duration;
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = std::net::TcpStream::connect_timeout(&address, Duration::from_secs(3))?;
    stream.set_read_timeout(Some(Duration::from_secs(3)))?;
    stream.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head)?;
    if head.ends_with(b" 200") {
        Ok(())
    } else {
        Err(format!("GET /health answered {}", String::from_utf8_lossy(&head)).into())
    }
}
