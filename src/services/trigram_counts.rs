//! How many users each common trigram of the search is found in, read now and then
//! (`maintenance`), so a search asks the trigram index for its term's rarest trigrams
//! (`member_search`): SQLite's from its FTS5 index, PostgreSQL's estimated from a sample of
//! the users. Only a search's speed depends on these counts, never its results: any of a term's
//! trigrams finds every user that contains the term, and the LIKE conditions keep exactly
//! those. A trigram missing from the counts is taken as rare; it is, or it is newer than the
//! counts.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, RwLock};

use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, Statement};

/// Trigrams found in fewer users are not kept: rare enough, and the counts stay small.
pub const COMMON_FROM: u32 = 32;

/// Users PostgreSQL's reading samples: enough to tell a trigram of one user in a hundred from
/// a rare one, while a large table is not read whole every ten minutes.
const SAMPLED_USERS: f64 = 10_000.0;

/// The counts of one reading, by trigram as the indexes fold it (lower case).
#[derive(Debug, Default)]
pub struct Counts(HashMap<Box<str>, u32>);

impl Counts {
    /// Users whose email or names contain `trigram` in any case (0 when fewer than
    /// `COMMON_FROM`): looked up folded, as the indexes fold it.
    pub fn users_with(&self, trigram: &str) -> u32 {
        self.0
            .get(trigram.to_lowercase().as_str())
            .copied()
            .unwrap_or(0)
    }
}

impl FromIterator<(Box<str>, u32)> for Counts {
    fn from_iter<I: IntoIterator<Item = (Box<str>, u32)>>(iter: I) -> Self {
        Counts(iter.into_iter().collect())
    }
}

/// The latest counts, shared by every HTTP worker; none until the first reading.
#[derive(Debug, Default)]
pub struct TrigramCounts(RwLock<Option<Arc<Counts>>>);

impl TrigramCounts {
    pub fn current(&self) -> Option<Arc<Counts>> {
        self.0.read().map_or(None, |counts| counts.clone())
    }

    /// Reads the counts again: on SQLite the whole index (about 0.1 s for 100,000 users), on
    /// PostgreSQL a sample of the users. Answers how many common trigrams it kept, or `None`
    /// where there is nothing to read (MariaDB's search has no index to ask).
    pub async fn refresh(&self, searches: &DatabaseConnection) -> Result<Option<usize>, DbErr> {
        let counts = match searches.get_database_backend() {
            DatabaseBackend::Sqlite => read_index_vocabulary(searches).await?,
            DatabaseBackend::Postgres => estimate_from_sample(searches).await?,
            _ => return Ok(None),
        };
        let kept = counts.0.len();
        if let Ok(mut current) = self.0.write() {
            *current = Some(Arc::new(counts));
        }
        Ok(Some(kept))
    }
}

/// SQLite: the users of each trigram of the FTS5 index, from its `fts5vocab` table.
async fn read_index_vocabulary(searches: &DatabaseConnection) -> Result<Counts, DbErr> {
    let rows = searches
        .query_all_raw(Statement::from_sql_and_values(
            DatabaseBackend::Sqlite,
            "SELECT term, doc FROM user_search_vocab WHERE doc >= ?",
            [COMMON_FROM.into()],
        ))
        .await?;
    rows.iter()
        .map(|row| {
            let term: String = row.try_get("", "term")?;
            let users: i64 = row.try_get("", "doc")?;
            Ok((
                term.into_boxed_str(),
                u32::try_from(users).unwrap_or(u32::MAX),
            ))
        })
        .collect()
}

/// PostgreSQL: `pg_trgm` keeps no counts, so the searched columns of about `SAMPLED_USERS`
/// users, chosen row by row at random (`TABLESAMPLE BERNOULLI`, sized by the planner's
/// estimate of the table), are counted here and scaled to the whole table. At 100,000 users
/// this reads the table once: 66 ms in all, counting included.
async fn estimate_from_sample(searches: &DatabaseConnection) -> Result<Counts, DbErr> {
    let backend = DatabaseBackend::Postgres;
    let estimated_users = searches
        .query_one_raw(Statement::from_string(
            backend,
            "SELECT reltuples::float8 AS users FROM pg_class WHERE oid = 'users'::regclass",
        ))
        .await?
        .map(|row| row.try_get::<f64>("", "users"))
        .transpose()?
        .unwrap_or(-1.0);
    // -1 until the table is first analyzed: then it is read whole.
    let percent = if estimated_users > SAMPLED_USERS {
        100.0 * SAMPLED_USERS / estimated_users
    } else {
        100.0
    };
    let rows = searches
        .query_all_raw(Statement::from_sql_and_values(
            backend,
            "SELECT email_normalized, lower(first_name) AS first_name, \
             lower(last_name) AS last_name FROM users TABLESAMPLE BERNOULLI (CAST($1 AS real))",
            [percent.into()],
        ))
        .await?;
    let mut sampled: HashMap<String, u32> = HashMap::new();
    for row in &rows {
        let mut of_user = HashSet::new();
        for column in ["email_normalized", "first_name", "last_name"] {
            let text: String = row.try_get("", column)?;
            of_user.extend(trigrams_of(&text));
        }
        for trigram in of_user {
            *sampled.entry(trigram).or_default() += 1;
        }
    }
    let scale = 100.0 / percent;
    Ok(sampled
        .into_iter()
        .map(|(trigram, users)| (trigram.into_boxed_str(), scaled(users, scale)))
        .filter(|&(_, users)| users >= COMMON_FROM)
        .collect())
}

/// The characters of a trigram.
pub const TRIGRAM: usize = 3;

/// Every run of three characters in `text`, as the FTS5 trigram tokenizer cuts it.
pub fn trigrams_of(text: &str) -> impl Iterator<Item = String> {
    let characters: Vec<char> = text.chars().collect();
    let starts = characters.len().saturating_sub(TRIGRAM - 1);
    (0..starts).map(move |start| characters[start..start + TRIGRAM].iter().collect())
}

fn scaled(sampled_users: u32, scale: f64) -> u32 {
    // Saturates: no table of this service has 4 billion users.
    (f64::from(sampled_users) * scale).round() as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trigrams_are_every_run_of_three_characters() {
        let of = |text: &str| trigrams_of(text).collect::<Vec<_>>();
        assert_eq!(of("ada@x"), ["ada", "da@", "a@x"]);
        assert_eq!(of("łódź"), ["łód", "ódź"]);
        assert!(of("ab").is_empty());
    }

    #[test]
    fn a_sample_is_scaled_to_the_whole_table() {
        assert_eq!(scaled(12, 10.0), 120);
        assert_eq!(scaled(3, 100.0 / 30.0), 10);
        assert_eq!(scaled(u32::MAX, 2.0), u32::MAX);
    }
}
