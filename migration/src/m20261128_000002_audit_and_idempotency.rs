//! The audit log (append-only: the service never updates or deletes an entry) and the
//! idempotency keys that let a client retry an unsafe request without doing it twice.

use sea_orm_migration::prelude::*;

use crate::column::{id, text, utc_instant};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Organizations {
    Table,
    Id,
}

#[derive(Clone, Copy, DeriveIden)]
enum AuditEvents {
    Table,
    Id,
    OrganizationId,
    OccurredAt,
    Action,
    ActorId,
    TargetType,
    TargetId,
    Before,
    After,
    RequestId,
    ClientAddress,
}

#[derive(DeriveIden)]
enum IdempotencyKeys {
    Table,
    Id,
    Scope,
    IdempotencyKey,
    RequestFingerprint,
    CreatedAt,
    ExpiresAt,
    ResponseStatus,
    ResponseBody,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuditEvents::Table)
                    .col(id(AuditEvents::Id))
                    .col(
                        ColumnDef::new(AuditEvents::OrganizationId)
                            .integer()
                            .not_null(),
                    )
                    .col(utc_instant(AuditEvents::OccurredAt))
                    .col(text(AuditEvents::Action, 64))
                    // No foreign key: the history outlives the accounts it mentions.
                    .col(ColumnDef::new(AuditEvents::ActorId).integer().null())
                    .col(text(AuditEvents::TargetType, 32))
                    .col(ColumnDef::new(AuditEvents::TargetId).integer().not_null())
                    .col(ColumnDef::new(AuditEvents::Before).text().null())
                    .col(ColumnDef::new(AuditEvents::After).text().null())
                    .col(ColumnDef::new(AuditEvents::RequestId).string_len(64).null())
                    .col(
                        ColumnDef::new(AuditEvents::ClientAddress)
                            .string_len(64)
                            .null(),
                    )
                    .foreign_key(
                        ForeignKey::create()
                            .from(AuditEvents::Table, AuditEvents::OrganizationId)
                            .to(Organizations::Table, Organizations::Id),
                    )
                    .to_owned(),
            )
            .await?;
        // Every filter of the list is "this organization, newest first", plus one column.
        let indexes: [(&str, &[AuditEvents]); 4] = [
            ("ix_audit_events_org", &[]),
            ("ix_audit_events_org_action", &[AuditEvents::Action]),
            ("ix_audit_events_org_actor", &[AuditEvents::ActorId]),
            (
                "ix_audit_events_org_target",
                &[AuditEvents::TargetType, AuditEvents::TargetId],
            ),
        ];
        for (name, columns) in indexes {
            let mut index = Index::create();
            index
                .name(name)
                .table(AuditEvents::Table)
                .col(AuditEvents::OrganizationId);
            for column in columns {
                index.col(*column);
            }
            manager
                .create_index(index.col(AuditEvents::Id).to_owned())
                .await?;
        }

        manager
            .create_table(
                Table::create()
                    .table(IdempotencyKeys::Table)
                    .col(id(IdempotencyKeys::Id))
                    .col(text(IdempotencyKeys::Scope, 128))
                    .col(text(IdempotencyKeys::IdempotencyKey, 255))
                    .col(text(IdempotencyKeys::RequestFingerprint, 64))
                    .col(utc_instant(IdempotencyKeys::CreatedAt))
                    .col(utc_instant(IdempotencyKeys::ExpiresAt))
                    .col(
                        ColumnDef::new(IdempotencyKeys::ResponseStatus)
                            .integer()
                            .null(),
                    )
                    .col(ColumnDef::new(IdempotencyKeys::ResponseBody).text().null())
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_idempotency_keys_scope_key")
                    .table(IdempotencyKeys::Table)
                    .col(IdempotencyKeys::Scope)
                    .col(IdempotencyKeys::IdempotencyKey)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_idempotency_keys_expires_at")
                    .table(IdempotencyKeys::Table)
                    .col(IdempotencyKeys::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(IdempotencyKeys::Table).to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table(AuditEvents::Table).to_owned())
            .await
    }
}
