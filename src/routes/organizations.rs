//! `GET /api/organizations/` and `GET /api/organizations/{id}`.

use actix_web::{get, web};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::services::{organizations, utc};
use crate::state::AppState;

#[derive(Serialize, ToSchema)]
pub struct OrganizationSummary {
    pub id: i32,
    pub title: String,
    pub created_at: DateTime<Utc>,
}

#[derive(Serialize, ToSchema)]
pub struct OrganizationBody {
    pub id: i32,
    pub title: String,
    pub created_at: DateTime<Utc>,
    /// Id of the user who created it.
    pub created_by: Option<i32>,
}

/// The organizations the caller belongs to.
#[utoipa::path(tag = "organizations", security(("bearer" = [])), responses(
    (status = 200, description = "The caller's organizations", body = Vec<OrganizationSummary>),
    (status = 401, description = "Missing, invalid or expired token", body = Problem, content_type = "application/problem+json"),
    (status = 403, description = "`account_not_activated`, `account_deactivated` or `membership_removed`: only whoami and sign-out are open until a role is assigned", body = Problem, content_type = "application/problem+json"),
))]
#[get("/api/organizations")]
pub async fn list_organizations(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<web::Json<Vec<OrganizationSummary>>, ApiError> {
    let found = organizations::list_mine(&state, &caller).await?;
    Ok(web::Json(
        found
            .into_iter()
            .map(|organization| OrganizationSummary {
                id: organization.id,
                title: organization.title,
                created_at: utc(organization.created_at),
            })
            .collect(),
    ))
}

/// One organization the caller is an active member of.
#[utoipa::path(tag = "organizations", security(("bearer" = [])),
    params(("id" = i32, Path, description = "Organization id")),
    responses(
        (status = 200, description = "The organization", body = OrganizationBody),
        (status = 401, description = "Missing, invalid or expired token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Pending or deactivated", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not a member of it", body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/api/organizations/{id}")]
pub async fn get_organization(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i32>,
) -> Result<web::Json<OrganizationBody>, ApiError> {
    let organization = organizations::get(&state, &caller, id.into_inner()).await?;
    Ok(web::Json(OrganizationBody {
        id: organization.id,
        title: organization.title,
        created_at: utc(organization.created_at),
        created_by: organization.created_by,
    }))
}
