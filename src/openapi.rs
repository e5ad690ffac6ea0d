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
    // Paths exist only after the routes were collected, so these run here, not as modifiers.
    utoipa::Modify::modify(&ProblemDefault, &mut spec);
    settle_contract(&mut spec);
    spec
}

/// Each operation's one-line summary, by operationId; its doc comment becomes the description.
/// The operationIds are part of the contract (README): a rename needs a deprecation first.
const SUMMARIES: &[(&str, &str)] = &[
    ("health", "Liveness"),
    ("ready", "Readiness"),
    ("version", "Name and version"),
    ("signup", "Sign up"),
    ("login", "Log in"),
    ("whoami", "Who am I"),
    ("current_user", "Get the current user"),
    (
        "update_current_user",
        "Edit the profile or switch organization",
    ),
    ("refresh", "Refresh an access token"),
    ("change_password", "Change my password"),
    ("request_password_reset", "Ask for a password reset link"),
    (
        "confirm_password_reset",
        "Set a new password from a reset link",
    ),
    ("create_personal_token", "Create a personal access token"),
    ("list_personal_tokens", "List personal access tokens"),
    ("blacklist", "Revoke a token (sign out)"),
    ("get_invite_link", "Get the invite link"),
    ("reset_invite_link", "Reset the invite link"),
    ("lookup_invite", "Look up an invite token"),
    ("send_invites", "Invite by email"),
    ("revoke_invite_by_email", "Revoke an invitation by address"),
    ("accept_invitation", "Accept an invitation"),
    ("list_invitations", "List invitations"),
    ("get_invitation", "Get an invitation"),
    ("resend_invitation", "Resend an invitation"),
    ("revoke_invitation", "Revoke an invitation"),
    ("list_organizations", "List my organizations"),
    ("get_organization", "Get an organization"),
    ("update_organization", "Rename an organization"),
    ("list_memberships", "List members"),
    ("get_membership", "Get a member"),
    ("update_membership", "Assign a role"),
    ("delete_membership", "Remove a member"),
    ("end_member_sessions", "End a member's sessions"),
    ("transfer_ownership", "Transfer ownership"),
    ("list_audit_log", "Read the audit log"),
];

/// Paths Label Studio's client and the README call with a trailing slash; every path answers
/// with or without one, and the document names these as their callers write them, so a typed
/// client (openapi-fetch) accepts the call.
const TRAILING_SLASH_PATHS: &[&str] = &["/api/token", "/api/token/refresh", "/api/token/blacklist"];

/// What makes the document a contract a generated client can rely on: a short summary per
/// operation, `security: []` on public ones, a server, the paths as Label Studio's client writes
/// them, and an error `code` that stays a string when codes are added.
fn settle_contract(spec: &mut utoipa::openapi::OpenApi) {
    spec.servers = Some(vec![
        utoipa::openapi::ServerBuilder::new()
            .url("/")
            .description(Some("This service, wherever it is served from"))
            .build(),
    ]);
    for path in TRAILING_SLASH_PATHS {
        if let Some(item) = spec.paths.paths.remove(*path) {
            spec.paths.paths.insert(format!("{path}/"), item);
        }
    }
    for item in spec.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.post,
            &mut item.put,
            &mut item.patch,
            &mut item.delete,
        ];
        for operation in operations.into_iter().flatten() {
            let id = operation.operation_id.clone().unwrap_or_default();
            if let Some((_, summary)) = SUMMARIES.iter().find(|(known, _)| *known == id) {
                if operation.description.is_none() {
                    operation.description = operation.summary.take();
                }
                operation.summary = Some((*summary).to_owned());
            }
            if operation.security.is_none() {
                operation.security = Some(Vec::new());
            }
        }
    }
    open_error_codes(spec);
}

/// `ErrorCode` as an open string: a client generated from the document must not fail on a code
/// added later. The known codes are listed in `x-known-values` and the description.
fn open_error_codes(spec: &mut utoipa::openapi::OpenApi) {
    use utoipa::openapi::extensions::ExtensionsBuilder;
    use utoipa::openapi::schema::{ObjectBuilder, Type};
    // The closed enum utoipa derived from `ErrorCode` names every code there is.
    let Some(components) = spec.components.as_mut() else {
        return;
    };
    let derived = components
        .schemas
        .get("ErrorCode")
        .and_then(|schema| serde_json::to_value(schema).ok())
        .unwrap_or_default();
    let known: Vec<String> = derived["enum"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|code| code.as_str().map(str::to_owned))
        .collect();
    let schema = ObjectBuilder::new()
        .schema_type(Type::String)
        .description(Some(format!(
            "A stable, machine-readable problem code: branch on it, never on the English text. \
             New codes may be added in any release, so treat one you do not know as its HTTP \
             status says; a code is never renamed or given another meaning. Known codes: {}.",
            known
                .iter()
                .map(|code| format!("`{code}`"))
                .collect::<Vec<_>>()
                .join(", ")
        )))
        .examples(["validation_failed"])
        .extensions(Some(
            ExtensionsBuilder::new()
                .add("x-known-values", serde_json::json!(known))
                .build(),
        ))
        .build();
    components
        .schemas
        .insert("ErrorCode".to_owned(), schema.into());
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
