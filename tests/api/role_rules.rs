//! The role rules of the API contract, as tables over every role.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{Session, TestApp, assert_problem, json_body, spawn_app};

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
        let me = json_body(
            app.get("/api/current-user/whoami", &session.access).await,
            StatusCode::OK,
        )
        .await;
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
    let me = json_body(
        app.get("/api/current-user/whoami", &owner.access).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(me["organization_membership"]["role"], "OW");
}
