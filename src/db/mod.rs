//! The database: where services read, and how they write.
//!
//! Services read through [`Db::read`] and change anything only inside [`Db::transaction`], which
//! works as sea-orm's own `transaction` does, with an async closure: commit when the work
//! succeeds, roll back when it fails. Which connections sit behind the two is this module's business alone (`connect`).

mod connect;
mod faults;
mod instance_settings;
mod sqlite_file;

use std::sync::Arc;

use migration::{Migrator, MigratorTrait};
use sea_orm::{
    DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, SqliteTransactionMode,
    TransactionOptions, TransactionTrait,
};

use sqlite_file::SqliteFile;

pub use connect::{connect, connect_background};
pub use faults::is_unavailable;
pub use instance_settings::{
    DEFAULT_ORGANIZATION_KEY, JWT_SECRET_KEY, claim_instance_setting, instance_setting,
};

/// How many connections a pool has open, in use and idle, and at most.
#[derive(Clone, Copy, Debug, Default)]
pub struct PoolStatus {
    pub in_use: i64,
    pub idle: i64,
    pub max: i64,
}

fn pool_status(connection: &DatabaseConnection) -> PoolStatus {
    fn of<DB: sea_orm::sqlx::Database>(pool: &sea_orm::sqlx::Pool<DB>) -> PoolStatus {
        let open = i64::from(pool.size());
        let idle = i64::try_from(pool.num_idle()).unwrap_or(open);
        PoolStatus {
            in_use: open - idle,
            idle,
            max: i64::from(pool.options().get_max_connections()),
        }
    }
    match connection.get_database_backend() {
        DbBackend::Sqlite => of(connection.get_sqlite_connection_pool()),
        DbBackend::Postgres => of(connection.get_postgres_connection_pool()),
        DbBackend::MySql => of(connection.get_mysql_connection_pool()),
        _ => PoolStatus::default(),
    }
}

/// The database as services see it; cheap to clone.
#[derive(Clone, Debug)]
pub struct Db {
    /// On SQLite, read-only connections that read in parallel under WAL; elsewhere `writes`.
    reads: DatabaseConnection,
    /// On SQLite, its single writer connection (SQLite lets one transaction write at a time);
    /// elsewhere the one pool.
    writes: DatabaseConnection,
    /// On SQLite, the file opened, checked before each write.
    sqlite_file: Option<Arc<SqliteFile>>,
    /// On PostgreSQL and MariaDB, where migrations connect: not through the pool, whose
    /// statements may take no longer than a request, since a migration may take minutes.
    migrations_url: Option<String>,
}

impl Db {
    /// Where services read outside a transaction.
    pub fn read(&self) -> &DatabaseConnection {
        &self.reads
    }

    /// Runs `read`, and once more if its connection turned out lost (a restarted database
    /// leaves every pooled connection broken): the second try gets a connection checked first.
    pub async fn read_with_retry<T>(
        &self,
        read: impl AsyncFn(&DatabaseConnection) -> Result<T, DbErr>,
    ) -> Result<T, DbErr> {
        match read(&self.reads).await {
            Err(error) if is_unavailable(&error) => {
                log::warn!("a database connection was lost; reading again: {error}");
                connect::distrust_pooled_connections();
                read(&self.reads).await
            }
            done => done,
        }
    }

    /// Runs `work` in a transaction: committed when it succeeds, rolled back when it fails (or
    /// when the request goes away first, dropping it). A transaction that could not begin on a
    /// lost connection begins once more, on a checked one: nothing of it had run.
    pub async fn transaction<T, E>(
        &self,
        work: impl AsyncFnOnce(&DatabaseTransaction) -> Result<T, E>,
    ) -> Result<T, E>
    where
        E: From<DbErr>,
    {
        if let Some(file) = &self.sqlite_file {
            file.check_in_place()?;
        }
        // On SQLite the write lock is taken at BEGIN, where another process holding it is
        // waited for; a deferred transaction that reads first could not wait when it upgrades.
        let options = TransactionOptions {
            sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
            ..TransactionOptions::default()
        };
        let txn = match self.writes.begin_with_options(options).await {
            Err(error) if is_unavailable(&error) => {
                log::warn!("a database connection was lost; beginning again: {error}");
                connect::distrust_pooled_connections();
                self.writes.begin_with_options(options).await?
            }
            begun => begun?,
        };
        match work(&txn).await {
            Ok(value) => {
                txn.commit().await?;
                Ok(value)
            }
            Err(error) => {
                if let Err(rollback) = txn.rollback().await {
                    log::warn!("a failed transaction could not be rolled back: {rollback}");
                }
                Err(error)
            }
        }
    }

    /// Whether a write could succeed now: on SQLite, that the file opened is still in place and
    /// can be written (readiness reports it); elsewhere the server answering is enough.
    pub async fn check_writable(&self) -> Result<(), DbErr> {
        match &self.sqlite_file {
            Some(file) => file.check_writable(&self.writes).await,
            None => Ok(()),
        }
    }

    /// The connections of the pool writes go through (on SQLite, its readers' too).
    pub fn pool_status(&self) -> PoolStatus {
        let mut status = pool_status(&self.writes);
        if self.backend() == DbBackend::Sqlite {
            let readers = pool_status(&self.reads);
            status.in_use += readers.in_use;
            status.idle += readers.idle;
            status.max += readers.max;
        }
        status
    }

    pub fn backend(&self) -> DbBackend {
        self.writes.get_database_backend()
    }

    /// Applies every pending migration.
    pub async fn migrate(&self) -> Result<(), DbErr> {
        match &self.migrations_url {
            Some(url) => {
                let connection = connect::for_migrations(url).await?;
                let applied = Migrator::up(&connection, None).await;
                connection.close().await.ok();
                applied
            }
            None => Migrator::up(&self.writes, None).await,
        }
    }
}
