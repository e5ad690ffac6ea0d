//! Hostile input: huge, deeply nested, wrongly typed, NUL bytes, look-alike addresses, ten
//! thousand addresses. Each gets a clear problem, and nothing is stored.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, Session, TestApp, assert_problem, json_body, spawn_app};

/// What a hostile request could have left behind: members, invitations, audit entries.
async fn footprint(app: &TestApp, owner: &Session) -> (Value, Value, Value) {
    let org = owner.organization_id;
    let count = |path: String| async move {
        json_body(app.get(&path, &owner.access).await, StatusCode::OK).await["count"].clone()
    };
    (
        count(format!("/api/organizations/{org}/memberships")).await,
        count("/api/invitations".to_owned()).await,
        count(format!("/api/organizations/{org}/audit-log")).await,
    )
}

#[tokio::test]
async fn hostile_bodies_get_problems_and_store_nothing() {
    let app = spawn_app().await;
    let owner = app.owner().await;
    let link = app.invite_token(&owner).await;
    let before = footprint(&app, &owner).await;

    let nested = format!("{}{}", "[".repeat(50_000), "]".repeat(50_000));
    let deep = app
        .client
        .post(app.url("/api/invite/send-email"))
        .bearer_auth(&owner.access)
        .header("content-type", "application/json")
        .body(format!("{{\"emails\": {nested}}}"))
        .send()
        .await
        .expect("sent");
    assert_problem(deep, StatusCode::BAD_REQUEST, "malformed_json").await;

    let huge = app
        .post(
            "/api/invite/send-email",
            Some(&owner.access),
            json!({"emails": ["a@example.org"], "role": "x".repeat(300_000)}),
        )
        .await;
    assert_problem(huge, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;

    let ten_thousand: Vec<String> = (0..10_000).map(|i| format!("u{i}@example.org")).collect();
    let too_many = app
        .post(
            "/api/invite/send-email",
            Some(&owner.access),
            json!({"emails": ten_thousand, "role": "AN"}),
        )
        .await;
    let problem = assert_problem(too_many, StatusCode::BAD_REQUEST, "validation_failed").await;
    assert_eq!(problem["errors"][0]["code"], "too_many");

    for body in [
        json!({"emails": 42, "role": "AN"}),
        json!({"emails": ["a@example.org"], "role": ["AN"]}),
        json!({"emails": ["a@example.org"], "expires_in_days": "seven"}),
        json!({"emails": ["a@example.org"], "expires_in_days": -1}),
        json!({"emails": ["a@example.org"], "expires_in_days": 1e30}),
        json!({"emails": ["a@example.org"], "send_email": "yes"}),
        json!({"emails": [null, {"a": 1}]}),
    ] {
        let response = app
            .post("/api/invite/send-email", Some(&owner.access), body.clone())
            .await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST, "{body}");
        let problem: Value = response.json().await.expect("problem");
        assert!(problem["code"].is_string(), "{body}: {problem}");
    }

    // NUL bytes and control characters, in every kind of text field.
    let nul_signups = [
        json!({"email": "nul@example.org", "password": PASSWORD, "first_name": "Ann\u{0}", "token": link}),
        json!({"email": "nul@example.org", "password": PASSWORD, "last_name": "Lee\u{1b}[31m", "token": link}),
        json!({"email": "nul@example.org", "password": PASSWORD, "token": format!("{link}\u{0}")}),
        json!({"email": "nul\u{0}@example.org", "password": PASSWORD, "token": link}),
    ];
    for body in nul_signups {
        let response = app.post("/api/signup", None, body.clone()).await;
        let status = response.status();
        // A token that could not have been issued is an unknown token (404), like any other.
        assert!(
            status == StatusCode::BAD_REQUEST || status == StatusCode::NOT_FOUND,
            "{body}: {status}"
        );
        let problem: Value = response.json().await.expect("problem");
        assert!(problem["code"].is_string(), "{body}: {problem}");
    }
    let nul_invite = app
        .post(
            "/api/invite/send-email",
            Some(&owner.access),
            json!({"emails": ["x\u{0}@example.org"], "role": "AN"}),
        )
        .await;
    let results = json_body(nul_invite, StatusCode::OK).await;
    assert_eq!(results["results"][0]["status"], "invalid_email");

    // Look-alike addresses: a Cyrillic "о", a fullwidth "ｏ", a zero-width joiner.
    for email in [
        "\u{43e}wner@example.org",
        "\u{ff4f}wner@example.org",
        "ow\u{200d}ner@example.org",
        "owner@ex\u{430}mple.org",
    ] {
        let signup = app
            .post(
                "/api/signup",
                None,
                json!({"email": email, "password": PASSWORD, "token": link}),
            )
            .await;
        let problem = assert_problem(signup, StatusCode::BAD_REQUEST, "validation_failed").await;
        assert_eq!(problem["errors"][0]["pointer"], "/email", "{email}");
        let invited = app.invite(&owner, json!([email]), "AN").await;
        assert_eq!(invited["results"][0]["status"], "invalid_email", "{email}");
    }

    assert_eq!(footprint(&app, &owner).await, before);
}

