//! The `org-members` binary: serve (the default), `migrate`, `bootstrap`, `openapi`.

use std::process::ExitCode;

use clap::Parser;

#[actix_web::main]
async fn main() -> ExitCode {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info")).init();
    let cli = org_members::cli::Cli::parse();
    match org_members::cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("org-members: {error}");
            ExitCode::FAILURE
        }
    }
}
