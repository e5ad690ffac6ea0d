use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{PASSWORD, assert_problem, json_body, spawn_app, spawn_app_with};

#[tokio::test]
async fn first_signup_founds_the_organization_and_makes_its_owner() {
    let app = spawn_app().await;
    let response = app
        .post(
            "/api/signup",
            None,
            json!({"email": " Ada@Example.org ", "password": PASSWORD, "first_name": "Ada", "organization_title": "Analytical"}),
        )
        .await;
    let body = json_body(response, StatusCode::CREATED).await;
    assert_eq!(body["user"]["email"], "Ada@Example.org");
    assert_eq!(body["organization_membership"]["role"], "OW");
    assert_eq!(body["organization_membership"]["active"], true);
    let access = body["access"].as_str().expect("access");
    let organizations =
        json_body(app.get("/api/organizations/", access).await, StatusCode::OK).await;
    assert_eq!(organizations[0]["title"], "Analytical");
}

#[tokio::test]
async fn signup_through_the_link_lands_as_pending_with_whoami_only() {
    let app = spawn_app().await;
    let owner = app.owner().await;
    let pending = app.join_via_link(&owner, "pending@example.org").await;

    let me = app.whoami(&pending.access).await;
    assert_eq!(me["organization_membership"]["role"], "NO");
    assert_eq!(me["organization_membership"]["active"], false);
    assert_eq!(
        me["organization_membership"]["organization_id"],
        owner.organization_id
    );

    assert_problem(
        app.get("/api/invite", &pending.access).await,
        StatusCode::FORBIDDEN,
        "account_not_activated",
    )
    .await;
    let members = format!("/api/organizations/{}/memberships", owner.organization_id);
    assert_problem(
        app.get(&members, &pending.access).await,
        StatusCode::FORBIDDEN,
        "account_not_activated",
    )
    .await;
    let organization = format!("/api/organizations/{}", owner.organization_id);
    assert_problem(
        app.get(&organization, &pending.access).await,
        StatusCode::FORBIDDEN,
        "account_not_activated",
    )
    .await;
}

#[tokio::test]
async fn reset_link_makes_the_old_token_fail_on_signup() {
    let app = spawn_app().await;
    let owner = app.owner().await;
    let old = app.invite_token(&owner).await;
    let reset = json_body(
        app.post("/api/invite/reset-token", Some(&owner.access), json!({}))
            .await,
        StatusCode::OK,
    )
    .await;
    let new = reset["token"].as_str().expect("token");
    assert_ne!(new, old);
    assert_eq!(new.len(), 43, "256 bits, base64url");
    assert_eq!(reset["invite_url"], format!("/user/signup/?token={new}"));

    let refused = app
        .post(
            "/api/signup",
            None,
            json!({"email": "late@example.org", "password": PASSWORD, "token": old}),
        )
        .await;
    assert_problem(refused, StatusCode::NOT_FOUND, "invite_token_unknown").await;
    let joined = app
        .signup(json!({"email": "late@example.org", "password": PASSWORD, "token": new}))
        .await;
    assert_eq!(joined.organization_id, owner.organization_id);
}

#[tokio::test]
async fn a_reset_on_one_instance_kills_the_old_link_on_another() {
    let a = spawn_app().await;
    let b = crate::helpers::spawn_sibling(&a).await;
    let owner = a.owner().await;
    let old = a.invite_token(&owner).await;
    json_body(
        a.post("/api/invite/reset-token", Some(&owner.access), json!({}))
            .await,
        StatusCode::OK,
    )
    .await;
    let refused = b
        .post(
            "/api/signup",
            None,
            json!({"email": "x@example.org", "password": PASSWORD, "token": old}),
        )
        .await;
    assert_problem(refused, StatusCode::NOT_FOUND, "invite_token_unknown").await;
}

#[tokio::test]
async fn the_invite_url_uses_the_public_url_when_configured() {
    let app = spawn_app_with(|s| s.public_url = Some("https://members.example.org".into())).await;
    let owner = app.owner().await;
    let link = json_body(app.get("/api/invite", &owner.access).await, StatusCode::OK).await;
    let token = link["token"].as_str().expect("token");
    assert_eq!(
        link["invite_url"],
        format!("https://members.example.org/user/signup/?token={token}")
    );
}

#[tokio::test]
async fn walk_in_signup_joins_the_default_organization_as_pending() {
    let app = spawn_app().await;
    let owner = app.owner().await;
    let walk_in = app
        .signup(json!({"email": "walkin@example.org", "password": PASSWORD}))
        .await;
    assert_eq!(walk_in.organization_id, owner.organization_id);
    let me = app.whoami(&walk_in.access).await;
    assert_eq!(me["organization_membership"]["role"], "NO");
}

#[tokio::test]
async fn walk_in_signup_is_refused_when_signup_requires_a_link() {
    let app = spawn_app_with(|s| s.disable_signup_without_link = true).await;
    app.bootstrap("owner@example.org", "Acme").await;
    let owner = app.login("owner@example.org").await;
    let refused = app
        .post(
            "/api/signup",
            None,
            json!({"email": "walkin@example.org", "password": PASSWORD}),
        )
        .await;
    assert_problem(refused, StatusCode::FORBIDDEN, "signup_requires_invite").await;
    // The link still works.
    app.join_via_link(&owner, "linked@example.org").await;
}

