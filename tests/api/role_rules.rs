//! The role rules of the API contract, as tables over every role.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{Session, TestApp, assert_problem, json_body, spawn_app, token_in};

const ROLES: [&str; 7] = ["OW", "AD", "MA", "RE", "AN", "NO", "DI"];

/// One member per role in one organization, plus a pending target to act on.
async fn organization_with_every_role(app: &TestApp) -> (Vec<(&'static str, Session)>, Session) {
    let owner = app.owner().await;
    let mut actors = vec![("OW", owner.clone())];
    for role in &ROLES[1..] {
        let email = format!("{}@example.org", role.to_lowercase());
        actors.push((role, app.member_with_role(&owner, &email, role).await));
    }
    let target = app.join_via_link(&owner, "target@example.org").await;
    (actors, target)
}

fn refusal_code(role: &str) -> &'static str {
    match role {
        "NO" => "account_not_activated",
        "DI" => "account_deactivated",
        _ => "permission_denied",
    }
}

#[tokio::test]
async fn each_role_may_do_exactly_what_the_contract_says() {
    let app = spawn_app().await;
    let (actors, target) = organization_with_every_role(&app).await;
    let org = actors[0].1.organization_id;
    let members = format!("/api/organizations/{org}/memberships");
    let managers: &[&str] = &["OW", "AD"];
    let readers: &[&str] = &["OW", "AD", "MA"];
    let active: &[&str] = &["OW", "AD", "MA", "RE", "AN"];
    // (roles allowed, method, path, body); the reset runs last, after every GET of the link.
    let table = [
        (managers, Method::GET, "/api/invite".to_owned(), None),
        (readers, Method::GET, members.clone(), None),
        (
            readers,
            Method::GET,
            format!("{members}/{}", target.user_id),
            None,
        ),
        (
            active,
            Method::GET,
            format!("/api/organizations/{org}"),
            None,
        ),
        (
            managers,
            Method::PATCH,
            members.clone(),
            Some(json!({"user_id": target.user_id, "role": "AN"})),
        ),
        (
            managers,
            Method::POST,
            "/api/invite/reset-token".to_owned(),
            Some(json!({})),
        ),
    ];
    for (role, session) in &actors {
        for (allowed, method, path, body) in &table {
            let response = app
                .request(method.clone(), path, Some(&session.access), body.clone())
                .await;
            if allowed.contains(role) {
                let status = response.status();
                assert!(status.is_success(), "{role} {method} {path}: {status}");
            } else {
                assert_problem(response, StatusCode::FORBIDDEN, refusal_code(role)).await;
            }
        }
        let me = app.whoami(&session.access).await;
        assert_eq!(me["organization_membership"]["role"], *role);
    }
}

#[tokio::test]
async fn owner_and_administrator_grant_every_role_but_owner_to_others() {
    let app = spawn_app().await;
    let (actors, target) = organization_with_every_role(&app).await;
    let org = actors[0].1.organization_id;
    let members = format!("/api/organizations/{org}/memberships");
    for (_, actor) in &actors[..2] {
        for role in ["AD", "MA", "RE", "AN", "NO", "DI"] {
            let member = app.assign(actor, target.user_id, role).await;
            assert_eq!(member["role"], role);
        }
        let owner_grant = app
            .patch(
                &members,
                &actor.access,
                json!({"user_id": target.user_id, "role": "OW"}),
            )
            .await;
        assert_problem(owner_grant, StatusCode::FORBIDDEN, "role_not_assignable").await;
    }
}

#[tokio::test]
async fn nobody_changes_their_own_role_and_nobody_but_a_transfer_touches_the_owner() {
    let app = spawn_app().await;
    let (actors, _) = organization_with_every_role(&app).await;
    let org = actors[0].1.organization_id;
    let members = format!("/api/organizations/{org}/memberships");
    let owner = &actors[0].1;
    let admin = &actors[1].1;
    for (actor, own_role) in [(owner, "AD"), (admin, "MA")] {
        let own = app
            .patch(
                &members,
                &actor.access,
                json!({"user_id": actor.user_id, "role": own_role}),
            )
            .await;
        assert_problem(own, StatusCode::FORBIDDEN, "own_role_change").await;
    }
    for role in ["AD", "AN", "DI"] {
        let demote = app
            .patch(
                &members,
                &admin.access,
                json!({"user_id": owner.user_id, "role": role}),
            )
            .await;
        assert_problem(demote, StatusCode::FORBIDDEN, "owner_protected").await;
    }
    let remove_owner = app
        .request(
            Method::DELETE,
            &format!("{members}/{}", owner.user_id),
            Some(&admin.access),
            None,
        )
        .await;
    assert_problem(remove_owner, StatusCode::FORBIDDEN, "owner_protected").await;
    let me = app.whoami(&owner.access).await;
    assert_eq!(me["organization_membership"]["role"], "OW");
}

