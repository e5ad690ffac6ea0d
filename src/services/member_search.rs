//! The members search: a case-insensitive substring of email, first or last name, where `%` and
//! `_` match literally.
//!
//! The LIKE conditions decide what matches on every backend. PostgreSQL answers them from its
//! `pg_trgm` indexes, one column at a time (`matching_user_ids`); MariaDB reads the
//! organization's members; on SQLite a search of three
//! characters or more is first narrowed to the users an FTS5 trigram index finds (migration
//! `m20261128_000004`), a superset of the LIKE matches, so a large organization is not read
//! member by member.

use sea_orm::sea_query::{Expr, ExprTrait, Func, Query, SelectStatement, UnionType};
use sea_orm::{Condition, DatabaseBackend, Iden};

use super::contains_pattern;
use crate::entities::user;

/// The trigram tokenizer indexes three characters at a time: shorter terms find nothing in it.
const TRIGRAM: usize = 3;

/// The condition on `users` for members matching `term` (SQLite, MariaDB; PostgreSQL reads
/// `matching_user_ids`).
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

/// The ids of users matching `term`, for PostgreSQL: one SELECT per searched column, joined by
/// UNION ALL (a user found twice is still one member to `= ANY`), each read from its own trigram
/// index, where the OR of `condition` had it scan every user of a small organization and
/// hash-join every membership of a large one (BENCHMARKS.md, session 15). MariaDB, with no such
/// index, runs the union once per member: it keeps `condition`.
pub fn matching_user_ids(term: &str) -> SelectStatement {
    let ids_where = |matches: Expr| {
        Query::select()
            .column((user::Entity, user::Column::Id))
            .from(user::Entity)
            .and_where(matches)
            .to_owned()
    };
    let [email, first_name, last_name] = column_matches(term);
    ids_where(email)
        .union(UnionType::All, ids_where(first_name))
        .union(UnionType::All, ids_where(last_name))
        .to_owned()
}

fn like_condition(term: &str) -> Condition {
    column_matches(term)
        .into_iter()
        .fold(Condition::any(), Condition::add)
}

/// `term` as a substring of the email, the first and the last name, each case-insensitively.
fn column_matches(term: &str) -> [Expr; 3] {
    let like = || contains_pattern(term);
    let lowered = |column: user::Column| Expr::expr(Func::lower(Expr::col((user::Entity, column))));
    [
        Expr::col((user::Entity, user::Column::EmailNormalized)).like(like()),
        lowered(user::Column::FirstName).like(like()),
        lowered(user::Column::LastName).like(like()),
    ]
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
