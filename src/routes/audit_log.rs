//! An organization's audit log: read-only, newest first.

use actix_web::{HttpRequest, get, web};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::auth::Caller;
use crate::domain::audit::{AuditAction, AuditTarget};
use crate::domain::page::PageRequest;
use crate::error::{ApiError, FieldError, Problem};
use crate::http::extractors::choice;
use crate::http::input::Query;
use crate::http::pagination::page_links;
use crate::services::audit::{self, AuditQuery, AuditRecord};
use crate::services::utc;
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditLogQuery {
    /// One action or a comma-separated list, e.g. `member.role_changed,member.removed`.
    pub action: Option<String>,
    /// Id of the user who acted.
    pub actor: Option<i32>,
    /// `organization`, `invitation` or `user`.
    pub target_type: Option<String>,
    /// Id of the target; needs `target_type`.
    pub target_id: Option<i32>,
    /// Entries at or after this instant (RFC 3339).
    pub since: Option<DateTime<Utc>>,
    /// Entries before this instant (RFC 3339).
    pub until: Option<DateTime<Utc>>,
    /// Page number, from 1.
    #[param(minimum = 1)]
    pub page: Option<u64>,
    /// Entries per page, 1 to 1000 (default 20).
    #[param(minimum = 1, maximum = 1000)]
    pub page_size: Option<u64>,
}

impl AuditLogQuery {
    fn parse(&self) -> Result<AuditQuery, ApiError> {
        let mut errors = Vec::new();
        let actions = self
            .action
            .as_deref()
            .unwrap_or_default()
            .split(',')
            .filter_map(|raw| choice(Some(raw), "/query/action", AuditAction::parse, &mut errors))
            .collect();
        let target_type = choice(
            self.target_type.as_deref(),
            "/query/target_type",
            |raw| AuditTarget::TYPES.into_iter().find(|known| *known == raw),
            &mut errors,
        );
        if self.target_id.is_some() && self.target_type.is_none() {
            errors.push(FieldError::new(
                "/query/target_id",
                "requires_target_type",
                "target_id needs target_type",
            ));
        }
        let page = PageRequest::parse(self.page, self.page_size, &mut errors);
        if !errors.is_empty() {
            return Err(ApiError::validation(errors));
        }
        Ok(AuditQuery {
            actions,
            actor_id: self.actor,
            target: target_type.map(|kind| (kind.to_owned(), self.target_id)),
            since: self.since.map(|at| at.naive_utc()),
            until: self.until.map(|at| at.naive_utc()),
            page,
        })
    }
}

/// Who acted.
#[derive(Serialize, ToSchema)]
pub struct AuditActorBody {
    pub id: i32,
    /// Null when the account no longer exists.
    pub email: Option<String>,
}

/// What an entry is about.
#[derive(Serialize, ToSchema)]
pub struct AuditTargetBody {
    /// `organization`, `invitation` or `user`.
    #[serde(rename = "type")]
    pub target_type: String,
    pub id: i32,
}

/// One recorded change.
#[derive(Serialize, ToSchema)]
pub struct AuditEntryBody {
    pub id: i32,
    /// What happened, e.g. `member.role_changed`.
    #[schema(value_type = AuditAction)]
    pub action: String,
    /// Null for anonymous requests (a refused signup with an invitation token).
    pub actor: Option<AuditActorBody>,
    pub target: AuditTargetBody,
    /// The changed fields before the change (null when something was created).
    #[schema(value_type = Option<Object>)]
    pub before: Option<serde_json::Value>,
    /// The changed fields after the change (null when something was removed).
    #[schema(value_type = Option<Object>)]
    pub after: Option<serde_json::Value>,
    pub occurred_at: DateTime<Utc>,
    /// The request that made the change (`X-Request-Id`).
    pub request_id: Option<String>,
    /// The client's IP address.
    pub client_address: Option<String>,
}

impl From<AuditRecord> for AuditEntryBody {
    fn from(record: AuditRecord) -> AuditEntryBody {
        let event = record.event;
        let parse = |text: Option<String>| text.and_then(|t| serde_json::from_str(&t).ok());
        AuditEntryBody {
            id: event.id,
            action: event.action,
            actor: event.actor_id.map(|id| AuditActorBody {
                id,
                email: record.actor.map(|user| user.email),
            }),
            target: AuditTargetBody {
                target_type: event.target_type,
                id: event.target_id,
            },
            before: parse(event.before),
            after: parse(event.after),
            occurred_at: utc(event.occurred_at),
            request_id: event.request_id,
            client_address: event.client_address,
        }
    }
}

/// A page of audit entries, in the members list's pagination shape.
#[derive(Serialize, ToSchema)]
pub struct AuditPageBody {
    pub count: u64,
    /// The next page of the same query, as a relative reference (`/api/...?page=3`) to resolve
    /// against the URL requested; null on the last page.
    pub next: Option<String>,
    /// The previous page of the same query, as `next`; null on the first page.
    pub previous: Option<String>,
    pub results: Vec<AuditEntryBody>,
}

/// The organization's audit log, newest first (Owner, Administrator). Entries are written in the
/// same transaction as the change and cannot be changed or deleted.
#[utoipa::path(tag = "audit", security(("bearer" = [])),
    params(("id" = i32, Path, description = "Organization id"), AuditLogQuery),
    responses(
        (status = 200, description = "One page of the audit log, newest first", body = AuditPageBody),
        (status = 400, description = "Invalid query", body = Problem, content_type = "application/problem+json"),
        (status = 401, description = "Missing, invalid or expired token", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "Role may not read the audit log", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "Not a member of this organization", body = Problem, content_type = "application/problem+json"),
    ))]
#[get("/api/organizations/{id}/audit-log")]
pub async fn list_audit_log(
    req: HttpRequest,
    state: web::Data<AppState>,
    caller: Caller,
    id: web::Path<i32>,
    query: Query<AuditLogQuery>,
) -> Result<web::Json<AuditPageBody>, ApiError> {
    let query = query.parse()?;
    let (count, records) = audit::list(&state, &caller, id.into_inner(), &query).await?;
    let (next, previous) = page_links(&req, query.page, count);
    Ok(web::Json(AuditPageBody {
        count,
        next,
        previous,
        results: records.into_iter().map(AuditEntryBody::from).collect(),
    }))
}