/// With signup closed, an empty instance is no exception: the first stranger does not become an
/// Owner; the first organization comes from `org-members bootstrap`.
#[tokio::test]
async fn closed_signup_founds_no_organization_on_an_empty_instance() {
    let app = spawn_app_with(|s| s.disable_signup_without_link = true).await;
    for body in [
        json!({"email": "first@example.org", "password": PASSWORD}),
        json!({"email": "first@example.org", "password": PASSWORD, "organization_title": "Mine"}),
    ] {
        let refused = app.post("/api/signup", None, body).await;
        assert_problem(refused, StatusCode::FORBIDDEN, "signup_requires_invite").await;
    }
    let login = app
        .post(
            "/api/auth/login",
            None,
            json!({"email": "first@example.org", "password": PASSWORD}),
        )
        .await;
    assert_problem(login, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    // Bootstrap founds the first organization; its link then opens signup.
    app.bootstrap("owner@example.org", "Acme").await;
    let owner = app.login("owner@example.org").await;
    app.join_via_link(&owner, "first@example.org").await;
}

#[tokio::test]
async fn an_email_has_one_account_whatever_its_letter_case() {
    let app = spawn_app().await;
    app.owner().await;
    let again = app
        .post(
            "/api/signup",
            None,
            json!({"email": "OWNER@example.ORG", "password": PASSWORD}),
        )
        .await;
    assert_problem(again, StatusCode::CONFLICT, "email_taken").await;
}

#[tokio::test]
async fn two_concurrent_signups_with_one_email_give_one_201_and_one_409() {
    let app = spawn_app().await;
    let owner = app.owner().await;
    let token = app.invite_token(&owner).await;
    let body = json!({"email": "twin@example.org", "password": PASSWORD, "token": token});
    let (a, b) = tokio::join!(
        app.post("/api/signup", None, body.clone()),
        app.post("/api/signup", None, body.clone())
    );
    let mut statuses = [a.status().as_u16(), b.status().as_u16()];
    statuses.sort();
    assert_eq!(statuses, [201, 409]);
    let members = json_body(
        app.get(
            &format!(
                "/api/organizations/{}/memberships?search=twin",
                owner.organization_id
            ),
            &owner.access,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(members["count"], 1);
}

#[tokio::test]
async fn a_reset_racing_signups_never_admits_the_old_token_afterwards() {
    let app = spawn_app().await;
    let owner = app.owner().await;
    let old = app.invite_token(&owner).await;
    let signups = (0..4).map(|i| {
        app.post(
            "/api/signup",
            None,
            json!({"email": format!("racer{i}@example.org"), "password": PASSWORD, "token": old}),
        )
    });
    let reset = app.post("/api/invite/reset-token", Some(&owner.access), json!({}));
    let (_, reset) = tokio::join!(futures_util::future::join_all(signups), reset);
    assert_eq!(reset.status(), StatusCode::OK);
    let after = app
        .post(
            "/api/signup",
            None,
            json!({"email": "after@example.org", "password": PASSWORD, "token": old}),
        )
        .await;
    assert_problem(after, StatusCode::NOT_FOUND, "invite_token_unknown").await;
}

#[tokio::test]
async fn signup_names_every_bad_field() {
    let app = spawn_app().await;
    let response = app
        .post(
            "/api/signup",
            None,
            json!({"email": "not-an-email", "password": "short", "first_name": "x".repeat(151)}),
        )
        .await;
    let problem = assert_problem(response, StatusCode::BAD_REQUEST, "validation_failed").await;
    let pointers: Vec<&str> = problem["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["pointer"].as_str())
        .collect();
    assert_eq!(pointers, ["/first_name", "/email", "/password"]);

    let missing = app.post("/api/signup", None, json!({})).await;
    let problem = assert_problem(missing, StatusCode::BAD_REQUEST, "validation_failed").await;
    assert_eq!(problem["errors"][0]["pointer"], "/email");
    assert_eq!(problem["errors"][0]["code"], "required");
}

#[tokio::test]
async fn lookup_describes_a_link_without_consuming_it() {
    let app = spawn_app().await;
    let owner = app.owner().await;
    let token = app.invite_token(&owner).await;
    let response = app
        .request(
            reqwest::Method::GET,
            &format!("/api/invite/lookup?token={token}"),
            None,
            None,
        )
        .await;
    let found = json_body(response, StatusCode::OK).await;
    assert_eq!(found["kind"], "link");
    assert_eq!(found["organization"]["title"], "Acme");
    app.join_via_link(&owner, "after-lookup@example.org").await;

    let unknown = app
        .request(
            reqwest::Method::GET,
            "/api/invite/lookup?token=nope",
            None,
            None,
        )
        .await;
    assert_problem(unknown, StatusCode::NOT_FOUND, "invite_token_unknown").await;
    let missing = app
        .request(reqwest::Method::GET, "/api/invite/lookup", None, None)
        .await;
    assert_problem(missing, StatusCode::BAD_REQUEST, "invalid_query").await;
}

#[tokio::test]
async fn bootstrap_creates_separate_organizations_each_with_its_owner() {
    let app = spawn_app().await;
    let first = app.bootstrap("first@example.org", "First").await;
    let second = app.bootstrap("second@example.org", "Second").await;
    assert_ne!(first, second);

    let login = json_body(
        app.post(
            "/api/auth/login",
            None,
            json!({"email": "second@example.org", "password": PASSWORD}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let access = login["access"].as_str().expect("access");
    let me = app.whoami(access).await;
    assert_eq!(me["organization_membership"]["role"], "OW");
    assert_eq!(me["organization_membership"]["organization_id"], second);
    // Walk-ins join the first organization, the instance's default.
    let walk_in = app
        .signup(json!({"email": "walkin@example.org", "password": PASSWORD}))
        .await;
    assert_eq!(walk_in.organization_id, i64::from(first));
}
