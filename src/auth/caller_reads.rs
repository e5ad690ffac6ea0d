//! PostgreSQL: the callers of one HTTP worker's GET requests read together. Every authenticated
//! request reads its caller (user, membership, organization) before anything else, and on
//! PostgreSQL a query costs a round trip and a backend's wake-up whatever it reads: at 32
//! connections the service made as many of these reads as requests, each on its own
//! connection. The reads that arrive while one is under way wait for it to finish and then go
//! in one query (`crate::batches`), one row per distinct (user, organization); each request
//! still reads what was committed before it arrived, since its query starts after it. Only the
//! callers of reads (GET, HEAD) go in batches: a write's caller read alone keeps role changes,
//! which queue in turns, at their rate (BENCHMARKS.md, session 22).

use std::collections::HashMap;
use std::sync::OnceLock;

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbBackend, DbErr, FromQueryResult, Statement, Value,
};

use super::caller::{CallerRow, DecodedCaller, caller_sql};
use crate::batches::Batches;
use crate::error::ApiError;

/// A caller to read: (user id, organization id).
type Wanted = (i32, i32);

/// One worker's caller reads, in batches under one key: one query under way at a time (more
/// lanes, tried at 2 and 4, made fewer reads a second with no shorter tail).
pub type CallerReads = Batches<(), Wanted, Result<Option<CallerRow>, ApiError>>;

/// Reads the callers `wanted` together, through `db`, each answer in `wanted`'s order (`None`:
/// no such user).
pub async fn read_together(
    db: DatabaseConnection,
    wanted: Vec<Wanted>,
) -> Vec<Result<Option<CallerRow>, ApiError>> {
    match read_distinct(&db, &wanted).await {
        Ok(found) => wanted
            .iter()
            .map(|key| Ok(found.get(key).cloned()))
            .collect(),
        Err(error) => ApiError::from(error).shared_by(wanted.len()),
    }
}

async fn read_distinct(
    db: &DatabaseConnection,
    wanted: &[Wanted],
) -> Result<HashMap<Wanted, CallerRow>, DbErr> {
    let mut distinct = wanted.to_vec();
    distinct.sort_unstable();
    distinct.dedup();
    let users = int_array(distinct.iter().map(|&(user, _)| user));
    let organizations = int_array(distinct.iter().map(|&(_, organization)| organization));
    let statement = Statement::from_sql_and_values(
        DbBackend::Postgres,
        batched_sql(),
        [Value::from(users), Value::from(organizations)],
    );
    let rows = db.query_all_raw(statement).await?;
    let mut found = HashMap::with_capacity(rows.len());
    for row in rows {
        let key = (
            row.try_get::<i32>("", "wanted_user_id")?,
            row.try_get::<i32>("", "wanted_organization_id")?,
        );
        let DecodedCaller(caller) = DecodedCaller::from_query_result(&row, "")?;
        found.insert(key, caller);
    }
    Ok(found)
}

/// Integers in PostgreSQL's array text form (`{1,2}`), which the query casts: one statement for
/// any number of callers, so it is prepared once per connection.
fn int_array(ids: impl Iterator<Item = i32>) -> String {
    let listed: Vec<String> = ids.map(|id| id.to_string()).collect();
    format!("{{{}}}", listed.join(","))
}

/// The caller query's columns (as `caller_sql` has sea-query write them, `A_`, `B_`, `C_`),
/// read for each wanted pair: the same joins, on the pair's ids instead of two parameters.
fn batched_sql() -> &'static str {
    static SQL: OnceLock<String> = OnceLock::new();
    SQL.get_or_init(|| {
        let single = caller_sql(DbBackend::Postgres);
        let columns = single
            .strip_prefix("SELECT ")
            .and_then(|rest| rest.split_once(" FROM ").map(|(columns, _)| columns))
            .expect("the caller query is a SELECT of columns FROM its tables");
        format!(
            "SELECT \"wanted\".\"user_id\" AS \"wanted_user_id\", \
             \"wanted\".\"organization_id\" AS \"wanted_organization_id\", {columns} \
             FROM unnest($1::text::int4[], $2::text::int4[]) \
               AS \"wanted\"(\"user_id\", \"organization_id\") \
             JOIN \"users\" ON \"users\".\"id\" = \"wanted\".\"user_id\" \
             LEFT JOIN \"memberships\" ON \"memberships\".\"user_id\" = \"users\".\"id\" \
               AND \"memberships\".\"organization_id\" = \"wanted\".\"organization_id\" \
               AND \"memberships\".\"deleted_at\" IS NULL \
             LEFT JOIN \"organizations\" \
               ON \"organizations\".\"id\" = \"memberships\".\"organization_id\""
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_batched_query_reads_the_single_querys_columns_for_each_pair() {
        let sql = batched_sql();
        let single = caller_sql(DbBackend::Postgres);
        for column in ["\"A_id\"", "\"B_role\"", "\"C_invite_token\""] {
            assert!(single.contains(column) && sql.contains(column), "{column}");
        }
        assert!(sql.contains("unnest($1::text::int4[], $2::text::int4[])"));
        assert!(!sql.contains("WHERE"), "every pair is read: {sql}");
    }
}
