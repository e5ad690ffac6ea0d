//! Idempotency keys and rate limits.

use reqwest::{Response, StatusCode};
use sea_orm::{ConnectionTrait, Statement};
use serde_json::{Value, json};

use crate::helpers::{
    PASSWORD, Session, TestApp, assert_problem, json_body, spawn_app, spawn_app_with,
    spawn_sibling, token_in,
};
use crate::smtp::SmtpSink;

async fn post_with_key(
    app: &TestApp,
    path: &str,
    session: Option<&Session>,
    key: &str,
    body: Value,
) -> Response {
    let mut request = app
        .client
        .post(app.url(path))
        .header("Idempotency-Key", key)
        .json(&body);
    if let Some(session) = session {
        request = request.bearer_auth(&session.access);
    }
    request.send().await.expect("sent")
}

fn replayed(response: &Response) -> bool {
    response
        .headers()
        .get("idempotent-replayed")
        .is_some_and(|v| v == "true")
}

async fn invitation_count(app: &TestApp, owner: &Session) -> i64 {
    let list = json_body(
        app.get("/api/invitations", &owner.access).await,
        StatusCode::OK,
    )
    .await;
    list["count"].as_i64().expect("count")
}

#[tokio::test]
async fn a_retried_bulk_invite_replays_the_first_response_and_sends_one_email() {
    let app = spawn_app().await;
    let owner = app.owner().await;
    let body = json!({"emails": ["ann@example.org", "bob@example.org"], "role": "AN"});
    let first = post_with_key(
        &app,
        "/api/invite/send-email",
        Some(&owner),
        "key-1",
        body.clone(),
    )
    .await;
    assert!(!replayed(&first));
    let first = json_body(first, StatusCode::OK).await;
    let second = post_with_key(
        &app,
        "/api/invite/send-email",
        Some(&owner),
        "key-1",
        body.clone(),
    )
    .await;
    assert!(replayed(&second));
    assert_eq!(json_body(second, StatusCode::OK).await, first);
    // Another instance on the same database replays it too.
    let sibling = spawn_sibling(&app).await;
    let third = post_with_key(
        &sibling,
        "/api/invite/send-email",
        Some(&owner),
        "key-1",
        body,
    )
    .await;
    assert!(replayed(&third));
    assert_eq!(json_body(third, StatusCode::OK).await, first);
    assert_eq!(invitation_count(&app, &owner).await, 2);
    let sink = SmtpSink::start();
    assert_eq!(app.deliver(&sink).await.sent, 2);
    assert_eq!(sink.received().len(), 2);

    let other_body = post_with_key(
        &app,
        "/api/invite/send-email",
        Some(&owner),
        "key-1",
        json!({"emails": ["carl@example.org"], "role": "AN"}),
    )
    .await;
    assert_problem(
        other_body,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    )
    .await;
    assert_eq!(invitation_count(&app, &owner).await, 2);
    // The same key on another endpoint is another request, hence also refused.
    let other_endpoint = post_with_key(
        &app,
        &format!(
            "/api/invitations/{}/resend",
            first["results"][0]["invitation_id"]
        ),
        Some(&owner),
        "key-1",
        json!({}),
    )
    .await;
    assert_problem(
        other_endpoint,
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
    )
    .await;
}

#[tokio::test]
async fn keys_belong_to_their_caller_and_bad_keys_are_refused() {
    let app = spawn_app().await;
    let owner = app.owner().await;
    let admin = app
        .member_with_role(&owner, "admin@example.org", "AD")
        .await;
    let body = json!({"emails": ["ann@example.org"], "role": "AN", "send_email": false});
    let by_owner = post_with_key(
        &app,
        "/api/invite/send-email",
        Some(&owner),
        "shared",
        body.clone(),
    )
    .await;
    let by_owner = json_body(by_owner, StatusCode::OK).await;
    let by_admin =
        post_with_key(&app, "/api/invite/send-email", Some(&admin), "shared", body).await;
    assert!(
        !replayed(&by_admin),
        "another caller's key never replays their response"
    );
    let by_admin = json_body(by_admin, StatusCode::OK).await;
    assert_eq!(by_admin["results"][0]["status"], "reinvited");
    assert_ne!(
        by_admin["results"][0]["invite_url"],
        by_owner["results"][0]["invite_url"]
    );

    for bad in ["", &"k".repeat(256), "key with spaces"] {
        let response =
            post_with_key(&app, "/api/invite/send-email", Some(&owner), bad, json!({})).await;
        let problem = assert_problem(response, StatusCode::BAD_REQUEST, "validation_failed").await;
        assert_eq!(problem["errors"][0]["pointer"], "/headers/idempotency-key");
    }
}

