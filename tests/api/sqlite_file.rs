//! The SQLite file under the service: deleted while it runs, missing at start, read-only. Each is
//! a refusal naming the cause, never a 2xx for a write that is not in the file.

use org_members::settings::Settings;
use org_members::startup::Application;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{assert_problem, spawn_app_with};

/// A server's settings whose `DATABASE_URL` names `url`.
fn server_on(url: String) -> Settings {
    Settings {
        database_url: url,
        create_missing_database: false,
        port: 0,
        run_email_sender: false,
        ..Settings::default()
    }
}

async fn build_error(settings: Settings) -> String {
    match Application::build(settings).await {
        Ok(_) => panic!("the service must not start"),
        Err(error) => error.to_string(),
    }
}

#[tokio::test]
async fn writes_are_refused_once_the_file_is_deleted_and_readiness_says_so() {
    let dir = tempfile::tempdir().expect("a folder");
    let file = dir.path().join("members.sqlite3");
    let url = format!("sqlite://{}?mode=rwc", file.display());
    let app = spawn_app_with(|s| s.database_url = url).await;
    let owner = app.owner().await;
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{}{suffix}", file.display()));
    }
    let reset = app
        .post("/api/invite/reset-token", Some(&owner.access), json!({}))
        .await;
    assert!(reset.headers().contains_key("retry-after"));
    assert_problem(
        reset,
        StatusCode::SERVICE_UNAVAILABLE,
        "database_unavailable",
    )
    .await;
    let ready = app
        .client
        .get(app.url("/ready"))
        .send()
        .await
        .expect("sent");
    assert_problem(
        ready,
        StatusCode::SERVICE_UNAVAILABLE,
        "database_unavailable",
    )
    .await;
}

#[tokio::test]
async fn a_server_never_starts_on_a_new_empty_file_where_its_url_names_one() {
    let dir = tempfile::tempdir().expect("a folder");
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("gone.sqlite3").display()
    );
    let explicit = Settings::from_lookup(|name| (name == "DATABASE_URL").then(|| url.clone()))
        .expect("settings");
    assert!(!explicit.create_missing_database);
    let refused = build_error(server_on(url)).await;
    assert!(refused.contains("org-members migrate"), "{refused}");
    assert!(!dir.path().join("gone.sqlite3").exists(), "nothing created");
    // Unset, the default path may be created on a first run.
    assert!(
        Settings::from_lookup(|_| None)
            .expect("settings")
            .create_missing_database
    );
}

#[tokio::test]
async fn a_file_that_cannot_be_written_stops_the_start() {
    let dir = tempfile::tempdir().expect("a folder");
    let file = dir.path().join("members.sqlite3");
    let app =
        spawn_app_with(|s| s.database_url = format!("sqlite://{}?mode=rwc", file.display())).await;
    app.owner().await;
    let read_only = format!("sqlite://{}?mode=ro", file.display());
    let refused = build_error(server_on(read_only)).await;
    assert!(refused.contains("cannot be written"), "{refused}");
}
