//! Members of an organization: list (pending users are `role=NO`), one, role assignment,
//! removal, ownership transfer.

use actix_web::{HttpRequest, HttpResponse, delete, get, patch, post, web};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::representations::MemberBody;
use crate::auth::Caller;
use crate::domain::Role;
use crate::domain::page::PageRequest;
use crate::error::{ApiError, FieldError, Problem};
use crate::http::extractors::{choice, search_term};
use crate::http::input::{Json, Query};
use crate::http::pagination::page_links;
use crate::services::members::{self, MemberQuery, SortKey};
use crate::state::AppState;

/// How the members list is ordered; a leading `-` reverses.
// Names the orders in the OpenAPI document only: `MembersQuery::parse` reads the query.
#[derive(ToSchema)]
#[allow(dead_code)]
pub enum MemberOrdering {
    #[schema(rename = "id")]
    Id,
    #[schema(rename = "-id")]
    IdDescending,
    #[schema(rename = "created_at")]
    CreatedAt,
    #[schema(rename = "-created_at")]
    CreatedAtDescending,
    #[schema(rename = "email")]
    Email,
    #[schema(rename = "-email")]
    EmailDescending,
    #[schema(rename = "role")]
    Role,
    #[schema(rename = "-role")]
    RoleDescending,
    #[schema(rename = "last_activity")]
    LastActivity,
    #[schema(rename = "-last_activity")]
    LastActivityDescending,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MembersQuery {
    /// One role code or a comma-separated list of them (`AD,MA`); `NO` lists pending users.
    #[param(
        pattern = r"^(OW|AD|MA|RE|AN|NO|DI)(,(OW|AD|MA|RE|AN|NO|DI))*$",
        example = "AD,MA"
    )]
    pub role: Option<String>,
    /// Case-insensitive match on email, first or last name.
    pub search: Option<String>,
    /// `id`, `created_at`, `email`, `role` or `last_activity`; prefix `-` to reverse. Default `id`.
    #[param(value_type = Option<MemberOrdering>, inline)]
    pub ordering: Option<String>,
    /// Page number, from 1.
    #[param(minimum = 1)]
    pub page: Option<u64>,
    /// Members per page, 1 to 1000 (default 20).
    #[param(minimum = 1, maximum = 1000)]
    pub page_size: Option<u64>,
}

impl MembersQuery {
    fn parse(&self) -> Result<MemberQuery, ApiError> {
        let mut errors = Vec::new();
        let roles = self
            .role
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|code| !code.is_empty())
            .filter_map(|code| {
                let role = Role::from_code(code);
                if role.is_none() {
                    errors.push(FieldError::new(
                        "/query/role",
                        "invalid_choice",
                        format!("unknown role {code:?}"),
                    ));
                }
                role
            })
            .collect();
        let sort = match self.ordering.as_deref().filter(|o| !o.is_empty()) {
            None => (SortKey::Id, false),
            Some(raw) => SortKey::parse(raw).unwrap_or_else(|| {
                errors.push(FieldError::new(
                    "/query/ordering",
                    "invalid_choice",
                    format!("cannot order by {raw:?}"),
                ));
                (SortKey::Id, false)
            }),
        };
        let page = PageRequest::parse(self.page, self.page_size, &mut errors);
        let search = search_term(self.search.as_deref(), "/query/search", &mut errors);
        if !errors.is_empty() {
            return Err(ApiError::validation(errors));
        }
        Ok(MemberQuery {
            roles,
            search,
            sort,
            page,
        })
    }
}

/// A page of members, Label Studio's pagination shape.
#[derive(Serialize, ToSchema)]
pub struct MemberPageBody {
    pub count: u64,
    /// The next page of the same query, as a relative reference (`/api/...?page=3`) to resolve
    /// against the URL requested; null on the last page.
    pub next: Option<String>,
    /// The previous page of the same query, as `next`; null on the first page.
    pub previous: Option<String>,
    pub results: Vec<MemberBody>,
}

