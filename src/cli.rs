//! Command-line interface: what each subcommand does and the configuration it reads.

use clap::{Parser, Subcommand};

use crate::domain::{EmailAddress, Password};
use crate::settings::Settings;
use crate::startup::Application;

#[derive(Parser, Debug)]
#[command(name = "org-members", version, about = "Organization members service: invite links, pending users, roles.", after_help = crate::settings::help_text())]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// Serve the API (the default when no subcommand is given).
    #[command(after_help = crate::settings::help_text())]
    Serve,
    /// Apply database migrations and exit; creates the SQLite file `DATABASE_URL` names if missing.
    #[command(after_help = crate::settings::help_text())]
    Migrate,
    /// Create an organization with its Owner (the first one becomes the default organization).
    #[command(after_help = crate::settings::help_text())]
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
            let db = crate::db::connect(&setting_up()?).await?;
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
            let state = crate::startup::prepare_state(setting_up()?).await?;
            let seeded = crate::seed::organization(&state, &owner, &password, members, invitations)
                .await
                .map_err(in_words)?;
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

/// A service refusal as the sentence it carries ("An account with this email already exists"),
/// without the code a program would switch on.
fn in_words(error: crate::error::ApiError) -> Box<dyn std::error::Error> {
    match error {
        crate::error::ApiError::Problem { detail, .. } => detail.into(),
        other => Box::new(other),
    }
}

/// The settings of a command that sets a database up (`migrate`, `bootstrap`, `seed`): unlike
/// the server, it may create the SQLite file `DATABASE_URL` names.
fn setting_up() -> Result<Settings, crate::settings::SettingsError> {
    Ok(Settings {
        create_missing_database: true,
        ..Settings::from_env()?
    })
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
    let state = crate::startup::prepare_state(setting_up()?).await?;
    let (organization, user) = crate::services::accounts::bootstrap(&state, email, password, title)
        .await
        .map_err(in_words)?;
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
