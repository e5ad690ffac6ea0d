//! Trigram indexes for the members search (a substring of email, first or last name), which
//! otherwise reads every member of the organization.
//!
//! - SQLite: an FTS5 table with the trigram tokenizer over the users' searchable columns, kept in
//!   step with `users` by triggers. The service narrows a search of three characters or more to
//!   its matches and still applies its LIKE conditions, so results do not change.
//! - PostgreSQL: `pg_trgm` GIN indexes, which the LIKE conditions use as they are. Creating the
//!   extension needs the CREATE privilege on the database; without it the migration leaves a
//!   warning and search keeps scanning.
//! - MariaDB has no substring index (its FULLTEXT indexes match words): search scans there.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

const SQLITE_UP: &[&str] = &[
    "CREATE VIRTUAL TABLE user_search USING fts5(\
       email_normalized, first_name, last_name, \
       content='users', content_rowid='id', tokenize='trigram')",
    "INSERT INTO user_search(user_search) VALUES ('rebuild')",
    "CREATE TRIGGER users_search_insert AFTER INSERT ON users BEGIN \
       INSERT INTO user_search(rowid, email_normalized, first_name, last_name) \
       VALUES (new.id, new.email_normalized, new.first_name, new.last_name); \
     END",
    "CREATE TRIGGER users_search_delete AFTER DELETE ON users BEGIN \
       INSERT INTO user_search(user_search, rowid, email_normalized, first_name, last_name) \
       VALUES ('delete', old.id, old.email_normalized, old.first_name, old.last_name); \
     END",
    "CREATE TRIGGER users_search_update \
     AFTER UPDATE OF email_normalized, first_name, last_name ON users BEGIN \
       INSERT INTO user_search(user_search, rowid, email_normalized, first_name, last_name) \
       VALUES ('delete', old.id, old.email_normalized, old.first_name, old.last_name); \
       INSERT INTO user_search(rowid, email_normalized, first_name, last_name) \
       VALUES (new.id, new.email_normalized, new.first_name, new.last_name); \
     END",
];

const SQLITE_DOWN: &[&str] = &[
    "DROP TRIGGER IF EXISTS users_search_update",
    "DROP TRIGGER IF EXISTS users_search_delete",
    "DROP TRIGGER IF EXISTS users_search_insert",
    "DROP TABLE IF EXISTS user_search",
];

const POSTGRES_UP: &str = "DO $$ BEGIN \
       CREATE EXTENSION IF NOT EXISTS pg_trgm; \
       CREATE INDEX ix_users_search_email ON users USING gin (email_normalized gin_trgm_ops); \
       CREATE INDEX ix_users_search_first_name ON users USING gin (lower(first_name) gin_trgm_ops); \
       CREATE INDEX ix_users_search_last_name ON users USING gin (lower(last_name) gin_trgm_ops); \
     EXCEPTION WHEN insufficient_privilege OR undefined_file OR feature_not_supported THEN \
       RAISE WARNING 'pg_trgm is not available (%): the members search scans the organization', SQLERRM; \
     END $$";

const POSTGRES_DOWN: &[&str] = &[
    "DROP INDEX IF EXISTS ix_users_search_last_name",
    "DROP INDEX IF EXISTS ix_users_search_first_name",
    "DROP INDEX IF EXISTS ix_users_search_email",
];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DatabaseBackend::Sqlite => {
                for statement in SQLITE_UP {
                    db.execute_unprepared(statement).await?;
                }
            }
            DatabaseBackend::Postgres => {
                db.execute_unprepared(POSTGRES_UP).await?;
            }
            _ => {}
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let statements = match manager.get_database_backend() {
            DatabaseBackend::Sqlite => SQLITE_DOWN,
            DatabaseBackend::Postgres => POSTGRES_DOWN,
            _ => &[],
        };
        for statement in statements {
            db.execute_unprepared(statement).await?;
        }
        Ok(())
    }
}
