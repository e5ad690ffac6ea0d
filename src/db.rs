//! Connecting to the database, applying migrations, and the instance-wide settings table.

use std::time::Duration;

use futures_util::FutureExt;

use migration::{Migrator, MigratorTrait};
use sea_orm::sqlx::Executor;
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sea_orm::{
    ConnectOptions, ConnectionTrait, Database, DatabaseConnection, DbErr, EntityTrait,
    SqlxSqliteConnector,
};

use crate::entities::instance_setting;
use crate::inline_reads::InlineReader;
use crate::settings::Settings;

/// Key of the instance setting naming the organization walk-in signups join.
pub const DEFAULT_ORGANIZATION_KEY: &str = "default_organization_id";
/// Key of the generated JWT secret, used when `JWT_SECRET` is not set.
pub const JWT_SECRET_KEY: &str = "jwt_secret";

/// The pool for plain reads: on SQLite, read-only connections, parallel under WAL (SQLite's
/// writer is a single connection, see [`connect`]); elsewhere `writes` itself. Opened after the
/// migrations: a reader loads the schema as it connects (its `cache_size` pragma needs it). On
/// SQLite the HTTP workers read through readers of their own ([`worker_readers`]); this pool
/// serves the rest (commands, and any state built without workers).
pub async fn connect_reads(
    settings: &Settings,
    writes: &DatabaseConnection,
) -> Result<DatabaseConnection, DbErr> {
    if !settings.is_sqlite() {
        return Ok(writes.clone());
    }
    sqlite_reader_pool(settings, reader_pool(SQLITE_READERS)).await
}

/// The pool for member searches: on SQLite, two read-only connections per core; elsewhere
/// `reads` itself. A search of a large organization reads thousands of trigram index entries,
/// about 1 ms of SQLite's time for 1,111 matches of 100,000 members (1.2-1.6 before session 20's
/// search changes) and a megabyte or more of SQLite's memory per query, which the malloc arena
/// of each reader that ran one keeps.
/// Searching 100,000 members on the 16 plain readers grew the service 38 -> 53-58 MiB; on 8
/// readers of their own, 38 -> 48, on 4 about 5 MiB less again, and the cheap reads never wait
/// behind a burst of searches. Fewer trade small organizations' speed for memory: at 1,000
/// members 2, 4, 8 and 16 readers searched at 3,100, 4,000, 4,700 and 5,000 req/s (session 8,
/// when a search was two queries: a short search is mostly the wake-ups of its connection's
/// thread). Two per core since session 9, when the SQLite writer's own thread took the
/// benchmark's peak at 100,000 members to 66 MiB with four per core (61 with two;
/// BENCHMARKS.md).
pub async fn connect_searches(
    settings: &Settings,
    reads: &DatabaseConnection,
) -> Result<DatabaseConnection, DbErr> {
    if !settings.is_sqlite() {
        return Ok(reads.clone());
    }
    let count = u32::try_from(2 * crate::affinity::cores()).unwrap_or(4);
    // All opened now, from this thread, and kept: one opened later by a request would start on
    // its HTTP worker's CPU (`worker_readers`), and a search, milliseconds of SQLite's work at
    // 100,000 members, is better off on whichever CPU is free (BENCHMARKS.md, session 12).
    let pool = reader_pool(count)
        .min_connections(count)
        .idle_timeout(None)
        .max_lifetime(None);
    sqlite_reader_pool(settings, pool).await
}

async fn sqlite_reader_pool(
    settings: &Settings,
    pool: SqlitePoolOptions,
) -> Result<DatabaseConnection, DbErr> {
    let pool = pool
        .connect_with(reader_options(settings)?)
        .await
        .map_err(|error| DbErr::Conn(sea_orm::RuntimeErr::SqlxError(error.into())))?;
    Ok(SqlxSqliteConnector::from_sqlx_sqlite_pool(pool))
}

/// The connections one HTTP worker reads through, and on PostgreSQL and MariaDB writes through
/// too; opened as the worker needs them (see [`worker_connections`]).
pub enum WorkerConnections {
    /// SQLite: the worker's own readers ([`worker_readers`]) and its connection to the same file
    /// for reads made on its own thread (none if that cannot be opened); the writer stays shared.
    SqliteReaders {
        readers: DatabaseConnection,
        inline: Option<InlineReader>,
    },
    /// PostgreSQL and MariaDB: a pool of the worker's own for everything ([`worker_pool`]).
    Pool(DatabaseConnection),
}

