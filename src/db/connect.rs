//! Opening the database `DATABASE_URL` names, with the connections [`Db`] hands out.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions};
use sea_orm::sqlx::{Connection, Executor};
use sea_orm::{ConnectOptions, Database, DbErr, SqlxSqliteConnector};

use super::Db;
use super::sqlite_file::{self, SqliteFile};
use crate::settings::Settings;

/// How long start-up waits for the database before giving up.
const STARTUP_TIMEOUT: Duration = Duration::from_secs(3);

/// How long a request waits for a free connection before it fails.
const ACQUIRE_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a SQLite connection waits for a lock another process holds before it answers "busy".
const SQLITE_BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// A network connection idle this long may have been dropped by the server or a proxy: it is
/// pinged before use. Busy connections are not: a ping on every checkout doubles the round trips.
const IDLE_BEFORE_PING: Duration = Duration::from_secs(30);

/// How long pooled connections stay suspect after one was found lost.
const DISTRUST_FOR: Duration = Duration::from_secs(30);

/// Until when (milliseconds since the epoch) pooled network connections are pinged before use.
static PING_UNTIL: AtomicU64 = AtomicU64::new(0);

fn epoch_millis() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        })
}

/// A connection was found lost: a restarted database broke every pooled connection at once, so
/// for a while each is pinged before use and replaced if dead, instead of each failing a request.
pub(super) fn distrust_pooled_connections() {
    let until = epoch_millis() + u64::try_from(DISTRUST_FOR.as_millis()).unwrap_or(u64::MAX);
    PING_UNTIL.fetch_max(until, Ordering::Relaxed);
}

fn pooled_connections_suspect() -> bool {
    epoch_millis() < PING_UNTIL.load(Ordering::Relaxed)
}

/// Opens the database for requests and commands. PostgreSQL and MariaDB get one pool of
/// `DATABASE_MAX_CONNECTIONS`; SQLite gets one writer connection and that many readers.
pub async fn connect(settings: &Settings) -> Result<Db, DbErr> {
    if settings.is_sqlite() {
        return connect_sqlite(settings).await;
    }
    let options = network_pool(settings, settings.database_max_connections);
    check_reachable(&settings.database_url).await?;
    // Not lazy: connecting opens one connection, which checks the URL and credentials, and an
    // unreachable database fails the start at once with a line naming the variable.
    let pool = match tokio::time::timeout(STARTUP_TIMEOUT, Database::connect(options)).await {
        Ok(Ok(pool)) => pool,
        Ok(Err(error)) => {
            return Err(DbErr::Custom(format!(
                "cannot use the database named by DATABASE_URL: {error}"
            )));
        }
        Err(_) => {
            return Err(DbErr::Custom(format!(
                "the database named by DATABASE_URL did not answer within {} s",
                STARTUP_TIMEOUT.as_secs()
            )));
        }
    };
    Ok(Db {
        reads: pool.clone(),
        writes: pool,
        sqlite_file: None,
        migrations_url: Some(settings.database_url.clone()),
    })
}

/// One connection for migrations, without the pool's statement timeout.
pub(super) async fn for_migrations(url: &str) -> Result<sea_orm::DatabaseConnection, DbErr> {
    let mut options = ConnectOptions::new(url.to_owned());
    options
        .max_connections(1)
        .connect_timeout(STARTUP_TIMEOUT)
        .sqlx_logging(false);
    Database::connect(options).await
}

/// Says plainly why a database server cannot be reached, before the driver's retries blur a
/// refused connection into a timeout: nothing listening, a name that does not resolve, or no
/// answer at all.
async fn check_reachable(database_url: &str) -> Result<(), DbErr> {
    let Ok(url) = url::Url::parse(database_url) else {
        return Ok(());
    };
    let (Some(host), Some(port)) = (
        url.host_str(),
        url.port_or_known_default().or(match url.scheme() {
            "postgres" | "postgresql" => Some(5432),
            "mysql" | "mariadb" => Some(3306),
            _ => None,
        }),
    ) else {
        return Ok(());
    };
    let refusal = |reason: String| {
        DbErr::Custom(format!(
            "cannot reach the database server at {host}:{port}, which DATABASE_URL names: {reason}"
        ))
    };
    match tokio::time::timeout(
        STARTUP_TIMEOUT,
        tokio::net::TcpStream::connect((host, port)),
    )
    .await
    {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(error)) if error.kind() == std::io::ErrorKind::ConnectionRefused => Err(refusal(
            "connection refused (is the server running?)".into(),
        )),
        Ok(Err(error)) => Err(refusal(error.to_string())),
        Err(_) => Err(refusal(format!(
            "no answer within {} s",
            STARTUP_TIMEOUT.as_secs()
        ))),
    }
}