/// Lists members (Owner, Administrator, Manager). A page past the end is an empty page.
#[utoipa::path(tag = "members", security(("bearer" = [])),
    params(("id" = i32, Path, description = "Organization id"), MembersQuery),
    responses(
        (status = 200, description = "One page of members and how many match", body = MemberPageBody),
        (status = 400, description = "Invalid query", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not list members", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not a member of this organization", body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/api/organizations/{id}/memberships")]
pub async fn list_memberships(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i32>,
    query: Query<MembersQuery>,
) -> Result<web::Json<MemberPageBody>, ApiError> {
    let query = query.parse()?;
    let page = members::list(&state, &caller, id.into_inner(), &query).await?;
    let (next, previous) = page_links(&req, query.page, page.count);
    Ok(web::Json(MemberPageBody {
        count: page.count,
        next,
        previous,
        results: page
            .members
            .iter()
            .map(MemberBody::of)
            .collect::<Result<_, _>>()?,
    }))
}

/// One member (Owner, Administrator, Manager).
#[utoipa::path(tag = "members", security(("bearer" = [])),
    params(("id" = i32, Path, description = "Organization id"), ("user_id" = i32, Path, description = "User id")),
    responses(
        (status = 200, description = "The member", body = MemberBody),
        (status = 401, description = "Missing, invalid or expired token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not read members", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`organization_not_found` or `member_not_found`", body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/api/organizations/{id}/memberships/{user_id}")]
pub async fn get_membership(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(i32, i32)>,
) -> Result<web::Json<MemberBody>, ApiError> {
    let (organization_id, user_id) = path.into_inner();
    let member = members::get(&state, &caller, organization_id, user_id).await?;
    Ok(web::Json(MemberBody::of(&member)?))
}

/// A role assignment.
#[derive(Debug, Deserialize, ToSchema)]
#[schema(example = json!({"user_id": 42, "role": "AN"}))]
pub struct RoleAssignment {
    #[schema(required = true, value_type = i32)]
    pub user_id: Option<i32>,
    /// Any role but `OW`: activate a pending user, change a role, or deactivate with `DI`.
    #[schema(required = true, value_type = Role)]
    pub role: Option<String>,
}

impl RoleAssignment {
    fn parse(&self) -> Result<(i32, Role), ApiError> {
        let mut errors = Vec::new();
        if self.user_id.is_none() {
            errors.push(FieldError::new(
                "/user_id",
                "required",
                "user_id is required",
            ));
        }
        let role = choice(self.role.as_deref(), "/role", Role::from_code, &mut errors);
        if self
            .role
            .as_deref()
            .is_none_or(|code| code.trim().is_empty())
        {
            errors.push(FieldError::new("/role", "required", "role is required"));
        }
        match (self.user_id, role) {
            (Some(user_id), Some(role)) => Ok((user_id, role)),
            _ => Err(ApiError::validation(errors)),
        }
    }
}

/// Assigns a role (Owner, Administrator); effective on the member's very next request.
#[utoipa::path(tag = "members", security(("bearer" = [])),
    params(("id" = i32, Path, description = "Organization id")),
    request_body = RoleAssignment,
    responses(
        (status = 200, description = "The member with the role now stored", body = MemberBody),
        (status = 400, description = "Invalid fields", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`permission_denied`, `role_not_assignable`, `own_role_change` or `owner_protected`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`organization_not_found` or `member_not_found`", body = Problem, content_type = "application/problem+json"),
    ))]
#[patch("/api/organizations/{id}/memberships")]
pub async fn update_membership(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i32>,
    body: Json<RoleAssignment>,
) -> Result<web::Json<MemberBody>, ApiError> {
    let (user_id, role) = body.parse()?;
    let member = members::assign_role(&state, &caller, id.into_inner(), user_id, role).await?;
    Ok(web::Json(MemberBody::of(&member)?))
}

/// Removes a member, kept as history (Owner, Administrator); not yourself, not the Owner.
#[utoipa::path(tag = "members", security(("bearer" = [])),
    params(("id" = i32, Path, description = "Organization id"), ("user_id" = i32, Path, description = "User id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 401, description = "Missing, invalid or expired token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`permission_denied`, `own_role_change` or `owner_protected`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`organization_not_found` or `member_not_found`", body = Problem, content_type = "application/problem+json"),
    ))]
#[delete("/api/organizations/{id}/memberships/{user_id}")]
pub async fn delete_membership(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(i32, i32)>,
) -> Result<HttpResponse, ApiError> {
    let (organization_id, user_id) = path.into_inner();
    members::remove(&state, &caller, organization_id, user_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Ends every session and personal token the member holds in the organization, at once
/// (Owner, Administrator; the Owner's only by the Owner). Their access tokens stop working on
/// their next request; they can sign in again unless deactivated or removed too.
#[utoipa::path(tag = "members", security(("bearer" = [])),
    params(("id" = i32, Path, description = "Organization id"), ("user_id" = i32, Path, description = "User id")),
    responses(
        (status = 204, description = "Every session and personal token of the member in the organization ended"),
        (status = 401, description = "Missing, invalid or expired token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "`permission_denied` or `owner_protected`", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`organization_not_found` or `member_not_found`", body = Problem, content_type = "application/problem+json"),
    ))]
#[delete("/api/organizations/{id}/memberships/{user_id}/sessions")]
pub async fn end_member_sessions(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(i32, i32)>,
) -> Result<HttpResponse, ApiError> {
    let (organization_id, user_id) = path.into_inner();
    members::end_sessions(&state, &caller, organization_id, user_id).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct TransferRequest {
    /// The member, with an active role, who becomes Owner.
    pub user_id: i32,
}

/// Makes another active member the Owner; the caller becomes Administrator (Owner only).
#[utoipa::path(tag = "members", security(("bearer" = [])),
    params(("id" = i32, Path, description = "Organization id")),
    request_body = TransferRequest,
    responses(
        (status = 200, description = "The new Owner", body = MemberBody),
        (status = 400, description = "`transfer_target_invalid`", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Not the Owner", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`organization_not_found`", body = Problem, content_type = "application/problem+json"),
    ))]
#[post("/api/organizations/{id}/transfer-ownership")]
pub async fn transfer_ownership(
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i32>,
    body: Json<TransferRequest>,
) -> Result<web::Json<MemberBody>, ApiError> {
    let member =
        members::transfer_ownership(&state, &caller, id.into_inner(), body.user_id).await?;
    Ok(web::Json(MemberBody::of(&member)?))
}
