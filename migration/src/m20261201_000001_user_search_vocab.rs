//! SQLite: an `fts5vocab` table over the members search's trigram index, from which the service
//! reads how many users each trigram is found in, to ask the index for a term's rarest trigrams
//! only (`services::trigram_counts`). It stores nothing: each read of it reads the index.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DatabaseBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DatabaseBackend::Sqlite {
            manager
                .get_connection()
                .execute_unprepared(
                    "CREATE VIRTUAL TABLE user_search_vocab USING fts5vocab(user_search, 'row')",
                )
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DatabaseBackend::Sqlite {
            manager
                .get_connection()
                .execute_unprepared("DROP TABLE IF EXISTS user_search_vocab")
                .await?;
        }
        Ok(())
    }
}