/// Names and organization titles end up in the Subject and body of emails: line and paragraph
/// separators, bidirectional overrides and isolates, and zero-width characters are refused like
/// control characters, with a problem naming the field.
#[tokio::test]
async fn names_and_titles_with_layout_characters_are_refused() {
    let app = spawn_app().await;
    let owner = app.owner().await;
    let link = app.invite_token(&owner).await;
    let before = footprint(&app, &owner).await;
    for name in [
        "Pat\u{2028}Your account is locked",
        "Pat\u{2029}Reset it at evil.example",
        "Pat\u{202E}gnp.exe",
        "Pat\u{2066}x\u{2069}",
        "Pa\u{200B}t",
        "Pa\u{200D}t",
        "\u{FEFF}Pat",
    ] {
        for field in ["first_name", "last_name"] {
            let mut body = json!({"email": "pat@example.org", "password": PASSWORD, "token": link});
            body[field] = json!(name);
            let signup = app.post("/api/signup", None, body).await;
            let problem =
                assert_problem(signup, StatusCode::BAD_REQUEST, "validation_failed").await;
            assert_eq!(
                problem["errors"][0]["pointer"],
                format!("/{field}"),
                "{name:?}"
            );
        }
    }
    // Scripts that write right to left are names like any other.
    let arabic = app
        .post(
            "/api/signup",
            None,
            json!({"email": "pat@example.org", "password": PASSWORD, "token": link,
                   "first_name": "\u{0628}\u{0627}\u{062A}", "last_name": "Zoë"}),
        )
        .await;
    assert_eq!(arabic.status(), StatusCode::CREATED);
    let after = footprint(&app, &owner).await;
    assert_eq!(after.1, before.1, "no invitation");
}

/// Addresses that end in an IP literal passed the `validator` crate's check whatever preceded
/// it: header injection, terminal escapes, markup, NUL (a 500 on PostgreSQL). Signup, login and
/// bulk invites refuse them alike, with a problem, never a 500.
#[tokio::test]
async fn addresses_with_injected_bytes_are_refused_on_every_path() {
    let app = spawn_app().await;
    let owner = app.owner().await;
    let link = app.invite_token(&owner).await;
    let before = footprint(&app, &owner).await;
    for email in [
        "x@evil.example\r\nBcc: victim.example[10.0.0.1]",
        "x\u{1b}]0;owned\u{7}@evil.example[10.0.0.1]",
        "<b>boss</b>@evil.example[10.0.0.1]",
        "a     b@evil.example[10.0.0.1]",
        "nul\u{0}@evil.example[10.0.0.1]",
        "ip@[10.0.0.1]",
    ] {
        let signup = app
            .post(
                "/api/signup",
                None,
                json!({"email": email, "password": PASSWORD, "token": link}),
            )
            .await;
        let problem = assert_problem(signup, StatusCode::BAD_REQUEST, "validation_failed").await;
        assert_eq!(problem["errors"][0]["pointer"], "/email", "{email:?}");
        let login = app
            .post(
                "/api/auth/login",
                None,
                json!({"email": email, "password": PASSWORD}),
            )
            .await;
        assert!(
            login.status().is_client_error(),
            "{email:?}: {}",
            login.status()
        );
        let invited = app.invite(&owner, json!([email]), "AN").await;
        assert_eq!(
            invited["results"][0]["status"], "invalid_email",
            "{email:?}"
        );
    }
    assert_eq!(footprint(&app, &owner).await, before);
}

