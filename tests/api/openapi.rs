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
