//! Schema migrations. Each migration is its own file, named after the moment it was written, and is
//! never edited once it has landed: new changes are new files.

pub use sea_orm_migration::prelude::*;

mod column;
mod m20261127_000001_create_core;
mod m20261127_000002_create_invitations;
mod m20261128_000001_live_membership_indexes;
mod m20261128_000002_audit_and_idempotency;
mod m20261128_000003_member_counts;
mod m20261128_000004_member_search;
mod m20261201_000001_user_search_vocab;
mod m20261206_000001_folded_names;
mod m20261206_000002_sessions_ended;
mod m20261206_000003_password_resets;

/// Every migration of the service, oldest first.
pub struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261127_000001_create_core::Migration),
            Box::new(m20261127_000002_create_invitations::Migration),
            Box::new(m20261128_000001_live_membership_indexes::Migration),
            Box::new(m20261128_000002_audit_and_idempotency::Migration),
            Box::new(m20261128_000003_member_counts::Migration),
            Box::new(m20261128_000004_member_search::Migration),
            Box::new(m20261201_000001_user_search_vocab::Migration),
            Box::new(m20261206_000001_folded_names::Migration),
            Box::new(m20261206_000002_sessions_ended::Migration),
            Box::new(m20261206_000003_password_resets::Migration),
        ]
    }
}
