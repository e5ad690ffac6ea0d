//! Column helpers that hide the differences between SQLite, PostgreSQL and MariaDB.

use sea_orm_migration::prelude::*;

/// A UTC instant. Stored as a naive `DATETIME`/`timestamp` holding UTC: MariaDB's `TIMESTAMP`
/// stops in 2038, and a naive column decodes the same way on every backend.
pub fn utc_instant<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).date_time().not_null().take()
}

/// A nullable UTC instant.
pub fn utc_instant_null<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name).date_time().null().take()
}

/// A bounded text column; 255 keeps every value indexable on MariaDB's utf8mb4.
pub fn text<T: IntoIden>(name: T, len: u32) -> ColumnDef {
    ColumnDef::new(name).string_len(len).not_null().take()
}

/// An auto-incrementing integer primary key.
pub fn id<T: IntoIden>(name: T) -> ColumnDef {
    ColumnDef::new(name)
        .integer()
        .not_null()
        .auto_increment()
        .primary_key()
        .take()
}
