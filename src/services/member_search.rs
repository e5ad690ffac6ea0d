//! The members search: a case-insensitive substring of email, first or last name, where `%` and
//! `_` match literally.
//!
//! The LIKE conditions decide what matches on every backend. PostgreSQL answers them from its
//! `pg_trgm` indexes, one column at a time (`matching_user_ids`); MariaDB reads the
//! organization's members; on SQLite a search of three
//! characters or more is first narrowed to the users an FTS5 trigram index finds (migration
//! `m20261128_000004`), a superset of the LIKE matches, so a large organization is not read
//! member by member; with the index's trigram counts at hand it is asked for the term's two
//! rarest trigrams (`index_query`).

use sea_orm::sea_query::{Expr, ExprTrait, Func, Query, SelectStatement, UnionType};
use sea_orm::{Condition, DatabaseBackend, Iden};

use super::contains_pattern;
use super::trigram_counts::Counts;
use crate::entities::user;

/// The trigram tokenizer indexes three characters at a time: shorter terms find nothing in it.
const TRIGRAM: usize = 3;

/// The condition on `users` for members matching `term` (SQLite, MariaDB; PostgreSQL reads
/// `matching_user_ids`); `counts` are SQLite's trigram counts, when read.
pub fn condition(backend: DatabaseBackend, term: &str, counts: Option<&Counts>) -> Condition {
    let matches = like_condition(term);
    if backend == DatabaseBackend::Sqlite && term.chars().count() >= TRIGRAM {
        let indexed = indexed_matches(&index_query(term, counts));
        Condition::all()
            .add(Expr::col((user::Entity, user::Column::Id)).in_subquery(indexed))
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

/// What the trigram index is asked for `term` (of three characters or more), in FTS5's query
/// syntax, each string double-quoted (double quotes doubled) so no character of the term is
/// query syntax. Without counts, the term as one phrase. With them, its two rarest trigrams (of
/// equally rare ones, the first by their text): a phrase reads the list of users of every
/// trigram in it, and with one that every email has (the domain's) a search that finds one user
/// of 100,000 read all of them (the whole search 0.73 ms against 0.22 with its two rarest
/// trigrams; BENCHMARKS.md, session 17). Any of the term's trigrams keeps every match, and the
/// LIKE conditions drop the rest.
pub fn index_query(term: &str, counts: Option<&Counts>) -> String {
    let quoted = |text: &str| format!("\"{}\"", text.replace('"', "\"\""));
    let Some(counts) = counts else {
        return quoted(term);
    };
    let characters: Vec<char> = term.chars().collect();
    let mut trigrams: Vec<(u32, String)> = characters
        .windows(TRIGRAM)
        .map(|window| {
            let trigram: String = window.iter().collect();
            (counts.users_with(&trigram.to_lowercase()), trigram)
        })
        .collect();
    trigrams.sort();
    trigrams.dedup();
    let rarest: Vec<String> = trigrams
        .iter()
        .take(2)
        .map(|(_, trigram)| quoted(trigram))
        .collect();
    rarest.join(" AND ")
}

/// `SELECT rowid FROM user_search WHERE user_search MATCH <query>`.
fn indexed_matches(query: &str) -> SelectStatement {
    Query::select()
        .expr(Expr::cust("rowid"))
        .from(UserSearch)
        .and_where(Expr::cust_with_values("user_search MATCH ?", [query]))
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

    fn counts(of: &[(&str, u32)]) -> Counts {
        of.iter()
            .map(|&(trigram, users)| (trigram.into(), users))
            .collect()
    }

    #[test]
    fn without_counts_the_index_is_asked_for_the_whole_term() {
        assert_eq!(index_query("member999.", None), "\"member999.\"");
        assert_eq!(index_query("say \"hi\"", None), "\"say \"\"hi\"\"\"");
    }

    #[test]
    fn with_counts_the_index_is_asked_for_the_two_rarest_trigrams() {
        let seen = counts(&[
            ("mem", 100_000),
            ("emb", 100_000),
            ("mbe", 100_000),
            ("ber", 100_000),
            ("er9", 11_111),
            ("r99", 1_111),
            ("999", 280),
            ("99.", 1_000),
        ]);
        assert_eq!(
            index_query("member999.", Some(&seen)),
            "\"999\" AND \"99.\""
        );
        // The index folds case; the counts are looked up folded, the query keeps the term's case.
        assert_eq!(
            index_query("MEMBER999.", Some(&seen)),
            "\"999\" AND \"99.\""
        );
    }

    #[test]
    fn a_trigram_missing_from_the_counts_is_taken_as_rare() {
        let seen = counts(&[("mem", 100_000), ("emb", 100_000), ("mbe", 90_000)]);
        assert_eq!(index_query("membe", Some(&seen)), "\"mbe\" AND \"emb\"");
        assert_eq!(index_query("xmemb", Some(&seen)), "\"xme\" AND \"emb\"");
    }

    #[test]
    fn each_trigram_is_asked_for_once_and_quoted() {
        let none = Counts::default();
        assert_eq!(index_query("aaaa", Some(&none)), "\"aaa\"");
        assert_eq!(
            index_query("a\"b\"c", Some(&none)),
            "\"\"\"b\"\"\" AND \"a\"\"b\""
        );
    }
}
