//! Liveness, readiness and version, for orchestrators and smoke tests.

use actix_web::{HttpResponse, get, web};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, Problem};
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
#[utoipa::path(tag = "operations", responses((status = 200, body = Status)))]
#[get("/health")]
pub async fn health() -> web::Json<Status> {
    web::Json(Status { status: "ok" })
}

/// The database answers; 503 otherwise.
#[utoipa::path(tag = "operations", responses(
    (status = 200, body = Status),
    (status = 503, description = "The database is unreachable", body = Problem, content_type = "application/problem+json"),
))]
#[get("/ready")]
pub async fn ready(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    state.db.ping().await.map_err(|error| {
        log::warn!("readiness check failed: {error}");
        ApiError::new(
            crate::error::ErrorCode::DatabaseUnavailable,
            "The database does not answer.",
        )
    })?;
    Ok(HttpResponse::Ok().json(Status { status: "ok" }))
}

/// The service's name and version.
#[utoipa::path(tag = "operations", responses((status = 200, body = VersionBody)))]
#[get("/version")]
pub async fn version() -> web::Json<VersionBody> {
    web::Json(VersionBody {
        name: env!("CARGO_PKG_NAME"),
        version: env!("CARGO_PKG_VERSION"),
    })
}