/// The connections of HTTP worker number `index` (from 0) of `workers`. Must be called on the
/// worker as it starts (in its runtime): on SQLite it first keeps the worker to one CPU unless
/// `PIN_THREADS` is off, so that its readers' threads, started from it, share that CPU.
pub fn worker_connections(
    settings: &Settings,
    workers: usize,
    index: usize,
) -> Result<WorkerConnections, DbErr> {
    if !settings.is_sqlite() {
        return worker_pool(settings, workers).map(WorkerConnections::Pool);
    }
    if settings.pin_threads {
        crate::affinity::pin_http_worker(index);
    }
    let options = reader_options(settings)?;
    Ok(WorkerConnections::SqliteReaders {
        inline: InlineReader::open(options.get_filename()),
        readers: worker_readers(options, workers),
    })
}

/// One HTTP worker's SQLite readers: its share of the plain readers (searches share theirs).
/// They open as the worker first needs them, from the worker's thread, so each connection's
/// thread starts on the worker's CPU (`affinity::pin_http_worker`) and every query's hand-off
/// to it and back is a switch between two threads on one CPU rather than a wake-up of the
/// other, which on a virtual machine whose idle CPUs halt is an exit to the hypervisor.
/// Measured against shared pools in alternating runs (BENCHMARKS.md, session 12): `GET
/// /api/invite` 9,900-11,900 -> 13,000-13,900 req/s, one member 6,800-7,800 -> 8,700-9,100, the
/// members page 4,000-4,100 -> 4,800-5,800. Must be called on the worker (in its runtime),
/// after it is pinned.
fn worker_readers(options: SqliteConnectOptions, workers: usize) -> DatabaseConnection {
    let workers = u32::try_from(workers.max(1)).unwrap_or(u32::MAX);
    let pool = reader_pool(SQLITE_READERS.div_ceil(workers).max(1)).connect_lazy_with(options);
    SqlxSqliteConnector::from_sqlx_sqlite_pool(pool)
}

fn reader_pool(count: u32) -> SqlitePoolOptions {
    SqlitePoolOptions::new()
        .max_connections(count)
        // A file on local disk cannot drop a connection: sqlx's default ping before every
        // checkout would cost a second round trip to the connection's thread on each query.
        .test_before_acquire(false)
        .acquire_timeout(Duration::from_secs(30))
}

fn reader_options(settings: &Settings) -> Result<SqliteConnectOptions, DbErr> {
    let options: SqliteConnectOptions = settings
        .database_url
        .parse()
        .map_err(|error| DbErr::Custom(format!("invalid SQLite URL: {error}")))?;
    Ok(options
        .read_only(true)
        .create_if_missing(false)
        .foreign_keys(true)
        .busy_timeout(SQLITE_BUSY_TIMEOUT)
        .pragma("cache_size", READER_CACHE_SIZE))
}

/// The pool for work done outside requests: the email sender and housekeeping. Network
/// connections belong to the runtime that opened them, and each HTTP worker runs its own runtime
/// that ends at shutdown, so background work gets connections only it opens (on the main
/// runtime, which lives to the end): a message sent during shutdown is still recorded as sent.
/// SQLite connections run on their own threads, so there the writer is shared.
pub async fn connect_background(
    settings: &Settings,
    writes: &DatabaseConnection,
) -> Result<DatabaseConnection, DbErr> {
    if settings.is_sqlite() {
        return Ok(writes.clone());
    }
    let mut options = network_pool(settings, 2);
    // Opened by the first background task that needs one: never at start-up, and never for the
    // CLI commands (`migrate`, `bootstrap`) that build the same state.
    options.connect_lazy(true);
    Database::connect(options).await
}

/// A pool for one HTTP worker on PostgreSQL or MariaDB. Each worker runs its own runtime, and
/// a connection's socket is polled by the runtime that opened it: with one pool shared by every
/// worker, a query on a connection another worker opened wakes that worker too. Measured: GET
/// /api/invite, the members page and one member about 22% faster on PostgreSQL with a pool per
/// worker (BENCHMARKS.md). Its share of `DATABASE_MAX_CONNECTIONS` opens as the worker needs
/// it; must be called on the worker.
fn worker_pool(settings: &Settings, workers: usize) -> Result<DatabaseConnection, DbErr> {
    let mut options = network_pool(settings, worker_pool_size(settings, workers));
    options.connect_lazy(true);
    // A lazy pool is built without any I/O, so the future is ready at its first poll: a worker's
    // set-up, which is synchronous, takes it without an executor.
    Database::connect(options)
        .now_or_never()
        .ok_or_else(|| DbErr::Custom("a lazy pool did not open at once".into()))?
}

