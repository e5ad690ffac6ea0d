//! Liveness, readiness and version, for orchestrators and smoke tests.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use migration::{Migrator, MigratorTrait};

use crate::error::{ApiError, ErrorCode, Problem};
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct Status {
    /// `ok` when healthy.
    pub status: &'static str,
}

#[derive(Serialize, ToSchema)]
pub struct VersionBody {
    pub name: &'static str,
    pub version: &'static str,
}

/// The process is alive.
#[utoipa::path(tag = "operations", responses((status = 200, description = "The process is alive", body = Status)))]
#[get("/health")]
pub async fn health() -> web::Json<Status> {
    web::Json(Status { status: "ok" })
}

/// How long readiness waits for the database: an orchestrator's probe must get an answer well
/// before its own timeout, whatever the database does.
const READY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// The database answers, every migration is applied and a write could succeed; 503 otherwise.
#[utoipa::path(tag = "operations", responses(
    (status = 200, description = "The database answers and the schema is current", body = Status),
    (status = 503, description = "`database_unavailable`: unreachable, migrations pending, or (SQLite) the file cannot be written or was deleted", body = Problem, content_type = "application/problem+json"),
))]
#[get("/ready")]
pub async fn ready(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let unavailable = |detail: &str| ApiError::new(ErrorCode::DatabaseUnavailable, detail);
    let pending = tokio::time::timeout(
        READY_TIMEOUT,
        Migrator::get_pending_migrations(state.db.read()),
    )
    .await
    .map_err(|_| {
        log::warn!("readiness check: the database did not answer in time");
        unavailable("The database does not answer in time.")
    })?
    .map_err(|error| {
        log::warn!("readiness check failed: {error}");
        unavailable("The database does not answer.")
    })?;
    if !pending.is_empty() {
        return Err(unavailable(
            "The database schema is behind this version; run `org-members migrate`.",
        ));
    }
    tokio::time::timeout(READY_TIMEOUT, state.db.check_writable())
        .await
        .map_err(|_| unavailable("The database does not answer in time."))?
        .map_err(|error| {
            log::warn!("readiness check: {error}");
            unavailable("The database cannot be written; the log says why.")
        })?;
    Ok(HttpResponse::Ok().json(Status { status: "ok" }))
}

/// The service's name and version.
#[utoipa::path(tag = "operations", responses((status = 200, description = "The service's name and version", body = VersionBody)))]
#[get("/version")]
pub async fn version() -> web::Json<VersionBody> {
    web::Json(VersionBody {
        name: env!("CARGO_PKG_NAME"),
        version: env!("CARGO_PKG_VERSION"),
    })
}
