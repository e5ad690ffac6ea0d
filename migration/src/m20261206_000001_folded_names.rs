//! The members search compares folded text on every database: `users.name_folded` holds first and
//! last name as one text, folded by the service when it writes them (`domain::folded_name`), and
//! the search indexes read it instead of `lower()` of each name, which SQLite's `lower()` folds
//! for ASCII letters only. The trigram counts' `user_search_vocab` goes: nothing reads it.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DatabaseBackend, Statement};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    NameFolded,
}

const SQLITE_UP: &[&str] = &[
    "DROP TABLE IF EXISTS user_search_vocab",
    "DROP TRIGGER IF EXISTS users_search_update",
    "DROP TRIGGER IF EXISTS users_search_delete",
    "DROP TRIGGER IF EXISTS users_search_insert",
    "DROP TABLE IF EXISTS user_search",
    "CREATE VIRTUAL TABLE user_search USING fts5(\
       email_normalized, name_folded, \
       content='users', content_rowid='id', tokenize='trigram')",
    "INSERT INTO user_search(user_search) VALUES ('rebuild')",
    "CREATE TRIGGER users_search_insert AFTER INSERT ON users BEGIN \
       INSERT INTO user_search(rowid, email_normalized, name_folded) \
       VALUES (new.id, new.email_normalized, new.name_folded); \
     END",
    "CREATE TRIGGER users_search_delete AFTER DELETE ON users BEGIN \
       INSERT INTO user_search(user_search, rowid, email_normalized, name_folded) \
       VALUES ('delete', old.id, old.email_normalized, old.name_folded); \
     END",
    "CREATE TRIGGER users_search_update \
     AFTER UPDATE OF email_normalized, name_folded ON users BEGIN \
       INSERT INTO user_search(user_search, rowid, email_normalized, name_folded) \
       VALUES ('delete', old.id, old.email_normalized, old.name_folded); \
       INSERT INTO user_search(rowid, email_normalized, name_folded) \
       VALUES (new.id, new.email_normalized, new.name_folded); \
     END",
];

const POSTGRES_UP: &str = "DO $$ BEGIN \
       DROP INDEX IF EXISTS ix_users_search_first_name; \
       DROP INDEX IF EXISTS ix_users_search_last_name; \
       CREATE EXTENSION IF NOT EXISTS pg_trgm; \
       CREATE INDEX ix_users_search_name ON users USING gin (name_folded gin_trgm_ops); \
     EXCEPTION WHEN insufficient_privilege OR undefined_file OR feature_not_supported THEN \
       RAISE WARNING 'pg_trgm is not available (%): the members search scans the organization', SQLERRM; \
     END $$";

/// The service's `domain::folded_name`, which this must match: migrations cannot call the service.
fn folded_name(first_name: &str, last_name: &str) -> String {
    format!("{first_name} {last_name}").to_lowercase()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(
                        ColumnDef::new(Users::NameFolded)
                            .text()
                            .not_null()
                            .default(""),
                    )
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        let backend = manager.get_database_backend();
        let users = db
            .query_all_raw(Statement::from_string(
                backend,
                "SELECT id, first_name, last_name FROM users",
            ))
            .await?;
        let update = match backend {
            DatabaseBackend::Postgres => "UPDATE users SET name_folded = $1 WHERE id = $2",
            _ => "UPDATE users SET name_folded = ? WHERE id = ?",
        };
        for user in users {
            let id: i32 = user.try_get("", "id")?;
            let first_name: String = user.try_get("", "first_name")?;
            let last_name: String = user.try_get("", "last_name")?;
            let folded = folded_name(&first_name, &last_name);
            db.execute_raw(Statement::from_sql_and_values(
                backend,
                update,
                [folded.into(), id.into()],
            ))
            .await?;
        }
        match backend {
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

    async fn down(&self, _manager: &SchemaManager) -> Result<(), DbErr> {
        Err(DbErr::Migration(
            "the folded names cannot be taken back: restore a backup instead".into(),
        ))
    }
}
