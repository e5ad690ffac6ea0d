//! HTTP adapters: request and response types and thin handlers, one file per resource. Handlers
//! extract, convert into domain types, call one service function and map the result.

pub mod accounts;
pub mod audit_log;
pub mod fallback;
pub mod health;
pub mod invitations;
pub mod invite;
pub mod invite_email;
pub mod memberships;
pub mod organizations;
pub mod passwords;
pub mod representations;
pub mod tokens;
pub mod ui;

use utoipa_actix_web::service_config::ServiceConfig;

/// Registers and documents every API route in one place.
pub fn configure(config: &mut ServiceConfig) {
    config
        .service(health::health)
        .service(health::ready)
        .service(health::version)
        .service(accounts::signup)
        .service(accounts::login)
        .service(accounts::whoami)
        .service(accounts::current_user)
        .service(accounts::update_current_user)
        .service(passwords::change_password)
        .service(passwords::request_password_reset)
        .service(passwords::confirm_password_reset)
        .service(tokens::refresh)
        .service(tokens::create_personal_token)
        .service(tokens::list_personal_tokens)
        .service(tokens::blacklist)
        .service(invite::get_invite_link)
        .service(invite::reset_invite_link)
        .service(invite::lookup_invite)
        .service(invite_email::send_invites)
        .service(invite_email::revoke_invite_by_email)
        .service(invite_email::accept_invitation)
        .service(invitations::list_invitations)
        .service(invitations::get_invitation)
        .service(invitations::resend_invitation)
        .service(invitations::revoke_invitation)
        .service(organizations::list_organizations)
        .service(organizations::get_organization)
        .service(organizations::update_organization)
        .service(memberships::list_memberships)
        .service(memberships::get_membership)
        .service(memberships::update_membership)
        .service(memberships::delete_membership)
        .service(memberships::end_member_sessions)
        .service(memberships::transfer_ownership)
        .service(audit_log::list_audit_log);
}
