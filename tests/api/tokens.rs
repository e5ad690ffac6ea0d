use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::helpers::{PASSWORD, after_a_second, assert_problem, json_body, spawn_app};

#[tokio::test]
async fn login_gives_tokens_and_wrong_email_or_password_look_the_same() {
    let app = spawn_app().await;
    app.owner().await;
    let ok = json_body(
        app.post(
            "/api/auth/login",
            None,
            json!({"email": "OWNER@example.org", "password": PASSWORD}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(ok["token_type"], "Bearer");
    assert_eq!(ok["expires_in"], 900);
    let access = ok["access"].as_str().expect("access");
    json_body(app.get("/api/invite", access).await, StatusCode::OK).await;

    let wrong_password = app
        .post(
            "/api/auth/login",
            None,
            json!({"email": "owner@example.org", "password": "wrong password"}),
        )
        .await;
    let mut a = assert_problem(
        wrong_password,
        StatusCode::UNAUTHORIZED,
        "invalid_credentials",
    )
    .await;
    let wrong_email = app
        .post(
            "/api/auth/login",
            None,
            json!({"email": "nobody@example.org", "password": PASSWORD}),
        )
        .await;
    let mut b = assert_problem(wrong_email, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    a["request_id"].take();
    b["request_id"].take();
    assert_eq!(a, b, "nothing tells a wrong email from a wrong password");
}

#[tokio::test]
async fn a_personal_token_refreshes_until_it_is_blacklisted() {
    let app = spawn_app().await;
    let owner = app.owner().await;
    let created = json_body(
        app.post("/api/token/", Some(&owner.access), json!({}))
            .await,
        StatusCode::CREATED,
    )
    .await;
    let token = created["token"].as_str().expect("token").to_owned();
    assert!(created["expires_at"].is_string());

    let listed = json_body(app.get("/api/token/", &owner.access).await, StatusCode::OK).await;
    assert_eq!(listed.as_array().map(Vec::len), Some(1));
    assert!(
        !listed.to_string().contains(&token),
        "secrets are never listed"
    );

    let refreshed = json_body(
        app.post("/api/token/refresh/", None, json!({"refresh": token}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(refreshed["token_type"], "Bearer");
    assert_eq!(
        refreshed["expires_in"], 900,
        "as at login: ACCESS_TOKEN_TTL"
    );
    let access = refreshed["access"].as_str().expect("access");
    let me = app.whoami(access).await;
    assert_eq!(me["id"], owner.user_id);

    let revoked = app
        .post("/api/token/blacklist/", None, json!({"refresh": token}))
        .await;
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    let again = app
        .post("/api/token/blacklist/", None, json!({"refresh": token}))
        .await;
    assert_eq!(
        again.status(),
        StatusCode::NO_CONTENT,
        "revoking twice is fine"
    );
    let refused = app
        .post("/api/token/refresh/", None, json!({"refresh": token}))
        .await;
    assert_problem(refused, StatusCode::UNAUTHORIZED, "token_revoked").await;
    let listed = json_body(app.get("/api/token/", &owner.access).await, StatusCode::OK).await;
    assert_eq!(listed, json!([]));
}

#[tokio::test]
async fn a_revocation_on_one_instance_is_refused_by_another() {
    let a = spawn_app().await;
    let b = crate::helpers::spawn_sibling(&a).await;
    let owner = a.owner().await;
    let revoked = a
        .post(
            "/api/token/blacklist/",
            None,
            json!({"refresh": owner.refresh}),
        )
        .await;
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    let refused = b
        .post(
            "/api/token/refresh/",
            None,
            json!({"refresh": owner.refresh}),
        )
        .await;
    assert_problem(refused, StatusCode::UNAUTHORIZED, "token_revoked").await;
}

#[tokio::test]
async fn access_and_refresh_tokens_are_not_interchangeable() {
    let app = spawn_app().await;
    let owner = app.owner().await;
    let as_access = app.get("/api/invite", &owner.refresh).await;
    assert_problem(as_access, StatusCode::UNAUTHORIZED, "token_invalid").await;
    let as_refresh = app
        .post(
            "/api/token/refresh/",
            None,
            json!({"refresh": owner.access}),
        )
        .await;
    assert_problem(as_refresh, StatusCode::UNAUTHORIZED, "token_invalid").await;
}

#[tokio::test]
async fn missing_or_forged_tokens_get_401_with_a_bearer_challenge() {
    let app = spawn_app().await;
    let owner = app.owner().await;
    let anonymous = app.request(Method::GET, "/api/invite", None, None).await;
    assert_eq!(
        anonymous
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some("Bearer")
    );
    assert_problem(
        anonymous,
        StatusCode::UNAUTHORIZED,
        "authentication_required",
    )
    .await;

    let mut forged = owner.access.clone();
    forged.pop();
    forged.push(if owner.access.ends_with('A') {
        'B'
    } else {
        'A'
    });
    let refused = app.get("/api/invite", &forged).await;
    assert_eq!(
        refused
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok()),
        Some(r#"Bearer error="invalid_token""#),
        "RFC 6750: a presented token that is refused says so"
    );
    assert_problem(refused, StatusCode::UNAUTHORIZED, "token_invalid").await;
    let other_app = spawn_app().await;
    assert_problem(
        other_app.get("/api/invite", &owner.access).await,
        StatusCode::UNAUTHORIZED,
        "token_invalid",
    )
    .await;
}

#[tokio::test]
async fn an_expired_access_token_is_refused_as_expired() {
    let app =
        crate::helpers::spawn_app_with(|s| s.access_token_ttl = std::time::Duration::from_secs(1))
            .await;
    let owner = app.owner().await;
    // Sign a token that expired a minute ago with the app's own key.
    let mut claims = org_members::auth::jwt::new_claims(
        i32::try_from(owner.user_id).expect("id"),
        i32::try_from(owner.organization_id).expect("id"),
        org_members::domain::Role::Owner,
        org_members::auth::TokenType::Access,
        std::time::Duration::from_secs(1),
        "expired".into(),
    );
    claims.exp -= 120;
    claims.iat -= 120;
    let expired = app.state.jwt.sign(&claims).expect("signs");
    assert_problem(
        app.get("/api/invite", &expired).await,
        StatusCode::UNAUTHORIZED,
        "token_expired",
    )
    .await;
}

#[tokio::test]
async fn a_password_hashed_with_older_parameters_logs_in_and_is_hashed_anew() {
    use argon2::{Argon2, PasswordHasher};
    use org_members::entities::user;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, sea_query::Expr};

    let app = spawn_app().await;
    let owner = app.owner().await;
    // The argon2 crate's defaults (19 MiB, 2 passes), which this service used before.
    let older = Argon2::default()
        .hash_password(PASSWORD.as_bytes())
        .expect("hashes")
        .to_string();
    let older_hash = user::Entity::update_many()
        .col_expr(user::Column::PasswordHash, Expr::value(older.clone()))
        .filter(user::Column::Id.eq(i32::try_from(owner.user_id).expect("id")));
    app.state
        .db
        .transaction(async |txn| older_hash.exec(txn).await)
        .await
        .expect("stored");
    let stored = || async {
        user::Entity::find_by_id(i32::try_from(owner.user_id).expect("id"))
            .one(app.state.db.read())
            .await
            .expect("read")
            .expect("user")
            .password_hash
    };

    app.login("owner@example.org").await;
    let renewed = stored().await;
    assert_ne!(renewed, older);
    assert!(renewed.contains("$m=7168,t=5,p=1$"), "{renewed}");
    app.login("owner@example.org").await;
    assert_eq!(stored().await, renewed, "a current hash is kept");
}

/// Many callers at once each get their own user and organization, whether a request's caller
/// is read alone or (PostgreSQL) with others in one query: two Owners of two organizations and
/// pending members, each asking several times at once.
#[tokio::test]
async fn callers_asking_at_once_are_each_told_who_they_are() {
    let app = spawn_app().await;
    let owner = app.owner().await;
    app.bootstrap("other-owner@example.org", "Other").await;
    let other = app.login("other-owner@example.org").await;
    let mut sessions = vec![owner, other];
    for n in 0..4 {
        let email = format!("pending{n}@example.org");
        sessions.push(app.join_via_link(&sessions[0], &email).await);
    }
    let links = futures_util::future::join_all(
        sessions[..2]
            .iter()
            .cycle()
            .take(8)
            .map(|session| app.invite_token(session)),
    );
    let whoamis = futures_util::future::join_all(
        sessions
            .iter()
            .cycle()
            .take(24)
            .map(|session| app.whoami(&session.access)),
    );
    let (links, whoamis) = tokio::join!(links, whoamis);
    let own_link = [
        app.invite_token(&sessions[0]).await,
        app.invite_token(&sessions[1]).await,
    ];
    assert_ne!(own_link[0], own_link[1]);
    for (n, link) in links.iter().enumerate() {
        assert_eq!(
            link,
            &own_link[n % 2],
            "request {n}: its own organization's link"
        );
    }
    for (n, me) in whoamis.iter().enumerate() {
        let session = &sessions[n % sessions.len()];
        assert_eq!(me["id"], session.user_id, "request {n}: its own user");
        assert_eq!(me["active_organization"], session.organization_id);
    }
}

/// A pending or deactivated person reads whoami and signs out; nothing else, and no token that
/// outlives the session.
#[tokio::test]
async fn pending_and_deactivated_people_only_read_whoami_and_sign_out() {
    let app = spawn_app().await;
    let owner = app.owner().await;
    let pending = app.join_via_link(&owner, "pending@example.org").await;
    let deactivated = app.member_with_role(&owner, "gone@example.org", "DI").await;
    for (session, code) in [
        (&pending, "account_not_activated"),
        (&deactivated, "account_deactivated"),
    ] {
        app.whoami(&session.access).await;
        let mint = app
            .post("/api/token/", Some(&session.access), json!({}))
            .await;
        assert_problem(mint, StatusCode::FORBIDDEN, code).await;
        for path in ["/api/token/", "/api/organizations"] {
            assert_problem(
                app.get(path, &session.access).await,
                StatusCode::FORBIDDEN,
                code,
            )
            .await;
        }
        let signed_out = app
            .post(
                "/api/token/blacklist/",
                None,
                json!({"refresh": session.refresh}),
            )
            .await;
        assert_eq!(signed_out.status(), StatusCode::NO_CONTENT);
    }
}

#[tokio::test]
async fn deactivation_and_removal_end_sessions_that_reactivation_does_not_bring_back() {
    let app = spawn_app().await;
    let owner = app.owner().await;
    let org = owner.organization_id;
    let member = app.member_with_role(&owner, "ann@example.org", "AN").await;
    let personal = json_body(
        app.post("/api/token/", Some(&member.access), json!({}))
            .await,
        StatusCode::CREATED,
    )
    .await["token"]
        .as_str()
        .expect("token")
        .to_owned();
    after_a_second().await;
    app.assign(&owner, member.user_id, "DI").await;
    app.assign(&owner, member.user_id, "AN").await;
    assert_problem(
        app.get(&format!("/api/organizations/{org}"), &member.access)
            .await,
        StatusCode::UNAUTHORIZED,
        "token_revoked",
    )
    .await;
    for refresh in [&member.refresh, &personal] {
        let refused = app
            .post("/api/token/refresh/", None, json!({"refresh": refresh}))
            .await;
        assert_problem(refused, StatusCode::UNAUTHORIZED, "token_revoked").await;
    }
    // Signed in again after reactivation, the person works as before.
    let again = app.login("ann@example.org").await;
    json_body(
        app.get(&format!("/api/organizations/{org}"), &again.access)
            .await,
        StatusCode::OK,
    )
    .await;

    app.request(
        Method::DELETE,
        &format!("/api/organizations/{org}/memberships/{}", member.user_id),
        Some(&owner.access),
        None,
    )
    .await;
    let refused = app
        .post(
            "/api/token/refresh/",
            None,
            json!({"refresh": again.refresh}),
        )
        .await;
    assert_problem(refused, StatusCode::UNAUTHORIZED, "token_revoked").await;
}

#[tokio::test]
async fn an_administrator_ends_a_members_sessions_but_not_the_owners() {
    let app = spawn_app().await;
    let owner = app.owner().await;
    let org = owner.organization_id;
    let admin = app
        .member_with_role(&owner, "admin@example.org", "AD")
        .await;
    let member = app.member_with_role(&owner, "ann@example.org", "AN").await;
    let end = |actor: String, user_id: i64| {
        let app = &app;
        async move {
            app.request(
                Method::DELETE,
                &format!("/api/organizations/{org}/memberships/{user_id}/sessions"),
                Some(&actor),
                None,
            )
            .await
        }
    };
    after_a_second().await;
    assert_eq!(
        end(admin.access.clone(), member.user_id).await.status(),
        StatusCode::NO_CONTENT
    );
    assert_problem(
        app.get(&format!("/api/organizations/{org}"), &member.access)
            .await,
        StatusCode::UNAUTHORIZED,
        "token_revoked",
    )
    .await;
    let refused = app
        .post(
            "/api/token/refresh/",
            None,
            json!({"refresh": member.refresh}),
        )
        .await;
    assert_problem(refused, StatusCode::UNAUTHORIZED, "token_revoked").await;
    // The member is still a member: signing in again works.
    let again = app.login("ann@example.org").await;
    json_body(
        app.get(&format!("/api/organizations/{org}"), &again.access)
            .await,
        StatusCode::OK,
    )
    .await;

    assert_problem(
        end(admin.access.clone(), owner.user_id).await,
        StatusCode::FORBIDDEN,
        "owner_protected",
    )
    .await;
    assert_problem(
        end(again.access.clone(), admin.user_id).await,
        StatusCode::FORBIDDEN,
        "permission_denied",
    )
    .await;
    assert_problem(
        end(admin.access.clone(), 999_999).await,
        StatusCode::NOT_FOUND,
        "member_not_found",
    )
    .await;
    let log = json_body(
        app.get(
            &format!("/api/organizations/{org}/audit-log?action=member.sessions_ended"),
            &owner.access,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(log["results"][0]["actor"]["id"], admin.user_id, "{log}");
}
