//! Use cases. Each function owns its transaction and enforces the role rules; none knows about HTTP.

pub mod access;
pub mod accounts;
pub mod audit;
pub mod invitations;
pub mod invite_link;
pub mod members;
pub mod organizations;
pub mod pages;
pub mod passwords;
pub mod tokens;

use chrono::{DateTime, NaiveDateTime, SubsecRound, Utc};
use sea_orm::{DbErr, SqlErr};

/// The current instant, to whole seconds: every backend then stores and returns the same value.
pub fn now() -> NaiveDateTime {
    Utc::now().naive_utc().trunc_subsecs(0)
}

/// A stored instant as UTC for the wire.
pub fn utc(instant: impl Into<NaiveDateTime>) -> DateTime<Utc> {
    instant.into().and_utc().trunc_subsecs(0)
}

/// A "contains `term`" LIKE pattern for folded columns (`domain::fold`), the term folded the same
/// way, in which `%` and `_` typed by a person match themselves.
pub fn contains_pattern(term: &str) -> sea_orm::sea_query::LikeExpr {
    let escaped = crate::domain::fold(term)
        .replace('!', "!!")
        .replace('%', "!%")
        .replace('_', "!_");
    sea_orm::sea_query::LikeExpr::new(format!("%{escaped}%")).escape('!')
}

/// Whether `error` is a unique-constraint violation, on any backend.
pub fn is_unique_violation(error: &DbErr) -> bool {
    matches!(error.sql_err(), Some(SqlErr::UniqueConstraintViolation(_)))
}
