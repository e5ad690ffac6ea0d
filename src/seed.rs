//! Seeding a large organization quickly, for benchmarks: rows go in by the thousand through the
//! same entities the service uses, and every seeded user shares one password hash (hashing each
//! would take minutes and measure nothing). It writes through a connection of its own, outside
//! the service's `Db`: bulk inserts and `VACUUM` are no request's business.

use sea_orm::ActiveValue::Set;
use sea_orm::{
    ColumnTrait, ConnectionTrait, Database, DatabaseBackend, DatabaseConnection, EntityTrait,
    QueryFilter, TransactionTrait,
};

use crate::domain::invitation::{DeliveryState, InvitationStatus};
use crate::domain::token::{random_url_token, token_hash};
use crate::domain::{EmailAddress, Password, Role, folded_name};
use crate::entities::{invitation, membership, user};
use crate::error::ApiError;
use crate::services::{accounts, now};
use crate::state::AppState;

/// What a seeding run created.
pub struct Seeded {
    pub organization_id: i32,
    pub owner_email: String,
}

const BATCH: usize = 500;

/// Creates an organization owned by `owner_email` with `members` more members (a tenth of them
/// pending, the rest annotators) and `invitations` pending invitations.
pub async fn organization(
    state: &AppState,
    owner_email: &str,
    password: &str,
    members: usize,
    invitations: usize,
) -> Result<Seeded, ApiError> {
    let email = EmailAddress::parse(owner_email)
        .ok_or_else(|| ApiError::Internal("seed: bad owner email".into()))?;
    let password = Password::parse(password.to_owned())
        .ok_or_else(|| ApiError::Internal("seed: bad password".into()))?;
    let (organization, owner) = accounts::bootstrap(state, email, password, "Benchmark").await?;
    let db = Database::connect(state.settings.database_url.as_str()).await?;
    let shared_hash = owner.password_hash.clone();
    let tag = &random_url_token()[..8];
    for start in (0..members).step_by(BATCH) {
        let end = (start + BATCH).min(members);
        let txn = db.begin().await?;
        let at = now();
        let addresses: Vec<String> = (start..end)
            .map(|i| format!("member{i}.{tag}@bench.example.org").to_lowercase())
            .collect();
        let users = addresses.iter().enumerate().map(|(n, address)| {
            let i = start + n;
            user::ActiveModel {
                email: Set(address.clone()),
                email_normalized: Set(address.clone()),
                username: Set(address.clone()),
                first_name: Set(format!("First{i}")),
                last_name: Set(format!("Last{i}")),
                name_folded: Set(folded_name(&format!("First{i}"), &format!("Last{i}"))),
                password_hash: Set(shared_hash.clone()),
                active_organization_id: Set(Some(organization.id)),
                date_joined: Set(at),
                last_activity: Set(None),
                ..Default::default()
            }
        });
        user::Entity::insert_many(users).exec(&txn).await?;
        let mut new_ids: Vec<i32> = user::Entity::find()
            .filter(user::Column::EmailNormalized.is_in(addresses))
            .all(&txn)
            .await?
            .into_iter()
            .map(|u| u.id)
            .collect();
        new_ids.sort_unstable();
        let memberships = new_ids.iter().enumerate().map(|(n, user_id)| {
            let role = if (start + n) % 10 == 0 {
                Role::NotActivated
            } else {
                Role::Annotator
            };
            membership::ActiveModel {
                organization_id: Set(organization.id),
                user_id: Set(*user_id),
                role: Set(role.code().to_owned()),
                invited_by: Set(None),
                created_at: Set(at),
                updated_at: Set(at),
                deleted_at: Set(None),
                ..Default::default()
            }
        });
        membership::Entity::insert_many(memberships)
            .exec(&txn)
            .await?;
        txn.commit().await?;
    }
    // The memberships above bypassed the per-role counts.
    crate::services::members::counts::recount(&db, organization.id).await?;
    for start in (0..invitations).step_by(BATCH) {
        let end = (start + BATCH).min(invitations);
        let at = now();
        let rows = (start..end).map(|i| {
            let address = format!("invitee{i}.{tag}@bench.example.org").to_lowercase();
            invitation::ActiveModel {
                organization_id: Set(organization.id),
                email: Set(address.clone()),
                email_normalized: Set(address.to_lowercase()),
                role: Set(Role::Annotator.code().to_owned()),
                token_hash: Set(token_hash(&random_url_token())),
                status: Set(InvitationStatus::Pending.stored().to_owned()),
                pending_key: Set(Some(address)),
                invited_by: Set(owner.id),
                accepted_by: Set(None),
                created_at: Set(at),
                updated_at: Set(at),
                expires_at: Set(at + chrono::Duration::days(7)),
                accepted_at: Set(None),
                revoked_at: Set(None),
                delivery_state: Set(DeliveryState::NotSent.as_str().to_owned()),
                delivery_attempts: Set(0),
                delivery_error: Set(None),
                delivered_at: Set(None),
                ..Default::default()
            }
        });
        invitation::Entity::insert_many(rows).exec(&db).await?;
    }
    refresh_planner_statistics(&db).await?;
    Ok(Seeded {
        organization_id: organization.id,
        owner_email: owner.email,
    })
}

/// What any bulk load should end with: the planner's statistics brought up to date, and on
/// PostgreSQL the search indexes' pending entries merged. Autovacuum would do both within a
/// minute, but until then PostgreSQL plans for empty tables (and paged the members list through
/// the wrong index) and each search reads the whole pending list; SQLite keeps no statistics
/// until asked.
async fn refresh_planner_statistics(db: &DatabaseConnection) -> Result<(), ApiError> {
    let statement = match db.get_database_backend() {
        DatabaseBackend::MySql => "ANALYZE TABLE users, memberships, invitations, member_counts",
        DatabaseBackend::Postgres => "VACUUM ANALYZE",
        _ => "ANALYZE",
    };
    db.execute_unprepared(statement).await?;
    Ok(())
}
