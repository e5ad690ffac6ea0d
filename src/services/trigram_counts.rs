//! How many users each common trigram of SQLite's search index is found in, read from the index
//! now and then (`maintenance`), so a search asks the index for its term's rarest trigrams
//! (`member_search`). Only a search's speed depends on these counts, never its results: any of a
//! term's trigrams finds every user that contains the term, and the LIKE conditions keep exactly
//! those. A trigram missing from the counts is taken as rare; it is, or it is newer than the
//! counts.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use sea_orm::{ConnectionTrait, DatabaseBackend, DatabaseConnection, DbErr, Statement};

/// Trigrams found in fewer users are not kept: rare enough, and the counts stay small.
const COMMON_FROM: u32 = 32;

/// The counts of one reading of the index, by trigram as the index folds it (lower case).
#[derive(Debug, Default)]
pub struct Counts(HashMap<Box<str>, u32>);

impl Counts {
    /// Users whose email or names contain `trigram` (0 when fewer than `COMMON_FROM`).
    pub fn users_with(&self, trigram: &str) -> u32 {
        self.0.get(trigram).copied().unwrap_or(0)
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

    /// Reads the counts from the index again (SQLite; elsewhere nothing to read). It reads the
    /// whole index: about 0.1 s for 100,000 users.
    pub async fn refresh(&self, searches: &DatabaseConnection) -> Result<(), DbErr> {
        if searches.get_database_backend() != DatabaseBackend::Sqlite {
            return Ok(());
        }
        let rows = searches
            .query_all_raw(Statement::from_sql_and_values(
                DatabaseBackend::Sqlite,
                "SELECT term, doc FROM user_search_vocab WHERE doc >= ?",
                [COMMON_FROM.into()],
            ))
            .await?;
        let counts = rows
            .iter()
            .map(|row| {
                let term: String = row.try_get("", "term")?;
                let users: i64 = row.try_get("", "doc")?;
                Ok((
                    term.into_boxed_str(),
                    u32::try_from(users).unwrap_or(u32::MAX),
                ))
            })
            .collect::<Result<Counts, DbErr>>()?;
        if let Ok(mut current) = self.0.write() {
            *current = Some(Arc::new(counts));
        }
        Ok(())
    }
}
