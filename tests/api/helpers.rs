//! The test harness: every test gets its own app on 127.0.0.1:0 and its own database (a temp
//! SQLite file, or a fresh PostgreSQL/MariaDB database when `TEST_DATABASE_URL` names a server).

use org_members::settings::Settings;
use org_members::startup::Application;
use reqwest::{Method, Response, StatusCode};
use serde_json::{Value, json};

pub const PASSWORD: &str = "correct horse battery";

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub database_url: String,
    pub state: actix_web::web::Data<org_members::state::AppState>,
    _sqlite_dir: Option<tempfile::TempDir>,
}

/// A signed-up user and their tokens.
#[derive(Clone, Debug)]
pub struct Session {
    pub user_id: i64,
    pub organization_id: i64,
    pub access: String,
    pub refresh: String,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Spawns an app with settings adjusted by `adjust`.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let (database_url, sqlite_dir) = fresh_database().await;
    let mut settings = Settings {
        database_url: database_url.clone(),
        host: "127.0.0.1".into(),
        port: 0,
        workers: Some(1),
        // Tests drive the sender themselves, with `TestApp::sender`.
        run_email_sender: false,
        // Every test signs many people up from 127.0.0.1; the limits have their own tests.
        rate_limit_per_address: 100_000,
        rate_limit_per_email: 100_000,
        emails_per_recipient_per_day: 100_000,
        emails_per_organization_per_day: 100_000,
        ..Settings::default()
    };
    adjust(&mut settings);
    let mut app = start(settings).await;
    app._sqlite_dir = sqlite_dir;
    app
}

/// A second instance on the same database as `other` (as two replicas would run).
pub async fn spawn_sibling(other: &TestApp) -> TestApp {
    start(Settings {
        database_url: other.database_url.clone(),
        host: "127.0.0.1".into(),
        port: 0,
        workers: Some(1),
        run_email_sender: false,
        ..other.state.settings.clone()
    })
    .await
}

async fn start(settings: Settings) -> TestApp {
    let database_url = settings.database_url.clone();
    let application = Application::build(settings).await.expect("app builds");
    let address = format!("http://127.0.0.1:{}", application.port());
    let state = application.state();
    tokio::spawn(application.run_until_stopped());
    TestApp {
        address,
        client: reqwest::Client::new(),
        database_url,
        state,
        _sqlite_dir: None,
    }
}

async fn fresh_database() -> (String, Option<tempfile::TempDir>) {
    use sea_orm::ConnectionTrait;
    let Ok(server_url) = std::env::var("TEST_DATABASE_URL") else {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}/test.sqlite3?mode=rwc", dir.path().display());
        return (url, Some(dir));
    };
    let name = format!("om_test_{}", uuid::Uuid::new_v4().simple());
    let admin = sea_orm::Database::connect(server_url.as_str())
        .await
        .expect("test database server reachable");
    admin
        .execute_unprepared(&format!("CREATE DATABASE {name}"))
        .await
        .expect("create test database");
    admin.close().await.ok();
    let base = server_url.rsplit_once('/').expect("URL with a database").0;
    (format!("{base}/{name}"), None)
}

impl TestApp {
    /// An email sender of this app that talks to `smtp_url`.
    pub fn sender(&self, smtp_url: &str) -> org_members::email::sender::EmailSender {
        org_members::email::sender::EmailSender::with_smtp_url(
            self.state.settings.clone(),
            self.state.db.clone(),
            Some(smtp_url),
        )
        .expect("sender")
    }

    /// Delivers every message due now through `sink`.
    pub async fn deliver(
        &self,
        sink: &crate::smtp::SmtpSink,
    ) -> org_members::email::sender::DeliveryReport {
        self.sender(&sink.url())
            .deliver_due(org_members::services::now())
            .await
            .expect("delivery pass")
    }

    /// Invites `emails` with `role` as `actor` and returns the response body.
    pub async fn invite(&self, actor: &Session, emails: Value, role: &str) -> Value {
        let response = self
            .post(
                "/api/invite/send-email",
                Some(&actor.access),
                json!({"emails": emails, "role": role}),
            )
            .await;
        json_body(response, StatusCode::OK).await
    }

    /// Creates another organization with its Owner, as `org-members bootstrap` does; returns
    /// the organization's id.
    pub async fn bootstrap(&self, email: &str, title: &str) -> i32 {
        let (organization, _) = org_members::services::accounts::bootstrap(
            &self.state,
            org_members::domain::EmailAddress::parse(email).expect("email"),
            org_members::domain::Password::parse(PASSWORD.into()).expect("password"),
            title,
        )
        .await
        .expect("bootstraps");
        organization.id
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        request.send().await.expect("request sent")
    }

