//! Every failure is a problem document: framework failures included.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{assert_problem, spawn_app, spawn_app_with};

#[tokio::test]
async fn unknown_routes_and_wrong_methods_are_problems() {
    let app = spawn_app().await;
    assert_problem(
        app.request(Method::GET, "/nowhere", None, None).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let wrong = app
        .request(Method::DELETE, "/api/invite/", None, None)
        .await;
    assert_eq!(
        wrong.headers().get("allow").and_then(|v| v.to_str().ok()),
        Some("GET")
    );
    assert_problem(wrong, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed").await;
    let owner = app.owner().await;
    let not_an_id = app
        .request(
            Method::GET,
            "/api/organizations/abc",
            Some(&owner.access),
            None,
        )
        .await;
    assert_problem(not_an_id, StatusCode::NOT_FOUND, "not_found").await;
}

#[tokio::test]
async fn malformed_wrongly_typed_and_oversized_bodies_are_problems() {
    let app = spawn_app_with(|s| s.max_body_bytes = 4096).await;
    let url = app.url("/api/signup");
    let malformed = app
        .client
        .post(&url)
        .header("content-type", "application/json")
        .body("{\"email\":")
        .send()
        .await
        .expect("sent");
    assert_problem(malformed, StatusCode::BAD_REQUEST, "malformed_json").await;
    let wrong_type = app
        .post("/api/signup", None, json!({"email": 5, "password": []}))
        .await;
    assert_problem(wrong_type, StatusCode::BAD_REQUEST, "validation_failed").await;
    let huge = app
        .post(
            "/api/signup",
            None,
            json!({"email": "a@b.org", "password": "x".repeat(10_000)}),
        )
        .await;
    assert_problem(huge, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
    let untyped = app.client.post(&url).body("{}").send().await.expect("sent");
    assert_problem(
        untyped,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    let form = app
        .client
        .post(&url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("email=a")
        .send()
        .await
        .expect("sent");
    assert_problem(
        form,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    let nul = app
        .post(
            "/api/signup",
            None,
            json!({"email": "a\u{0}@b.org", "password": "password123"}),
        )
        .await;
    assert_problem(nul, StatusCode::BAD_REQUEST, "validation_failed").await;
}

#[tokio::test]
async fn health_ready_and_version_answer() {
    let app = spawn_app().await;
    for path in ["/health", "/ready", "/version", "/health/", "/version/"] {
        let response = app.request(Method::GET, path, None, None).await;
        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
}

#[tokio::test]
async fn every_response_carries_a_request_id_and_problems_repeat_it() {
    let app = spawn_app().await;
    let response = app.request(Method::GET, "/nowhere", None, None).await;
    let header = response
        .headers()
        .get("x-request-id")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let problem = assert_problem(response, StatusCode::NOT_FOUND, "not_found").await;
    assert_eq!(problem["request_id"].as_str(), header.as_deref());

    let traced = app
        .client
        .get(app.url("/health"))
        .header("x-request-id", "trace-42")
        .send()
        .await
        .expect("sent");
    assert_eq!(
        traced
            .headers()
            .get("x-request-id")
            .and_then(|v| v.to_str().ok()),
        Some("trace-42")
    );
}

#[tokio::test]
async fn cors_is_off_by_default_and_answers_allowed_origins_when_configured() {
    let closed = spawn_app().await;
    let preflight = |app: &crate::helpers::TestApp, origin: &str| {
        app.client
            .request(Method::OPTIONS, app.url("/api/invite"))
            .header("origin", origin)
            .header("access-control-request-method", "GET")
            .header("access-control-request-headers", "authorization")
            .send()
    };
    let response = preflight(&closed, "https://app.example.org")
        .await
        .expect("sent");
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );

    let open =
        spawn_app_with(|s| s.cors_allowed_origins = vec!["https://app.example.org".into()]).await;
    let allowed = preflight(&open, "https://app.example.org")
        .await
        .expect("sent");
    assert_eq!(
        allowed
            .headers()
            .get("access-control-allow-origin")
            .and_then(|v| v.to_str().ok()),
        Some("https://app.example.org")
    );
    let other = preflight(&open, "https://evil.example.org")
        .await
        .expect("sent");
    assert!(other.headers().get("access-control-allow-origin").is_none());
}

/// Each body, query and path error names its field by pointer, in plain words: never serde's or
/// actix's text, which a program cannot switch on and a person cannot read.
#[tokio::test]
async fn input_errors_point_at_their_field_in_plain_words() {
    let app = spawn_app().await;
    let owner = app.owner().await;
    let org = owner.organization_id;
    let wrong_type = app
        .post(
            "/api/invite/send-email",
            Some(&owner.access),
            json!({"emails": ["a@example.org"], "role": "AN", "expires_in_days": "2"}),
        )
        .await;
    let problem = assert_problem(wrong_type, StatusCode::BAD_REQUEST, "validation_failed").await;
    assert_eq!(
        problem["errors"],
        json!([{"pointer": "/expires_in_days", "code": "invalid_type", "detail": "expected a whole number"}])
    );
    let missing = app
        .post("/api/token/refresh/", None, json!({"refresh": 5}))
        .await;
    let problem = assert_problem(missing, StatusCode::BAD_REQUEST, "validation_failed").await;
    assert_eq!(problem["errors"][0]["pointer"], "/refresh");

    // A field left out is `required`, whatever rule it would otherwise break.
    for (path, token, pointer) in [
        ("/api/signup", None, "/password"),
        ("/api/invite/revoke", Some(owner.access.as_str()), "/email"),
    ] {
        let empty = app.post(path, token, json!({})).await;
        let problem = assert_problem(empty, StatusCode::BAD_REQUEST, "validation_failed").await;
        let errors = problem["errors"].as_array().cloned().unwrap_or_default();
        assert!(
            errors
                .iter()
                .any(|e| e["pointer"] == pointer && e["code"] == "required"),
            "{path}: {problem}"
        );
    }

    let query = app
        .get(
            &format!("/api/organizations/{org}/memberships?page=two"),
            &owner.access,
        )
        .await;
    let problem = assert_problem(query, StatusCode::BAD_REQUEST, "invalid_query").await;
    assert_eq!(problem["errors"][0]["pointer"], "/query/page");
    assert_eq!(problem["errors"][0]["detail"], "expected a whole number");

    let path = app
        .get("/api/organizations/abc/memberships", &owner.access)
        .await;
    let problem = assert_problem(path, StatusCode::NOT_FOUND, "not_found").await;
    let malformed = app
        .client
        .post(app.url("/api/auth/login"))
        .header("content-type", "application/json")
        .body("{\"email\": ")
        .send()
        .await
        .expect("sent");
    let malformed = assert_problem(malformed, StatusCode::BAD_REQUEST, "malformed_json").await;
    for text in [problem.to_string(), malformed.to_string()] {
        for internal in [
            "deserialize",
            "invalid type",
            "at line",
            "expected value",
            "i32",
        ] {
            assert!(!text.contains(internal), "{internal:?} in {text}");
        }
    }
}

#[tokio::test]
async fn a_refused_preflight_is_a_problem_and_docs_redirects_to_the_ui() {
    let app =
        spawn_app_with(|s| s.cors_allowed_origins = vec!["https://app.example.org".into()]).await;
    let refused = app
        .client
        .request(Method::OPTIONS, app.url("/api/invite"))
        .header("Origin", "https://evil.example")
        .header("Access-Control-Request-Method", "GET")
        .send()
        .await
        .expect("sent");
    assert_problem(refused, StatusCode::FORBIDDEN, "origin_not_allowed").await;

    let no_redirects = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let docs = no_redirects
        .get(app.url("/docs"))
        .send()
        .await
        .expect("sent");
    assert_eq!(docs.status(), StatusCode::PERMANENT_REDIRECT);
    assert_eq!(docs.headers()["location"], "/docs/");
}
