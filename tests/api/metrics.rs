//! `GET /metrics`: off without a token, refused with a wrong one, and with the right one a
//! Prometheus text exposition of requests, pool, outbox, sends, refusals and the hashing queue.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{assert_problem, spawn_app, spawn_app_with};
use crate::smtp::SmtpSink;

const TOKEN: &str = "scrape-token-0123456789";

/// Every sample line of an exposition: metric name with labels, and value.
fn samples(text: &str) -> Vec<(String, f64)> {
    text.lines()
        .filter(|line| !line.starts_with('#') && !line.trim().is_empty())
        .map(|line| {
            let (series, value) = line.rsplit_once(' ').expect("a sample line");
            (series.to_owned(), value.parse().expect("a number"))
        })
        .collect()
}

fn value(samples: &[(String, f64)], series: &str) -> f64 {
    samples
        .iter()
        .find(|(name, _)| name == series)
        .map(|(_, value)| *value)
        .unwrap_or_else(|| panic!("no {series}"))
}

#[tokio::test]
async fn metrics_exist_only_with_a_token_and_show_what_operators_watch() {
    let off = spawn_app().await;
    let absent = off
        .client
        .get(off.url("/metrics"))
        .send()
        .await
        .expect("sent");
    assert_problem(absent, StatusCode::NOT_FOUND, "not_found").await;

    let app = spawn_app_with(|settings| {
        settings.metrics_token = Some(org_members::settings::Secret::new(TOKEN));
        settings.rate_limit_per_address = 1;
    })
    .await;
    let scrape = |token: &'static str| {
        app.client
            .get(app.url("/metrics"))
            .bearer_auth(token)
            .send()
    };
    let wrong = scrape("not-the-token-at-all").await.expect("sent");
    assert_problem(wrong, StatusCode::UNAUTHORIZED, "authentication_required").await;

    let owner = app.owner().await;
    app.invite(&owner, json!(["a@example.org", "b@example.org"]), "AN")
        .await;
    let sink = SmtpSink::start();
    app.deliver(&sink).await;
    app.invite(&owner, json!(["c@example.org"]), "AN").await;
    for _ in 0..2 {
        app.post(
            "/api/auth/login",
            None,
            json!({"email": "owner@example.org", "password": "wrong password"}),
        )
        .await;
    }

    let scraped = scrape(TOKEN).await.expect("sent");
    assert_eq!(scraped.status(), StatusCode::OK);
    assert!(
        scraped.headers()["content-type"]
            .to_str()
            .unwrap_or_default()
            .starts_with("text/plain")
    );
    let text = scraped.text().await.expect("body");
    let samples = samples(&text);
    assert_eq!(
        value(
            &samples,
            r#"org_members_http_requests_total{endpoint="/api/signup",method="POST",status="201"}"#
        ),
        1.0
    );
    assert!(text.contains("org_members_http_requests_duration_seconds_bucket{"));
    assert_eq!(
        value(&samples, r#"org_members_outbox_messages{state="sent"}"#),
        2.0
    );
    assert_eq!(
        value(&samples, r#"org_members_outbox_messages{state="queued"}"#),
        1.0
    );
    assert!(value(&samples, "org_members_outbox_oldest_queued_age_seconds") >= 0.0);
    assert!(value(&samples, r#"org_members_db_pool_connections{state="max"}"#) >= 1.0);
    // Counters of the whole process (tests share it): present, and counting.
    assert!(value(&samples, "org_members_emails_sent_total") >= 2.0);
    assert!(value(&samples, r#"org_members_rate_limited_total{limit="login"}"#) >= 1.0);
    assert!(value(&samples, "org_members_password_hash_queue_depth") >= 0.0);
    assert!(!text.contains(TOKEN), "the token is never shown");
}
