//! The SQLite file the service opened, watched so that acknowledged writes always land in it: a
//! file deleted or replaced while the service runs would take writes into a copy nobody reads
//! again, and a read-only file would fail every write while readiness said all was well.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DbErr, RuntimeErr, SqliteTransactionMode,
    TransactionOptions, TransactionTrait,
};

/// A database file, and which file it was when the service opened it.
#[derive(Debug)]
pub struct SqliteFile {
    path: PathBuf,
    /// Device and inode: a file deleted and created again at the same path is another file.
    identity: (u64, u64),
}

impl SqliteFile {
    /// The file at `path` as it is now; `None` for an in-memory database or a path that cannot
    /// be read (the open already failed then).
    pub fn opened(path: &Path) -> Option<SqliteFile> {
        let metadata = std::fs::metadata(path).ok()?;
        Some(SqliteFile {
            path: path.to_owned(),
            identity: (metadata.dev(), metadata.ino()),
        })
    }

    /// Refuses when the file at the path is gone or is another file than the one opened.
    pub fn check_in_place(&self) -> Result<(), DbErr> {
        match std::fs::metadata(&self.path) {
            Ok(metadata) if (metadata.dev(), metadata.ino()) == self.identity => Ok(()),
            Ok(_) => Err(lost(format!(
                "the database file {} was replaced while the service ran; restart it",
                self.path.display()
            ))),
            Err(_) => Err(lost(format!(
                "the database file {} was deleted while the service ran; restore it and restart",
                self.path.display()
            ))),
        }
    }

    /// Writes nothing but proves a write could succeed: sets the header's `user_version` to the
    /// value it has, in a transaction rolled back at once. A read-only file, directory or mount
    /// refuses it.
    pub async fn check_writable(&self, writer: &DatabaseConnection) -> Result<(), DbErr> {
        self.check_in_place()?;
        // Immediate, like every write: waits for another process's write lock instead of
        // failing when the read below would have to become a write.
        let txn = writer
            .begin_with_options(TransactionOptions {
                sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
                ..TransactionOptions::default()
            })
            .await?;
        let version: Option<i64> = txn
            .query_one_raw(sea_orm::Statement::from_string(
                writer.get_database_backend(),
                "PRAGMA user_version",
            ))
            .await?
            .map(|row| row.try_get_by_index(0))
            .transpose()?;
        let probe = txn
            .execute_unprepared(&format!("PRAGMA user_version = {}", version.unwrap_or(0)))
            .await;
        txn.rollback().await?;
        probe.map(|_| ()).map_err(|error| {
            lost(format!(
                "the database file {} cannot be written: {error}",
                self.path.display()
            ))
        })
    }
}

/// The path a SQLite URL names, without its scheme and query; `None` for an in-memory database.
pub fn path_of(url: &str) -> Option<PathBuf> {
    let path = url
        .trim_start_matches("sqlite://")
        .trim_start_matches("sqlite:")
        .split('?')
        .next()
        .unwrap_or_default();
    (!path.is_empty() && path != ":memory:").then(|| PathBuf::from(path))
}

/// An error the service answers 503 `database_unavailable` to, naming the cause in the log.
fn lost(reason: String) -> DbErr {
    DbErr::Conn(RuntimeErr::Internal(reason))
}
