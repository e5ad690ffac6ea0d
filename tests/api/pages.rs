//! The pages are served with a policy that admits only their own scripts, and not at all when
//! `SERVE_PAGES` is off. (They are driven in a browser by `tests/browser/pages_check.mjs`.)

use reqwest::StatusCode;

use crate::helpers::{spawn_app, spawn_app_with};

#[tokio::test]
async fn pages_carry_a_strict_policy_and_can_be_turned_off() {
    let app = spawn_app().await;
    for path in [
        "/user/signup/?token=abc",
        "/user/login/",
        "/user/password-reset/",
        "/organization/",
    ] {
        let page = app.client.get(app.url(path)).send().await.expect("sent");
        assert_eq!(page.status(), StatusCode::OK, "{path}");
        let policy = page.headers()["content-security-policy"]
            .to_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            policy.contains("script-src 'self'") && !policy.contains("unsafe-inline"),
            "{policy}"
        );
        assert_eq!(page.headers()["referrer-policy"], "no-referrer", "{path}");
        assert_eq!(page.headers()["cache-control"], "no-store", "{path}");
        let html = page.text().await.expect("body");
        assert!(
            !html.contains("<script>") && !html.contains("style="),
            "{path}: inline code"
        );
    }
    let script = app
        .client
        .get(app.url("/ui/api.js"))
        .send()
        .await
        .expect("sent");
    assert!(
        script.headers()["content-type"]
            .to_str()
            .unwrap_or_default()
            .starts_with("text/javascript")
    );
    let missing = app
        .client
        .get(app.url("/ui/nothing.js"))
        .send()
        .await
        .expect("sent");
    assert_eq!(missing.status(), StatusCode::NOT_FOUND);

    let api_only = spawn_app_with(|settings| settings.serve_pages = false).await;
    let page = api_only
        .client
        .get(api_only.url("/user/signup/"))
        .send()
        .await
        .expect("sent");
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
}
