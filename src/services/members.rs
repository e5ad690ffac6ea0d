//! Organization members: the paginated list (pending users are `role=NO`), one member, role
//! assignment, removal and ownership transfer, under the role rules of `domain::role`.

use sea_orm::sea_query::{
    CommonTableExpression, Expr, Query, SelectStatement, WithClause, WithQuery,
};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DatabaseBackend, DerivePartialModel, EntityTrait,
    FromQueryResult, Iden, JoinType, PaginatorTrait, PartialModelTrait, QueryFilter, QueryOrder,
    QuerySelect, QueryTrait, RelationTrait, Select, SelectModel,
};

use chrono::NaiveDateTime;
use serde_json::json;

use super::access::{
    Acting, OrganizationRef, acting_in, acting_now, find_live_membership, live_membership,
    managing_turn, stored_role,
};
use super::audit::{self, AuditEntry};
use super::member_counts;
use super::pages::{read_page, read_statement_page};
use super::trigram_counts::Counts;
use super::{member_search, now};
use crate::auth::Caller;
use crate::domain::Role;
use crate::domain::audit::{AuditAction, AuditTarget};
use crate::domain::role::GrantRefusal;
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
    acting_now(
        state,
        caller,
        organization_id,
        OrganizationRef::Path,
        Role::reads_members,
    )
    .await?;
    if let Some(term) = query.search.as_deref() {
        return search_page(state, organization_id, query, term).await;
    }
    let backend = state.reads.get_database_backend();
    // Without a search the maintained per-role counts answer, in the page's own query.
    let total = member_counts::total_expr(backend, organization_id, &query.roles);
    let members = live_members(organization_id, query)
        .join(JoinType::InnerJoin, membership::Relation::User.def());
    let counted = counted_members(members, query, total).into_model::<Counted>();
    let page = read_page(&state.reads, counted, query.page).await?;
    let recount = member_counts::total(&state.reads, organization_id, &query.roles);
    MemberPage::counted(page, query, recount).await
}

/// A member on a page, with how many members the list matches in all: read by the query that
/// reads the page, so that a page costs one query and its count none.
#[derive(FromQueryResult)]
struct Counted {
    #[sea_orm(nested)]
    member: Member,
    matching: i64,
}