/// The role ceiling on every path that grants a role: once an Administrator is demoted, none of
/// PATCH, bulk invite, resend, signup with their invitation or accept by an existing account
/// grants anything in their name.
#[tokio::test]
async fn a_demoted_administrator_grants_nothing_through_any_path() {
    let app = spawn_app().await;
    let owner = app.owner().await;
    let admin = app
        .member_with_role(&owner, "admin@example.org", "AD")
        .await;
    let pending = app.join_via_link(&owner, "pending@example.org").await;
    let existing = app.join_via_link(&owner, "existing@example.org").await;
    app.bootstrap("elsewhere@example.org", "Elsewhere").await;
    // Sent while still an Administrator: one for a new person, one for someone with an account.
    let sent = json_body(
        app.post(
            "/api/invite/send-email",
            Some(&admin.access),
            json!({"emails": ["fresh@example.org", "elsewhere@example.org"], "role": "AD", "send_email": false}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let token_of = |i: usize| token_in(sent["results"][i]["invite_url"].as_str().expect("url"));
    let fresh_id = sent["results"][0]["invitation_id"].clone();
    app.assign(&owner, admin.user_id, "MA").await;

    let org = owner.organization_id;
    let patch = app
        .patch(
            &format!("/api/organizations/{org}/memberships"),
            &admin.access,
            json!({"user_id": pending.user_id, "role": "AN"}),
        )
        .await;
    assert_problem(patch, StatusCode::FORBIDDEN, "permission_denied").await;
    let invite = app
        .post(
            "/api/invite/send-email",
            Some(&admin.access),
            json!({"emails": ["more@example.org"], "role": "AN"}),
        )
        .await;
    assert_problem(invite, StatusCode::FORBIDDEN, "permission_denied").await;
    let resend = app
        .post(
            &format!("/api/invitations/{fresh_id}/resend"),
            Some(&admin.access),
            json!({}),
        )
        .await;
    assert_problem(resend, StatusCode::FORBIDDEN, "permission_denied").await;
    let signup = app
        .post(
            "/api/signup",
            None,
            json!({"email": "fresh@example.org", "password": crate::helpers::PASSWORD, "token": token_of(0)}),
        )
        .await;
    assert_problem(
        signup,
        StatusCode::FORBIDDEN,
        "invitation_inviter_not_allowed",
    )
    .await;
    let elsewhere = app.login("elsewhere@example.org").await;
    let accept = app
        .post(
            "/api/invite/accept",
            Some(&elsewhere.access),
            json!({"token": token_of(1)}),
        )
        .await;
    assert_problem(
        accept,
        StatusCode::FORBIDDEN,
        "invitation_inviter_not_allowed",
    )
    .await;
    // Nothing was granted: the pending users are still pending, nobody new is a member.
    let members = json_body(
        app.get(
            &format!("/api/organizations/{org}/memberships?role=AD"),
            &owner.access,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(members["count"], 0, "{members}");
    let me = app.whoami(&existing.access).await;
    assert_eq!(me["organization_membership"]["role"], "NO");
}

/// Guards that hold when requests race: nobody demotes or removes themselves or the Owner, however
/// many tries arrive at once, and the organization keeps exactly one Owner.
#[tokio::test]
async fn self_demotion_and_owner_guards_hold_under_concurrency() {
    let app = spawn_app().await;
    let owner = app.owner().await;
    let admin = app
        .member_with_role(&owner, "admin@example.org", "AD")
        .await;
    let org = owner.organization_id;
    let members = format!("/api/organizations/{org}/memberships");
    let owner_path = format!("{members}/{}", owner.user_id);
    let admin_path = format!("{members}/{}", admin.user_id);
    let mut attempts = Vec::new();
    for role in ["AD", "MA", "AN", "DI", "NO"] {
        attempts.push(app.patch(
            &members,
            &owner.access,
            json!({"user_id": owner.user_id, "role": role}),
        ));
        attempts.push(app.patch(
            &members,
            &admin.access,
            json!({"user_id": admin.user_id, "role": role}),
        ));
        attempts.push(app.patch(
            &members,
            &admin.access,
            json!({"user_id": owner.user_id, "role": role}),
        ));
    }
    let removals = [
        app.request(Method::DELETE, &owner_path, Some(&admin.access), None),
        app.request(Method::DELETE, &owner_path, Some(&owner.access), None),
        app.request(Method::DELETE, &admin_path, Some(&admin.access), None),
    ];
    let (patched, removed) = tokio::join!(
        futures_util::future::join_all(attempts),
        futures_util::future::join_all(removals)
    );
    for response in patched.iter().chain(removed.iter()) {
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
    }
    let owners = json_body(
        app.get(&format!("{members}?role=OW"), &owner.access).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(owners["count"], 1);
    let admins = json_body(
        app.get(&format!("{members}?role=AD"), &owner.access).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(admins["count"], 1);
}