/// The database for work outside requests (the email sender, housekeeping). Each HTTP worker runs
/// its own runtime, which ends at shutdown, and a network connection dies with the runtime that
/// opened it; connections opened only by the main runtime still record a message sent while the
/// server stops. SQLite's connections run on threads of their own, so there it is `db` itself.
pub async fn connect_background(settings: &Settings, db: &Db) -> Result<Db, DbErr> {
    if settings.is_sqlite() {
        return Ok(db.clone());
    }
    let mut options = network_pool(settings, 2);
    options.connect_lazy(true);
    let pool = Database::connect(options).await?;
    Ok(Db {
        reads: pool.clone(),
        writes: pool,
        sqlite_file: None,
        migrations_url: None,
    })
}

/// SQLite in WAL mode: one writer connection, since SQLite lets one transaction write at a time
/// and two that both upgrade to writing would fail with `SQLITE_BUSY`, and read-only connections
/// that read beside it.
async fn connect_sqlite(settings: &Settings) -> Result<Db, DbErr> {
    let path = sqlite_file::path_of(&settings.database_url);
    let create = settings.create_missing_database;
    if let Some(path) = &path {
        let folder = path
            .parent()
            .filter(|folder| !folder.as_os_str().is_empty());
        if settings.database_url == Settings::default().database_url {
            // The default path's folder is the service's own; a typed path's is the operator's,
            // where a missing folder is more likely a typo than a wish.
            if let Some(folder) = folder {
                create_folder(folder);
            }
        } else if let Some(folder) = folder.filter(|folder| !folder.is_dir()) {
            return Err(DbErr::Custom(format!(
                "the folder {} does not exist (DATABASE_URL names {}); create it first",
                folder.display(),
                path.display()
            )));
        }
        if !create && !path.exists() {
            return Err(DbErr::Custom(format!(
                "no database at {}, which DATABASE_URL names: if this is a first start, create it \
                 with `org-members migrate`; if a database was expected there, restore it \
                 (the service does not start on a new empty one in its place)",
                path.display()
            )));
        }
    }
    let options: SqliteConnectOptions = settings
        .database_url
        .parse()
        .map_err(|error| DbErr::Custom(format!("invalid SQLite URL: {error}")))?;
    let options = options
        .journal_mode(SqliteJournalMode::Wal)
        .foreign_keys(true)
        .busy_timeout(SQLITE_BUSY_TIMEOUT);
    let writer = SqlitePoolOptions::new()
        .max_connections(1)
        // A file on local disk cannot drop a connection: no ping before each use.
        .test_before_acquire(false)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .after_release(|connection, _| {
            Box::pin(async move {
                // A COMMIT that fails on a full disk or an I/O error can leave SQLite having
                // rolled the transaction back while sqlx still counts it open; every later BEGIN
                // would then be a savepoint and commit nothing. Such a connection is closed (after
                // the dropped transaction's queued rollback has run) and the next write opens a
                // fresh one.
                connection.ping().await?;
                Ok(!connection.is_in_transaction())
            })
        })
        .connect_with(options.clone().create_if_missing(create))
        .await
        .map_err(|error| {
            DbErr::Custom(format!(
                "cannot open the SQLite file {}, which DATABASE_URL names: {error}",
                path.as_deref()
                    .unwrap_or(std::path::Path::new(":memory:"))
                    .display()
            ))
        })?;
    // Opened as reads need them, after the writer has created the file and migrated it.
    let readers = SqlitePoolOptions::new()
        .max_connections(settings.database_max_connections)
        .test_before_acquire(false)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .connect_lazy_with(options.read_only(true).create_if_missing(false));
    let db = Db {
        reads: SqlxSqliteConnector::from_sqlx_sqlite_pool(readers),
        writes: SqlxSqliteConnector::from_sqlx_sqlite_pool(writer),
        sqlite_file: path
            .as_deref()
            .and_then(SqliteFile::opened)
            .map(std::sync::Arc::new),
        migrations_url: None,
    };
    // A read-only file would otherwise start, pass readiness, and fail every write.
    db.check_writable().await?;
    Ok(db)
}

