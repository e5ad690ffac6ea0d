//! Organization members: the paginated list (pending users are `role=NO`) and one member;
//! changes are in `roles`, the search in `search`, the per-role counts in `counts`.

pub mod counts;
pub mod roles;
mod search;

use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, ConnectionTrait, DerivePartialModel, EntityTrait, FromQueryResult, JoinType,
    PartialModelTrait, QueryFilter, QueryOrder, QuerySelect, RelationTrait, Select,
};

pub use roles::{assign_role, end_sessions, remove, transfer_ownership};

use super::access::{OrganizationRef, acting_now, find_live_membership};
use super::pages::read_page;
use crate::auth::Caller;
use crate::domain::Role;
use crate::entities::timestamp::Timestamp;
use crate::entities::{membership, user};
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

/// A membership with its user's public columns, as member responses show them. Read without the
/// user's password hash and other private columns: a list of members never loads a secret, and
/// each row carries less to copy and decode.
#[derive(Debug, DerivePartialModel)]
#[sea_orm(entity = "membership::Entity")]
pub struct Member {
    pub id: i32,
    pub organization_id: i32,
    pub role: String,
    pub invited_by: Option<i32>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
    #[sea_orm(nested)]
    pub user: PublicUser,
}

/// A user's public columns.
#[derive(Debug, DerivePartialModel)]
#[sea_orm(entity = "user::Entity")]
pub struct PublicUser {
    pub id: i32,
    pub email: String,
    pub username: String,
    pub first_name: String,
    pub last_name: String,
    pub date_joined: Timestamp,
    pub last_activity: Option<Timestamp>,
}

/// Sort keys of the members list; a leading `-` in the query reverses one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortKey {
    Id,
    CreatedAt,
    Email,
    Role,
    LastActivity,
}

impl SortKey {
    /// Parses `ordering` (`email`, `-created_at`, ...); `None` when the field is unknown.
    pub fn parse(raw: &str) -> Option<(SortKey, bool)> {
        let (field, descending) = match raw.strip_prefix('-') {
            Some(field) => (field, true),
            None => (raw, false),
        };
        let key = match field {
            "id" => SortKey::Id,
            "created_at" | "date_joined" => SortKey::CreatedAt,
            "email" | "user__email" => SortKey::Email,
            "role" => SortKey::Role,
            "last_activity" | "user__last_activity" => SortKey::LastActivity,
            _ => return None,
        };
        Some((key, descending))
    }
}

/// A validated members-list query.
#[derive(Debug)]
pub struct MemberQuery {
    pub roles: Vec<Role>,
    pub search: Option<String>,
    pub sort: (SortKey, bool),
    pub page: crate::domain::page::PageRequest,
}

/// One page of members and the total number matching.
pub struct MemberPage {
    pub count: u64,
    pub members: Vec<Member>,
}

/// Lists live members of an organization; Owners, Administrators and Managers only.
pub async fn list(
    state: &AppState,
    caller: &Caller,
    organization_id: i32,
    query: &MemberQuery,
) -> Result<MemberPage, ApiError> {
    reading_members(state, caller, organization_id).await?;
    if let Some(term) = query.search.as_deref() {
        return search::page(state, organization_id, query, term).await;
    }
    let db = state.db.read();
    // Without a search the maintained per-role counts answer, in the page's own query.
    let total = counts::total_expr(db.get_database_backend(), organization_id, &query.roles);
    let members = live_members(organization_id, query)
        .join(JoinType::InnerJoin, membership::Relation::User.def());
    let counted = counted_members(members, query, total).into_model::<Counted>();
    let page = read_page(db, counted, query.page).await?;
    let recount = counts::total(db, organization_id, &query.roles);
    MemberPage::counted(page, query, recount).await
}

/// A member on a page, with how many members the list matches in all: read by the query that
/// reads the page, so that a page costs one query and its count none.
#[derive(FromQueryResult)]
pub(super) struct Counted {
    #[sea_orm(nested)]
    member: Member,
    matching: i64,
}

