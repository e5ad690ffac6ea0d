//! The members search: a case-insensitive substring of email, first or last name, where `%` and
//! `_` match literally.
//!
//! The LIKE conditions decide what matches on SQLite and MariaDB; PostgreSQL checks the same
//! substring with `strpos` where it asks its index for less than the whole term. PostgreSQL
//! answers from its `pg_trgm` indexes, one column at a time (`matching_user_ids`); MariaDB reads
//! the organization's members; on SQLite a search of three characters or more is first narrowed
//! to the users an FTS5 trigram index finds (migration `m20261128_000004`), a superset of the
//! LIKE matches, so a large organization is not read member by member. With the trigram counts
//! at hand (`trigram_counts`), SQLite's index is asked for phrases of the term's rare parts and
//! PostgreSQL's for its two rarest trigrams only: an index reads the list of users of every
//! trigram it is asked for, and one that every email has (its domain's) is a list of every user.

use sea_orm::sea_query::{Expr, ExprTrait, Func, Query, SelectStatement, UnionType};
use sea_orm::{Condition, DatabaseBackend, Iden};

use super::contains_pattern;
use super::trigram_counts::{COMMON_FROM, Counts, TRIGRAM, trigrams_of};
use crate::entities::user;

/// The condition on `users` for members matching `term` (SQLite, MariaDB; PostgreSQL reads
/// `matching_user_ids`); `counts` are SQLite's trigram counts, when read.
pub fn condition(backend: DatabaseBackend, term: &str, counts: Option<&Counts>) -> Condition {
    let matches = like_condition(term);
    // The trigram tokenizer indexes three characters at a time: shorter terms find nothing in it.
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
///
/// With `counts`, each column's index is asked for the term's two rarest trigrams of letters and
/// digits (`rarest_index_parts`) and the rows it finds are checked for the whole term by
/// `strpos`, which no index answers; asked for the whole term, `pg_trgm` read the users of all
/// its trigrams (`member999.` among 100,000 users: 1.57 -> 0.24 ms; BENCHMARKS.md, session 18).
pub fn matching_user_ids(term: &str, counts: Option<&Counts>) -> SelectStatement {
    let lowered = term.to_lowercase();
    let rare_parts = counts.map_or_else(Vec::new, |counts| rarest_index_parts(&lowered, counts));
    let matches = |column: Expr| {
        if rare_parts.is_empty() {
            return Condition::all().add(column.like(contains_pattern(term)));
        }
        let contains_whole_term =
            Expr::expr(Func::cust("strpos").args([column.clone(), Expr::val(lowered.as_str())]))
                .gt(0);
        rare_parts
            .iter()
            .fold(Condition::all(), |all, part| {
                all.add(column.clone().like(format!("%{part}%")))
            })
            .add(contains_whole_term)
    };
    let ids_where = |column: Expr| {
        Query::select()
            .column((user::Entity, user::Column::Id))
            .from(user::Entity)
            .cond_where(matches(column))
            .to_owned()
    };
    let [email, first_name, last_name] = searched_columns();
    ids_where(email)
        .union(UnionType::All, ids_where(first_name))
        .union(UnionType::All, ids_where(last_name))
        .to_owned()
}

/// The parts of the lower-cased `term` PostgreSQL's index is asked for: its two rarest trigrams
/// of ASCII letters and digits, or none (then the whole term). `pg_trgm` indexes the trigrams of
/// words, and `LIKE '%r99%'` of such a trigram asks for that one trigram, with no padding, no
/// other word and no character whose class depends on the database's locale.
fn rarest_index_parts(lowered: &str, counts: &Counts) -> Vec<String> {
    let letters_and_digits = |trigram: &String| trigram.bytes().all(|b| b.is_ascii_alphanumeric());
    two_rarest(trigrams_of(lowered).filter(letters_and_digits), counts)
}

fn like_condition(term: &str) -> Condition {
    searched_columns()
        .into_iter()
        .fold(Condition::any(), |any, column| {
            any.add(column.like(contains_pattern(term)))
        })
}

/// The email and the lower-cased first and last name, as their trigram indexes read them.
fn searched_columns() -> [Expr; 3] {
    let lowered = |column: user::Column| Expr::expr(Func::lower(Expr::col((user::Entity, column))));
    [
        Expr::col((user::Entity, user::Column::EmailNormalized)),
        lowered(user::Column::FirstName),
        lowered(user::Column::LastName),
    ]
}

/// What the trigram index is asked for `term` (of three characters or more), in FTS5's query
/// syntax, each string double-quoted (double quotes doubled) so no character of the term is
/// query syntax. Without counts, the term as one phrase. With them, the phrases of the term's
/// rare parts (`rare_parts`): a phrase reads the list of users of every trigram in it, and
/// with one that every email has (the domain's) a search that finds one user of 100,000 read
/// all of them (the whole search 0.73 ms against 0.22 with its two rarest trigrams;
/// BENCHMARKS.md, session 17). Any part of the term keeps every match, and the LIKE conditions
/// drop the rest.
pub fn index_query(term: &str, counts: Option<&Counts>) -> String {
    let quoted = |text: &str| format!("\"{}\"", text.replace('"', "\"\""));
    let Some(counts) = counts else {
        return quoted(term);
    };
    let mut phrases: Vec<String> = Vec::new();
    for phrase in rare_parts(term, counts).iter().map(|part| quoted(part)) {
        if !phrases.contains(&phrase) {
            phrases.push(phrase);
        }
    }
    phrases.join(" AND ")
}

/// How many times as common as the term's rarest trigram another may be and still be asked for.
const NEARLY_AS_RARE: u32 = 4;

/// Trigrams asked for at most: each is a list of users the index reads.
const MOST_ASKED: usize = 4;

/// The parts of `term` SQLite's index is asked for: its trigrams at most `NEARLY_AS_RARE` times
/// as common as its rarest (or than `COMMON_FROM`, below which trigrams are not counted), the
/// `MOST_ASKED` rarest of them, neighbours joined back into the text they cover. The index
/// finds a part as a phrase, its trigrams next to one another, which few users have where each
/// trigram alone is in many: `member999.` among 100,000 users, whose two rarest trigrams
/// (`999`, `99.`) are in 100 users and `r999.` in one (the search 0.39 -> 0.06 ms;
/// BENCHMARKS.md, session 20). A trigram much commoner than the rarest is left out: its list
/// costs more to read than the few users it would drop.
fn rare_parts(term: &str, counts: &Counts) -> Vec<String> {
    let characters: Vec<char> = term.chars().collect();
    let users: Vec<u32> = trigrams_of(term)
        .map(|trigram| counts.users_with(&trigram))
        .collect();
    // Trigrams in fewer than COMMON_FROM users are counted as none: all of them equally rare.
    let rarest = Ord::max(users.iter().copied().min().unwrap_or(0), COMMON_FROM);
    let mut asked: Vec<usize> = (0..users.len())
        .filter(|&start| users[start] <= rarest.saturating_mul(NEARLY_AS_RARE))
        .collect();
    asked.sort_by_key(|&start| users[start]);
    asked.truncate(MOST_ASKED);
    asked.sort_unstable();
    let mut parts: Vec<(usize, usize)> = Vec::new();
    for start in asked {
        match parts.last_mut() {
            Some((_, end)) if *end == start + TRIGRAM - 1 => *end = start + TRIGRAM,
            _ => parts.push((start, start + TRIGRAM)),
        }
    }
    parts
        .into_iter()
        .map(|(start, end)| characters[start..end].iter().collect())
        .collect()
}

/// The two rarest of `trigrams`, each once; of equally rare ones, the first by their text.
fn two_rarest(trigrams: impl Iterator<Item = String>, counts: &Counts) -> Vec<String> {
    let mut ranked: Vec<(u32, String)> = trigrams
        .map(|trigram| (counts.users_with(&trigram), trigram))
        .collect();
    ranked.sort();
    ranked.dedup();
    ranked
        .into_iter()
        .take(2)
        .map(|(_, trigram)| trigram)
        .collect()
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

    /// The counts of `member999.`'s trigrams among the benchmark's 100,000 members.
    fn benchmark_counts() -> Counts {
        counts(&[
            ("mem", 100_000),
            ("emb", 100_000),
            ("mbe", 100_000),
            ("ber", 100_000),
            ("er9", 11_111),
            ("r99", 1_111),
            ("999", 280),
            ("99.", 1_000),
        ])
    }

    #[test]
    fn without_counts_the_index_is_asked_for_the_whole_term() {
        assert_eq!(index_query("member999.", None), "\"member999.\"");
        assert_eq!(index_query("say \"hi\"", None), "\"say \"\"hi\"\"\"");
    }

    #[test]
    fn with_counts_the_index_is_asked_for_the_rare_part_of_the_term_as_a_phrase() {
        let seen = benchmark_counts();
        // r99, 999 and 99. are each at most four times as common as 999; er9 is not.
        assert_eq!(index_query("member999.", Some(&seen)), "\"r999.\"");
        // The index folds case; the counts are looked up folded, the query keeps the term's case.
        assert_eq!(index_query("MEMBER999.", Some(&seen)), "\"R999.\"");
    }

    #[test]
    fn rare_trigrams_apart_are_asked_for_as_phrases_of_their_own() {
        let seen = counts(&[
            ("abc", 10_000),
            ("bcd", 50),
            ("cde", 10_000),
            ("def", 10_000),
            ("efg", 60),
        ]);
        assert_eq!(index_query("abcdefg", Some(&seen)), "\"bcd\" AND \"efg\"");
    }

    #[test]
    fn a_trigram_missing_from_the_counts_is_taken_as_rare() {
        let seen = counts(&[("mem", 100_000), ("emb", 100_000), ("mbe", 90_000)]);
        assert_eq!(index_query("xmemb", Some(&seen)), "\"xme\"");
        // Equally common trigrams are all asked for.
        assert_eq!(index_query("membe", Some(&seen)), "\"membe\"");
    }

    #[test]
    fn at_most_four_trigrams_are_asked_for() {
        let none = Counts::default();
        assert_eq!(index_query("abcdefgh", Some(&none)), "\"abcdef\"");
    }

    #[test]
    fn postgresql_asks_its_index_for_the_two_rarest_trigrams_of_letters_and_digits() {
        let seen = benchmark_counts();
        // 99. and 9.x are rarer than r99, but pg_trgm cuts words at the dot.
        assert_eq!(rarest_index_parts("member999.x", &seen), ["999", "r99"]);
        assert_eq!(rarest_index_parts("a.b-c@d", &seen), Vec::<String>::new());
        assert_eq!(rarest_index_parts("zé@mem", &seen), ["mem"]);
    }

    #[test]
    fn postgresql_asks_its_indexes_for_the_whole_term_or_checks_it_with_strpos() {
        use sea_orm::sea_query::PostgresQueryBuilder;
        let sql = |counts: Option<&Counts>| {
            matching_user_ids("Member999.", counts).to_string(PostgresQueryBuilder)
        };
        let whole = sql(None);
        assert_eq!(whole.matches("LIKE '%member999.%'").count(), 3);
        assert!(!whole.contains("strpos"));
        let narrowed = sql(Some(&counts(&[("mem", 100_000)])));
        assert!(
            narrowed.contains(r#""email_normalized" LIKE '%999%'"#),
            "{narrowed}"
        );
        assert_eq!(narrowed.matches("strpos").count(), 3);
        assert!(narrowed.contains(r#"strpos("users"."email_normalized", 'member999.') > 0"#));
    }

    #[test]
    fn each_part_is_asked_for_once_and_quoted() {
        let none = Counts::default();
        assert_eq!(index_query("aaaa", Some(&none)), "\"aaaa\"");
        let seen = counts(&[("bc1", 1_000), ("c1a", 1_000), ("1ab", 1_000)]);
        assert_eq!(index_query("abc1abc", Some(&seen)), "\"abc\"");
        assert_eq!(index_query("a\"b\"c", Some(&none)), "\"a\"\"b\"\"c\"");
    }
}