/// How many connections each of `workers` HTTP workers' pools holds at most (PostgreSQL,
/// MariaDB): its share of `DATABASE_MAX_CONNECTIONS`.
pub fn worker_pool_size(settings: &Settings, workers: usize) -> u32 {
    let workers = u32::try_from(workers.max(1)).unwrap_or(u32::MAX);
    settings.database_max_connections.div_ceil(workers).max(1)
}

/// The settings every PostgreSQL or MariaDB pool shares: connections open as needed and none is
/// kept idle, a connection idle `IDLE_BEFORE_PING` is pinged before use, statements are not logged.
fn network_pool(settings: &Settings, max_connections: u32) -> ConnectOptions {
    let mut options = ConnectOptions::new(settings.database_url.clone());
    options
        .max_connections(max_connections)
        .min_connections(0)
        .test_before_acquire_if_idle_for(IDLE_BEFORE_PING)
        .connect_timeout(STARTUP_TIMEOUT)
        .acquire_timeout(Duration::from_secs(10))
        .sqlx_logging(false);
    // MariaDB and MySQL default to REPEATABLE READ, whose gap locks deadlock two transactions
    // that each update no row of an index range and then insert into it (two invitations resent
    // at once did). The services are written for READ COMMITTED, PostgreSQL's default: they lock
    // the rows they change.
    options.map_sqlx_mysql_pool_opts(|pool| {
        pool.after_connect(|connection, _| {
            Box::pin(async move {
                connection
                    .execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
                    .await?;
                Ok(())
            })
        })
    });
    options
}

/// Opens the writer pool (SQLite: WAL, foreign keys, a busy timeout, one connection: one writer
/// at a time is SQLite's own rule, and one connection keeps transactions from failing with
/// `SQLITE_BUSY` when two of them upgrade to write locks at once). On
/// PostgreSQL and MariaDB this is the start-up pool (migrations, CLI commands, tests): requests
/// go through the workers' pools (`worker_pool`), so it keeps no connection open once idle.
pub async fn connect(settings: &Settings) -> Result<DatabaseConnection, DbErr> {
    if settings.is_sqlite() {
        create_sqlite_parent_dir(&settings.database_url);
        let options: SqliteConnectOptions = settings
            .database_url
            .parse()
            .map_err(|error| DbErr::Custom(format!("invalid SQLite URL: {error}")))?;
        let options = options
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .foreign_keys(true)
            .busy_timeout(SQLITE_BUSY_TIMEOUT);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .test_before_acquire(false) // as for the readers
            .acquire_timeout(Duration::from_secs(30))
            // Kept for the pool's life: its thread shares a CPU with the writer thread. One opened
            // later (only after an error closed this one) would work, with slower hand-offs.
            .idle_timeout(None)
            .max_lifetime(None);
        let pool = open_on_cpu(sqlite_writer_cpu(settings), pool, options).await?;
        let db = SqlxSqliteConnector::from_sqlx_sqlite_pool(pool);
        let differences = sqlite_build_differences(&db).await?;
        if !differences.is_empty() {
            log::warn!(
                "this build's SQLite is built {} (see .cargo/config.toml): reads are several times slower",
                differences.join(", ")
            );
        }
        return Ok(db);
    }
    let options = network_pool(settings, settings.database_max_connections);
    // Not lazy: connecting opens one connection, which checks the URL and credentials. sqlx
    // retries a refused connection until the acquire timeout; at start-up an unreachable
    // database should fail fast instead, with a line that names the variable (not its secrets).
    match tokio::time::timeout(STARTUP_TIMEOUT, Database::connect(options)).await {
        Ok(Ok(db)) => Ok(db),
        Ok(Err(error)) => Err(DbErr::Custom(format!(
            "cannot use the database named by DATABASE_URL: {error}"
        ))),
        Err(_) => Err(DbErr::Custom(format!(
            "the database named by DATABASE_URL did not answer within {} s",
            STARTUP_TIMEOUT.as_secs()
        ))),
    }
}

/// The CPU SQLite's writer thread and its connection's thread share (`affinity`), or `None`
/// when `PIN_THREADS` is off.
pub fn sqlite_writer_cpu(settings: &Settings) -> Option<usize> {
    settings
        .pin_threads
        .then(crate::affinity::sqlite_writer_cpu)
        .flatten()
}