impl MemberPage {
    /// The page with the count its rows carry. A page past the last match has no row to carry
    /// it: only then does `recount` run.
    async fn counted(
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
fn counted_members(
    select: Select<membership::Entity>,
    query: &MemberQuery,
    matching_count: Expr,
) -> Select<membership::Entity> {
    Member::select_cols(QuerySelect::select_only(sorted(select, query.sort)))
        .expr_as(matching_count, "matching")
}

/// A search counts its matches in the query that reads its page, on the connections kept for
/// searches. On SQLite and PostgreSQL the matches are a common table expression that the page
/// and its count both read (`searched_once`). SQLite counted them as a window over the page's
/// rows, which sorted every match with all its columns before the page was cut: for the search
/// that finds 1,111 of 100,000 members the statement took 2.1-2.3 ms that way, 0.9-1.1 ms this
/// way (BENCHMARKS.md, session 20). PostgreSQL planned the windowed query as if the page could
/// stop early and read every membership (144 ms against 2 at 100,000 members), and a count in a
/// subquery of its own searched a second time. MariaDB keeps that subquery: the common table
/// expression, which it merges into both, took twice as long there (BENCHMARKS.md, session 15).
async fn search_page(
    state: &AppState,
    organization_id: i32,
    query: &MemberQuery,
    term: &str,
) -> Result<MemberPage, ApiError> {
    let backend = state.searches.get_database_backend();
    let counts = state.trigram_counts.current();
    let matching = || matching_members(backend, organization_id, query, term, counts.as_deref());
    let statement = match backend {
        DatabaseBackend::MySql => {
            counted_members(matching(), query, count_of(matching())).build(backend)
        }
        _ => backend.build(&searched_once(backend, matching(), query)),
    };
    let page =
        read_statement_page::<SelectModel<Counted>>(&state.searches, statement, query.page).await?;
    let recount = async { Ok(matching().count(&state.searches).await?) };
    MemberPage::counted(page, query, recount).await
}

/// The live members whose user matches `term`. On PostgreSQL looked up by user (`among`) from one
/// SELECT per searched column (`member_search::matching_user_ids`), without the join, which the
/// page adds; elsewhere joined with their users, whom `member_search::condition` narrows (on
/// SQLite through the trigram index). SQLite's and PostgreSQL's indexes are asked as `counts`
/// say.
fn matching_members(
    backend: DatabaseBackend,
    organization_id: i32,
    query: &MemberQuery,
    term: &str,
    counts: Option<&Counts>,
) -> Select<membership::Entity> {
    let live = live_members(organization_id, query);
    match backend {
        DatabaseBackend::Postgres => live.filter(among(
            membership::Column::UserId,
            member_search::matching_user_ids(term, counts),
        )),
        _ => live
            .join(JoinType::InnerJoin, membership::Relation::User.def())
            .filter(member_search::condition(backend, term, counts)),
    }
}

/// How many rows `select` finds, as a scalar subquery.
fn count_of(select: Select<membership::Entity>) -> Expr {
    Expr::from(
        select
            .select_only()
            .expr(Expr::cust("COUNT(*)"))
            .into_query(),
    )
}

/// `WITH matches AS (<ids of the live memberships whose user matches>) SELECT <page>,
/// (SELECT COUNT(*) FROM matches) ... WHERE memberships.id IN (SELECT id FROM matches)`: the
/// search runs once, and the page's rows are read by key. SQLite materializes the matches (the
/// expression is read twice) and walks them in order of id, so the page by id stops after its
/// rows. PostgreSQL finds the matches from the users' indexes (`member_search::matching_user_ids`)
/// and reaches the memberships by user, each by its key (`among`): for 1,111 matches of 100,000
/// members session 15 measured this form at 3.9 ms against 27 ms for the OR over three columns;
/// the lookups by key took it to about 2 ms (BENCHMARKS.md, sessions 15 and 16).
fn searched_once(
    backend: DatabaseBackend,
    matching: Select<membership::Entity>,
    query: &MemberQuery,
) -> WithQuery {
    let matches = matching
        .select_only()
        .column(membership::Column::Id)
        .into_query();
    let from_matches = |column: Expr| Query::select().expr(column).from(Matches).to_owned();
    let matched_ids = from_matches(Expr::col(membership::Column::Id));
    let is_matched = if backend == DatabaseBackend::Postgres {
        among(membership::Column::Id, matched_ids)
    } else {
        membership::Column::Id.in_subquery(matched_ids)
    };
    let page = membership::Entity::find()
        .join(JoinType::InnerJoin, membership::Relation::User.def())
        .filter(is_matched);
    let count = Expr::from(from_matches(Expr::cust("COUNT(*)")));
    let matches = CommonTableExpression::new()
        .query(matches)
        .table_name(Matches)
        .to_owned();
    counted_members(page, query, count)
        .into_query()
        .with(WithClause::new().cte(matches).to_owned())
}

/// `memberships.<column> = ANY(ARRAY(<ids>))`, for PostgreSQL: the ids are read once, into an
/// array, and each membership is looked up by its index. With `IN (<ids>)` PostgreSQL plans a
/// semi-join, and for a few matches it hashes them against a scan of every membership of the
/// organization; an array's length it cannot see, so it looks each id up instead, whatever
/// `random_page_cost` says (1,000 members: 0.38 -> 0.30 ms a search; 100,000: 2.9 -> 2.1 ms,
/// and a term matching all of them 287 -> 130 ms; BENCHMARKS.md, session 16). PostgreSQL-only
/// SQL, with its `$n` placeholders: only PostgreSQL's search builds it.
fn among(column: membership::Column, ids: SelectStatement) -> Expr {
    Expr::cust_with_exprs(
        "$1 = ANY(ARRAY $2)",
        [Expr::col((membership::Entity, column)), Expr::from(ids)],
    )
}

/// The common table expression of a search's matching memberships.
struct Matches;

impl Iden for Matches {
    fn unquoted(&self) -> &str {
        "matches"
    }
}

/// Live memberships of the organization in the roles `query` asks for.
fn live_members(organization_id: i32, query: &MemberQuery) -> Select<membership::Entity> {
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
    acting_now(
        state,
        caller,
        organization_id,
        OrganizationRef::Path,
        Role::reads_members,
    )
    .await?;
    read_member(&state.reads, organization_id, user_id)
        .await?
        .ok_or_else(not_a_member)
}

/// A live member and their user, in one query.
async fn read_member<C: ConnectionTrait>(
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

/// Sets a member's role: activates a pending user, changes a role, or deactivates with `DI`.
pub async fn assign_role(
    state: &AppState,
    caller: &Caller,
    organization_id: i32,
    user_id: i32,
    role: Role,
) -> Result<Member, ApiError> {
    let _turn = managing_turn(state, caller, organization_id, OrganizationRef::Path).await?;
    let caller = caller.clone();
    let caller_id = caller.user.id;
    let (member, current) = state
        .writes
        .run(move |txn| {
            Box::pin(async move {
                let acting = managing(txn, &caller, organization_id).await?;
                let mut member = locked_member(txn, organization_id, user_id).await?;
                let current = stored_role(&member.role)?;
                Role::check_grant(acting.role, caller.user.id, user_id, current, role)
                    .map_err(refusal)?;
                // The member was read with its user before the change, so the answer needs no second read.
                let at = change_role(txn, member.id, organization_id, current, role).await?;
                member.role = role.code().to_owned();
                member.updated_at = Timestamp(at);
                let entry = AuditEntry::new(
                    organization_id,
                    AuditAction::MemberRoleChanged,
                    Some(caller.user.id),
                    AuditTarget::User(user_id),
                )
                .before(json!({ "role": current.code() }))
                .after(json!({ "role": role.code() }));
                audit::record(txn, [entry]).await?;
                Ok::<_, ApiError>((member, current))
            })
        })
        .await?;
    log::info!(
        "user {caller_id} set the role of user {user_id} in organization {organization_id} from {current} to {role}"
    );
    Ok(member)
}

/// Removes a member (kept as history); not yourself, not the Owner.
pub async fn remove(
    state: &AppState,
    caller: &Caller,
    organization_id: i32,
    user_id: i32,
) -> Result<(), ApiError> {
    let _turn = managing_turn(state, caller, organization_id, OrganizationRef::Path).await?;
    let caller = caller.clone();
    let caller_id = caller.user.id;
    state
        .writes
        .run(move |txn| {
            Box::pin(async move {
                managing(txn, &caller, organization_id).await?;
                if user_id == caller.user.id {
                    return Err(ApiError::new(
                        ErrorCode::OwnRoleChange,
                        "You cannot remove yourself from the organization.",
                    ));
                }
                let target = locked_target(txn, organization_id, user_id).await?;
                let role = stored_role(&target.role)?;
                if role == Role::Owner {
                    return Err(refusal(GrantRefusal::OwnerProtected));
                }
                // The row is locked since `locked_target`, so `role` is still its role.
                let at = now();
                membership::Entity::update_many()
                    .col_expr(membership::Column::DeletedAt, Expr::value(at))
                    .col_expr(membership::Column::UpdatedAt, Expr::value(at))
                    .filter(membership::Column::Id.eq(target.id))
                    .exec(txn)
                    .await?;
                member_counts::shift(txn, organization_id, Some(role), None).await?;
                let entry = AuditEntry::new(
                    organization_id,
                    AuditAction::MemberRemoved,
                    Some(caller.user.id),
                    AuditTarget::User(user_id),
                )
                .before(json!({ "role": role.code() }));
                audit::record(txn, [entry]).await?;
                Ok::<_, ApiError>(())
            })
        })
        .await?;
    log::info!("user {caller_id} removed user {user_id} from organization {organization_id}");
    Ok(())
}

/// Makes `user_id` the Owner and the caller an Administrator, in one transaction.
pub async fn transfer_ownership(
    state: &AppState,
    caller: &Caller,
    organization_id: i32,
    user_id: i32,
) -> Result<Member, ApiError> {
    let _turn = managing_turn(state, caller, organization_id, OrganizationRef::Path).await?;
    let caller = caller.clone();
    let caller_id = caller.user.id;
    let member = state
        .writes
        .run(move |txn| {
            Box::pin(async move {
                let acting = acting_in(
                    txn,
                    &caller,
                    organization_id,
                    OrganizationRef::Path,
                    |role| role == Role::Owner,
                )
                .await?;
                let target = live_membership(txn, organization_id, user_id)
                    .await?
                    .filter(|target| target.user_id != caller.user.id)
                    .filter(|target| stored_role(&target.role).is_ok_and(Role::is_active))
                    .ok_or_else(|| {
                        ApiError::new(
                            ErrorCode::TransferTargetInvalid,
                            "Ownership can only go to another member with an active role.",
                        )
                    })?;
                set_role(txn, acting.membership, Role::Administrator).await?;
                let new_owner = set_role(txn, target, Role::Owner).await?;
                let member = with_user(txn, new_owner).await?;
                let entry = AuditEntry::new(
                    organization_id,
                    AuditAction::OwnershipTransferred,
                    Some(caller.user.id),
                    AuditTarget::Organization(organization_id),
                )
                .before(json!({ "owner": caller.user.id }))
                .after(json!({ "owner": user_id }));
                audit::record(txn, [entry]).await?;
                Ok::<_, ApiError>(member)
            })
        })
        .await?;
    log::info!(
        "user {caller_id} transferred ownership of organization {organization_id} to user {user_id}"
    );
    Ok(member)
}

async fn managing<C: ConnectionTrait>(
    db: &C,
    caller: &Caller,
    organization_id: i32,
) -> Result<Acting, ApiError> {
    acting_in(
        db,
        caller,
        organization_id,
        OrganizationRef::Path,
        Role::manages_members,
    )
    .await
}

/// Changes a live membership's role from the role it was read with (see [`change_role`]).
async fn set_role<C: ConnectionTrait>(
    db: &C,
    membership: membership::Model,
    role: Role,
) -> Result<membership::Model, ApiError> {
    let previous = stored_role(&membership.role)?;
    let at = change_role(
        db,
        membership.id,
        membership.organization_id,
        previous,
        role,
    )
    .await?;
    Ok(membership::Model {
        role: role.code().to_owned(),
        updated_at: at,
        ..membership
    })
}

/// Changes a live membership's role from `previous`, and the per-role counts with it; returns
/// when. A concurrent change in between (two transfers at once, two people assigning one
/// member) makes this a 409 rather than a silent overwrite: on every backend the UPDATE waits
/// for the other transaction and then matches nothing.
async fn change_role<C: ConnectionTrait>(
    db: &C,
    membership_id: i32,
    organization_id: i32,
    previous: Role,
    role: Role,
) -> Result<NaiveDateTime, ApiError> {
    let at = now();
    let updated = membership::Entity::update_many()
        .col_expr(membership::Column::Role, Expr::value(role.code()))
        .col_expr(membership::Column::UpdatedAt, Expr::value(at))
        .filter(membership::Column::Id.eq(membership_id))
        .filter(membership::Column::Role.eq(previous.code()))
        .filter(membership::Column::DeletedAt.is_null())
        .exec(db)
        .await?;
    if updated.rows_affected != 1 {
        return Err(changed_meanwhile());
    }
    member_counts::shift(db, organization_id, Some(previous), Some(role)).await?;
    Ok(at)
}

/// [`locked_target`] read with its user, for a change that answers with the member.
async fn locked_member<C: ConnectionTrait>(
    db: &C,
    organization_id: i32,
    user_id: i32,
) -> Result<Member, ApiError> {
    member_with_user(organization_id, user_id)
        .lock_exclusive()
        .into_partial_model::<Member>()
        .one(db)
        .await?
        .ok_or_else(not_a_member)
}

/// The target membership, locked until the transaction ends (PostgreSQL and MariaDB; SQLite's
/// single writer serialises anyway): a concurrent change waits, so the role read here is the role
/// changed, and the per-role counts move from the right row.
async fn locked_target<C: ConnectionTrait>(
    db: &C,
    organization_id: i32,
    user_id: i32,
) -> Result<membership::Model, ApiError> {
    find_live_membership(organization_id, user_id)
        .lock_exclusive()
        .one(db)
        .await?
        .ok_or_else(not_a_member)
}

fn not_a_member() -> ApiError {
    ApiError::new(
        ErrorCode::MemberNotFound,
        "This user is not a member of the organization.",
    )
}

/// A membership just changed in `db`'s transaction, read back with its user.
async fn with_user<C: ConnectionTrait>(
    db: &C,
    membership: membership::Model,
) -> Result<Member, ApiError> {
    read_member(db, membership.organization_id, membership.user_id)
        .await?
        .ok_or_else(|| ApiError::Internal("changed membership not found".into()))
}

fn changed_meanwhile() -> ApiError {
    ApiError::new(
        ErrorCode::ConcurrentChange,
        "Another request changed this membership at the same moment; reload and try again.",
    )
}

fn refusal(refusal: GrantRefusal) -> ApiError {
    match refusal {
        GrantRefusal::NotAllowed => ApiError::new(
            ErrorCode::PermissionDenied,
            "Your role may not assign roles.",
        ),
        GrantRefusal::OwnerNotAssignable => ApiError::new(
            ErrorCode::RoleNotAssignable,
            "The Owner role moves only through ownership transfer.",
        ),
        GrantRefusal::OwnRole => {
            ApiError::new(ErrorCode::OwnRoleChange, "Nobody changes their own role.")
        }
        GrantRefusal::OwnerProtected => ApiError::new(
            ErrorCode::OwnerProtected,
            "The Owner's membership changes only through ownership transfer.",
        ),
    }
}
