//! Signup, login and bootstrap: how people get an account and a place in an organization.

use std::sync::OnceLock;

use sea_orm::ActiveValue::Set;
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DatabaseTransaction, EntityTrait, QueryFilter,
    QueryOrder,
};

use serde_json::json;

use super::access::stored_role;
use super::audit::{self, AuditEntry};
use super::invitations;
use super::members::counts as member_counts;
use super::tokens::{TokenPair, issue_pair};
use super::{is_unique_violation, now};
use crate::auth::Caller;
use crate::auth::password;
use crate::db::{DEFAULT_ORGANIZATION_KEY, claim_instance_setting, instance_setting};
use crate::domain::audit::{AuditAction, AuditTarget};
use crate::domain::token::{is_plausible, random_url_token};
use crate::domain::{EmailAddress, Password, Role, folded_name};
use crate::entities::{invitation, membership, organization, user};
use crate::error::{ApiError, ErrorCode, FieldError};
use crate::http::idempotency::Claim;
use crate::state::AppState;

/// Title of the organization the first signup creates when it names none.
pub const DEFAULT_ORGANIZATION_TITLE: &str = "My organization";

/// A validated signup request.
#[derive(Debug)]
pub struct NewAccount {
    pub email: EmailAddress,
    pub password: Password,
    pub first_name: String,
    pub last_name: String,
    pub token: Option<String>,
    pub organization_title: Option<String>,
}

/// A new account, its membership, and tokens to use at once.
pub struct Joined {
    pub user: user::Model,
    pub membership: membership::Model,
    pub tokens: TokenPair,
}

