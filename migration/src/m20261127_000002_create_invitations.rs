//! Email invitations and the outbox of messages waiting for the SMTP sender.

use sea_orm_migration::prelude::*;

use crate::column::{id, text, utc_instant, utc_instant_null};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum Invitations {
    Table,
    Id,
    OrganizationId,
    Email,
    EmailNormalized,
    Role,
    TokenHash,
    Status,
    PendingKey,
    InvitedBy,
    AcceptedBy,
    CreatedAt,
    UpdatedAt,
    ExpiresAt,
    AcceptedAt,
    RevokedAt,
    DeliveryState,
    DeliveryAttempts,
    DeliveryError,
    DeliveredAt,
}

#[derive(DeriveIden)]
enum EmailOutbox {
    Table,
    Id,
    InvitationId,
    Recipient,
    Subject,
    TextBody,
    HtmlBody,
    MessageId,
    Status,
    Attempts,
    NextAttemptAt,
    ClaimedUntil,
    LastError,
    CreatedAt,
    SentAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Invitations::Table)
                    .col(id(Invitations::Id))
                    .col(
                        ColumnDef::new(Invitations::OrganizationId)
                            .integer()
                            .not_null(),
                    )
                    .col(text(Invitations::Email, 254))
                    .col(text(Invitations::EmailNormalized, 254))
                    .col(text(Invitations::Role, 2))
                    .col(text(Invitations::TokenHash, 64))
                    .col(text(Invitations::Status, 16))
                    // The normalized email while pending, NULL otherwise: a unique index on it
                    // allows one pending invitation per address on every backend (NULLs never
                    // collide), without partial indexes MariaDB lacks.
                    .col(
                        ColumnDef::new(Invitations::PendingKey)
                            .string_len(254)
                            .null(),
                    )
                    .col(ColumnDef::new(Invitations::InvitedBy).integer().not_null())
                    .col(ColumnDef::new(Invitations::AcceptedBy).integer().null())
                    .col(utc_instant(Invitations::CreatedAt))
                    .col(utc_instant(Invitations::UpdatedAt))
                    .col(utc_instant(Invitations::ExpiresAt))
                    .col(utc_instant_null(Invitations::AcceptedAt))
                    .col(utc_instant_null(Invitations::RevokedAt))
                    // Mirrors the newest outbox message, so lists need no join.
                    .col(text(Invitations::DeliveryState, 16))
                    .col(
                        ColumnDef::new(Invitations::DeliveryAttempts)
                            .integer()
                            .not_null(),
                    )
                    .col(
                        ColumnDef::new(Invitations::DeliveryError)
                            .string_len(500)
                            .null(),
                    )
                    .col(utc_instant_null(Invitations::DeliveredAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_invitations_organization")
                            .from(Invitations::Table, Invitations::OrganizationId)
                            .to(Organizations::Table, Organizations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        for (name, columns, unique) in [
            (
                "ux_invitations_token_hash",
                vec![Invitations::TokenHash],
                true,
            ),
            (
                "ux_invitations_pending",
                vec![Invitations::OrganizationId, Invitations::PendingKey],
                true,
            ),
            (
                "ix_invitations_organization_status",
                vec![
                    Invitations::OrganizationId,
                    Invitations::Status,
                    Invitations::Id,
                ],
                false,
            ),
        ] {
            let mut index = Index::create();
            index.name(name).table(Invitations::Table);
            for column in columns {
                index.col(column);
            }
            if unique {
                index.unique();
            }
            manager.create_index(index.to_owned()).await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(EmailOutbox::Table)
                    .col(id(EmailOutbox::Id))
                    .col(ColumnDef::new(EmailOutbox::InvitationId).integer().null())
                    .col(text(EmailOutbox::Recipient, 254))
                    .col(text(EmailOutbox::Subject, 255))
                    .col(ColumnDef::new(EmailOutbox::TextBody).text().not_null())
                    .col(ColumnDef::new(EmailOutbox::HtmlBody).text().not_null())
                    .col(text(EmailOutbox::MessageId, 128))
                    .col(text(EmailOutbox::Status, 16))
                    .col(ColumnDef::new(EmailOutbox::Attempts).integer().not_null())
                    .col(utc_instant(EmailOutbox::NextAttemptAt))
                    .col(utc_instant_null(EmailOutbox::ClaimedUntil))
                    .col(
                        ColumnDef::new(EmailOutbox::LastError)
                            .string_len(500)
                            .null(),
                    )
                    .col(utc_instant(EmailOutbox::CreatedAt))
                    .col(utc_instant_null(EmailOutbox::SentAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_email_outbox_invitation")
                            .from(EmailOutbox::Table, EmailOutbox::InvitationId)
                            .to(Invitations::Table, Invitations::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // The sender asks for due messages: by status, then by when they are due.
        manager
            .create_index(
                Index::create()
                    .name("ix_email_outbox_due")
                    .table(EmailOutbox::Table)
                    .col(EmailOutbox::Status)
                    .col(EmailOutbox::NextAttemptAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_email_outbox_invitation")
                    .table(EmailOutbox::Table)
                    .col(EmailOutbox::InvitationId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(EmailOutbox::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(Invitations::Table).to_owned())
            .await
    }
}
