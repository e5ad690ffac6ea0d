//! Changing a password, and resetting a forgotten one through an emailed link: either ends every
//! other session and personal token of the person.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{PASSWORD, after_a_second, assert_problem, json_body, spawn_app_with};
use crate::smtp::SmtpSink;

const NEW_PASSWORD: &str = "staple battery horse";

#[tokio::test]
async fn a_password_change_ends_every_other_session_and_personal_token() {
    let app = spawn_app_with(|s| s.public_url = Some("http://members.test".into())).await;
    let owner = app.owner().await;
    let laptop = app.login("owner@example.org").await;
    let personal = json_body(
        app.post("/api/token/", Some(&owner.access), json!({}))
            .await,
        StatusCode::CREATED,
    )
    .await["token"]
        .as_str()
        .expect("token")
        .to_owned();
    let change = |current: &str| {
        app.post(
            "/api/current-user/password",
            Some(&owner.access),
            json!({"current_password": current, "new_password": NEW_PASSWORD}),
        )
    };
    let wrong = change("not my password").await;
    let problem = assert_problem(wrong, StatusCode::BAD_REQUEST, "validation_failed").await;
    assert_eq!(problem["errors"][0]["pointer"], "/current_password");
    after_a_second().await;
    let fresh = json_body(change(PASSWORD).await, StatusCode::OK).await;
    let fresh_access = fresh["access"].as_str().expect("access");
    app.whoami(fresh_access).await;
    for refresh in [
        laptop.refresh.as_str(),
        owner.refresh.as_str(),
        personal.as_str(),
    ] {
        let refused = app
            .post("/api/token/refresh/", None, json!({"refresh": refresh}))
            .await;
        assert_problem(refused, StatusCode::UNAUTHORIZED, "token_revoked").await;
    }
    assert_problem(
        app.get("/api/invite", &laptop.access).await,
        StatusCode::UNAUTHORIZED,
        "token_revoked",
    )
    .await;
    let old = app
        .post(
            "/api/auth/login",
            None,
            json!({"email": "owner@example.org", "password": PASSWORD}),
        )
        .await;
    assert_problem(old, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let log = json_body(
        app.get(
            &format!(
                "/api/organizations/{}/audit-log?action=account.password_changed",
                owner.organization_id
            ),
            fresh_access,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(log["count"], 1);
}

#[tokio::test]
async fn an_emailed_reset_link_sets_a_new_password_once_and_ends_old_sessions() {
    let app = spawn_app_with(|s| s.public_url = Some("http://members.test".into())).await;
    let owner = app.owner().await;
    let sink = SmtpSink::start();
    for email in ["nobody@example.org", "OWNER@example.org"] {
        let asked = app
            .post("/api/auth/password-reset", None, json!({"email": email}))
            .await;
        assert_eq!(
            asked.status(),
            StatusCode::ACCEPTED,
            "the same answer for {email}"
        );
    }
    assert_eq!(
        app.deliver(&sink).await.sent,
        1,
        "only the account's address gets one"
    );
    let email = sink.received().pop().expect("an email");
    assert!(
        email
            .text()
            .contains("http://members.test/user/password-reset/?token=")
    );
    let token = email.token();
    let confirm = |token: &str| {
        app.post(
            "/api/auth/password-reset/confirm",
            None,
            json!({"token": token, "password": NEW_PASSWORD}),
        )
    };
    after_a_second().await;
    assert_eq!(confirm(&token).await.status(), StatusCode::NO_CONTENT);
    assert_problem(
        confirm(&token).await,
        StatusCode::BAD_REQUEST,
        "password_reset_invalid",
    )
    .await;
    assert_problem(
        confirm("made-up").await,
        StatusCode::BAD_REQUEST,
        "password_reset_invalid",
    )
    .await;
    let refused = app
        .post(
            "/api/token/refresh/",
            None,
            json!({"refresh": owner.refresh}),
        )
        .await;
    assert_problem(refused, StatusCode::UNAUTHORIZED, "token_revoked").await;
    let login = app
        .post(
            "/api/auth/login",
            None,
            json!({"email": "owner@example.org", "password": NEW_PASSWORD}),
        )
        .await;
    assert_eq!(login.status(), StatusCode::OK);
}