/// Opens SQLite's writer pool from a thread on `cpu`, the writer thread's: the connection's
/// thread, which sqlx starts as it connects, inherits that CPU (see `crate::affinity`).
async fn open_on_cpu(
    cpu: Option<usize>,
    pool: SqlitePoolOptions,
    options: SqliteConnectOptions,
) -> Result<sea_orm::sqlx::SqlitePool, DbErr> {
    let (opened, pool_opened) = tokio::sync::oneshot::channel();
    crate::affinity::run_on("sqlite-open", cpu, async move {
        let _ = opened.send(pool.connect_with(options).await);
    })
    .map_err(|error| DbErr::Custom(format!("cannot open the SQLite writer: {error}")))?;
    pool_opened
        .await
        .map_err(|_| DbErr::Custom("the SQLite writer's opening thread stopped".into()))?
        .map_err(|error| DbErr::Conn(sea_orm::RuntimeErr::SqlxError(error.into())))
}

/// The compile options `.cargo/config.toml` sets for the bundled SQLite, each worth a large
/// share of read throughput (BENCHMARKS.md), and whether SQLite is built with them:
/// - `ENABLE_QPSG`: a prepared statement is planned once, not again for each bound `LIMIT`;
/// - `DEFAULT_MEMSTATUS=0`: no global mutex around every allocation, which 16 reader threads
///   copying column values otherwise queue on;
/// - without `ENABLE_MEMORY_MANAGEMENT`, which libsqlite3-sys turns on: with it every
///   connection's page cache is one LRU list behind one global mutex, taken for each page a
///   query touches, which readers walking an index queue on (a search finding 1,111 of 100,000
///   members 612 -> 789 req/s, medians of five alternating rounds; peak resident 56-57 -> 46
///   MiB; BENCHMARKS.md, session 20). The service never asks SQLite to release memory.
const SQLITE_BUILD_OPTIONS: [(&str, bool); 3] = [
    ("ENABLE_QPSG", true),
    ("DEFAULT_MEMSTATUS=0", true),
    ("ENABLE_MEMORY_MANAGEMENT", false),
];

/// Where the linked SQLite is built otherwise than [`SQLITE_BUILD_OPTIONS`] say: "without X"
/// or "with X".
pub async fn sqlite_build_differences<C: ConnectionTrait>(db: &C) -> Result<Vec<String>, DbErr> {
    let rows = db
        .query_all_raw(sea_orm::Statement::from_string(
            db.get_database_backend(),
            "PRAGMA compile_options",
        ))
        .await?;
    let built_with: Vec<String> = rows
        .iter()
        .filter_map(|row| row.try_get_by_index::<String>(0).ok())
        .collect();
    Ok(SQLITE_BUILD_OPTIONS
        .into_iter()
        .filter(|&(option, wanted)| built_with.iter().any(|o| o == option) != wanted)
        .map(|(option, wanted)| {
            let differs = if wanted { "without" } else { "with" };
            format!("{differs} {option}")
        })
        .collect())
}

/// Read-only SQLite connections, opened as concurrent reads need them (each has its own thread
/// and page cache, see [`READER_CACHE_SIZE`]). Too few and requests queue in the pool, waking
/// one another in turn: with 32 clients on 2 cores, `GET /api/invite` gave 14,000 req/s with 4
/// readers, 17,500 with 8, 21,500 with 16 and 20,500 with 32 (BENCHMARKS.md).
const SQLITE_READERS: u32 = 16;

/// Each reader's page cache: 256 KiB (a negative `cache_size` is in KiB) instead of SQLite's
/// 2 MiB. The file's pages stay in the kernel's cache, which all readers share; a private cache
/// per reader mostly holds copies. Measured (BENCHMARKS.md, session 7): during bulk invites, whose
/// commits keep replacing the pages readers cached, the service grew 42 -> 54 MiB with 2 MiB and
/// 42 -> 50 with 256 KiB; the members page was as fast at 1,000 and 100,000 members, the search of
/// 100,000 members about 10% slower.
pub(crate) const READER_CACHE_SIZE: &str = "-256";

/// How long a SQLite connection waits for a lock another holds before it answers "busy": the
/// writer, the pools' readers, and the inline readers while they open (`inline_reads`).
pub(crate) const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// A network connection idle this long may have been dropped by the server or a proxy: it is
/// pinged before use. Busy connections are not (a ping on every checkout doubles the round trips).
const IDLE_BEFORE_PING: Duration = Duration::from_secs(30);

/// How long start-up waits for the database before giving up.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(3);

fn create_sqlite_parent_dir(url: &str) {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:")
        .split('?')
        .next()
        .unwrap_or_default();
    if let Some(parent) = std::path::Path::new(path).parent()
        && !parent.as_os_str().is_empty()
        && let Err(error) = std::fs::create_dir_all(parent)
    {
        log::warn!("could not create {}: {error}", parent.display());
    }
}

