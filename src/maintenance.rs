//! Housekeeping every instance runs beside the server: forgets idempotency keys past their
//! 24 hours and rate-limit counters that are full again. Safe to run on every instance at once.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;

use crate::db::Db;
use crate::http::rate_limit::RateLimits;

const EVERY: Duration = Duration::from_secs(10 * 60);

/// Runs until `stop` turns true.
pub async fn run(rate_limits: Arc<RateLimits>, db: Db, mut stop: watch::Receiver<bool>) {
    let mut ticks = tokio::time::interval(EVERY);
    loop {
        tokio::select! {
            _ = ticks.tick() => {
                rate_limits.forget_idle();
                match crate::http::idempotency::purge_expired(&db).await {
                    Ok(0) => {}
                    Ok(purged) => log::info!("forgot {purged} expired idempotency keys"),
                    Err(error) => log::warn!("could not purge idempotency keys: {error}"),
                }
            }
            _ = stop.changed() => break,
        }
    }
}
