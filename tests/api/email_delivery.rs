//! The outbox and the sender: nothing is lost when SMTP is down, refusing or unreachable, and two
//! senders on one database deliver each message once, nor does a sender that stops mid-send lose
//! its messages.

use org_members::email::outbox::SENDING;
use org_members::entities::email_outbox;
use reqwest::StatusCode;
use sea_orm::{ActiveModelTrait, ActiveValue::Set, ColumnTrait, EntityTrait, QueryFilter};
use serde_json::{Value, json};

use crate::helpers::{Session, TestApp, json_body, spawn_app, spawn_app_with, spawn_sibling};
use crate::smtp::{Mode, SmtpSink};

fn later(hours: i64) -> chrono::NaiveDateTime {
    org_members::services::now() + chrono::Duration::hours(hours)
}

async fn delivery(app: &TestApp, owner: &Session, body: &Value) -> Value {
    let id = &body["results"][0]["invitation_id"];
    let invitation = json_body(
        app.get(&format!("/api/invitations/{id}"), &owner.access)
            .await,
        StatusCode::OK,
    )
    .await;
    invitation["delivery"].clone()
}

#[tokio::test]
async fn a_refusing_smtp_server_delays_delivery_and_loses_nothing() {
    let app = spawn_app().await;
    let sink = SmtpSink::start();
    let owner = app.owner().await;
    let body = app
        .invite(&owner, json!(["patient@example.org"]), "AN")
        .await;
    sink.set_mode(Mode::RefuseTemporarily);
    let report = app.deliver(&sink).await;
    assert_eq!((report.sent, report.retrying), (0, 1));
    let state = delivery(&app, &owner, &body).await;
    assert_eq!(
        (state["state"].as_str(), state["attempts"].as_i64()),
        (Some("queued"), Some(1))
    );
    assert!(
        state["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("451")),
        "{state}"
    );

    sink.set_mode(Mode::Accept);
    assert_eq!(
        app.deliver(&sink).await.sent,
        0,
        "not due before its backoff"
    );
    let sender = app.sender(&sink.url());
    assert_eq!(sender.deliver_due(later(1)).await.expect("pass").sent, 1);
    let state = delivery(&app, &owner, &body).await;
    assert_eq!(
        (state["state"].as_str(), state["attempts"].as_i64()),
        (Some("sent"), Some(2))
    );
    assert!(state["last_error"].is_null());
    let log = json_body(
        app.get(
            &format!(
                "/api/organizations/{}/audit-log?target_type=invitation&target_id={}",
                owner.organization_id, body["results"][0]["invitation_id"]
            ),
            &owner.access,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let actions: Vec<&str> = log["results"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|entry| entry["action"].as_str())
        .collect();
    assert_eq!(actions, ["invitation.delivered", "invitation.created"]);
    assert_eq!(log["results"][0]["after"]["attempts"], 2);
    let received = sink.received();
    assert_eq!(received.len(), 1);
    let stored = email_outbox::Entity::find()
        .one(app.state.db.read())
        .await
        .expect("query")
        .expect("row");
    assert_eq!(
        format!("<{}>", received[0].message_id()),
        stored.message_id,
        "stable Message-ID"
    );
    assert!(
        stored.text_body.is_empty(),
        "the link is not kept once delivered"
    );
}

#[tokio::test]
async fn an_unreachable_smtp_server_keeps_messages_queued_until_it_is_back() {
    let app = spawn_app().await;
    let owner = app.owner().await;
    let body = app
        .invite(&owner, json!(["a@example.org", "b@example.org"]), "AN")
        .await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead_url = format!(
        "smtp://127.0.0.1:{}",
        closed.local_addr().expect("addr").port()
    );
    drop(closed);
    let report = app
        .sender(&dead_url)
        .deliver_due(org_members::services::now())
        .await
        .expect("pass");
    assert_eq!(report.retrying, 2);
    let state = delivery(&app, &owner, &body).await;
    assert_eq!(state["state"], "queued");
    assert!(state["last_error"].is_string());

    // SMTP comes back (and the service may have restarted): everything goes out.
    let sink = SmtpSink::start();
    let restarted = spawn_sibling(&app).await;
    let report = restarted
        .sender(&sink.url())
        .deliver_due(later(1))
        .await
        .expect("pass");
    assert_eq!(report.sent, 2);
    assert_eq!(sink.received().len(), 2);
}

#[tokio::test]
async fn a_permanent_refusal_or_too_many_tries_mark_the_message_failed() {
    let app = spawn_app_with(|s| s.email_max_attempts = 2).await;
    let sink = SmtpSink::start();
    let owner = app.owner().await;
    let body = app
        .invite(&owner, json!(["nobody@example.org"]), "AN")
        .await;
    sink.set_mode(Mode::RefusePermanently);
    assert_eq!(app.deliver(&sink).await.failed, 1);
    let state = delivery(&app, &owner, &body).await;
    assert_eq!(state["state"], "failed");
    assert!(
        state["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("550")),
        "{state}"
    );

    let body = app.invite(&owner, json!(["flaky@example.org"]), "AN").await;
    sink.set_mode(Mode::RefuseTemporarily);
    let sender = app.sender(&sink.url());
    assert_eq!(
        sender.deliver_due(later(0)).await.expect("pass").retrying,
        1
    );
    assert_eq!(sender.deliver_due(later(2)).await.expect("pass").failed, 1);
    let state = delivery(&app, &owner, &body).await;
    assert_eq!(
        (state["state"].as_str(), state["attempts"].as_i64()),
        (Some("failed"), Some(2))
    );
    let log = json_body(
        app.get(
            &format!(
                "/api/organizations/{}/audit-log?action=invitation.delivery_failed",
                owner.organization_id
            ),
            &owner.access,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        log["count"], 2,
        "one entry per failed delivery, none per retry"
    );
    assert!(log["results"][0]["actor"].is_null());
    assert_eq!(log["results"][0]["after"]["attempts"], 2);
    // A failed delivery is still an invitation that can be resent.
    let id = &body["results"][0]["invitation_id"];
    let resent = app
        .post(
            &format!("/api/invitations/{id}/resend"),
            Some(&owner.access),
            json!({}),
        )
        .await;
    json_body(resent, StatusCode::OK).await;
}

#[tokio::test]
async fn two_senders_on_one_database_deliver_each_message_once() {
    let a = spawn_app().await;
    let b = spawn_sibling(&a).await;
    let sink = SmtpSink::start();
    let owner = a.owner().await;
    let emails: Vec<String> = (0..30).map(|i| format!("racer{i}@example.org")).collect();
    a.invite(&owner, json!(emails), "AN").await;
    let (sender_a, sender_b) = (a.sender(&sink.url()), b.sender(&sink.url()));
    let (first, second) = tokio::join!(
        sender_a.deliver_due(org_members::services::now()),
        sender_b.deliver_due(org_members::services::now())
    );
    let sent = first.expect("a").sent + second.expect("b").sent;
    assert_eq!(sent, 30);
    let mut recipients: Vec<String> = sink.received().into_iter().flat_map(|m| m.to).collect();
    recipients.sort();
    recipients.dedup();
    assert_eq!(recipients.len(), 30);
    assert_eq!(sink.received().len(), 30, "no message twice");
}

#[tokio::test]
async fn the_running_service_delivers_invitations_by_itself() {
    let sink = SmtpSink::start();
    let url = sink.url();
    let app = spawn_app_with(|s| {
        s.run_email_sender = true;
        s.smtp_url = Some(org_members::settings::Secret::new(url));
        s.email_poll_interval = std::time::Duration::from_millis(50);
    })
    .await;
    let owner = app.owner().await;
    app.invite(&owner, json!(["auto@example.org"]), "AN").await;
    // Wait for the background sender, bounded: it polls every 50 ms.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while sink.received().is_empty() && std::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert_eq!(sink.received().len(), 1);
    assert_eq!(sink.received()[0].to, ["auto@example.org"]);
}

#[tokio::test]
async fn a_message_whose_sender_stopped_mid_send_goes_out_once_its_lease_runs_out() {
    let app = spawn_app().await;
    let sink = SmtpSink::start();
    let owner = app.owner().await;
    let body = app
        .invite(
            &owner,
            json!(["stranded@example.org", "waiting@example.org"]),
            "AN",
        )
        .await;
    // As a sender leaves it that claimed the first message and stopped before it sent it.
    let stranded = email_outbox::Entity::find()
        .filter(email_outbox::Column::Recipient.eq("stranded@example.org"))
        .one(app.state.db.read())
        .await
        .expect("query")
        .expect("row");
    let mut claimed: email_outbox::ActiveModel = stranded.into();
    claimed.status = Set(SENDING.into());
    claimed.attempts = Set(1);
    claimed.claimed_until = Set(Some(later(0) + chrono::Duration::minutes(5)));
    app.state
        .db
        .transaction(async |txn| claimed.update(txn).await)
        .await
        .expect("claim");

    let sender = app.sender(&sink.url());
    let report = sender.deliver_due(later(0)).await.expect("pass");
    assert_eq!(report.sent, 1, "the claim still holds: only the other goes");
    assert_eq!(sink.received()[0].to, ["waiting@example.org"]);

    let report = sender.deliver_due(later(1)).await.expect("pass");
    assert_eq!(
        report.sent, 1,
        "the lease ran out: the message is taken over"
    );
    assert_eq!(sink.received().len(), 2);
    assert_eq!(sink.received()[1].to, ["stranded@example.org"]);
    let state = delivery(&app, &owner, &body).await;
    assert_eq!(
        (state["state"].as_str(), state["attempts"].as_i64()),
        (Some("sent"), Some(2))
    );
}

/// Two instances' senders, a slow SMTP server and a lease shorter than one send: the leases start
/// at each claim and are renewed while the message is sent, so no message goes out twice.
#[tokio::test]
async fn a_slow_smtp_server_longer_than_the_lease_sends_nothing_twice() {
    use std::time::Duration;
    let a = spawn_app().await;
    let b = spawn_sibling(&a).await;
    let owner = a.owner().await;
    let emails: Vec<String> = (0..3).map(|i| format!("slow{i}@example.org")).collect();
    a.invite(&owner, json!(emails), "AN").await;
    let sink = SmtpSink::start();
    sink.set_delay(Duration::from_millis(2500));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let mut running = Vec::new();
    for app in [&a, &b] {
        let settings = org_members::settings::Settings {
            email_claim_lease: Duration::from_secs(1),
            email_poll_interval: Duration::from_millis(50),
            email_concurrency: 1,
            ..app.state.settings.clone()
        };
        let sender = org_members::email::sender::EmailSender::with_smtp_url(
            settings,
            app.state.db.clone(),
            Some(&sink.url()),
        )
        .expect("sender");
        running.push(tokio::spawn(sender.run(stopped.clone())));
    }
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while sink.received().len() < 3 && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // Long enough for a lost claim to be taken over and sent again.
    tokio::time::sleep(Duration::from_secs(3)).await;
    stop.send(true).expect("stop");
    for sender in running {
        sender.await.expect("sender stops");
    }
    let mut recipients: Vec<String> = sink.received().into_iter().flat_map(|m| m.to).collect();
    recipients.sort();
    assert_eq!(recipients.len(), 3, "each message once: {recipients:?}");
    recipients.dedup();
    assert_eq!(recipients.len(), 3);
}
