//! An organization's managing writes (role changes, removals, ownership transfers) take turns
//! in the service, a few at a time, before they reach PostgreSQL or MariaDB.
//!
//! They change rows the whole organization shares: its per-role member counts. In the database
//! such writes wait for each other's locks, each holding a pooled connection, so a burst of one
//! organization's writes took the worker's whole pool and its other requests waited behind
//! them: while 32 clients reset one organization's link, the same instance answered
//! `GET /api/invite` at 640-660 requests/s (p50 12 ms) on PostgreSQL, and at 4,800-5,500 (p50
//! 1.3-1.5 ms) once the resets took turns here (BENCHMARKS.md, session 19). Waiting here holds
//! a task, not a connection; the burst itself runs as fast as before when it runs alone, since
//! its writes commit one after another either way. Link resets need no turns since session 21:
//! one caller's resets of one organization run in batches on one connection
//! (`services::invite_link`, `crate::batches`).
//!
//! SQLite needs no turns: its one writer thread runs every write and commits the waiting ones
//! in groups, which turns would only make smaller (resets: 6,100-6,400/s without, 4,500 with),
//! and its readers never wait for it. Each instance keeps its own turns; across instances the
//! database's locks remain.

use sea_orm::DbBackend;
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::error::ApiError;

/// Organizations share a queue when they fall in the same stripe: a fixed table, with nothing
/// to add or remove per organization, and rare sharing among those writing at one moment.
const STRIPES: usize = 256;

/// The turns of one instance's managing writes, by organization.
pub struct Turns {
    /// Empty where no turns are taken (SQLite).
    stripes: Box<[Semaphore]>,
}

impl Turns {
    /// Turns for writes to `backend` through pools of `pool_size` connections each: half a pool
    /// per organization at once (at least one), so its burst leaves the rest to other requests.
    pub fn new(backend: DbBackend, pool_size: u32) -> Self {
        let at_once = usize::try_from(pool_size / 2).unwrap_or(1).max(1);
        let stripes = match backend {
            DbBackend::Sqlite => 0,
            _ => STRIPES,
        };
        Self {
            stripes: (0..stripes).map(|_| Semaphore::new(at_once)).collect(),
        }
    }

    /// Waits for a turn of organization `organization_id`'s writes, which lasts until the
    /// permit is dropped; `None` where no turns are taken.
    pub async fn take(
        &self,
        organization_id: i32,
    ) -> Result<Option<SemaphorePermit<'_>>, ApiError> {
        if self.stripes.is_empty() {
            return Ok(None);
        }
        let stripe = organization_id.unsigned_abs() as usize % self.stripes.len();
        // Never closed, so acquiring only waits.
        let permit = self.stripes[stripe]
            .acquire()
            .await
            .map_err(|closed| ApiError::Internal(closed.to_string()))?;
        Ok(Some(permit))
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Whether a turn of `organization_id` begins at once (it ends at once too).
    async fn begins_at_once(turns: &Turns, organization_id: i32) -> bool {
        let waited = Duration::from_millis(20);
        tokio::time::timeout(waited, turns.take(organization_id))
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn an_organization_has_half_a_pool_of_turns_and_others_do_not_wait_for_it() {
        let turns = Turns::new(DbBackend::Postgres, 5);
        let first = turns.take(7).await.expect("a turn");
        let _second = turns.take(7).await.expect("a turn");
        assert!(!begins_at_once(&turns, 7).await, "a third turn began");
        assert!(
            begins_at_once(&turns, 8).await,
            "another organization waited"
        );
        drop(first);
        assert!(begins_at_once(&turns, 7).await, "the third did not begin");
    }

    #[tokio::test]
    async fn a_pool_of_one_still_gives_one_turn_and_sqlite_takes_none() {
        let turns = Turns::new(DbBackend::MySql, 1);
        let only = turns.take(7).await.expect("a turn");
        assert!(only.is_some());
        assert!(!begins_at_once(&turns, 7).await);

        let sqlite = Turns::new(DbBackend::Sqlite, 5);
        let held: Vec<_> = futures_util::future::join_all((0..100).map(|_| sqlite.take(7))).await;
        assert!(held.iter().all(|turn| matches!(turn, Ok(None))));
    }
}
