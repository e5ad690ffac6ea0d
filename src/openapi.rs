//! The OpenAPI 3.1 document: general information here, paths and schemas collected from the
//! route registrations. It feeds `/api/openapi.json`, `org-members openapi` and the drift test.

use actix_web::http::header::ContentType;
use actix_web::web::{Bytes, Data};
use actix_web::{App, HttpResponse};
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa_actix_web::AppExt;

use crate::error::{ErrorCode, Problem};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "org-members",
        description = "Invite links, email invitations, pending users and role assignment for an \
organization, compatible with Label Studio's API. Every path also answers with a trailing slash (the Swagger UI under `/docs/` excepted). \
Errors are RFC 9457 problem documents (`application/problem+json`) with a stable `code`.",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    components(schemas(Problem, ErrorCode)),
    modifiers(&BearerAuth),
    tags(
        (name = "accounts", description = "Signup, login, the current user"),
        (name = "tokens", description = "Refresh and personal access tokens"),
        (name = "invite link", description = "The organization's shareable invite link"),
        (name = "invitations", description = "Email invitations: bulk invite, lifecycle, delivery"),
        (name = "organizations", description = "Organizations of the caller"),
        (name = "members", description = "Members, pending users and roles"),
        (name = "audit", description = "The organization's audit log"),
        (name = "operations", description = "Health, readiness, version"),
    )
)]
struct ApiDoc;

struct BearerAuth;

impl utoipa::Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An access JWT from login, signup or `POST /api/token/refresh/`",
                    ))
                    .build(),
            ),
        );
    }
}

/// Gives every operation a `default` response: whatever else it answers is a problem document
/// (malformed JSON, oversized body, wrong content type, database down...).
struct ProblemDefault;

impl utoipa::Modify for ProblemDefault {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let problem = ResponseBuilder::new()
            .description("Any other failure, as an RFC 9457 problem document")
            .content(
                "application/problem+json",
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build(),
            )
            .build();
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ];
            for operation in operations.into_iter().flatten() {
                operation
                    .responses
                    .responses
                    .entry("default".to_owned())
                    .or_insert_with(|| problem.clone().into());
            }
        }
    }
}

/// The service's OpenAPI document.
pub fn spec() -> utoipa::openapi::OpenApi {
    let (_, mut spec) = App::new()
        .into_utoipa_app()
        .openapi(ApiDoc::openapi())
        .configure(crate::routes::configure)
        .split_for_parts();
    spec.info.version = env!("CARGO_PKG_VERSION").to_owned();
    // Paths exist only after the routes were collected, so this runs here, not as a modifier.
    utoipa::Modify::modify(&ProblemDefault, &mut spec);
    spec
}

/// The document as served at `/api/openapi.json`: serialized once at start-up. The document
/// itself is megabytes of maps and strings, its JSON under 100 KB, so only the JSON is kept.
pub struct ServedSpec(Bytes);

impl ServedSpec {
    pub fn new(spec: &utoipa::openapi::OpenApi) -> serde_json::Result<Self> {
        serde_json::to_vec(spec).map(|json| Self(Bytes::from(json)))
    }
}

/// `GET /api/openapi.json`.
pub async fn serve(spec: Data<ServedSpec>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type(ContentType::json())
        .body(spec.0.clone())
}

/// The document as pretty JSON with a trailing newline, as committed in `openapi/openapi.json`.
pub fn spec_json() -> String {
    let mut json = spec().to_pretty_json().unwrap_or_default();
    json.push('\n');
    json
}
