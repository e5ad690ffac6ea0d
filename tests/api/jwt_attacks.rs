//! Tokens an attacker can make: each one refused, with the code a client can act on.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use org_members::settings::Secret;
use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{assert_problem, json_body, spawn_app_with};

const SECRET: &str = "a-test-secret-of-more-than-32-bytes!";

fn signed(claims: &Value, algorithm: Algorithm, secret: &str) -> String {
    jsonwebtoken::encode(
        &Header::new(algorithm),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("signs")
}

fn unsigned(claims: &Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    format!("{header}.{payload}.")
}

/// `claims` with `changes` merged in (a `null` removes the claim).
fn with(claims: &Value, changes: Value) -> Value {
    let mut claims = claims.clone();
    for (key, value) in changes.as_object().expect("object") {
        match value {
            Value::Null => {
                claims.as_object_mut().expect("object").remove(key);
            }
            value => claims[key] = value.clone(),
        }
    }
    claims
}

#[tokio::test]
async fn forged_altered_and_misused_tokens_are_refused() {
    let app = spawn_app_with(|s| s.jwt_secret = Some(Secret::new(SECRET))).await;
    let owner = app.owner().await;
    let annotator = app
        .member_with_role(&owner, "annie@example.org", "AN")
        .await;
    let other_org = app.bootstrap("other@example.org", "Other").await;
    let now = chrono::Utc::now().timestamp();
    let owner_claims = json!({
        "sub": owner.user_id.to_string(), "org": owner.organization_id, "role": "OW",
        "token_type": "access", "iat": now, "exp": now + 600, "jti": "attack",
        "iss": "org-members", "aud": "org-members",
    });
    // The harness can make a token the service accepts: every refusal below is the attack's.
    let genuine = signed(&owner_claims, Algorithm::HS256, SECRET);
    json_body(app.get("/api/invite", &genuine).await, StatusCode::OK).await;

    let mut tampered = genuine.clone();
    let parts: Vec<&str> = genuine.split('.').collect();
    let changed = with(&owner_claims, json!({"sub": annotator.user_id.to_string()}));
    tampered = tampered.replace(parts[1], &URL_SAFE_NO_PAD.encode(changed.to_string()));
    let header_swapped = format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"HS512","typ":"JWT"}"#),
        parts[1],
        parts[2]
    );
    let cases: Vec<(&str, String, &str)> = vec![
        ("alg none", unsigned(&owner_claims), "token_invalid"),
        (
            "alg none, signature kept",
            format!("{}{}", unsigned(&owner_claims), parts[2]),
            "token_invalid",
        ),
        (
            "HS512 with the right key",
            signed(&owner_claims, Algorithm::HS512, SECRET),
            "token_invalid",
        ),
        (
            "HS384 with the right key",
            signed(&owner_claims, Algorithm::HS384, SECRET),
            "token_invalid",
        ),
        ("header says HS512", header_swapped, "token_invalid"),
        (
            "wrong key",
            signed(
                &owner_claims,
                Algorithm::HS256,
                "another-secret-of-more-than-32-bytes",
            ),
            "token_invalid",
        ),
        ("payload swapped, signature kept", tampered, "token_invalid"),
        (
            "expired",
            signed(
                &with(&owner_claims, json!({"exp": now - 60})),
                Algorithm::HS256,
                SECRET,
            ),
            "token_expired",
        ),
        (
            "not yet valid",
            signed(
                &with(&owner_claims, json!({"nbf": now + 600})),
                Algorithm::HS256,
                SECRET,
            ),
            "token_invalid",
        ),
        (
            "wrong issuer",
            signed(
                &with(&owner_claims, json!({"iss": "label-studio"})),
                Algorithm::HS256,
                SECRET,
            ),
            "token_invalid",
        ),
        (
            "wrong audience",
            signed(
                &with(&owner_claims, json!({"aud": "someone-else"})),
                Algorithm::HS256,
                SECRET,
            ),
            "token_invalid",
        ),
        (
            "no expiry",
            signed(
                &with(&owner_claims, json!({"exp": null})),
                Algorithm::HS256,
                SECRET,
            ),
            "token_invalid",
        ),
        (
            "no subject",
            signed(
                &with(&owner_claims, json!({"sub": null})),
                Algorithm::HS256,
                SECRET,
            ),
            "token_invalid",
        ),
        (
            "subject not a number",
            signed(
                &with(&owner_claims, json!({"sub": "1 OR 1=1"})),
                Algorithm::HS256,
                SECRET,
            ),
            "token_invalid",
        ),
        (
            "refresh token as access",
            signed(
                &with(&owner_claims, json!({"token_type": "refresh"})),
                Algorithm::HS256,
                SECRET,
            ),
            "token_invalid",
        ),
        (
            "a user that does not exist",
            signed(
                &with(&owner_claims, json!({"sub": "999999"})),
                Algorithm::HS256,
                SECRET,
            ),
            "token_invalid",
        ),
        ("garbage", "not.a.jwt".to_owned(), "token_invalid"),
        ("huge", "a".repeat(16 * 1024), "token_invalid"),
    ];
    for (name, token, code) in cases {
        for path in ["/api/invite", "/api/current-user/whoami"] {
            let response = app.get(path, &token).await;
            let status = response.status();
            let body = response.text().await.unwrap_or_default();
            let problem: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
            assert!(
                status == StatusCode::UNAUTHORIZED && problem["code"] == code,
                "{name} on {path}: {status} {body}"
            );
        }
    }

    // Validly signed claims grant nothing the database does not: the role claim and the
    // organization claim are not trusted.
    let annotator_claims = with(
        &owner_claims,
        json!({"sub": annotator.user_id.to_string(), "role": "OW"}),
    );
    let self_promoted = signed(&annotator_claims, Algorithm::HS256, SECRET);
    assert_problem(
        app.get("/api/invite", &self_promoted).await,
        StatusCode::FORBIDDEN,
        "permission_denied",
    )
    .await;
    let elsewhere = signed(
        &with(&owner_claims, json!({"org": other_org})),
        Algorithm::HS256,
        SECRET,
    );
    // The organization claim names nothing: the person acts in their active organization.
    let own_link = app.invite_token(&owner).await;
    let link =
        crate::helpers::json_body(app.get("/api/invite", &elsewhere).await, StatusCode::OK).await;
    assert_eq!(
        link["token"],
        own_link.as_str(),
        "never the other organization's link"
    );
    assert_problem(
        app.get(
            &format!("/api/organizations/{other_org}/memberships"),
            &elsewhere,
        )
        .await,
        StatusCode::NOT_FOUND,
        "organization_not_found",
    )
    .await;

    // An access token cannot refresh, and a refresh token signed by someone else cannot either.
    let refresh_with_access = app
        .post("/api/token/refresh", None, json!({"refresh": owner.access}))
        .await;
    assert_problem(
        refresh_with_access,
        StatusCode::UNAUTHORIZED,
        "token_invalid",
    )
    .await;
    let forged_refresh = signed(
        &with(
            &owner_claims,
            json!({"token_type": "refresh", "jti": "never-issued"}),
        ),
        Algorithm::HS256,
        SECRET,
    );
    let refresh_forged = app
        .post(
            "/api/token/refresh",
            None,
            json!({"refresh": forged_refresh}),
        )
        .await;
    assert_eq!(refresh_forged.status(), StatusCode::UNAUTHORIZED);

    // A malformed Authorization header is a 401, never a 400 or 500.
    for header in [
        "Bearer",
        "Bearer  ",
        "Basic b3duZXI6cGFzcw==",
        "Token abc",
        "bearer",
    ] {
        let response = app
            .client
            .request(Method::GET, app.url("/api/invite"))
            .header("Authorization", header)
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{header:?}");
    }
}
