//! What the service writes to its log: never a password, a token, an invite link or a full
//! email address, whatever the log level. The log is captured in-process at `trace`.

use std::sync::{Mutex, OnceLock};

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{PASSWORD, json_body, spawn_app, token_in};
use crate::smtp::{Mode, SmtpSink};

struct Capture;

static LINES: Mutex<Vec<String>> = Mutex::new(Vec::new());

impl log::Log for Capture {
    fn enabled(&self, _: &log::Metadata) -> bool {
        true
    }

    fn log(&self, record: &log::Record) {
        // The test's own SMTP server is not the service.
        if record.target().starts_with("mailin") {
            return;
        }
        let line = format!("{} {} {}", record.level(), record.target(), record.args());
        if let Ok(mut lines) = LINES.lock() {
            lines.push(line);
        }
    }

    fn flush(&self) {}
}

/// Installs the capturing logger for the whole test binary (once) and returns what it holds.
fn captured() -> Vec<String> {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        if log::set_boxed_logger(Box::new(Capture)).is_ok() {
            log::set_max_level(log::LevelFilter::Trace);
        }
    });
    LINES.lock().map(|lines| lines.clone()).unwrap_or_default()
}

#[tokio::test]
async fn no_secret_or_address_reaches_the_log() {
    captured();
    let app = spawn_app().await;
    let sink = SmtpSink::start();
    let owner = app
        .signup(json!({"email": "founder.person@example.org", "password": PASSWORD, "organization_title": "Acme"}))
        .await;
    let link = app.invite_token(&owner).await;
    let joiner_password = "joiner's very own password";
    let joiner = app
        .signup(json!({"email": "joiner.person@example.org", "password": joiner_password, "token": link}))
        .await;
    app.assign(&owner, joiner.user_id, "AN").await;
    let wrong_login = app
        .post(
            "/api/auth/login",
            None,
            json!({"email": "founder.person@example.org", "password": "a wrong guess"}),
        )
        .await;
    assert_eq!(wrong_login.status(), StatusCode::UNAUTHORIZED);
    let login = json_body(
        app.post(
            "/api/auth/login",
            None,
            json!({"email": "founder.person@example.org", "password": PASSWORD}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let personal = json_body(
        app.post("/api/token", Some(&owner.access), json!({})).await,
        StatusCode::CREATED,
    )
    .await;
    let refreshed = json_body(
        app.post(
            "/api/token/refresh",
            None,
            json!({"refresh": login["refresh"]}),
        )
        .await,
        StatusCode::OK,
    )
    .await;

    // Invitations: one handed back as a link, one by email (first refused, then delivered).
    let by_hand = json_body(
        app.post(
            "/api/invite/send-email",
            Some(&owner.access),
            json!({"emails": ["by.hand@example.org"], "role": "RE", "send_email": false}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let hand_token = token_in(by_hand["results"][0]["invite_url"].as_str().expect("url"));
    app.invite(&owner, json!(["by.mail@example.org"]), "AN")
        .await;
    sink.set_mode(Mode::RefuseTemporarily);
    app.deliver(&sink).await;
    sink.set_mode(Mode::Accept);
    let sender = app.sender(&sink.url());
    sender
        .deliver_due(org_members::services::now() + chrono::Duration::hours(1))
        .await
        .expect("delivered");
    let mail_token = sink.received()[0].token();
    let lookup = app
        .client
        .get(app.url(&format!("/api/invite/lookup?token={mail_token}")))
        .send()
        .await
        .expect("sent");
    assert_eq!(lookup.status(), StatusCode::OK);
    let mismatch = app
        .post(
            "/api/signup",
            None,
            json!({"email": "intruder@example.org", "password": PASSWORD, "token": hand_token}),
        )
        .await;
    assert_eq!(mismatch.status(), StatusCode::FORBIDDEN);
    app.signup(json!({"email": "by.hand@example.org", "password": PASSWORD, "token": hand_token}))
        .await;
    let reset = app
        .post("/api/invite/reset-token", Some(&owner.access), json!({}))
        .await;
    assert_eq!(reset.status(), StatusCode::OK);
    let stale = app
        .post(
            "/api/signup",
            None,
            json!({"email": "late@example.org", "password": PASSWORD, "token": link}),
        )
        .await;
    assert_eq!(stale.status(), StatusCode::NOT_FOUND);
    let revoked = app
        .post(
            "/api/token/blacklist",
            None,
            json!({"refresh": personal["token"]}),
        )
        .await;
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);

    let secrets = [
        PASSWORD.to_owned(),
        joiner_password.to_owned(),
        "a wrong guess".to_owned(),
        owner.access.clone(),
        owner.refresh.clone(),
        joiner.access.clone(),
        login["access"].as_str().unwrap_or_default().to_owned(),
        login["refresh"].as_str().unwrap_or_default().to_owned(),
        refreshed["access"].as_str().unwrap_or_default().to_owned(),
        personal["token"].as_str().unwrap_or_default().to_owned(),
        link,
        hand_token,
        mail_token,
        "founder.person@example.org".to_owned(),
        "joiner.person@example.org".to_owned(),
        "by.hand@example.org".to_owned(),
        "by.mail@example.org".to_owned(),
        "intruder@example.org".to_owned(),
        "late@example.org".to_owned(),
    ];
    let lines = captured();
    // The capture works: this test's requests are in it.
    assert!(
        lines
            .iter()
            .any(|line| line.contains("/api/invite/send-email")),
        "the access log was not captured"
    );
    for secret in &secrets {
        assert!(
            secret.len() > 8,
            "secret {secret:?} is too short to search for"
        );
        let leaks: Vec<&String> = lines
            .iter()
            .filter(|line| line.contains(secret.as_str()))
            .collect();
        assert!(leaks.is_empty(), "{secret:?} is in the log: {leaks:#?}");
    }
}
