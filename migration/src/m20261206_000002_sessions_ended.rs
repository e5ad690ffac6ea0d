//! `memberships.sessions_ended_at`: when an Owner or Administrator last ended the member's
//! sessions, or deactivated them. Access tokens are never stored, so a token issued before this
//! instant is refused by comparing its `iat`; refresh and personal tokens are revoked in their
//! own rows at the same moment.

use sea_orm_migration::prelude::*;

use crate::column::utc_instant_null;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Memberships {
    Table,
    SessionsEndedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Memberships::Table)
                    .add_column(utc_instant_null(Memberships::SessionsEndedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Memberships::Table)
                    .drop_column(Memberships::SessionsEndedAt)
                    .to_owned(),
            )
            .await
    }
}
