//! Instance-wide settings kept in the database, so every instance of the service agrees on them.

use sea_orm::ActiveValue::Set;
use sea_orm::{ConnectionTrait, DbErr, EntityTrait};

use crate::entities::instance_setting;

/// Key of the instance setting naming the organization walk-in signups join.
pub const DEFAULT_ORGANIZATION_KEY: &str = "default_organization_id";
/// Key of the generated JWT secret, used when `JWT_SECRET` is not set.
pub const JWT_SECRET_KEY: &str = "jwt_secret";

/// Reads one instance setting.
pub async fn instance_setting<C: ConnectionTrait>(
    db: &C,
    key: &str,
) -> Result<Option<String>, DbErr> {
    Ok(instance_setting::Entity::find_by_id(key.to_owned())
        .one(db)
        .await?
        .map(|row| row.value))
}

/// Stores `value` under `key` unless a value is there already; returns the value that won.
pub async fn claim_instance_setting<C: ConnectionTrait>(
    db: &C,
    key: &str,
    value: String,
) -> Result<String, DbErr> {
    let row = instance_setting::ActiveModel {
        key: Set(key.to_owned()),
        value: Set(value),
    };
    instance_setting::Entity::insert(row)
        .on_conflict_do_nothing_on([instance_setting::Column::Key])
        .exec(db)
        .await?;
    instance_setting(db, key)
        .await?
        .ok_or_else(|| DbErr::RecordNotFound(key.to_owned()))
}