/// A stored response is replayed only to a caller who may still make the request: an
/// Administrator deactivated since their bulk invite gets 403 for its retry, as without the key,
/// not the response with its invite link.
#[tokio::test]
async fn a_replay_is_authorized_first() {
    let app = spawn_app().await;
    let owner = app.owner().await;
    let admin = app
        .member_with_role(&owner, "admin@example.org", "AD")
        .await;
    let body = json!({"emails": ["ann@example.org"], "role": "AN", "send_email": false});
    let path = "/api/invite/send-email";
    let first = post_with_key(&app, path, Some(&admin), "retry-1", body.clone()).await;
    json_body(first, StatusCode::OK).await;
    app.assign(&owner, admin.user_id, "DI").await;
    // Deactivation ended the old session; signed in again, the person is deactivated.
    let admin = app.login("admin@example.org").await;
    let retried = post_with_key(&app, path, Some(&admin), "retry-1", body).await;
    assert!(!replayed(&retried));
    assert_problem(retried, StatusCode::FORBIDDEN, "account_deactivated").await;
}

/// Anonymous signups do not share one key space: someone who sends another person's key first,
/// with a body of their own, blocks nobody's signup.
#[tokio::test]
async fn another_persons_signup_key_blocks_no_signup() {
    let app = spawn_app().await;
    let owner = app.owner().await;
    let token = app.invite_token(&owner).await;
    let squatter = json!({"email": "squatter@example.org", "password": PASSWORD, "token": token});
    let first = post_with_key(&app, "/api/signup", None, "guessed-key", squatter).await;
    assert_eq!(first.status(), StatusCode::CREATED);
    let person = json!({"email": "person@example.org", "password": PASSWORD, "token": token});
    let signup = post_with_key(&app, "/api/signup", None, "guessed-key", person.clone()).await;
    assert!(!replayed(&signup));
    let joined = json_body(signup, StatusCode::CREATED).await;
    assert_eq!(joined["user"]["email"], "person@example.org");
    // Their own retry still replays their own answer.
    let retried = post_with_key(&app, "/api/signup", None, "guessed-key", person).await;
    assert!(replayed(&retried));
}

#[tokio::test]
async fn a_retried_signup_returns_the_same_account_and_stores_no_readable_token() {
    let app = spawn_app().await;
    let owner = app.owner().await;
    let link = app.invite_token(&owner).await;
    let body = json!({"email": "new@example.org", "password": PASSWORD, "token": link});
    let first = post_with_key(&app, "/api/signup", None, "signup-1", body.clone()).await;
    let first = json_body(first, StatusCode::CREATED).await;
    let second = post_with_key(&app, "/api/signup", None, "signup-1", body.clone()).await;
    assert!(replayed(&second));
    assert_eq!(json_body(second, StatusCode::CREATED).await, first);
    // Without the key the same body is a second signup, refused as such.
    let plain = app.post("/api/signup", None, body).await;
    assert_problem(plain, StatusCode::CONFLICT, "email_taken").await;
    let other_password = post_with_key(
        &app,
        "/api/signup",
        None,
        "signup-1",
        json!({"email": "new@example.org", "password": "another password", "token": link}),
    )
    .await;
    // Anonymous keys are scoped by their body: another body is another request, never a replay
    // of the first account's answer.
    assert!(!replayed(&other_password));
    assert_problem(other_password, StatusCode::CONFLICT, "email_taken").await;

    let rows = app
        .state
        .db
        .read()
        .query_all_raw(Statement::from_string(
            app.state.db.backend(),
            "SELECT response_body, request_fingerprint FROM idempotency_keys",
        ))
        .await
        .expect("rows");
    assert_eq!(rows.len(), 1);
    let stored: String = rows[0].try_get("", "response_body").expect("body");
    let access = first["access"].as_str().expect("access");
    assert!(!stored.contains(access) && !stored.contains("new@example.org"));
}