impl MemberPage {
    /// The page with the count its rows carry. A page past the last match has no row to carry
    /// it: only then does `recount` run.
    pub(super) async fn counted(
        page: Vec<Counted>,
        query: &MemberQuery,
        recount: impl Future<Output = Result<u64, ApiError>>,
    ) -> Result<Self, ApiError> {
        let count = match page.first() {
            Some(first) => u64::try_from(first.matching).unwrap_or(0),
            None if query.page.offset() == 0 => 0,
            None => recount.await?,
        };
        let members = page.into_iter().map(|counted| counted.member).collect();
        Ok(MemberPage { count, members })
    }
}

/// The members `select` finds in `query`'s order, each with `matching_count` alongside.
pub(super) fn counted_members(
    select: Select<membership::Entity>,
    query: &MemberQuery,
    matching_count: Expr,
) -> Select<membership::Entity> {
    Member::select_cols(QuerySelect::select_only(sorted(select, query.sort)))
        .expr_as(matching_count, "matching")
}

/// Live memberships of the organization in the roles `query` asks for.
pub(super) fn live_members(
    organization_id: i32,
    query: &MemberQuery,
) -> Select<membership::Entity> {
    let select = membership::Entity::find()
        .filter(membership::Column::OrganizationId.eq(organization_id))
        .filter(membership::Column::DeletedAt.is_null());
    if query.roles.is_empty() {
        return select;
    }
    select.filter(membership::Column::Role.is_in(query.roles.iter().map(|r| r.code())))
}

fn sorted(
    select: Select<membership::Entity>,
    (key, descending): (SortKey, bool),
) -> Select<membership::Entity> {
    let order = if descending {
        sea_orm::Order::Desc
    } else {
        sea_orm::Order::Asc
    };
    let select = match key {
        SortKey::Id => select,
        SortKey::CreatedAt => select.order_by(membership::Column::CreatedAt, order.clone()),
        SortKey::Email => select.order_by(
            Expr::col((user::Entity, user::Column::EmailNormalized)),
            order.clone(),
        ),
        SortKey::Role => select.order_by(membership::Column::Role, order.clone()),
        SortKey::LastActivity => select.order_by(
            Expr::col((user::Entity, user::Column::LastActivity)),
            order.clone(),
        ),
    };
    // The id breaks ties so pages never overlap or skip.
    select.order_by(membership::Column::Id, order)
}

/// One live member; Owners, Administrators and Managers only.
pub async fn get(
    state: &AppState,
    caller: &Caller,
    organization_id: i32,
    user_id: i32,
) -> Result<Member, ApiError> {
    reading_members(state, caller, organization_id).await?;
    read_member(state.db.read(), organization_id, user_id)
        .await?
        .ok_or_else(not_a_member)
}

/// A live member and their user, in one query.
pub(super) async fn read_member<C: ConnectionTrait>(
    db: &C,
    organization_id: i32,
    user_id: i32,
) -> Result<Option<Member>, ApiError> {
    Ok(member_with_user(organization_id, user_id)
        .into_partial_model::<Member>()
        .one(db)
        .await?)
}

/// A live membership joined to its user, as [`Member`] reads it.
fn member_with_user(organization_id: i32, user_id: i32) -> Select<membership::Entity> {
    find_live_membership(organization_id, user_id)
        .join(JoinType::InnerJoin, membership::Relation::User.def())
}

/// The caller may read `organization_id`'s members: Owners, Administrators and Managers.
async fn reading_members(
    state: &AppState,
    caller: &Caller,
    organization_id: i32,
) -> Result<(), ApiError> {
    acting_now(
        state,
        caller,
        organization_id,
        OrganizationRef::Path,
        Role::reads_members,
    )
    .await?;
    Ok(())
}

pub(super) fn not_a_member() -> ApiError {
    ApiError::new(
        ErrorCode::MemberNotFound,
        "This user is not a member of the organization.",
    )
}
