//! SQLite reads made on the HTTP worker's own thread, for the query every authenticated request
//! makes (the caller's user, membership and organization, `auth::caller`).
//!
//! sqlx runs each SQLite connection on a thread of its own: a query is a hand-off to that thread
//! and back, and returning the connection to its pool is another (sqlx pings it). For a read of
//! one row by its key, answered from SQLite's page cache in a few microseconds, the hand-offs are
//! most of the cost: a handler making that one read through sqlx reached 33,000-39,000 req/s on
//! this machine, the same read made here 75,000-86,000, against 90,000-118,000 for the handler
//! with no read at all (BENCHMARKS.md, session 14).
//!
//! Such a read does not wait: under WAL a reader never waits for the writer, and the connection's
//! busy timeout is zero, so in the rare case SQLite answers "busy" (a crashed writer's log being
//! recovered) the read fails at once and the caller reads through its pool instead, off the
//! worker. Anything longer than a keyed read stays on sqlx.

use std::path::Path;
use std::sync::Mutex;
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, Params, Row};

/// One HTTP worker's read-only connection to the SQLite file, used from that worker's thread.
pub struct InlineReader {
    /// Only the worker's own thread takes it, one request at a time: never contended. The lock
    /// makes the worker's state shareable like the rest of it.
    connection: Mutex<Connection>,
}

impl InlineReader {
    /// A reader of the SQLite file at `path`, the one the pools' readers open (`db`); `None`,
    /// with a warning, when it cannot be opened (an in-memory database's name is no file): the
    /// pools still serve every read.
    pub fn open(path: &Path) -> Option<InlineReader> {
        match open_read_only(path) {
            Ok(connection) => Some(InlineReader {
                connection: Mutex::new(connection),
            }),
            Err(error) => {
                log::warn!("reads stay on the pools: cannot open the SQLite file again: {error}");
                None
            }
        }
    }

    /// The row `sql` selects, decoded by `decode`, or `None` without one. A prepared statement is
    /// kept per SQL text. An error (the database busy among them) means "read it elsewhere".
    pub fn query_optional<T>(
        &self,
        sql: &str,
        params: impl Params,
        decode: impl FnOnce(&Row<'_>) -> rusqlite::Result<T>,
    ) -> Result<Option<T>, InlineReadError> {
        let connection = self
            .connection
            .try_lock()
            .map_err(|_| InlineReadError::InUse)?;
        let mut statement = connection.prepare_cached(sql)?;
        Ok(statement.query_row(params, decode).optional()?)
    }
}

/// Why a read was not made inline; the caller makes it through a pool instead.
#[derive(Debug, thiserror::Error)]
pub enum InlineReadError {
    #[error("the inline connection is in use")]
    InUse,
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
}

fn open_read_only(path: &Path) -> rusqlite::Result<Connection> {
    let connection = Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )?;
    // Opened as the worker starts, before it serves: it may wait, as the pools' readers do, for
    // another process that has the file locked (one starting up, say) while it loads the schema.
    connection.busy_timeout(crate::db::SQLITE_BUSY_TIMEOUT)?;
    // As small as the pools' readers': the kernel caches the file.
    connection.execute_batch(&format!(
        "PRAGMA cache_size = {}; SELECT count(*) FROM sqlite_schema;",
        crate::db::READER_CACHE_SIZE
    ))?;
    // From the first request on, never: a busy database is read through the pool.
    connection.busy_timeout(Duration::ZERO)?;
    Ok(connection)
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    /// A SQLite file holding an empty table `t`, in a directory removed with the first value.
    fn database_file() -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("a directory");
        let file = dir.path().join("t.db");
        Connection::open(&file)
            .and_then(|connection| connection.execute_batch("CREATE TABLE t (n INTEGER)"))
            .expect("a database file");
        (dir, file)
    }

    #[test]
    fn a_sqlite_file_is_read_and_what_cannot_be_opened_is_not() {
        let (dir, file) = database_file();
        let reader = InlineReader::open(&file).expect("a file-backed database is read inline");
        let read = reader
            .query_optional("SELECT count(*) FROM t", [], |row| row.get::<_, i64>(0))
            .expect("read");
        assert_eq!(read, Some(0));
        // Read-only: a missing file is not created.
        let missing = dir.path().join("missing.db");
        assert!(InlineReader::open(&missing).is_none());
        assert!(!missing.exists());
    }

    /// Read-only: the inline connection cannot change what the writer owns.
    #[test]
    fn the_inline_connection_cannot_write() {
        let (_dir, file) = database_file();
        let reader = InlineReader::open(&file).expect("opened");
        let written = reader.query_optional("INSERT INTO t VALUES (1) RETURNING n", [], |row| {
            row.get::<_, i64>(0)
        });
        assert!(written.is_err());
    }
}
