//! The members search: a substring of the email or of the name (first and last as one text), in
//! any case, where `%` and `_` typed by a person match themselves.
//!
//! Both sides are folded the same way, in Rust (`domain::fold`): the term as it is asked, the name
//! as it is stored (`users.name_folded`), the email as normalized. So the LIKE conditions, which
//! decide what matches, compare folded texts on every database, whatever its own notion of case.
//! An index narrows the rows they check: PostgreSQL's `pg_trgm` indexes serve LIKE as it is;
//! SQLite's FTS5 trigram table (`user_search`) is asked first for terms of three characters or
//! more; MariaDB has no substring index and reads the organization's members.

use sea_orm::sea_query::{Expr, ExprTrait, Query, SelectStatement};
use sea_orm::{
    ColumnTrait, Condition, DatabaseBackend, Iden, JoinType, PaginatorTrait, QueryFilter,
    QuerySelect, QueryTrait, RelationTrait, Select,
};

use super::{Counted, MemberPage, MemberQuery, counted_members, live_members};
use crate::domain::fold;
use crate::entities::{membership, user};
use crate::error::ApiError;
use crate::services::contains_pattern;
use crate::services::pages::read_page;
use crate::state::AppState;

/// The FTS5 trigram tokenizer indexes three characters at a time: shorter terms find nothing in it.
const TRIGRAM: usize = 3;

/// One page of the members of `organization_id` matching `term`, with how many match in all.
pub(super) async fn page(
    state: &AppState,
    organization_id: i32,
    query: &MemberQuery,
    term: &str,
) -> Result<MemberPage, ApiError> {
    let db = state.db.read();
    let folded = fold(term);
    let matching = || matching_members(db.get_database_backend(), organization_id, query, &folded);
    let counted = counted_members(matching(), query, count_of(matching())).into_model::<Counted>();
    let page = read_page(db, counted, query.page).await?;
    let recount = async { Ok(matching().count(db).await?) };
    MemberPage::counted(page, query, recount).await
}

/// The live members in `query`'s roles whose user matches the `folded` term.
fn matching_members(
    backend: DatabaseBackend,
    organization_id: i32,
    query: &MemberQuery,
    folded: &str,
) -> Select<membership::Entity> {
    live_members(organization_id, query)
        .join(JoinType::InnerJoin, membership::Relation::User.def())
        .filter(condition(backend, folded))
}

/// The condition on `users` for the `folded` term.
fn condition(backend: DatabaseBackend, folded: &str) -> Condition {
    let pattern = || contains_pattern(folded);
    let matches = Condition::any()
        .add(user::Column::EmailNormalized.like(pattern()))
        .add(user::Column::NameFolded.like(pattern()));
    if backend == DatabaseBackend::Sqlite && folded.chars().count() >= TRIGRAM {
        Condition::all()
            .add(Expr::col((user::Entity, user::Column::Id)).in_subquery(indexed_matches(folded)))
            .add(matches)
    } else {
        matches
    }
}

/// How many rows `select` finds, as a scalar subquery: the page's query brings its count along.
fn count_of(select: Select<membership::Entity>) -> Expr {
    Expr::from(
        select
            .select_only()
            .expr(Expr::cust("COUNT(*)"))
            .into_query(),
    )
}

/// `SELECT rowid FROM user_search WHERE user_search MATCH '"<term>"'`: the users whose email or
/// name contains the term, as one phrase, double-quoted (inner double quotes doubled) so that no
/// character of it is FTS5 query syntax.
fn indexed_matches(folded: &str) -> SelectStatement {
    let phrase = format!("\"{}\"", folded.replace('"', "\"\""));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_index_is_asked_for_the_term_as_one_quoted_phrase() {
        let sql =
            indexed_matches("say \"hi\" OR x").to_string(sea_orm::sea_query::SqliteQueryBuilder);
        assert!(sql.contains(r#"'"say ""hi"" OR x"'"#), "{sql}");
    }
}
