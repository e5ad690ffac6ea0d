//! `GET /api/organizations/`, `GET /api/organizations/{id}` and its rename, `PATCH`.

use actix_web::{get, patch, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;
use validator::Validate;

use crate::auth::Caller;
use crate::error::{ApiError, Problem};
use crate::http::extractors::{plain_text, validate};
use crate::http::input::Json;
use crate::services::{organizations, utc};
use crate::state::AppState;

/// One of the caller's organizations, for an organization switcher.
#[derive(Serialize, ToSchema)]
pub struct OrganizationSummary {
    pub id: i32,
    pub title: String,
    pub created_at: DateTime<Utc>,
    /// The caller's role there (`NO`: pending).
    #[schema(value_type = crate::domain::Role)]
    pub role: String,
    /// Whether the caller acts in it now (`PATCH /api/current-user` switches).
    pub active: bool,
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
            .map(|(organization, role)| OrganizationSummary {
                active: organization.id == caller.organization_id,
                id: organization.id,
                title: organization.title,
                created_at: utc(organization.created_at),
                role,
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

/// An organization's settings that can change.
#[derive(Debug, Deserialize, Validate, ToSchema)]
#[schema(example = json!({"title": "Acme Research"}))]
pub struct OrganizationUpdate {
    /// The organization's name, as members and invitation emails show it.
    #[serde(default)]
    #[validate(
        length(min = 1, max = 200, code = "length", message = "1 to 200 characters"),
        custom(function = "plain_text")
    )]
    #[schema(required = true, min_length = 1, max_length = 200)]
    pub title: String,
}

/// Renames the organization (Owner, Administrator), as label-studio-sdk's
/// `organizations.update(id, title=...)` does; audited.
#[utoipa::path(tag = "organizations", security(("bearer" = [])),
    params(("id" = i32, Path, description = "Organization id")),
    request_body = OrganizationUpdate,
    responses(
        (status = 200, description = "The organization, renamed", body = OrganizationBody),
        (status = 400, description = "`validation_failed`: a title of 1 to 200 plain characters", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`permission_denied`, `account_not_activated` or `account_deactivated`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not a member of it", body = Problem, content_type = "application/problem+json"),
    ))]
#[patch("/api/organizations/{id}")]
pub async fn update_organization(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i32>,
    body: Json<OrganizationUpdate>,
) -> Result<web::Json<OrganizationBody>, ApiError> {
    validate(&*body)?;
    let title = body.into_inner().title.trim().to_owned();
    let organization = organizations::rename(&state, &caller, id.into_inner(), title).await?;
    Ok(web::Json(OrganizationBody {
        id: organization.id,
        title: organization.title,
        created_at: utc(organization.created_at),
        created_by: organization.created_by,
    }))
}
