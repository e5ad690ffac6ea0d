//! Live members per organization and role, maintained by the service in the transaction of every
//! membership change, so the members list counts without walking the organization. Filled here
//! from the memberships that exist: one row per organization and role, zero included.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum MemberCounts {
    Table,
    OrganizationId,
    Role,
    Members,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(MemberCounts::Table)
                    .col(
                        ColumnDef::new(MemberCounts::OrganizationId)
                            .integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(MemberCounts::Role).string_len(2).not_null())
                    .col(
                        ColumnDef::new(MemberCounts::Members)
                            .integer()
                            .not_null()
                            .default(0),
                    )
                    .primary_key(
                        Index::create()
                            .col(MemberCounts::OrganizationId)
                            .col(MemberCounts::Role),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(MemberCounts::Table, MemberCounts::OrganizationId)
                            .to(Organizations::Table, Organizations::Id),
                    )
                    .to_owned(),
            )
            .await?;
        // Plain SQL that reads the same on SQLite, PostgreSQL and MariaDB.
        manager
            .get_connection()
            .execute_unprepared(
                "INSERT INTO member_counts (organization_id, role, members) \
                 SELECT o.id, r.role, (SELECT COUNT(*) FROM memberships m \
                   WHERE m.organization_id = o.id AND m.role = r.role AND m.deleted_at IS NULL) \
                 FROM organizations o CROSS JOIN ( \
                   SELECT 'OW' AS role UNION ALL SELECT 'AD' UNION ALL SELECT 'MA' \
                   UNION ALL SELECT 'RE' UNION ALL SELECT 'AN' UNION ALL SELECT 'NO' \
                   UNION ALL SELECT 'DI') r",
            )
            .await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(MemberCounts::Table).to_owned())
            .await
    }
}