#[tokio::test]
async fn a_retried_resend_rotates_the_link_once() {
    let app = spawn_app().await;
    let owner = app.owner().await;
    let invited = app.invite(&owner, json!(["ann@example.org"]), "AN").await;
    let id = invited["results"][0]["invitation_id"].as_i64().expect("id");
    let path = format!("/api/invitations/{id}/resend");
    let body = json!({"send_email": false});
    let first = json_body(
        post_with_key(&app, &path, Some(&owner), "resend-1", body.clone()).await,
        StatusCode::OK,
    )
    .await;
    let second = post_with_key(&app, &path, Some(&owner), "resend-1", body).await;
    assert!(replayed(&second));
    assert_eq!(json_body(second, StatusCode::OK).await, first);
    // The link of the first response still works: the retry did not rotate it again.
    let url = first["invite_url"].as_str().expect("url");
    let token = token_in(url);
    let lookup = app
        .client
        .get(app.url(&format!("/api/invite/lookup?token={token}")))
        .send()
        .await
        .expect("sent");
    assert_eq!(lookup.status(), StatusCode::OK);
}

#[tokio::test]
async fn concurrent_requests_with_one_key_do_the_work_once() {
    let app = spawn_app().await;
    let owner = app.owner().await;
    let body = json!({"emails": ["ann@example.org", "bob@example.org"], "role": "AN"});
    let attempts = (0..6).map(|_| {
        post_with_key(
            &app,
            "/api/invite/send-email",
            Some(&owner),
            "race",
            body.clone(),
        )
    });
    let responses = futures_util::future::join_all(attempts).await;
    let statuses: Vec<StatusCode> = responses.iter().map(Response::status).collect();
    assert!(
        statuses
            .iter()
            .all(|s| *s == StatusCode::OK || *s == StatusCode::CONFLICT),
        "{statuses:?}"
    );
    assert!(statuses.contains(&StatusCode::OK));
    assert_eq!(invitation_count(&app, &owner).await, 2);
    let sink = SmtpSink::start();
    assert_eq!(app.deliver(&sink).await.sent, 2);
}