    /// `GET /api/current-user/whoami` with `access`, expecting 200.
    pub async fn whoami(&self, access: &str) -> Value {
        json_body(
            self.get("/api/current-user/whoami", access).await,
            StatusCode::OK,
        )
        .await
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.request(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Response {
        self.request(Method::POST, path, token, Some(body)).await
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Response {
        self.request(Method::PATCH, path, Some(token), Some(body))
            .await
    }

    /// Signs up with `body` and expects 201.
    pub async fn signup(&self, body: Value) -> Session {
        let response = self.post("/api/signup", None, body).await;
        let body = json_body(response, StatusCode::CREATED).await;
        Session {
            user_id: body["user"]["id"].as_i64().expect("user id"),
            organization_id: body["organization_membership"]["organization_id"]
                .as_i64()
                .expect("organization id"),
            access: body["access"].as_str().expect("access").to_owned(),
            refresh: body["refresh"].as_str().expect("refresh").to_owned(),
        }
    }

    /// Logs `email` in with `PASSWORD`; the session acts in the organization login chose.
    pub async fn login(&self, email: &str) -> Session {
        let body = json_body(
            self.post(
                "/api/auth/login",
                None,
                json!({"email": email, "password": PASSWORD}),
            )
            .await,
            StatusCode::OK,
        )
        .await;
        let access = body["access"].as_str().expect("access").to_owned();
        let me = self.whoami(&access).await;
        Session {
            user_id: me["id"].as_i64().expect("id"),
            organization_id: me["active_organization"].as_i64().expect("org"),
            access,
            refresh: body["refresh"].as_str().expect("refresh").to_owned(),
        }
    }

    /// The first signup of an empty instance: the Owner of a new organization.
    pub async fn owner(&self) -> Session {
        self.signup(json!({"email": "owner@example.org", "password": PASSWORD, "organization_title": "Acme"}))
            .await
    }

    pub async fn invite_token(&self, session: &Session) -> String {
        let body = json_body(
            self.get("/api/invite", &session.access).await,
            StatusCode::OK,
        )
        .await;
        body["token"].as_str().expect("token").to_owned()
    }

    /// Signs `count` people up through `owner`'s organization link (`<prefix><n>@example.org`),
    /// pending a role; their user ids.
    pub async fn pending_members(&self, owner: &Session, prefix: &str, count: usize) -> Vec<i64> {
        let mut user_ids = Vec::with_capacity(count);
        for n in 0..count {
            let email = format!("{prefix}{n}@example.org");
            user_ids.push(self.join_via_link(owner, &email).await.user_id);
        }
        user_ids
    }

    /// Signs `email` up through the organization link of `owner`'s organization.
    pub async fn join_via_link(&self, owner: &Session, email: &str) -> Session {
        let token = self.invite_token(owner).await;
        self.signup(json!({"email": email, "password": PASSWORD, "token": token}))
            .await
    }

    /// A member of `owner`'s organization with `role` (joins via the link, then is assigned). A
    /// deactivated member signs in again, since deactivation ended the signup's session.
    pub async fn member_with_role(&self, owner: &Session, email: &str, role: &str) -> Session {
        let member = self.join_via_link(owner, email).await;
        if role != "NO" {
            self.assign(owner, member.user_id, role).await;
        }
        if role == "DI" {
            return self.login(email).await;
        }
        member
    }

    /// Assigns `role` to `user_id` in `actor`'s organization and expects 200.
    pub async fn assign(&self, actor: &Session, user_id: i64, role: &str) -> Value {
        let path = format!("/api/organizations/{}/memberships", actor.organization_id);
        let response = self
            .patch(
                &path,
                &actor.access,
                json!({"user_id": user_id, "role": role}),
            )
            .await;
        json_body(response, StatusCode::OK).await
    }
}

/// The token of an invite URL (`.../user/signup/?token=...`).
pub fn token_in(url: &str) -> String {
    url.rsplit_once("token=")
        .expect("a token in the URL")
        .1
        .to_owned()
}

/// Asserts the status and returns the JSON body.
pub async fn json_body(response: Response, expected: StatusCode) -> Value {
    let status = response.status();
    let text = response.text().await.expect("body");
    assert_eq!(status, expected, "unexpected status; body: {text}");
    serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"))
}

/// Asserts a problem document with `status` and `code`, and returns it.
pub async fn assert_problem(response: Response, status: StatusCode, code: &str) -> Value {
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let body = json_body(response, status).await;
    assert_eq!(content_type, "application/problem+json", "body: {body}");
    assert_eq!(body["code"], code, "body: {body}");
    assert_eq!(body["status"], status.as_u16(), "body: {body}");
    for member in ["type", "title", "detail"] {
        assert!(body[member].is_string(), "problem lacks {member}: {body}");
    }
    body
}

/// Asserts that the maintained per-role member counts of `organization_id` match its live
/// memberships (the members list reports them as `count`).
pub async fn assert_member_counts_match(app: &TestApp, organization_id: i64) {
    use sea_orm::{ConnectionTrait, Statement};
    let db = app.state.db.read();
    let rows = |sql: String| async move {
        let rows = db
            .query_all_raw(Statement::from_string(db.get_database_backend(), sql))
            .await
            .expect("query");
        let mut counts: Vec<(String, i64)> = rows
            .iter()
            .map(|row| {
                let role: String = row.try_get("", "role").expect("role");
                let n: i64 = row
                    .try_get::<i64>("", "n")
                    .or_else(|_| row.try_get::<i32>("", "n").map(i64::from))
                    .expect("n");
                (role, n)
            })
            .filter(|(_, n)| *n != 0)
            .collect();
        counts.sort();
        counts
    };
    let maintained = rows(format!(
        "SELECT role, members AS n FROM member_counts WHERE organization_id = {organization_id}"
    ))
    .await;
    let actual = rows(format!(
        "SELECT role, COUNT(*) AS n FROM memberships WHERE organization_id = {organization_id} \
         AND deleted_at IS NULL GROUP BY role"
    ))
    .await;
    assert_eq!(
        maintained, actual,
        "member_counts drifted from the memberships"
    );
}

/// Access tokens carry their issue time in whole seconds: a test that ends sessions lets one go by
/// between issuing a token and ending it, so the token is unambiguously older.
pub async fn after_a_second() {
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
}
