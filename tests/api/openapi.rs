//! The committed spec matches the code, and the served spec and docs UI work.

use reqwest::{Method, StatusCode};

use crate::helpers::{json_body, spawn_app};

#[test]
fn the_committed_spec_matches_the_code() {
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json"))
            .expect("openapi/openapi.json exists");
    let generated = org_members::openapi::spec_json();
    assert!(
        committed == generated,
        "openapi/openapi.json is out of date; regenerate it with `cargo run -- openapi > openapi/openapi.json`"
    );
}

#[tokio::test]
async fn the_spec_is_served_as_openapi_3_1_and_the_docs_work_offline() {
    let app = spawn_app().await;
    let spec = json_body(
        app.request(Method::GET, "/api/openapi.json", None, None)
            .await,
        StatusCode::OK,
    )
    .await;
    assert!(
        spec["openapi"]
            .as_str()
            .is_some_and(|v| v.starts_with("3.1"))
    );
    for path in [
        "/api/invite",
        "/api/invite/reset-token",
        "/api/organizations/{id}/memberships",
        "/api/signup",
    ] {
        assert!(spec["paths"][path].is_object(), "{path} is documented");
    }
    assert_eq!(
        spec,
        serde_json::to_value(org_members::openapi::spec()).expect("spec as JSON"),
        "the served document is the generated one"
    );
    let docs = app.request(Method::GET, "/docs/", None, None).await;
    assert_eq!(docs.status(), StatusCode::OK);
    let html = docs.text().await.expect("html");
    assert!(
        !html.contains("cdn"),
        "the docs UI loads nothing from a CDN"
    );
    let initializer = app
        .request(Method::GET, "/docs/swagger-initializer.js", None, None)
        .await;
    assert_eq!(initializer.status(), StatusCode::OK);
    let script = initializer.text().await.expect("script");
    assert!(
        script.contains("\"/api/openapi.json\""),
        "the docs UI loads the served document: {script}"
    );
}

/// What generated clients rely on: a one-line summary and a description per operation, an explicit
/// `security` on each (empty for public ones), a server, and an error code that stays open.
#[test]
fn every_operation_reads_well_in_a_generated_client() {
    let spec = serde_json::to_value(org_members::openapi::spec()).expect("spec as JSON");
    assert!(spec["servers"][0]["url"].is_string());
    for (path, item) in spec["paths"].as_object().expect("paths") {
        for (method, operation) in item.as_object().expect("operations") {
            let label = format!("{method} {path}");
            let summary = operation["summary"].as_str().unwrap_or_default();
            assert!(
                (1..=40).contains(&summary.len()) && !summary.ends_with('.'),
                "{label}: summary {summary:?} (add it to openapi::SUMMARIES)"
            );
            assert!(operation["description"].is_string(), "{label}: description");
            assert!(operation["security"].is_array(), "{label}: security");
        }
    }
    let code = &spec["components"]["schemas"]["ErrorCode"];
    assert_eq!(code["type"], "string");
    assert!(
        code.get("enum").is_none(),
        "an added code must not break clients"
    );
    assert!(
        code["x-known-values"]
            .as_array()
            .is_some_and(|codes| codes.len() > 30)
    );
}