#[tokio::test]
async fn login_signup_lookup_and_accept_are_rate_limited_with_retry_after() {
    let app = spawn_app_with(|settings| {
        settings.rate_limit_per_address = 5;
        settings.rate_limit_per_email = 2;
    })
    .await;
    let owner = app.owner().await;
    let login = |email: &str| {
        app.post(
            "/api/auth/login",
            None,
            json!({"email": email, "password": "wrong password"}),
        )
    };
    assert_eq!(
        login("owner@example.org").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login("OWNER@example.org").await.status(),
        StatusCode::UNAUTHORIZED
    );
    // A third try at one email within the minute, whatever its case.
    let limited = login("owner@example.org").await;
    let retry_after: u64 = limited
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    assert!((1..=60).contains(&retry_after), "{retry_after}");
    assert_problem(limited, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    // Other emails from the same address, until the address budget (5) runs out.
    assert_eq!(
        login("a@example.org").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        login("b@example.org").await.status(),
        StatusCode::UNAUTHORIZED
    );
    assert_problem(
        login("c@example.org").await,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    )
    .await;
    // Lookups have their own budget.
    for _ in 0..5 {
        let lookup = app
            .client
            .get(app.url("/api/invite/lookup?token=nope"))
            .send()
            .await
            .expect("sent");
        assert_eq!(lookup.status(), StatusCode::NOT_FOUND);
    }
    let lookup = app
        .client
        .get(app.url("/api/invite/lookup?token=nope"))
        .send()
        .await
        .expect("sent");
    assert_problem(lookup, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    // Accept: per account.
    for _ in 0..2 {
        let accept = app
            .post(
                "/api/invite/accept",
                Some(&owner.access),
                json!({"token": "nope"}),
            )
            .await;
        assert_eq!(accept.status(), StatusCode::NOT_FOUND);
    }
    let accept = app
        .post(
            "/api/invite/accept",
            Some(&owner.access),
            json!({"token": "nope"}),
        )
        .await;
    assert_problem(accept, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    // Signup: per email too (the owner's own signup counted one for owner@).
    let signup = |email: &str| {
        app.post(
            "/api/signup",
            None,
            json!({"email": email, "password": PASSWORD}),
        )
    };
    assert_eq!(signup("x@example.org").await.status(), StatusCode::CREATED);
    assert_eq!(signup("x@example.org").await.status(), StatusCode::CONFLICT);
    assert_problem(
        signup("x@example.org").await,
        StatusCode::TOO_MANY_REQUESTS,
        "rate_limited",
    )
    .await;
}

#[tokio::test]
async fn a_stranger_filling_the_failed_login_budget_locks_out_no_one_else() {
    let app = spawn_app_with(|settings| {
        settings.trust_forwarded_for = true;
        settings.rate_limit_per_email = 2;
    })
    .await;
    app.owner().await;
    let login = |from: &'static str, password: &'static str| {
        app.client
            .post(app.url("/api/auth/login"))
            .header("X-Forwarded-For", from)
            .json(&json!({"email": "owner@example.org", "password": password}))
            .send()
    };
    for _ in 0..2 {
        let wrong = login("203.0.113.66", "wrong password").await.expect("sent");
        assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    }
    // The stranger's third guess is refused before the password is checked, even a right one.
    let refused = login("203.0.113.66", PASSWORD).await.expect("sent");
    assert_problem(refused, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    // The owner, from their own address, gets in; and successes are never counted.
    for _ in 0..4 {
        let ok = login("198.51.100.7", PASSWORD).await.expect("sent");
        assert_eq!(ok.status(), StatusCode::OK);
    }
}

#[tokio::test]
async fn behind_a_proxy_the_appended_forwarded_entry_is_the_client() {
    let app = spawn_app_with(|settings| {
        settings.trust_forwarded_for = true;
        settings.rate_limit_per_address = 1;
    })
    .await;
    let owner = app.owner().await;
    let login = |forwarded: &'static str| {
        app.client
            .post(app.url("/api/auth/login"))
            .header("X-Forwarded-For", forwarded)
            .json(&json!({"email": "owner@example.org", "password": PASSWORD}))
            .send()
    };
    // The client's own first entry changes nothing: the proxy's appended entry is counted.
    assert_eq!(
        login("6.6.6.6, 203.0.113.1").await.expect("sent").status(),
        StatusCode::OK
    );
    let again = login("7.7.7.7, 203.0.113.1").await.expect("sent");
    assert_problem(again, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    assert_eq!(
        login("6.6.6.6, 203.0.113.2").await.expect("sent").status(),
        StatusCode::OK
    );

    let reset = app
        .client
        .post(app.url("/api/invite/reset-token"))
        .bearer_auth(&owner.access)
        .header("X-Forwarded-For", "198.51.100.77")
        .send()
        .await
        .expect("sent");
    assert_eq!(reset.status(), StatusCode::OK);
    let log = json_body(
        app.get(
            &format!(
                "/api/organizations/{}/audit-log?action=invite_link.reset",
                owner.organization_id
            ),
            &owner.access,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(log["results"][0]["client_address"], "198.51.100.77");
}

/// `next` and `previous` come from the request's own path and query, whatever `Host`,
/// `X-Forwarded-Host` or `Forwarded` say, and whatever `PUBLIC_URL` (the signup pages' base) is:
/// `Forwarded: host=evil.example;proto=javascript` made `javascript://evil.example/...` links.
#[tokio::test]
async fn pagination_links_ignore_forwarded_and_host_headers() {
    let app = spawn_app_with(|settings| {
        settings.public_url = Some("https://frontend.example".into());
    })
    .await;
    let owner = app.owner().await;
    app.pending_members(&owner, "paged", 3).await;
    let path = format!(
        "/api/organizations/{}/memberships?page_size=1&page=2",
        owner.organization_id
    );
    for (header, value) in [
        ("Forwarded", "host=evil.example;proto=javascript"),
        ("X-Forwarded-Host", "evil.example"),
        ("X-Forwarded-Proto", "javascript"),
        ("Host", "evil.example"),
    ] {
        let page = app
            .client
            .get(app.url(&path))
            .bearer_auth(&owner.access)
            .header(header, value)
            .send()
            .await
            .expect("sent");
        let body = json_body(page, StatusCode::OK).await;
        for link in ["next", "previous"] {
            let url = body[link].as_str().expect(link);
            let expected = format!(
                "/api/organizations/{}/memberships?page_size=1&page=",
                owner.organization_id
            );
            assert!(url.starts_with(&expected), "{header}: {link} is {url}");
        }
    }
}
