//! Indexes for the members list of large organizations: live members (`deleted_at IS NULL`) in
//! id order, with and without a role filter, so counting and paging read the index alone.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Memberships {
    Table,
    OrganizationId,
    DeletedAt,
    Role,
    Id,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("ix_memberships_live")
                    .table(Memberships::Table)
                    .col(Memberships::OrganizationId)
                    .col(Memberships::DeletedAt)
                    .col(Memberships::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_memberships_live_role")
                    .table(Memberships::Table)
                    .col(Memberships::OrganizationId)
                    .col(Memberships::DeletedAt)
                    .col(Memberships::Role)
                    .col(Memberships::Id)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for name in ["ix_memberships_live_role", "ix_memberships_live"] {
            manager
                .drop_index(
                    Index::drop()
                        .name(name)
                        .table(Memberships::Table)
                        .to_owned(),
                )
                .await?;
        }
        Ok(())
    }
}
