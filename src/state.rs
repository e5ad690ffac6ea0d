//! What request handlers share: the database pools (one per HTTP worker but SQLite's writer and
//! search readers), the settings, the JWT keys and the rate limits.

use std::sync::Arc;

use sea_orm::{DatabaseConnection, DbBackend, DbErr};

use crate::auth::JwtKeys;
use crate::auth::caller_reads::CallerReads;
use crate::idempotency::IdempotencySecret;
use crate::inline_reads::InlineReader;
use crate::rate_limit::RateLimits;
use crate::services::invite_link::LinkResets;
use crate::services::trigram_counts::TrigramCounts;
use crate::settings::Settings;
use crate::turns::Turns;
use crate::writes::Writes;

#[derive(Clone)]
pub struct AppState {
    /// Single writes outside transactions. On SQLite, the single writer connection.
    pub db: DatabaseConnection,
    /// Transactions of requests that change something (on SQLite, committed in groups).
    pub writes: Writes,
    /// Plain reads outside transactions. On SQLite, a pool of read-only connections that read
    /// in parallel under WAL, each HTTP worker's own; elsewhere the same pool as `db`.
    pub reads: DatabaseConnection,
    /// Member searches. On SQLite, read-only connections of their own, two per core (see
    /// `db::connect_searches`); elsewhere the same pool as `reads`.
    pub searches: DatabaseConnection,
    /// The email sender and housekeeping, outside requests (see `db::connect_background`).
    pub background: DatabaseConnection,
    pub settings: Settings,
    pub jwt: JwtKeys,
    pub idempotency: IdempotencySecret,
    /// Shared by every worker: a limit counts the whole instance's requests.
    pub rate_limits: Arc<RateLimits>,
    /// The search's trigram counts (SQLite, PostgreSQL), read by `maintenance`, shared by every worker.
    pub trigram_counts: Arc<TrigramCounts>,
    /// The turns of each organization's managing writes, shared by every worker (see `turns`).
    pub organization_writes: Arc<Turns>,
    /// Link resets waiting for their batch, shared by every worker (see `batches`).
    pub link_resets: Arc<LinkResets>,
    /// On SQLite, the HTTP worker's connection for the caller's read, made on the worker's own
    /// thread (`inline_reads`); `None` elsewhere and outside the workers.
    pub inline_reads: Option<Arc<InlineReader>>,
    /// On PostgreSQL, the caller reads of the HTTP worker's GET requests, made together
    /// (`auth::caller_reads`); `None` elsewhere and outside the workers.
    pub caller_reads: Option<Arc<CallerReads>>,
}

impl AppState {
    /// This state for one HTTP worker, with the worker's own database pool (see
    /// `db::worker_pool`); everything else, the rate limits among it, stays shared.
    pub fn for_worker(&self, db: DatabaseConnection) -> Result<AppState, DbErr> {
        // Never SQLite's writer (whose workers share it), so no CPU to keep it on.
        let writes =
            Writes::new(db.clone(), None).map_err(|error| DbErr::Custom(error.to_string()))?;
        let caller_reads = (db.get_database_backend() == DbBackend::Postgres)
            .then(|| Arc::new(CallerReads::default()));
        Ok(AppState {
            writes,
            db: db.clone(),
            reads: db.clone(),
            searches: db,
            caller_reads,
            ..self.clone()
        })
    }

    /// This state for one HTTP worker on SQLite, with the worker's own readers (see
    /// `db::worker_readers`) and inline reader; the writer, the search readers and the rest stay
    /// shared.
    pub fn for_sqlite_worker(
        &self,
        reads: DatabaseConnection,
        inline_reads: Option<InlineReader>,
    ) -> AppState {
        AppState {
            reads,
            inline_reads: inline_reads.map(Arc::new),
            ..self.clone()
        }
    }

    /// `<PUBLIC_URL>/user/signup/?token=<token>`, relative when no public URL is configured.
    pub fn invite_url(&self, token: &str) -> String {
        let base = self.settings.public_url.as_deref().unwrap_or("");
        format!("{base}/user/signup/?token={token}")
    }
}
