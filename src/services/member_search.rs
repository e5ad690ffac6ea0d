//! The members search: a case-insensitive substring of email, first or last name, where `%` and
//! `_` match literally.
//!
//! The LIKE conditions decide what matches on every backend. PostgreSQL answers them from its
//! `pg_trgm` indexes as they are; on SQLite a search of three characters or more is first
//! narrowed to the users an FTS5 trigram index finds (migration `m20261128_000004`), a superset
//! of the LIKE matches, so a large organization is not read member by member.

use sea_orm::DatabaseBackend;
use sea_orm::sea_query::{Expr, ExprTrait, Func, Query};
use sea_orm::{Condition, Iden};

use super::contains_pattern;
use crate::entities::user;

/// The trigram tokenizer indexes three characters at a time: shorter terms find nothing in it.
const TRIGRAM: usize = 3;

/// The condition on `users` for members matching `term`.
pub fn condition(backend: DatabaseBackend, term: &str) -> Condition {
    let matches = like_condition(term);
    if backend == DatabaseBackend::Sqlite && term.chars().count() >= TRIGRAM {
        Condition::all()
            .add(Expr::col((user::Entity, user::Column::Id)).in_subquery(indexed_matches(term)))
            .add(matches)
    } else {
        matches
    }
}

fn like_condition(term: &str) -> Condition {
    let like = || contains_pattern(term);
    let lowered = |column: user::Column| Expr::expr(Func::lower(Expr::col((user::Entity, column))));
    Condition::any()
        .add(Expr::col((user::Entity, user::Column::EmailNormalized)).like(like()))
        .add(lowered(user::Column::FirstName).like(like()))
        .add(lowered(user::Column::LastName).like(like()))
}

/// `SELECT rowid FROM user_search WHERE user_search MATCH '"<term>"'`: the term as one FTS5
/// string (double quotes doubled), so no character of it is query syntax.
fn indexed_matches(term: &str) -> sea_orm::sea_query::SelectStatement {
    let phrase = format!("\"{}\"", term.replace('"', "\"\""));
    Query::select()
        .expr(Expr::cust("rowid"))
        .from(UserSearch)
        .and_where(Expr::cust_with_values("user_search MATCH ?", [phrase]))
        .to_owned()
}

/// The FTS5 table over users' searchable columns.
struct UserSearch;

impl Iden for UserSearch {
    fn unquoted(&self) -> &str {
        "user_search"
    }
}
