//! Live members per organization and role (`member_counts`), changed in the transaction of every
//! membership change, so the members list counts a 100,000-member organization as fast as a small
//! one instead of walking its index.

use sea_orm::sea_query::{Alias, Expr, ExprTrait, Func, Query};
use sea_orm::{ColumnTrait, ConnectionTrait, DatabaseBackend, EntityTrait, QueryFilter};

use crate::domain::Role;
use crate::entities::member_count;
use crate::error::ApiError;

/// One zero row per role for a new organization.
pub async fn create_for<C: ConnectionTrait>(db: &C, organization_id: i32) -> Result<(), ApiError> {
    let rows = Role::ALL.map(|role| member_count::ActiveModel {
        organization_id: sea_orm::ActiveValue::Set(organization_id),
        role: sea_orm::ActiveValue::Set(role.code().to_owned()),
        members: sea_orm::ActiveValue::Set(0),
    });
    member_count::Entity::insert_many(rows)
        .exec_without_returning(db)
        .await?;
    Ok(())
}

/// One member more with `to`, one fewer with `from` (`None`: joined or left). Both rows change in
/// one statement, so two transactions moving members in opposite directions lock the rows in the
/// same order and never deadlock.
pub async fn shift<C: ConnectionTrait>(
    db: &C,
    organization_id: i32,
    from: Option<Role>,
    to: Option<Role>,
) -> Result<(), ApiError> {
    let (delta, roles): (Expr, _) = match (from, to) {
        (Some(from), Some(to)) if from == to => return Ok(()),
        (Some(from), Some(to)) => (
            Expr::case(member_count::Column::Role.eq(from.code()), -1)
                .finally(1)
                .into(),
            vec![from.code(), to.code()],
        ),
        (Some(from), None) => (Expr::value(-1), vec![from.code()]),
        (None, Some(to)) => (Expr::value(1), vec![to.code()]),
        (None, None) => return Ok(()),
    };
    member_count::Entity::update_many()
        .col_expr(
            member_count::Column::Members,
            Expr::col(member_count::Column::Members).add(delta),
        )
        .filter(member_count::Column::OrganizationId.eq(organization_id))
        .filter(member_count::Column::Role.is_in(roles))
        .exec(db)
        .await?;
    Ok(())
}

/// Sets the counts of an organization from its memberships (after bulk inserts that bypass
/// `shift`, such as the benchmark's seeding).
pub async fn recount<C: ConnectionTrait>(db: &C, organization_id: i32) -> Result<(), ApiError> {
    let backend = db.get_database_backend();
    let placeholder = match backend {
        sea_orm::DatabaseBackend::Postgres => "$1",
        _ => "?",
    };
    let sql = format!(
        "UPDATE member_counts SET members = (SELECT COUNT(*) FROM memberships m \
         WHERE m.organization_id = member_counts.organization_id AND m.role = member_counts.role \
         AND m.deleted_at IS NULL) WHERE organization_id = {placeholder}"
    );
    let statement = sea_orm::Statement::from_sql_and_values(backend, sql, [organization_id.into()]);
    db.execute_raw(statement).await?;
    Ok(())
}

/// Live members of an organization with one of `roles` (all roles when empty).
pub async fn total<C: ConnectionTrait>(
    db: &C,
    organization_id: i32,
    roles: &[Role],
) -> Result<u64, ApiError> {
    let mut query = Query::select();
    query.expr_as(
        total_expr(db.get_database_backend(), organization_id, roles),
        Alias::new("total"),
    );
    let total: i64 = match db.query_one(&query).await? {
        Some(row) => row.try_get("", "total")?,
        None => 0,
    };
    Ok(u64::try_from(total).unwrap_or(0))
}

/// `total` as an expression (a subquery reading at most seven rows, whatever the organization's
/// size), so that the query reading a page of members brings its count along instead of costing
/// a query (a round trip on PostgreSQL) of its own. A 64-bit integer on every backend (MySQL and
/// MariaDB sum integers as decimals).
pub fn total_expr(backend: DatabaseBackend, organization_id: i32, roles: &[Role]) -> Expr {
    let mut sum = Query::select();
    sum.expr(Func::coalesce([
        Expr::col(member_count::Column::Members).sum(),
        Expr::value(0),
    ]))
    .from(member_count::Entity)
    .and_where(member_count::Column::OrganizationId.eq(organization_id));
    if !roles.is_empty() {
        sum.and_where(member_count::Column::Role.is_in(roles.iter().map(|r| r.code())));
    }
    let integer = match backend {
        DatabaseBackend::MySql => "SIGNED",
        _ => "BIGINT",
    };
    Func::cast_as(Expr::from(sum), Alias::new(integer)).into()
}