/// The settings PostgreSQL and MariaDB pools share: connections open as needed and none is kept
/// idle, an idle one (or any, while connections are suspect) is pinged before use, no statement
/// runs longer than a request may, statements are not logged.
fn network_pool(settings: &Settings, max_connections: u32) -> ConnectOptions {
    let mut options = ConnectOptions::new(settings.database_url.clone());
    options
        .max_connections(max_connections)
        .min_connections(0)
        .test_before_acquire_if_idle_for(IDLE_BEFORE_PING)
        .connect_timeout(STARTUP_TIMEOUT)
        .acquire_timeout(ACQUIRE_TIMEOUT)
        .sqlx_logging(false);
    options.map_sqlx_postgres_before_acquire(|connection, _| {
        Box::pin(
            async move { Ok(!pooled_connections_suspect() || connection.ping().await.is_ok()) },
        )
    });
    options.map_sqlx_mysql_before_acquire(|connection, _| {
        Box::pin(
            async move { Ok(!pooled_connections_suspect() || connection.ping().await.is_ok()) },
        )
    });
    // The server gives up on a statement when the request that sent it has: work nobody waits
    // for stops holding locks.
    let statement_timeout = settings.request_timeout.as_millis().to_string();
    options.map_sqlx_postgres_opts(move |connect| {
        connect.options([("statement_timeout", statement_timeout.as_str())])
    });
    let statement_seconds = settings.request_timeout.as_secs().max(1);
    // MariaDB and MySQL default to REPEATABLE READ, whose gap locks deadlock two transactions
    // that each update no row of an index range and then insert into it (two invitations resent
    // at once did). The services are written for READ COMMITTED, PostgreSQL's default: they lock
    // the rows they change.
    options.map_sqlx_mysql_pool_opts(move |pool| {
        pool.after_connect(move |connection, _| {
            Box::pin(async move {
                connection
                    .execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
                    .await?;
                // MariaDB's name for a statement timeout; MySQL has none, so a refusal is fine.
                let limit = format!("SET SESSION max_statement_time = {statement_seconds}");
                let limit = sea_orm::sqlx::AssertSqlSafe(limit);
                if let Err(error) = connection.execute(limit).await {
                    log::debug!("no statement timeout on this server: {error}");
                }
                Ok(())
            })
        })
    });
    options
}

fn create_folder(folder: &std::path::Path) {
    if let Err(error) = std::fs::create_dir_all(folder) {
        log::warn!("could not create {}: {error}", folder.display());
    }
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use sea_orm::{ConnectionTrait, DbBackend, Statement};

    use super::*;

    /// A folder on a tmpfs of `size`, unmounted when dropped: a disk that fills up.
    struct SmallDisk(tempfile::TempDir);

    impl SmallDisk {
        fn mount(size: &str) -> SmallDisk {
            let dir = tempfile::tempdir().expect("a folder");
            let mounted = Command::new("mount")
                .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
                .arg(dir.path())
                .status()
                .expect("mount runs");
            assert!(
                mounted.success(),
                "this test mounts a tmpfs: run it as root"
            );
            SmallDisk(dir)
        }
    }

    impl Drop for SmallDisk {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg(self.0.path()).status();
        }
    }

    async fn insert(db: &Db, text: String) -> Result<(), DbErr> {
        db.transaction(async |txn| {
            txn.execute_raw(Statement::from_sql_and_values(
                DbBackend::Sqlite,
                "INSERT INTO notes (text) VALUES (?)",
                [text.into()],
            ))
            .await
            .map(drop)
        })
        .await
    }

    /// SQLite on a full disk: once a COMMIT fails, no later write may be acknowledged without
    /// being stored (the writer must not be left inside a transaction whose later commits are
    /// savepoints of it), and writes succeed again once there is room. Every write answered Ok
    /// is then found by a fresh connection.
    #[tokio::test]
    async fn a_full_disk_loses_no_acknowledged_write_and_writes_resume_with_room() {
        let disk = SmallDisk::mount("1m");
        let dir = disk.0.path();
        let room = dir.join("room");
        std::fs::write(&room, vec![0u8; 256 * 1024]).expect("room taken");
        let settings = Settings {
            database_url: format!("sqlite://{}?mode=rwc", dir.join("full.sqlite3").display()),
            ..Settings::default()
        };
        let db = connect(&settings).await.expect("SQLite");
        db.transaction(async |txn| {
            txn.execute_unprepared("CREATE TABLE notes (text TEXT NOT NULL)")
                .await
        })
        .await
        .expect("table");

        let mut acknowledged = Vec::new();
        let mut failures = 0;
        for n in 0..2_000 {
            let text = format!("{n:05}{}", "x".repeat(2_000));
            match insert(&db, text.clone()).await {
                Ok(()) => acknowledged.push(text),
                Err(_) => failures += 1,
            }
            if failures >= 20 {
                break;
            }
        }
        assert!(failures >= 20, "the disk never filled up");

        std::fs::remove_file(&room).expect("room given back");
        let after = "after the disk had room again".to_owned();
        insert(&db, after.clone())
            .await
            .expect("a write succeeds once there is room");
        acknowledged.push(after);

        let fresh = connect(&settings).await.expect("SQLite again");
        let stored: Vec<String> = fresh
            .read()
            .query_all_raw(Statement::from_string(
                DbBackend::Sqlite,
                "SELECT text FROM notes",
            ))
            .await
            .expect("read")
            .iter()
            .map(|row| row.try_get_by_index(0).expect("text"))
            .collect();
        let lost: Vec<&String> = acknowledged
            .iter()
            .filter(|text| !stored.contains(text))
            .collect();
        assert!(
            lost.is_empty(),
            "{} of {} acknowledged writes are not stored",
            lost.len(),
            acknowledged.len()
        );
    }
}