/// Where a signup lands.
enum Destination {
    /// Joins an existing organization as a pending user, through the invite link or open signup
    /// (the audit log's `via`).
    Join(organization::Model, &'static str),
    /// Accepts an email invitation: joins with its role, active at once.
    Invited(organization::Model, Role, Box<invitation::Model>),
    /// An invitation that cannot be accepted, with the reason.
    Refused(Box<invitation::Model>, ApiError),
    /// Creates the instance's first organization and becomes its Owner.
    Found(String),
}

/// Signs a person up under the signup rules of the API contract.
pub async fn signup(
    state: &AppState,
    account: NewAccount,
    once: Option<&Claim>,
) -> Result<Joined, ApiError> {
    let password_hash = password::hash(account.password.expose().to_owned()).await?;
    let joined = state
        .db
        .transaction(async move |txn| {
            if let Some(claim) = once {
                claim.hold(txn).await?;
            }
            let destination = destination(txn, state, &account).await?;
            let (organization, role, invitation, via) = match destination {
                Destination::Join(organization, via) => {
                    (organization, Role::NotActivated, None, via)
                }
                Destination::Invited(organization, role, invitation) => {
                    (organization, role, Some(invitation), "invitation")
                }
                Destination::Refused(invitation, refusal) => {
                    return invitations::refuse(txn, &invitation, None, refusal)
                        .await
                        .map(Err);
                }
                Destination::Found(title) => (
                    create_organization(txn, &title).await?,
                    Role::Owner,
                    None,
                    "founder",
                ),
            };
            let user = insert_user(txn, &account, password_hash, organization.id).await?;
            let invited_by = invitation.as_ref().map(|invitation| invitation.invited_by);
            let membership =
                insert_membership(txn, organization.id, user.id, role, invited_by).await?;
            if let Some(invitation) = &invitation {
                invitations::consume(txn, invitation, user.id).await?;
                audit::record(
                    txn,
                    invitations::accepted_entries(invitation, user.id, role, None),
                )
                .await?;
            } else {
                audit::record(txn, joined_entries(&organization, user.id, role, via)).await?;
            }
            if role == Role::Owner {
                claim_founder(txn, organization, user.id).await?;
            }
            let tokens = issue_pair(txn, state, user.id, membership.organization_id, role).await?;
            Ok::<_, ApiError>(Ok(Joined {
                user,
                membership,
                tokens,
            }))
        })
        .await??;
    log::info!(
        "user {} signed up into organization {} as {}",
        joined.user.id,
        joined.membership.organization_id,
        joined.membership.role
    );
    Ok(joined)
}

/// The same answer lookup and accept give a token nobody issued or a link that was reset, so a
/// signup page can switch on one code.
fn unknown_token() -> ApiError {
    ApiError::new(
        ErrorCode::InviteTokenUnknown,
        "No invite link or invitation has this token; the link may have been reset.",
    )
}

async fn destination(
    txn: &DatabaseTransaction,
    state: &AppState,
    account: &NewAccount,
) -> Result<Destination, ApiError> {
    if let Some(token) = account.token.as_deref() {
        if !is_plausible(token) {
            return Err(unknown_token());
        }
        let link = organization::Entity::find()
            .filter(organization::Column::InviteToken.eq(token))
            .one(txn)
            .await?;
        if let Some(organization) = link {
            return Ok(Destination::Join(organization, "invite_link"));
        }
        let Some(invitation) = invitations::find_by_token(txn, token).await? else {
            return Err(unknown_token());
        };
        let role = match invitations::ensure_acceptable(txn, &invitation, &account.email).await {
            Ok(role) => role,
            Err(refusal) => return Ok(Destination::Refused(Box::new(invitation), refusal)),
        };
        let organization = organization::Entity::find_by_id(invitation.organization_id)
            .one(txn)
            .await?
            .ok_or_else(|| ApiError::Internal("invitation without organization".into()))?;
        return Ok(Destination::Invited(
            organization,
            role,
            Box::new(invitation),
        ));
    }
    // Closed signup is closed on an empty instance too: the first organization then comes from
    // `org-members bootstrap`, not from the first stranger to find the page.
    if state.settings.disable_signup_without_link {
        return Err(ApiError::new(
            ErrorCode::SignupRequiresInvite,
            "Signup is open only through an invite link or an invitation.",
        ));
    }
    let default_id = instance_setting(txn, DEFAULT_ORGANIZATION_KEY).await?;
    let Some(default_id) = default_id.and_then(|id| id.parse::<i32>().ok()) else {
        let title = account
            .organization_title
            .clone()
            .unwrap_or_else(|| DEFAULT_ORGANIZATION_TITLE.to_owned());
        return Ok(Destination::Found(title));
    };
    let organization = organization::Entity::find_by_id(default_id)
        .one(txn)
        .await?
        .ok_or_else(|| ApiError::Internal("default organization is missing".into()))?;
    Ok(Destination::Join(organization, "signup"))
}

/// The entries of a signup without an invitation: the member, and the organization a founder
/// created.
fn joined_entries(
    organization: &organization::Model,
    user_id: i32,
    role: Role,
    via: &str,
) -> Vec<AuditEntry> {
    let mut entries = Vec::with_capacity(2);
    if role == Role::Owner {
        entries.push(
            AuditEntry::new(
                organization.id,
                AuditAction::OrganizationCreated,
                Some(user_id),
                AuditTarget::Organization(organization.id),
            )
            .after(json!({ "title": organization.title })),
        );
    }
    entries.push(
        AuditEntry::new(
            organization.id,
            AuditAction::MemberJoined,
            Some(user_id),
            AuditTarget::User(user_id),
        )
        .after(json!({ "role": role.code(), "via": via })),
    );
    entries
}

/// Creates an organization with a fresh invite link.
async fn create_organization<C: ConnectionTrait>(
    db: &C,
    title: &str,
) -> Result<organization::Model, ApiError> {
    let organization = organization::ActiveModel {
        title: Set(title.to_owned()),
        invite_token: Set(random_url_token()),
        created_by: Set(None),
        created_at: Set(now()),
        ..Default::default()
    }
    .insert(db)
    .await?;
    member_counts::create_for(db, organization.id).await?;
    Ok(organization)
}

/// Records the Owner as the organization's creator and, on an empty instance, makes it the
/// default organization. Two racing first signups both try; the loser is refused (and joins as a
/// walk-in when it retries) rather than creating a second "first" organization.
async fn claim_founder<C: ConnectionTrait>(
    db: &C,
    organization: organization::Model,
    user_id: i32,
) -> Result<(), ApiError> {
    let organization_id = organization.id;
    let mut organization: organization::ActiveModel = organization.into();
    organization.created_by = Set(Some(user_id));
    organization.update(db).await?;
    let winner =
        claim_instance_setting(db, DEFAULT_ORGANIZATION_KEY, organization_id.to_string()).await?;
    if winner != organization_id.to_string() {
        return Err(ApiError::new(
            ErrorCode::ConcurrentChange,
            "Another signup created the first organization at the same moment; sign up again.",
        ));
    }
    Ok(())
}

async fn insert_user<C: ConnectionTrait>(
    db: &C,
    account: &NewAccount,
    password_hash: String,
    organization_id: i32,
) -> Result<user::Model, ApiError> {
    let inserted = user::ActiveModel {
        email: Set(account.email.as_typed().to_owned()),
        email_normalized: Set(account.email.normalized().to_owned()),
        username: Set(account.email.as_typed().to_owned()),
        first_name: Set(account.first_name.clone()),
        last_name: Set(account.last_name.clone()),
        name_folded: Set(folded_name(&account.first_name, &account.last_name)),
        password_hash: Set(password_hash),
        active_organization_id: Set(Some(organization_id)),
        date_joined: Set(now()),
        last_activity: Set(Some(now())),
        ..Default::default()
    }
    .insert(db)
    .await;
    inserted.map_err(|error| {
        if is_unique_violation(&error) {
            ApiError::new(
                ErrorCode::EmailTaken,
                "An account with this email already exists: sign in, then accept the invitation \
                 or join through the link with POST /api/invite/accept.",
            )
        } else {
            error.into()
        }
    })
}

/// Adds `user_id` to an organization with `role`.
pub async fn insert_membership<C: ConnectionTrait>(
    db: &C,
    organization_id: i32,
    user_id: i32,
    role: Role,
    invited_by: Option<i32>,
) -> Result<membership::Model, ApiError> {
    let at = now();
    let inserted = membership::ActiveModel {
        organization_id: Set(organization_id),
        user_id: Set(user_id),
        role: Set(role.code().to_owned()),
        invited_by: Set(invited_by),
        created_at: Set(at),
        updated_at: Set(at),
        deleted_at: Set(None),
        ..Default::default()
    }
    .insert(db)
    .await?;
    member_counts::shift(db, organization_id, None, Some(role)).await?;
    Ok(inserted)
}

/// Checks an email and password; wrong email and wrong password look the same, and take as long.
pub async fn login(state: &AppState, email: &str, password: String) -> Result<TokenPair, ApiError> {
    let refused = || ApiError::new(ErrorCode::InvalidCredentials, "Wrong email or password.");
    let found = match EmailAddress::parse(email) {
        Some(email) => {
            user::Entity::find()
                .filter(user::Column::EmailNormalized.eq(email.normalized()))
                .one(state.db.read())
                .await?
        }
        None => None,
    };
    let Some(user) = found else {
        // Spend the same effort as a real check so timing does not reveal which emails exist.
        password::verify(password, dummy_hash().await?).await?;
        return Err(refused());
    };
    if !password::verify(password.clone(), user.password_hash.clone()).await? {
        return Err(refused());
    }
    let (organization_id, role) = login_organization(state.db.read(), &user).await?;
    let mut active: user::ActiveModel = user.clone().into();
    active.last_activity = Set(Some(now()));
    // Where the login lands is where the person acts, every token of theirs included.
    if organization_id != 0 && user.active_organization_id != Some(organization_id) {
        active.active_organization_id = Set(Some(organization_id));
    }
    // The only moment the password is at hand: a hash made with older parameters is replaced.
    if password::needs_rehash(&user.password_hash) {
        active.password_hash = Set(password::hash(password).await?);
    }
    state
        .db
        .transaction(async move |txn| {
            active.update(txn).await?;
            issue_pair(txn, state, user.id, organization_id, role).await
        })
        .await
}

/// The organization a login acts in: the user's active one, else their oldest live membership.
async fn login_organization<C: ConnectionTrait>(
    db: &C,
    user: &user::Model,
) -> Result<(i32, Role), ApiError> {
    let memberships = membership::Entity::find()
        .filter(membership::Column::UserId.eq(user.id))
        .filter(membership::Column::DeletedAt.is_null())
        .order_by_asc(membership::Column::Id)
        .all(db)
        .await?;
    let chosen = memberships
        .iter()
        .find(|m| Some(m.organization_id) == user.active_organization_id)
        .or(memberships.first());
    match chosen {
        Some(membership) => Ok((membership.organization_id, stored_role(&membership.role)?)),
        // Removed from every organization: the token still answers `whoami`, nothing else.
        None => Ok((
            user.active_organization_id.unwrap_or_default(),
            Role::NotActivated,
        )),
    }
}

async fn dummy_hash() -> Result<String, ApiError> {
    static DUMMY: OnceLock<String> = OnceLock::new();
    if let Some(hash) = DUMMY.get() {
        return Ok(hash.clone());
    }
    let hash = password::hash(random_url_token()).await?;
    Ok(DUMMY.get_or_init(|| hash).clone())
}

/// Creates an organization with `email` as its Owner, for scripted installs. The first
/// organization of an instance becomes its default one.
pub async fn bootstrap(
    state: &AppState,
    email: EmailAddress,
    password: Password,
    title: &str,
) -> Result<(organization::Model, user::Model), ApiError> {
    let password_hash = password::hash(password.expose().to_owned()).await?;
    let title = title.to_owned();
    state
        .db
        .transaction(async move |txn| {
            let organization = create_organization(txn, &title).await?;
            let account = NewAccount {
                email,
                password,
                first_name: String::new(),
                last_name: String::new(),
                token: None,
                organization_title: None,
            };
            let user = insert_user(txn, &account, password_hash, organization.id).await?;
            insert_membership(txn, organization.id, user.id, Role::Owner, None).await?;
            audit::record(
                txn,
                joined_entries(&organization, user.id, Role::Owner, "bootstrap"),
            )
            .await?;
            let mut active: organization::ActiveModel = organization.clone().into();
            active.created_by = Set(Some(user.id));
            let organization = active.update(txn).await?;
            claim_instance_setting(txn, DEFAULT_ORGANIZATION_KEY, organization.id.to_string())
                .await?;
            Ok((organization, user))
        })
        .await
}

/// What `PATCH /api/current-user` may change; `None` leaves a field as it is.
pub struct ProfileChange {
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub active_organization: Option<i32>,
}

/// Changes the caller's names (and the folded name the search reads) and the organization they
/// act in, which must be one they have a live membership in.
pub async fn update_profile(
    state: &AppState,
    caller: &Caller,
    change: ProfileChange,
) -> Result<user::Model, ApiError> {
    let user_id = caller.user.id;
    let updated = state
        .db
        .transaction(async move |txn| {
            let current = user::Entity::find_by_id(user_id)
                .one(txn)
                .await?
                .ok_or_else(|| {
                    ApiError::new(ErrorCode::TokenInvalid, "The account no longer exists.")
                })?;
            let mut row: user::ActiveModel = current.clone().into();
            if let Some(organization_id) = change.active_organization {
                if crate::services::access::live_membership(txn, organization_id, user_id)
                    .await?
                    .is_none()
                {
                    return Err(ApiError::validation(vec![FieldError::new(
                        "/active_organization",
                        "not_a_member",
                        "not an organization you are a member of",
                    )]));
                }
                row.active_organization_id = Set(Some(organization_id));
            }
            let first_name = change.first_name.unwrap_or(current.first_name.clone());
            let last_name = change.last_name.unwrap_or(current.last_name.clone());
            row.name_folded = Set(crate::domain::folded_name(&first_name, &last_name));
            row.first_name = Set(first_name);
            row.last_name = Set(last_name);
            Ok::<_, ApiError>(row.update(txn).await?)
        })
        .await?;
    if let Some(organization_id) = change.active_organization {
        log::info!("user {user_id} now acts in organization {organization_id}");
    }
    Ok(updated)
}