/// Applies every pending migration.
pub async fn migrate(db: &DatabaseConnection) -> Result<(), DbErr> {
    Migrator::up(db, None).await
}

/// Reads one instance setting.
pub async fn instance_setting<C: ConnectionTrait>(
    db: &C,
    key: &str,
) -> Result<Option<String>, DbErr> {
    Ok(instance_setting::Entity::find_by_id(key.to_owned())
        .one(db)
        .await?
        .map(|row| row.value))
}

/// Stores `value` under `key` unless a value is there already; returns the value that won.
pub async fn claim_instance_setting<C: ConnectionTrait>(
    db: &C,
    key: &str,
    value: String,
) -> Result<String, DbErr> {
    use sea_orm::ActiveValue::Set;
    let row = instance_setting::ActiveModel {
        key: Set(key.to_owned()),
        value: Set(value),
    };
    instance_setting::Entity::insert(row)
        .on_conflict_do_nothing_on([instance_setting::Column::Key])
        .exec(db)
        .await?;
    instance_setting(db, key)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(key.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `.cargo/config.toml` builds SQLite with the options reads depend on; a build otherwise is
    /// correct but several times slower (BENCHMARKS.md).
    #[tokio::test]
    async fn the_bundled_sqlite_is_built_as_reads_need() {
        let db = Database::connect("sqlite::memory:")
            .await
            .expect("an in-memory database");
        let differences = sqlite_build_differences(&db)
            .await
            .expect("compile options");
        assert!(differences.is_empty(), "SQLite is built {differences:?}");
    }

    /// A worker's SQLite readers must open on the worker's thread (their threads take its CPU),
    /// so building them opens nothing; each worker gets its share of the readers.
    #[tokio::test]
    async fn a_workers_sqlite_readers_are_its_share_and_open_when_used() {
        let settings = Settings {
            // No such directory: a reader that opened now would fail.
            database_url: "sqlite:///no/such/dir/members.sqlite3".into(),
            ..Settings::default()
        };
        let reads = worker_readers(reader_options(&settings).expect("a SQLite URL"), 2);
        let pool = reads.get_sqlite_connection_pool();
        assert_eq!(pool.options().get_max_connections(), SQLITE_READERS / 2);
        assert_eq!(pool.size(), 0, "none open yet");
    }

    /// Each HTTP worker builds its pool in its synchronous set-up; were the pool not ready at once,
    /// every worker would fall back to the shared start-up pool (slower, and only a warning says so).
    #[tokio::test]
    async fn a_worker_pool_is_built_without_connecting() {
        let settings = Settings {
            // Nothing listens on port 1: the pool must not try to connect before it is used.
            database_url: "postgres://nobody@127.0.0.1:1/none".into(),
            ..Settings::default()
        };
        let pool = worker_connections(&settings, 2, 0).expect("a lazy pool");
        assert!(
            matches!(pool, WorkerConnections::Pool(_)),
            "PostgreSQL gets a pool per worker"
        );
        let sqlite = Settings {
            pin_threads: false, // this test's thread is no HTTP worker
            ..Settings::default()
        };
        assert!(
            matches!(
                worker_connections(&sqlite, 2, 0).expect("SQLite"),
                WorkerConnections::SqliteReaders { .. }
            ),
            "SQLite workers get readers of their own and share the writer"
        );
    }

    /// The inline reader opens the file the worker's readers open, and nothing for a database
    /// that is no file.
    #[tokio::test]
    async fn a_sqlite_worker_reads_inline_from_its_readers_file_only() {
        let dir = tempfile::tempdir().expect("a directory");
        let on_file = Settings {
            database_url: format!("sqlite://{}?mode=rwc", dir.path().join("t.db").display()),
            pin_threads: false, // this test's thread is no HTTP worker
            ..Settings::default()
        };
        connect(&on_file).await.expect("the file, created");
        let Ok(WorkerConnections::SqliteReaders { inline, .. }) =
            worker_connections(&on_file, 2, 0)
        else {
            panic!("SQLite workers get readers");
        };
        assert!(inline.is_some(), "a file is read inline");
        let in_memory = Settings {
            database_url: "sqlite::memory:".into(),
            ..on_file
        };
        let Ok(WorkerConnections::SqliteReaders { inline, .. }) =
            worker_connections(&in_memory, 2, 0)
        else {
            panic!("SQLite workers get readers");
        };
        assert!(inline.is_none(), "an in-memory database is not");
    }
}
