//! The `org-members` binary: serve (the default), `migrate`, `bootstrap`, `openapi`.

use std::process::ExitCode;

use clap::Parser;

/// mimalloc rather than glibc's malloc: glibc keeps freed memory in per-thread arenas, so bursts
/// of work on many threads leave the service larger, and mimalloc serves small allocations faster.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[actix_web::main]
async fn main() -> ExitCode {
    init_logging();
    let cli = org_members::cli::Cli::parse();
    match org_members::cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            // The service's own start-up refusals are sentences already; sea-orm's wrapper
            // would prefix them with "Custom Error:".
            match error.downcast_ref::<sea_orm::DbErr>() {
                Some(sea_orm::DbErr::Custom(message)) => eprintln!("org-members: {message}"),
                _ => eprintln!("org-members: {error}"),
            }
            ExitCode::FAILURE
        }
    }
}

/// `RUST_LOG` filters (default `info`); `LOG_FORMAT=json` writes one JSON object per line for
/// log shippers.
fn init_logging() {
    use std::io::Write;
    let mut builder =
        env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("info"));
    if std::env::var("LOG_FORMAT").is_ok_and(|format| format.eq_ignore_ascii_case("json")) {
        builder.format(|buf, record| {
            let line = serde_json::json!({
                "ts": chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
                "level": record.level().as_str(),
                "target": record.target(),
                "message": record.args().to_string(),
            });
            writeln!(buf, "{line}")
        });
    }
    builder.init();
}
