//! Housekeeping every instance runs beside the server: forgets idempotency keys past their
//! 24 hours and rate-limit counters that are full again, and reads the search's trigram counts
//! again (at start, then with the rest; `services::trigram_counts`). All are safe to run on
//! every instance at once.

use std::time::Duration;

use actix_web::web;
use tokio::sync::watch;

use crate::state::AppState;

const EVERY: Duration = Duration::from_secs(10 * 60);

/// Runs until `stop` turns true.
pub async fn run(state: web::Data<AppState>, mut stop: watch::Receiver<bool>) {
    let mut ticks = tokio::time::interval(EVERY);
    loop {
        tokio::select! {
            _ = ticks.tick() => {
                state.rate_limits.forget_idle();
                match crate::idempotency::purge_expired(&state.background).await {
                    Ok(0) => {}
                    Ok(purged) => log::info!("forgot {purged} expired idempotency keys"),
                    Err(error) => log::warn!("could not purge idempotency keys: {error}"),
                }
                let started = std::time::Instant::now();
                match state.trigram_counts.refresh(&state.searches).await {
                    Ok(None) => {}
                    Ok(Some(kept)) => log::debug!(
                        "read the search's trigram counts in {:?}: {kept} common trigrams",
                        started.elapsed()
                    ),
                    Err(error) => log::warn!("could not read the search's trigram counts: {error}"),
                }
            }
            _ = stop.changed() => break,
        }
    }
}
