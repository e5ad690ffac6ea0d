//! Organizations, users, memberships, issued refresh tokens and instance settings.

use sea_orm_migration::prelude::*;

use crate::column::{id, text, utc_instant, utc_instant_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
    Title,
    InviteToken,
    CreatedBy,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    Email,
    EmailNormalized,
    Username,
    FirstName,
    LastName,
    PasswordHash,
    ActiveOrganizationId,
    DateJoined,
    LastActivity,
}

#[derive(DeriveIden)]
enum Memberships {
    Table,
    Id,
    OrganizationId,
    UserId,
    Role,
    InvitedBy,
    CreatedAt,
    UpdatedAt,
    DeletedAt,
}

#[derive(DeriveIden)]
enum IssuedTokens {
    Table,
    Id,
    Jti,
    UserId,
    OrganizationId,
    Kind,
    CreatedAt,
    ExpiresAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum InstanceSettings {
    Table,
    Key,
    Value,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Organizations::Table)
                    .col(id(Organizations::Id))
                    .col(text(Organizations::Title, 200))
                    .col(text(Organizations::InviteToken, 64))
                    .col(ColumnDef::new(Organizations::CreatedBy).integer().null())
                    .col(utc_instant(Organizations::CreatedAt))
                    .to_owned(),
            )
            .await?;
        // Signup looks the organization up by its link token.
        manager
            .create_index(
                Index::create()
                    .name("ux_organizations_invite_token")
                    .table(Organizations::Table)
                    .col(Organizations::InviteToken)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .col(id(Users::Id))
                    .col(text(Users::Email, 254))
                    .col(text(Users::EmailNormalized, 254))
                    .col(text(Users::Username, 150))
                    .col(text(Users::FirstName, 150))
                    .col(text(Users::LastName, 150))
                    .col(text(Users::PasswordHash, 255))
                    .col(ColumnDef::new(Users::ActiveOrganizationId).integer().null())
                    .col(utc_instant(Users::DateJoined))
                    .col(utc_instant_null(Users::LastActivity))
                    .to_owned(),
            )
            .await?;
        // Emails are unique case-insensitively: the lower-cased form carries the constraint, so two
        // racing signups with one address end in one insert and one unique violation.
        manager
            .create_index(
                Index::create()
                    .name("ux_users_email_normalized")
                    .table(Users::Table)
                    .col(Users::EmailNormalized)
                    .unique()
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(Memberships::Table)
                    .col(id(Memberships::Id))
                    .col(
                        ColumnDef::new(Memberships::OrganizationId)
                            .integer()
                            .not_null(),
                    )
                    .col(ColumnDef::new(Memberships::UserId).integer().not_null())
                    .col(text(Memberships::Role, 2))
                    .col(ColumnDef::new(Memberships::InvitedBy).integer().null())
                    .col(utc_instant(Memberships::CreatedAt))
                    .col(utc_instant(Memberships::UpdatedAt))
                    .col(utc_instant_null(Memberships::DeletedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_memberships_organization")
                            .from(Memberships::Table, Memberships::OrganizationId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_memberships_user")
                            .from(Memberships::Table, Memberships::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_memberships_organization_user")
                    .table(Memberships::Table)
                    .col(Memberships::OrganizationId)
                    .col(Memberships::UserId)
                    .unique()
                    .to_owned(),
            )
            .await?;
        // The members list filters by organization and role (`role=NO` lists pending users).
        manager
            .create_index(
                Index::create()
                    .name("ix_memberships_organization_role")
                    .table(Memberships::Table)
                    .col(Memberships::OrganizationId)
                    .col(Memberships::Role)
                    .col(Memberships::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_memberships_user")
                    .table(Memberships::Table)
                    .col(Memberships::UserId)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(IssuedTokens::Table)
                    .col(id(IssuedTokens::Id))
                    .col(text(IssuedTokens::Jti, 64))
                    .col(ColumnDef::new(IssuedTokens::UserId).integer().not_null())
                    .col(
                        ColumnDef::new(IssuedTokens::OrganizationId)
                            .integer()
                            .not_null(),
                    )
                    .col(text(IssuedTokens::Kind, 16))
                    .col(utc_instant(IssuedTokens::CreatedAt))
                    .col(utc_instant(IssuedTokens::ExpiresAt))
                    .col(utc_instant_null(IssuedTokens::RevokedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_issued_tokens_user")
                            .from(IssuedTokens::Table, IssuedTokens::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_issued_tokens_jti")
                    .table(IssuedTokens::Table)
                    .col(IssuedTokens::Jti)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_issued_tokens_user_kind")
                    .table(IssuedTokens::Table)
                    .col(IssuedTokens::UserId)
                    .col(IssuedTokens::Kind)
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(InstanceSettings::Table)
                    .col(text(InstanceSettings::Key, 64).primary_key())
                    .col(ColumnDef::new(InstanceSettings::Value).text().not_null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            InstanceSettings::Table.into_iden(),
            IssuedTokens::Table.into_iden(),
            Memberships::Table.into_iden(),
            Users::Table.into_iden(),
            Organizations::Table.into_iden(),
        ] {
            manager
                .drop_table(Table::drop().table(table).to_owned())
                .await?;
        }
        Ok(())
    }
}