#[tokio::test]
async fn hostile_queries_and_paths_get_problems() {
    let app = spawn_app().await;
    let owner = app.owner().await;
    let org = owner.organization_id;
    let members = format!("/api/organizations/{org}/memberships");
    for (path, status) in [
        (format!("{members}?search=%00"), StatusCode::BAD_REQUEST),
        (
            format!("{members}?search={}", "a".repeat(5000)),
            StatusCode::BAD_REQUEST,
        ),
        (
            format!("{members}?page=99999999999999999999999"),
            StatusCode::BAD_REQUEST,
        ),
        (format!("{members}?page_size=-1"), StatusCode::BAD_REQUEST),
        (format!("{members}?role=%00"), StatusCode::BAD_REQUEST),
        (
            "/api/invitations?email=%00".to_owned(),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/api/invitations?status=%00".to_owned(),
            StatusCode::BAD_REQUEST,
        ),
        (
            format!("/api/organizations/{org}/audit-log?since=%00"),
            StatusCode::BAD_REQUEST,
        ),
        (
            "/api/organizations/99999999999999/memberships".to_owned(),
            StatusCode::NOT_FOUND,
        ),
        (
            "/api/organizations/-1/memberships".to_owned(),
            StatusCode::NOT_FOUND,
        ),
        ("/api/invitations/1%00".to_owned(), StatusCode::NOT_FOUND),
    ] {
        let response = app.get(&path, &owner.access).await;
        assert_eq!(response.status(), status, "{path}");
        let problem: Value = response.json().await.expect("problem JSON");
        assert!(problem["code"].is_string(), "{path}: {problem}");
    }
    // Found by schemathesis: a page number past i64 crashed the SQLite binding.
    for path in [
        format!("{members}?page=9223372036854775807"),
        "/api/invitations?page=9223372036854775807&page_size=1000".to_owned(),
        format!("/api/organizations/{org}/audit-log?page=9223372036854775807&page_size=1000"),
    ] {
        let page = json_body(app.get(&path, &owner.access).await, StatusCode::OK).await;
        assert_eq!(page["results"], json!([]), "{path}");
    }
    for path in [
        format!("{members}?page=9223372036854775808"),
        "/api/invitations?page=18446744073709551615".to_owned(),
    ] {
        let response = app.get(&path, &owner.access).await;
        let problem = assert_problem(response, StatusCode::BAD_REQUEST, "validation_failed").await;
        assert_eq!(problem["errors"][0]["pointer"], "/query/page");
    }
    let long = "x".repeat(3000);
    for (token, status, code) in [
        ("%00", StatusCode::BAD_REQUEST, "invalid_query"),
        ("a%00b", StatusCode::BAD_REQUEST, "invalid_query"),
        (long.as_str(), StatusCode::NOT_FOUND, "invite_token_unknown"),
        ("%E2%80%8B", StatusCode::NOT_FOUND, "invite_token_unknown"),
        (
            "'%20OR%20'1'='1",
            StatusCode::NOT_FOUND,
            "invite_token_unknown",
        ),
    ] {
        let lookup = app
            .client
            .get(app.url(&format!("/api/invite/lookup?token={token}")))
            .send()
            .await
            .expect("sent");
        assert_problem(lookup, status, code).await;
    }
}
