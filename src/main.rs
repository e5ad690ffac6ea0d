//! The `org-members` binary: serve (the default), `migrate`, `bootstrap`, `openapi`.

use std::process::ExitCode;

use clap::Parser;

/// mimalloc was chosen when every password hash allocated its own memory: glibc's malloc kept
/// each (then 19 MiB) in the arena of the thread that computed it, and a login burst took the
/// service to 200+ MiB. The hashing threads now keep theirs (`auth::password`). Measured again
/// then (BENCHMARKS.md, session 8), glibc left the service 5 MiB smaller after logins but served
/// single-row reads up to a quarter slower, so mimalloc stays.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[actix_web::main]
async fn main() -> ExitCode {
    init_logging();
    let cli = org_members::cli::Cli::parse();
    match org_members::cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("org-members: {error}");
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
