//! The audit log: entries are written in the transaction of the change they describe (so a change
//! and its entry exist together or not at all) and only ever read afterwards.

use chrono::NaiveDateTime;
use sea_orm::ActiveValue::Set;
use sea_orm::{
    ColumnTrait, ConnectionTrait, EntityTrait, PaginatorTrait, QueryFilter, QueryOrder, Select,
};
use serde_json::Value;

use super::access::{OrganizationRef, acting_now};
use super::now;
use super::pages::read_page;
use crate::auth::Caller;
use crate::domain::Role;
use crate::domain::audit::{AuditAction, AuditTarget};
use crate::domain::page::PageRequest;
use crate::entities::{audit_event, user};
use crate::error::ApiError;
use crate::http::request_context;
use crate::state::AppState;

/// One change to record.
#[derive(Debug)]
pub struct AuditEntry {
    organization_id: i32,
    action: AuditAction,
    actor_id: Option<i32>,
    target: AuditTarget,
    before: Option<Value>,
    after: Option<Value>,
}

impl AuditEntry {
    pub fn new(
        organization_id: i32,
        action: AuditAction,
        actor_id: Option<i32>,
        target: AuditTarget,
    ) -> AuditEntry {
        AuditEntry {
            organization_id,
            action,
            actor_id,
            target,
            before: None,
            after: None,
        }
    }

    pub fn before(mut self, before: Value) -> AuditEntry {
        self.before = Some(before);
        self
    }

    pub fn after(mut self, after: Value) -> AuditEntry {
        self.after = Some(after);
        self
    }
}

/// Writes `entries` through `db` (the change's transaction), stamped with the time and the id and
/// client address of the request being served.
pub async fn record<C: ConnectionTrait>(
    db: &C,
    entries: impl IntoIterator<Item = AuditEntry>,
) -> Result<(), ApiError> {
    let rows = rows(entries);
    // Chunks keep every backend under its bound-parameter limit (bulk invites write hundreds).
    for chunk in rows.chunks(200) {
        audit_event::Entity::insert_many(chunk.to_vec())
            .exec_without_returning(db)
            .await?;
    }
    Ok(())
}

fn rows(entries: impl IntoIterator<Item = AuditEntry>) -> Vec<audit_event::ActiveModel> {
    let at = now();
    let served = request_context::current();
    entries
        .into_iter()
        .map(|entry| {
            let (target_type, target_id) = entry.target.parts();
            let (request_id, client_address) = served
                .as_ref()
                .map(|request| (Some(request.id.clone()), request.client_address.clone()))
                .unwrap_or_default();
            audit_event::ActiveModel {
                organization_id: Set(entry.organization_id),
                occurred_at: Set(at),
                action: Set(entry.action.as_str().to_owned()),
                actor_id: Set(entry.actor_id),
                target_type: Set(target_type.to_owned()),
                target_id: Set(target_id),
                before: Set(entry.before.map(|v| v.to_string())),
                after: Set(entry.after.map(|v| v.to_string())),
                request_id: Set(request_id),
                client_address: Set(client_address),
                ..Default::default()
            }
        })
        .collect()
}

/// A short, non-reversible name for a secret token, so the log can tell two links apart without
/// holding either.
pub fn fingerprint(token: &str) -> String {
    crate::domain::token::token_hash(token)[..12].to_owned()
}

/// Filters of the audit log list.
#[derive(Debug, Default)]
pub struct AuditQuery {
    pub actions: Vec<AuditAction>,
    pub actor_id: Option<i32>,
    pub target: Option<(String, Option<i32>)>,
    pub since: Option<NaiveDateTime>,
    pub until: Option<NaiveDateTime>,
    pub page: PageRequest,
}

/// An entry with its actor's account, when the actor still exists.
pub struct AuditRecord {
    pub event: audit_event::Model,
    pub actor: Option<user::Model>,
}

/// One page of an organization's audit log, newest first; Owners and Administrators only.
pub async fn list(
    state: &AppState,
    caller: &Caller,
    organization_id: i32,
    query: &AuditQuery,
) -> Result<(u64, Vec<AuditRecord>), ApiError> {
    acting_now(
        state,
        caller,
        organization_id,
        OrganizationRef::Path,
        Role::manages_members,
    )
    .await?;
    let select = filtered(organization_id, query);
    let count = select.clone().count(state.db.read()).await?;
    let newest_first = select
        .order_by_desc(audit_event::Column::Id)
        .find_also_related(user::Entity)
        .into_model::<audit_event::Model, user::Model>();
    let rows = read_page(state.db.read(), newest_first, query.page).await?;
    let records = rows
        .into_iter()
        .map(|(event, actor)| AuditRecord { event, actor })
        .collect();
    Ok((count, records))
}

fn filtered(organization_id: i32, query: &AuditQuery) -> Select<audit_event::Entity> {
    let mut select =
        audit_event::Entity::find().filter(audit_event::Column::OrganizationId.eq(organization_id));
    if !query.actions.is_empty() {
        select = select
            .filter(audit_event::Column::Action.is_in(query.actions.iter().map(|a| a.as_str())));
    }
    if let Some(actor_id) = query.actor_id {
        select = select.filter(audit_event::Column::ActorId.eq(actor_id));
    }
    if let Some((target_type, target_id)) = &query.target {
        select = select.filter(audit_event::Column::TargetType.eq(target_type.as_str()));
        if let Some(target_id) = target_id {
            select = select.filter(audit_event::Column::TargetId.eq(*target_id));
        }
    }
    if let Some(since) = query.since {
        select = select.filter(audit_event::Column::OccurredAt.gte(since));
    }
    if let Some(until) = query.until {
        select = select.filter(audit_event::Column::OccurredAt.lt(until));
    }
    select
}
