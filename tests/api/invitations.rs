//! Email invitations: bulk results, signup and accept through them, lifecycle, role ceiling.

use reqwest::{Method, StatusCode};
use sea_orm::{ActiveModelTrait, ActiveValue::Set, EntityTrait};
use serde_json::{Value, json};

use crate::helpers::{
    PASSWORD, Session, TestApp, assert_problem, json_body, spawn_app, spawn_app_with,
};
use crate::smtp::SmtpSink;

async fn invitation(app: &TestApp, actor: &Session, id: &Value) -> Value {
    json_body(
        app.get(&format!("/api/invitations/{id}"), &actor.access)
            .await,
        StatusCode::OK,
    )
    .await
}

/// Invites one address and returns its token, read from the email the sink received.
async fn invited_token(
    app: &TestApp,
    owner: &Session,
    sink: &SmtpSink,
    email: &str,
    role: &str,
) -> String {
    app.invite(owner, json!([email]), role).await;
    app.deliver(sink).await;
    let received = sink.received();
    received
        .iter()
        .rev()
        .find(|m| m.to.iter().any(|to| to.eq_ignore_ascii_case(email)))
        .expect("the invitee got an email")
        .token()
}

#[tokio::test]
async fn a_bulk_invitation_reports_every_address() {
    let app = spawn_app().await;
    let owner = app.owner().await;
    app.invite(&owner, json!("again@example.org"), "AN").await;
    let body = app
        .invite(&owner, json!("new@example.org, NEW@example.org; not-an-email\n again@example.org owner@example.org"), "MA")
        .await;
    let statuses: Vec<&str> = body["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|r| r["status"].as_str().unwrap_or(""))
        .collect();
    assert_eq!(
        statuses,
        [
            "invited",
            "duplicate",
            "invalid_email",
            "reinvited",
            "already_member"
        ]
    );
    assert_eq!(
        body["summary"],
        json!({"invited": 1, "duplicate": 1, "invalid_email": 1, "reinvited": 1, "already_member": 1})
    );
    assert!(body["results"][0]["invitation_id"].is_i64());
    assert!(
        body["results"][0].get("invite_url").is_none(),
        "links are only returned when not emailed"
    );

    let superseded = json_body(
        app.get("/api/invitations?status=superseded", &owner.access)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(superseded["count"], 1);
    assert_eq!(superseded["results"][0]["email"], "again@example.org");
    let pending = json_body(
        app.get("/api/invitations?status=pending&role=MA", &owner.access)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(pending["count"], 2);
    assert_eq!(pending["results"][0]["delivery"]["state"], "queued");
    assert!(
        pending["results"][0]["delivery"]["last_error"]
            .as_str()
            .is_some_and(|e| e.contains("SMTP is not configured"))
    );
}

#[tokio::test]
async fn the_invitee_gets_one_email_and_signs_up_active_with_the_role() {
    let app = spawn_app_with(|s| s.public_url = Some("https://members.example.org".into())).await;
    let sink = SmtpSink::start();
    let owner = app.owner().await;
    let body = app.invite(&owner, json!(["Reva@Example.org"]), "RE").await;
    let report = app.deliver(&sink).await;
    assert_eq!(report.sent, 1);
    assert_eq!(app.deliver(&sink).await.sent, 0, "sent once");

    let received = sink.received();
    assert_eq!(received.len(), 1);
    let email = &received[0];
    assert_eq!(email.to, ["Reva@Example.org"]);
    assert!(email.subject().contains("Acme"), "{}", email.subject());
    let token = email.token();
    assert_eq!(token.len(), 43);
    let link = format!("https://members.example.org/user/signup/?token={token}");
    for part in [email.text(), email.html()] {
        assert!(
            part.contains(&link) && part.contains("Acme") && part.contains("Reviewer"),
            "{part}"
        );
        assert!(
            part.contains("owner@example.org") && part.contains("UTC"),
            "{part}"
        );
    }
    let id = &body["results"][0]["invitation_id"];
    let sent = invitation(&app, &owner, id).await;
    assert_eq!(sent["delivery"]["state"], "sent");
    assert_eq!(sent["delivery"]["attempts"], 1);
    assert!(
        !sent.to_string().contains(&token),
        "the token is never shown again"
    );

    let lookup = json_body(
        app.request(
            Method::GET,
            &format!("/api/invite/lookup?token={token}"),
            None,
            None,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        (lookup["kind"].as_str(), lookup["role"].as_str()),
        (Some("email"), Some("RE"))
    );

    let joined = app
        .signup(json!({"email": "reva@EXAMPLE.org", "password": PASSWORD, "token": token}))
        .await;
    let me = app.whoami(&joined.access).await;
    assert_eq!(
        me["organization_membership"],
        json!({"organization_id": owner.organization_id, "role": "RE", "active": true})
    );
    let accepted = invitation(&app, &owner, id).await;
    assert_eq!(accepted["status"], "accepted");
    assert_eq!(accepted["accepted_by"], joined.user_id);
    let member = json_body(
        app.get(
            &format!(
                "/api/organizations/{}/memberships/{}",
                owner.organization_id, joined.user_id
            ),
            &owner.access,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(member["invited_by"], owner.user_id);

    let reuse = app
        .post(
            "/api/signup",
            None,
            json!({"email": "other@example.org", "password": PASSWORD, "token": token}),
        )
        .await;
    assert_problem(reuse, StatusCode::GONE, "invitation_used").await;
}

#[tokio::test]
async fn another_address_cannot_use_an_invitation_and_does_not_consume_it() {
    let app = spawn_app().await;
    let sink = SmtpSink::start();
    let owner = app.owner().await;
    let token = invited_token(&app, &owner, &sink, "right@example.org", "AN").await;
    let wrong = app
        .post(
            "/api/signup",
            None,
            json!({"email": "wrong@example.org", "password": PASSWORD, "token": token}),
        )
        .await;
    assert_problem(wrong, StatusCode::FORBIDDEN, "invitation_email_mismatch").await;
    let members = json_body(
        app.get(
            &format!("/api/organizations/{}/memberships", owner.organization_id),
            &owner.access,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(members["count"], 1, "nothing was created");
    app.signup(json!({"email": "right@example.org", "password": PASSWORD, "token": token}))
        .await;
}

#[tokio::test]
async fn an_expired_invitation_is_refused_and_never_blocks_a_new_one() {
    let app = spawn_app().await;
    let sink = SmtpSink::start();
    let owner = app.owner().await;
    let token = invited_token(&app, &owner, &sink, "late@example.org", "AN").await;
    // Drive time through the database: the invitation expired a minute ago.
    let row = org_members::entities::invitation::Entity::find()
        .one(app.state.db.read())
        .await
        .expect("query")
        .expect("row");
    let mut row: org_members::entities::invitation::ActiveModel = row.into();
    row.expires_at = Set(org_members::services::now() - chrono::Duration::minutes(1));
    app.state
        .db
        .transaction(async |txn| row.update(txn).await)
        .await
        .expect("update");

    let refused = app
        .post(
            "/api/signup",
            None,
            json!({"email": "late@example.org", "password": PASSWORD, "token": token}),
        )
        .await;
    assert_problem(refused, StatusCode::GONE, "invitation_expired").await;
    let lookup = app
        .request(
            Method::GET,
            &format!("/api/invite/lookup?token={token}"),
            None,
            None,
        )
        .await;
    assert_problem(lookup, StatusCode::GONE, "invitation_expired").await;
    let expired = json_body(
        app.get("/api/invitations?status=expired", &owner.access)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(expired["count"], 1);

    let again = app.invite(&owner, json!(["late@example.org"]), "AN").await;
    assert_eq!(again["results"][0]["status"], "invited");
    let fresh = invited_token(&app, &owner, &sink, "late@example.org", "AN").await;
    app.signup(json!({"email": "late@example.org", "password": PASSWORD, "token": fresh}))
        .await;
}

#[tokio::test]
async fn resend_kills_the_old_link_and_sends_a_new_one() {
    let app = spawn_app().await;
    let sink = SmtpSink::start();
    let owner = app.owner().await;
    let body = app.invite(&owner, json!(["re@example.org"]), "AN").await;
    app.deliver(&sink).await;
    let old = sink.received()[0].token();
    let id = &body["results"][0]["invitation_id"];
    let resent = app
        .request(
            Method::POST,
            &format!("/api/invitations/{id}/resend"),
            Some(&owner.access),
            None,
        )
        .await;
    let resent = json_body(resent, StatusCode::OK).await;
    assert_eq!(resent["delivery"]["state"], "queued");
    assert_eq!(app.deliver(&sink).await.sent, 1);
    let new = sink.received()[1].token();
    assert_ne!(old, new);
    let refused = app
        .post(
            "/api/signup",
            None,
            json!({"email": "re@example.org", "password": PASSWORD, "token": old}),
        )
        .await;
    assert_problem(refused, StatusCode::NOT_FOUND, "invite_token_unknown").await;
    app.signup(json!({"email": "re@example.org", "password": PASSWORD, "token": new}))
        .await;
    let again = app
        .request(
            Method::POST,
            &format!("/api/invitations/{id}/resend"),
            Some(&owner.access),
            None,
        )
        .await;
    assert_problem(again, StatusCode::CONFLICT, "invitation_not_pending").await;
}

#[tokio::test]
async fn revoked_invitations_are_refused_and_their_queued_email_never_leaves() {
    let app = spawn_app().await;
    let sink = SmtpSink::start();
    let owner = app.owner().await;
    let body = app
        .post("/api/invite/send-email", Some(&owner.access), json!({"emails": ["one@example.org", "two@example.org"], "role": "AN", "send_email": false}))
        .await;
    let body = json_body(body, StatusCode::OK).await;
    let link = body["results"][0]["invite_url"]
        .as_str()
        .expect("invite_url without email");
    let token = link.rsplit("token=").next().expect("token").to_owned();
    let id = &body["results"][0]["invitation_id"];
    let revoked = json_body(
        app.post(
            &format!("/api/invitations/{id}/revoke"),
            Some(&owner.access),
            json!({}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(revoked["status"], "revoked");
    assert_eq!(revoked["delivery"]["state"], "not_sent");
    let refused = app
        .post(
            "/api/signup",
            None,
            json!({"email": "one@example.org", "password": PASSWORD, "token": token}),
        )
        .await;
    assert_problem(refused, StatusCode::GONE, "invitation_revoked").await;

    // Label Studio's revoke by address; its queued email is cancelled.
    app.invite(&owner, json!(["three@example.org"]), "AN").await;
    let by_email = app
        .post(
            "/api/invite/revoke",
            Some(&owner.access),
            json!({"email": "THREE@example.org"}),
        )
        .await;
    assert_eq!(by_email.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.deliver(&sink).await.sent, 0);
    assert!(sink.received().is_empty());
    let none = app
        .post(
            "/api/invite/revoke",
            Some(&owner.access),
            json!({"email": "three@example.org"}),
        )
        .await;
    assert_problem(none, StatusCode::NOT_FOUND, "invitation_not_found").await;
}

#[tokio::test]
async fn an_existing_account_accepts_while_signed_in() {
    let app = spawn_app().await;
    let sink = SmtpSink::start();
    let owner = app.owner().await;
    app.bootstrap("elsewhere@example.org", "Elsewhere").await;
    let token = invited_token(&app, &owner, &sink, "Elsewhere@example.org", "MA").await;
    let login = json_body(
        app.post(
            "/api/auth/login",
            None,
            json!({"email": "elsewhere@example.org", "password": PASSWORD}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let access = login["access"].as_str().expect("access");

    let stranger = app.join_via_link(&owner, "stranger@example.org").await;
    let mismatch = app
        .post(
            "/api/invite/accept",
            Some(&stranger.access),
            json!({"token": token}),
        )
        .await;
    assert_problem(mismatch, StatusCode::FORBIDDEN, "invitation_email_mismatch").await;

    let accepted = json_body(
        app.post("/api/invite/accept", Some(access), json!({"token": token}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(accepted["organization_membership"]["role"], "MA");
    let new_access = accepted["access"].as_str().expect("access");
    let members = format!("/api/organizations/{}/memberships", owner.organization_id);
    json_body(app.get(&members, new_access).await, StatusCode::OK).await;
    let twice = app
        .post("/api/invite/accept", Some(access), json!({"token": token}))
        .await;
    assert_problem(twice, StatusCode::GONE, "invitation_used").await;
}

/// An existing account joins another organization through its invite link: pending there, as a
/// new signup through the link would be, while it keeps acting where it was.
#[tokio::test]
async fn an_existing_account_joins_through_a_link_and_waits_as_pending() {
    let app = spawn_app().await;
    let owner = app.owner().await;
    app.bootstrap("elsewhere@example.org", "Elsewhere").await;
    let elsewhere = app.login("elsewhere@example.org").await;
    let link = app.invite_token(&owner).await;
    let signup = app
        .post(
            "/api/signup",
            None,
            json!({"email": "elsewhere@example.org", "password": PASSWORD, "token": link}),
        )
        .await;
    let problem = assert_problem(signup, StatusCode::CONFLICT, "email_taken").await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("/api/invite/accept")
    );

    let joined = json_body(
        app.post(
            "/api/invite/accept",
            Some(&elsewhere.access),
            json!({"token": link}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(joined["organization_membership"]["role"], "NO");
    let pending = json_body(
        app.get(
            &format!(
                "/api/organizations/{}/memberships?role=NO",
                owner.organization_id
            ),
            &owner.access,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        pending["results"][0]["user"]["email"],
        "elsewhere@example.org"
    );
    // Still the Owner of Elsewhere, acting there with the old token.
    json_body(
        app.get("/api/invite", &elsewhere.access).await,
        StatusCode::OK,
    )
    .await;
    let twice = app
        .post(
            "/api/invite/accept",
            Some(&elsewhere.access),
            json!({"token": link}),
        )
        .await;
    assert_problem(twice, StatusCode::CONFLICT, "already_member").await;
    let reset = app
        .post("/api/invite/reset-token", Some(&owner.access), json!({}))
        .await;
    assert_eq!(reset.status(), StatusCode::OK);
    let stale = app
        .post(
            "/api/invite/accept",
            Some(&elsewhere.access),
            json!({"token": link}),
        )
        .await;
    assert_problem(stale, StatusCode::NOT_FOUND, "invite_token_unknown").await;
}

#[tokio::test]
async fn an_invitation_dies_with_its_inviters_right_to_grant_the_role() {
    let app = spawn_app().await;
    let sink = SmtpSink::start();
    let owner = app.owner().await;
    let admin = app
        .member_with_role(&owner, "admin@example.org", "AD")
        .await;
    let token = invited_token(&app, &admin, &sink, "newcomer@example.org", "AD").await;
    app.assign(&owner, admin.user_id, "AN").await;
    let refused = app
        .post(
            "/api/signup",
            None,
            json!({"email": "newcomer@example.org", "password": PASSWORD, "token": token}),
        )
        .await;
    assert_problem(
        refused,
        StatusCode::FORBIDDEN,
        "invitation_inviter_not_allowed",
    )
    .await;
}

#[tokio::test]
async fn only_owners_and_administrators_invite_and_only_to_invitable_roles() {
    let app = spawn_app_with(|s| s.invite_max_addresses = 3).await;
    let owner = app.owner().await;
    let manager = app
        .member_with_role(&owner, "manager@example.org", "MA")
        .await;
    let send = |session: &Session, body: Value| {
        let token = session.access.clone();
        let app = &app;
        async move { app.post("/api/invite/send-email", Some(&token), body).await }
    };
    assert_problem(
        send(&manager, json!({"emails": ["a@x.org"], "role": "AN"})).await,
        StatusCode::FORBIDDEN,
        "permission_denied",
    )
    .await;
    for role in ["OW", "NO", "DI"] {
        assert_problem(
            send(&owner, json!({"emails": ["a@x.org"], "role": role})).await,
            StatusCode::FORBIDDEN,
            "role_not_assignable",
        )
        .await;
    }
    for body in [
        json!({"emails": ["a@x.org"], "role": "XX"}),
        json!({"emails": [], "role": "AN"}),
        json!({"emails": " , ", "role": "AN"}),
        json!({"emails": "a@x.org,b@x.org,c@x.org,d@x.org", "role": "AN"}),
        json!({"emails": ["a@x.org"], "role": "AN", "expires_in_days": 31}),
    ] {
        assert_problem(
            send(&owner, body).await,
            StatusCode::BAD_REQUEST,
            "validation_failed",
        )
        .await;
    }
    let listed = json_body(
        app.get("/api/invitations", &owner.access).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed["count"], 0, "refused requests store nothing");
    let defaulted = json_body(
        send(&owner, json!({"emails": ["a@x.org"]})).await,
        StatusCode::OK,
    )
    .await;
    let id = &defaulted["results"][0]["invitation_id"];
    assert_eq!(invitation(&app, &owner, id).await["role"], "AN");
    assert_problem(
        app.get("/api/invitations", &manager.access).await,
        StatusCode::FORBIDDEN,
        "permission_denied",
    )
    .await;
}

#[tokio::test]
async fn five_hundred_addresses_are_invited_in_one_request() {
    let app = spawn_app().await;
    let owner = app.owner().await;
    let emails: Vec<String> = (0..500).map(|i| format!("person{i}@example.org")).collect();
    let body = app.invite(&owner, json!(emails), "AN").await;
    assert_eq!(body["summary"], json!({"invited": 500}));
    let listed = json_body(
        app.get("/api/invitations?page_size=1", &owner.access).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(listed["count"], 500);
    // Newest first: the last page ends with the first address.
    let last_page = json_body(
        app.get("/api/invitations?page_size=200&page=3", &owner.access)
            .await,
        StatusCode::OK,
    )
    .await;
    let results = last_page["results"].as_array().expect("results");
    assert_eq!(results.len(), 100);
    assert_eq!(results[99]["email"], "person0@example.org");
    assert_eq!(results[0]["email"], "person99@example.org");
}

#[tokio::test]
async fn a_resend_racing_a_revoke_never_mails_the_revoked_invitation() {
    let app = spawn_app().await;
    let sink = SmtpSink::start();
    let owner = app.owner().await;
    let emails: Vec<String> = (0..6).map(|n| format!("race{n}@example.org")).collect();
    let invited = json_body(
        app.post(
            "/api/invite/send-email",
            Some(&owner.access),
            json!({"emails": emails, "role": "AN", "send_email": false}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let ids = invitation_ids(&invited);
    let (app, access) = (&app, owner.access.as_str());
    let races = ids.iter().map(|id| async move {
        let resend = format!("/api/invitations/{id}/resend");
        let revoke = format!("/api/invitations/{id}/revoke");
        tokio::join!(
            app.post(&resend, Some(access), json!({})),
            app.post(&revoke, Some(access), json!({})),
        )
    });
    for (resent, revoked) in futures_util::future::join_all(races).await {
        // Whichever goes first, the revoke wins: a resend after it finds nothing pending.
        let revoked = json_body(revoked, StatusCode::OK).await;
        assert_eq!(revoked["status"], "revoked");
        assert!(
            [StatusCode::OK, StatusCode::CONFLICT].contains(&resent.status()),
            "resend: {}",
            resent.text().await.unwrap_or_default()
        );
    }
    assert_eq!(
        app.deliver(&sink).await.sent,
        0,
        "no revoked invitation is mailed"
    );
    assert!(sink.received().is_empty());
}

#[tokio::test]
async fn a_reinvite_racing_a_revoke_closes_each_invitation_once() {
    let app = spawn_app().await;
    let owner = app.owner().await;
    let emails: Vec<String> = (0..6).map(|n| format!("again{n}@example.org")).collect();
    let first = app.invite(&owner, json!(emails), "AN").await;
    let ids = invitation_ids(&first);
    let (app, access) = (&app, owner.access.as_str());
    let revokes = ids.iter().map(|id| async move {
        let revoke = format!("/api/invitations/{id}/revoke");
        app.post(&revoke, Some(access), json!({})).await
    });
    let (revoked, reinvited) = tokio::join!(
        futures_util::future::join_all(revokes),
        app.post(
            "/api/invite/send-email",
            Some(access),
            json!({"emails": emails, "role": "AN"})
        ),
    );
    json_body(reinvited, StatusCode::OK).await;
    for response in revoked {
        // Revoked first, or found superseded by the new invitation: never a server error.
        assert!(
            [StatusCode::OK, StatusCode::CONFLICT].contains(&response.status()),
            "revoke: {}",
            response.status()
        );
    }
    for id in ids {
        let log = format!(
            "/api/organizations/{}/audit-log?target_type=invitation&target_id={id}",
            owner.organization_id
        );
        let page = json_body(app.get(&log, access).await, StatusCode::OK).await;
        let closings: Vec<&Value> = page["results"]
            .as_array()
            .expect("results")
            .iter()
            .filter(|entry| {
                ["invitation.revoked", "invitation.superseded"]
                    .contains(&entry["action"].as_str().unwrap_or_default())
            })
            .collect();
        assert_eq!(
            closings.len(),
            1,
            "invitation {id} closed once: {closings:?}"
        );
        assert_eq!(closings[0]["before"]["status"], "pending");
    }
}

/// The invitation ids of a bulk invite's response, in the order of its addresses.
fn invitation_ids(response: &Value) -> Vec<i64> {
    response["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|result| result["invitation_id"].as_i64().expect("id"))
        .collect()
}

/// Invitation emails are limited per recipient (resends included) and per organization per
/// day; a refused request stores nothing and says when to retry.
#[tokio::test]
async fn invitation_emails_are_limited_per_recipient_and_per_organization_per_day() {
    let app = spawn_app_with(|settings| {
        settings.emails_per_recipient_per_day = 2;
        settings.emails_per_organization_per_day = 4;
    })
    .await;
    let owner = app.owner().await;
    let first = app.invite(&owner, json!(["a@example.org"]), "AN").await;
    let id = &first["results"][0]["invitation_id"];
    let resend_path = format!("/api/invitations/{id}/resend");
    let resend = || app.request(Method::POST, &resend_path, Some(&owner.access), None);
    json_body(resend().await, StatusCode::OK).await;
    let refused = resend().await;
    let retry_after: u64 = refused
        .headers()
        .get("retry-after")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .expect("Retry-After in seconds");
    assert!((86_000..=86_400).contains(&retry_after), "{retry_after}");
    assert_problem(
        refused,
        StatusCode::TOO_MANY_REQUESTS,
        "email_limit_reached",
    )
    .await;
    // Two of the organization's four are spent; two more pass, one more does not.
    app.invite(&owner, json!(["b@example.org", "c@example.org"]), "AN")
        .await;
    let over = app
        .post(
            "/api/invite/send-email",
            Some(&owner.access),
            json!({"emails": ["d@example.org"], "role": "AN"}),
        )
        .await;
    assert_problem(over, StatusCode::TOO_MANY_REQUESTS, "email_limit_reached").await;
    let listed = json_body(
        app.get("/api/invitations?status=pending", &owner.access)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        listed["count"], 3,
        "the refused request stored nothing: {listed}"
    );
    // A link handed out without an email is not an email.
    let unsent = app
        .post(
            "/api/invite/send-email",
            Some(&owner.access),
            json!({"emails": ["d@example.org"], "role": "AN", "send_email": false}),
        )
        .await;
    json_body(unsent, StatusCode::OK).await;
}
