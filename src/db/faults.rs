//! Which database failures mean "the database is not there right now" rather than "this request
//! is wrong": a lost or refused connection, a server shutting down or starting, a statement
//! cancelled by its timeout; on SQLite a file locked by another process, read-only, full, or
//! moved away. Those answer 503 `database_unavailable` and may be retried; every other failure
//! is a 500.

use sea_orm::sqlx::Error as SqlxError;
use sea_orm::sqlx::sqlite::SqliteError;
use sea_orm::{DbErr, RuntimeErr};

/// Whether `error` says the database could not be reached or stopped answering.
pub fn is_unavailable(error: &DbErr) -> bool {
    match error {
        DbErr::ConnectionAcquire(_) | DbErr::Conn(_) => true,
        DbErr::Exec(runtime) | DbErr::Query(runtime) => match runtime {
            RuntimeErr::SqlxError(error) => sqlx_unavailable(error),
            RuntimeErr::Internal(_) => false,
        },
        _ => false,
    }
}

fn sqlx_unavailable(error: &SqlxError) -> bool {
    match error {
        SqlxError::Io(_)
        | SqlxError::Tls(_)
        | SqlxError::Protocol(_)
        | SqlxError::PoolTimedOut
        | SqlxError::PoolClosed
        | SqlxError::WorkerCrashed => true,
        SqlxError::Database(database) => match database.try_downcast_ref::<SqliteError>() {
            Some(_) => database
                .code()
                .is_some_and(|code| sqlite_unavailable(&code)),
            None => database.code().is_some_and(|code| unavailable_code(&code)),
        },
        _ => false,
    }
}

/// PostgreSQL SQLSTATEs of a connection lost or refused (class 08), a server shutting down or
/// starting (57P01-57P03) and a statement cancelled by `statement_timeout` (57014); MariaDB's
/// server-gone, lost-connection, shutdown and statement-time-exceeded errors.
fn unavailable_code(code: &str) -> bool {
    code.starts_with("08")
        || matches!(
            code,
            "57P01" | "57P02" | "57P03" | "57014" | "2006" | "2013" | "1053" | "1927" | "1969"
        )
}

/// SQLite's (extended) result codes: busy, in its plain, recovery and snapshot forms (another
/// process holds the file), read-only, read-only because the file moved, and full.
fn sqlite_unavailable(code: &str) -> bool {
    matches!(code, "5" | "261" | "517" | "8" | "1032" | "13")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lost_connections_and_cancelled_statements_are_unavailable_constraint_errors_are_not() {
        let io = DbErr::Query(RuntimeErr::SqlxError(std::sync::Arc::new(SqlxError::Io(
            std::io::Error::from(std::io::ErrorKind::ConnectionReset),
        ))));
        assert!(is_unavailable(&io));
        let timed_out = DbErr::Exec(RuntimeErr::SqlxError(std::sync::Arc::new(
            SqlxError::PoolTimedOut,
        )));
        assert!(is_unavailable(&timed_out));
        assert!(unavailable_code("08006") && unavailable_code("57P01") && unavailable_code("2013"));
        assert!(!unavailable_code("23505") && !unavailable_code("1062"));
        assert!(sqlite_unavailable("517") && !sqlite_unavailable("2067"));
        assert!(!is_unavailable(&DbErr::RecordNotFound("x".into())));
    }
}
