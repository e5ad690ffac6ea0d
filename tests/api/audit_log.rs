use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use org_members::services::audit::fingerprint;

use crate::helpers::{PASSWORD, assert_problem, json_body, spawn_app, token_in};

fn actions(page: &Value) -> Vec<String> {
    page["results"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|entry| entry["action"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn every_change_is_recorded_with_actor_before_after_request_and_client() {
    let app = spawn_app().await;
    let owner = app.owner().await;
    let member = app.join_via_link(&owner, "member@example.org").await;
    let reset = app
        .client
        .post(app.url("/api/invite/reset-token"))
        .bearer_auth(&owner.access)
        .header("X-Request-Id", "audit-reset-1")
        .send()
        .await
        .expect("sent");
    assert_eq!(reset.status(), StatusCode::OK);
    app.assign(&owner, member.user_id, "AN").await;
    let invited = app.invite(&owner, json!(["new@example.org"]), "RE").await;
    let invitation_id = invited["results"][0]["invitation_id"].as_i64().expect("id");
    let resent = app
        .post(
            &format!("/api/invitations/{invitation_id}/resend"),
            Some(&owner.access),
            json!({}),
        )
        .await;
    assert_eq!(resent.status(), StatusCode::OK);
    app.invite(&owner, json!(["new@example.org"]), "RE").await;
    let org = owner.organization_id;
    let removed = app
        .request(
            Method::DELETE,
            &format!("/api/organizations/{org}/memberships/{}", member.user_id),
            Some(&owner.access),
            None,
        )
        .await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);

    let log = format!("/api/organizations/{org}/audit-log");
    let page = json_body(app.get(&log, &owner.access).await, StatusCode::OK).await;
    assert_eq!(
        actions(&page),
        [
            "member.removed",
            "invitation.created",
            "invitation.superseded",
            "invitation.resent",
            "invitation.created",
            "member.role_changed",
            "invite_link.reset",
            "member.joined",
            "member.joined",
            "organization.created",
        ]
    );
    assert_eq!(page["count"], 10);
    let role_change = &page["results"][5];
    assert_eq!(role_change["actor"]["id"], owner.user_id);
    assert_eq!(role_change["actor"]["email"], "owner@example.org");
    assert_eq!(
        role_change["target"],
        json!({"type": "user", "id": member.user_id})
    );
    assert_eq!(role_change["before"], json!({"role": "NO"}));
    assert_eq!(role_change["after"], json!({"role": "AN"}));
    assert_eq!(role_change["client_address"], "127.0.0.1");
    assert!(role_change["occurred_at"].is_string());
    let link_reset = &page["results"][6];
    assert_eq!(link_reset["request_id"], "audit-reset-1");
    assert_ne!(link_reset["before"]["link"], link_reset["after"]["link"]);
    assert_eq!(page["results"][1]["after"]["email"], "new@example.org");
    assert_eq!(page["results"][1]["after"]["role"], "RE");
    assert_eq!(page["results"][0]["before"], json!({"role": "AN"}));
    assert!(page["results"][0]["after"].is_null());
    // No secret reaches the log: neither link nor invitation token.
    let text = page.to_string();
    assert!(!text.contains("token="), "{text}");

    let filtered = json_body(
        app.get(
            &format!("{log}?action=member.role_changed,member.removed"),
            &owner.access,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        actions(&filtered),
        ["member.removed", "member.role_changed"]
    );
    let by_target = json_body(
        app.get(
            &format!("{log}?target_type=invitation&target_id={invitation_id}"),
            &owner.access,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        actions(&by_target),
        [
            "invitation.superseded",
            "invitation.resent",
            "invitation.created"
        ]
    );
    let by_actor = json_body(
        app.get(&format!("{log}?actor={}", member.user_id), &owner.access)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(actions(&by_actor), ["member.joined"]);
    let future = json_body(
        app.get(&format!("{log}?since=2999-01-01T00:00:00Z"), &owner.access)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(future["count"], 0);
    let until_past = json_body(
        app.get(&format!("{log}?until=2000-01-01T00:00:00Z"), &owner.access)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(until_past["count"], 0);
    let paged = json_body(
        app.get(&format!("{log}?page_size=4&page=2"), &owner.access)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(actions(&paged), actions(&page)[4..8]);
    assert!(paged["next"].as_str().is_some_and(|n| n.contains("page=3")));
}

#[tokio::test]
async fn refused_accepts_are_recorded_and_nothing_else_is_written() {
    let app = spawn_app().await;
    let owner = app.owner().await;
    let invited = json_body(
        app.post(
            "/api/invite/send-email",
            Some(&owner.access),
            json!({"emails": ["right@example.org"], "role": "AN", "send_email": false}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let url = invited["results"][0]["invite_url"].as_str().expect("url");
    let token = token_in(url);
    let wrong = app
        .post(
            "/api/signup",
            None,
            json!({"email": "wrong@example.org", "password": PASSWORD, "token": token}),
        )
        .await;
    assert_problem(wrong, StatusCode::FORBIDDEN, "invitation_email_mismatch").await;
    // The refusal created no account.
    let login = app
        .post(
            "/api/auth/login",
            None,
            json!({"email": "wrong@example.org", "password": PASSWORD}),
        )
        .await;
    assert_eq!(login.status(), StatusCode::UNAUTHORIZED);
    let existing = app.join_via_link(&owner, "right@example.org").await;
    let already = app
        .post(
            "/api/invite/accept",
            Some(&existing.access),
            json!({"token": token}),
        )
        .await;
    assert_problem(already, StatusCode::CONFLICT, "already_member").await;

    let log = format!(
        "/api/organizations/{}/audit-log?action=invitation.accept_refused",
        owner.organization_id
    );
    let page = json_body(app.get(&log, &owner.access).await, StatusCode::OK).await;
    assert_eq!(page["count"], 2);
    assert_eq!(page["results"][0]["actor"]["id"], existing.user_id);
    assert_eq!(
        page["results"][0]["after"],
        json!({"reason": "already_member"})
    );
    assert!(page["results"][1]["actor"].is_null());
    assert_eq!(
        page["results"][1]["after"],
        json!({"reason": "invitation_email_mismatch"})
    );
    assert_eq!(
        page["results"][1]["target"]["id"],
        invited["results"][0]["invitation_id"]
    );
}

#[tokio::test]
async fn the_audit_log_is_read_only_and_for_managers_of_the_organization() {
    let app = spawn_app().await;
    let owner = app.owner().await;
    let admin = app
        .member_with_role(&owner, "admin@example.org", "AD")
        .await;
    let manager = app
        .member_with_role(&owner, "manager@example.org", "MA")
        .await;
    let outsider_org = app.bootstrap("other@example.org", "Other").await;
    let log = format!("/api/organizations/{}/audit-log", owner.organization_id);

    json_body(app.get(&log, &admin.access).await, StatusCode::OK).await;
    assert_problem(
        app.get(&log, &manager.access).await,
        StatusCode::FORBIDDEN,
        "permission_denied",
    )
    .await;
    assert_problem(
        app.get(
            &format!("/api/organizations/{outsider_org}/audit-log"),
            &owner.access,
        )
        .await,
        StatusCode::NOT_FOUND,
        "organization_not_found",
    )
    .await;
    for method in [Method::POST, Method::PATCH, Method::PUT, Method::DELETE] {
        let response = app
            .request(method, &log, Some(&owner.access), Some(json!({})))
            .await;
        assert_problem(
            response,
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
        )
        .await;
        let entry = app
            .request(
                Method::DELETE,
                &format!("{log}/1"),
                Some(&owner.access),
                None,
            )
            .await;
        assert_eq!(entry.status(), StatusCode::NOT_FOUND);
    }
    let bad = app
        .get(
            &format!("{log}?action=member.deleted&target_id=3"),
            &owner.access,
        )
        .await;
    let problem = assert_problem(bad, StatusCode::BAD_REQUEST, "validation_failed").await;
    let pointers: Vec<&str> = problem["errors"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|e| e["pointer"].as_str())
        .collect();
    assert_eq!(pointers, ["/query/action", "/query/target_id"]);
    let bad_time = app
        .get(&format!("{log}?since=yesterday"), &owner.access)
        .await;
    assert_problem(bad_time, StatusCode::BAD_REQUEST, "invalid_query").await;
}

#[tokio::test]
async fn concurrent_resets_each_record_the_link_they_replaced() {
    let app = spawn_app().await;
    let owner = app.owner().await;
    let admin = app
        .member_with_role(&owner, "admin@example.org", "AD")
        .await;
    let original = app.invite_token(&owner).await;
    // Two managers at once: most requests read a link another reset replaces before they write,
    // and one manager's resets that wait together run in one batch.
    let resets = (0..8).map(|n| {
        let session = if n % 2 == 0 { &owner } else { &admin };
        app.client
            .post(app.url("/api/invite/reset-token"))
            .bearer_auth(&session.access)
            .header("X-Request-Id", format!("concurrent-reset-{n}"))
            .send()
    });
    let mut issued = Vec::new();
    let mut link_of_request = std::collections::HashMap::new();
    for (n, response) in futures_util::future::join_all(resets)
        .await
        .into_iter()
        .enumerate()
    {
        let body = json_body(response.expect("sent"), StatusCode::OK).await;
        let token = body["token"].as_str().expect("token").to_owned();
        link_of_request.insert(format!("concurrent-reset-{n}"), fingerprint(&token));
        issued.push(token);
    }
    let current = app.invite_token(&owner).await;
    assert!(
        issued.contains(&current),
        "the link is one a reset returned"
    );

    let log = format!(
        "/api/organizations/{}/audit-log?action=invite_link.reset",
        owner.organization_id
    );
    let page = json_body(app.get(&log, &owner.access).await, StatusCode::OK).await;
    let entries = page["results"].as_array().expect("results");
    assert_eq!(entries.len(), 8, "one entry per reset");
    // Newest first, each entry's link before is the one after it in time made: one unbroken
    // chain from the original link to the current one.
    for pair in entries.windows(2) {
        assert_eq!(pair[0]["before"]["link"], pair[1]["after"]["link"]);
    }
    assert_eq!(entries[7]["before"]["link"], fingerprint(&original));
    assert_eq!(entries[0]["after"]["link"], fingerprint(&current));
    for entry in entries {
        let request = entry["request_id"].as_str().expect("request id");
        assert_eq!(
            entry["after"]["link"], link_of_request[request],
            "each entry is its own request's, with the link that request returned"
        );
    }
}
