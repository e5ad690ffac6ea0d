use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{assert_problem, json_body, spawn_app};

#[tokio::test]
async fn pending_users_are_listed_filtered_searched_and_paginated() {
    let app = spawn_app().await;
    let owner = app.owner().await;
    app.pending_members(&owner, "pending", 5).await;
    let annotator = app
        .member_with_role(&owner, "Annie@Example.org", "AN")
        .await;
    let base = format!("/api/organizations/{}/memberships", owner.organization_id);

    let page1 = json_body(
        app.get(&format!("{base}?role=NO&page_size=2"), &owner.access)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(page1["count"], 5);
    assert_eq!(page1["results"].as_array().map(Vec::len), Some(2));
    assert!(page1["previous"].is_null());
    let next = page1["next"].as_str().expect("next page URL");
    assert!(
        next.contains("role=NO") && next.contains("page_size=2") && next.contains("page=2"),
        "{next}"
    );
    assert!(
        page1["results"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|m| m["role"] == "NO")
    );

    let page3 = json_body(
        app.client
            .get(app.url(&next.replace("page=2", "page=3")))
            .bearer_auth(&owner.access)
            .send()
            .await
            .expect("sent"),
        StatusCode::OK,
    )
    .await;
    assert_eq!(page3["results"].as_array().map(Vec::len), Some(1));
    assert!(page3["next"].is_null());
    assert!(
        page3["previous"]
            .as_str()
            .is_some_and(|p| p.contains("page=2"))
    );

    let past_end = json_body(
        app.get(&format!("{base}?role=NO&page_size=2&page=9"), &owner.access)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(past_end["results"], json!([]));
    assert_eq!(past_end["count"], 5);

    let both = json_body(
        app.get(&format!("{base}?role=NO,AN"), &owner.access).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(both["count"], 6);
    let everyone = json_body(
        app.get(&format!("{base}/"), &owner.access).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(everyone["count"], 7);

    let found = json_body(
        app.get(&format!("{base}?search=annie%40EXAMPLE"), &owner.access)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(found["count"], 1);
    assert_eq!(found["results"][0]["user"]["id"], annotator.user_id);
    assert_eq!(found["results"][0]["user"]["email"], "Annie@Example.org");
    // A search counts all its matches, whichever page it shows: a full one, the last, or one
    // past the end.
    for (page, shown) in [(1, 2), (3, 1), (9, 0)] {
        let body = json_body(
            app.get(
                &format!("{base}?search=PENDING&page_size=2&page={page}"),
                &owner.access,
            )
            .await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(body["count"], 5, "page {page}");
        assert_eq!(
            body["results"].as_array().map(Vec::len),
            Some(shown),
            "page {page}"
        );
    }
    let literal = json_body(
        app.get(&format!("{base}?search=%25"), &owner.access).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(literal["count"], 0, "% is matched literally");

    let by_email = json_body(
        app.get(
            &format!("{base}?ordering=-email&page_size=1"),
            &owner.access,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        by_email["results"][0]["user"]["email"],
        "pending4@example.org"
    );
}

#[tokio::test]
async fn bad_list_queries_are_problems() {
    let app = spawn_app().await;
    let owner = app.owner().await;
    let base = format!("/api/organizations/{}/memberships", owner.organization_id);
    for query in ["role=XX", "page=0", "page_size=1001", "ordering=password"] {
        assert_problem(
            app.get(&format!("{base}?{query}"), &owner.access).await,
            StatusCode::BAD_REQUEST,
            "validation_failed",
        )
        .await;
    }
    assert_problem(
        app.get(&format!("{base}?page=abc"), &owner.access).await,
        StatusCode::BAD_REQUEST,
        "invalid_query",
    )
    .await;
}

#[tokio::test]
async fn assigning_a_role_activates_a_pending_user_at_once() {
    let app = spawn_app().await;
    let owner = app.owner().await;
    let pending = app.join_via_link(&owner, "newbie@example.org").await;
    let member = app.assign(&owner, pending.user_id, "AD").await;
    assert_eq!(member["role"], "AD");
    assert_eq!(member["user"]["id"], pending.user_id);
    // The token issued while pending works with the new role on the very next request.
    json_body(
        app.get("/api/invite", &pending.access).await,
        StatusCode::OK,
    )
    .await;
    let one = json_body(
        app.get(
            &format!(
                "/api/organizations/{}/memberships/{}",
                owner.organization_id, pending.user_id
            ),
            &owner.access,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(one["role"], "AD");
    // The answer to the change is the member as stored, its updated_at among it.
    assert_eq!(one, member);
}

#[tokio::test]
async fn a_demotion_takes_effect_on_the_next_request_with_an_old_token() {
    let app = spawn_app().await;
    let owner = app.owner().await;
    let admin = app
        .member_with_role(&owner, "admin@example.org", "AD")
        .await;
    json_body(app.get("/api/invite", &admin.access).await, StatusCode::OK).await;
    app.assign(&owner, admin.user_id, "AN").await;
    assert_problem(
        app.get("/api/invite", &admin.access).await,
        StatusCode::FORBIDDEN,
        "permission_denied",
    )
    .await;
    app.assign(&owner, admin.user_id, "DI").await;
    let admin = app.login("admin@example.org").await;
    assert_problem(
        app.get("/api/invite", &admin.access).await,
        StatusCode::FORBIDDEN,
        "account_deactivated",
    )
    .await;
    let me = app.whoami(&admin.access).await;
    assert_eq!(me["organization_membership"]["role"], "DI");
}

#[tokio::test]
async fn removed_members_lose_access_but_keep_whoami() {
    let app = spawn_app().await;
    let owner = app.owner().await;
    let admin = app
        .member_with_role(&owner, "admin@example.org", "AD")
        .await;
    let path = format!(
        "/api/organizations/{}/memberships/{}",
        owner.organization_id, admin.user_id
    );
    let removed = app
        .request(Method::DELETE, &path, Some(&owner.access), None)
        .await;
    assert_eq!(removed.status(), StatusCode::NO_CONTENT);
    assert_problem(
        app.get("/api/invite", &admin.access).await,
        StatusCode::FORBIDDEN,
        "membership_removed",
    )
    .await;
    let members = format!("/api/organizations/{}/memberships", owner.organization_id);
    assert_problem(
        app.get(&members, &admin.access).await,
        StatusCode::NOT_FOUND,
        "organization_not_found",
    )
    .await;
    let me = app.whoami(&admin.access).await;
    assert!(me["organization_membership"].is_null());
    assert_problem(
        app.get(&path, &owner.access).await,
        StatusCode::NOT_FOUND,
        "member_not_found",
    )
    .await;

    let own = format!(
        "/api/organizations/{}/memberships/{}",
        owner.organization_id, owner.user_id
    );
    assert_problem(
        app.request(Method::DELETE, &own, Some(&owner.access), None)
            .await,
        StatusCode::FORBIDDEN,
        "own_role_change",
    )
    .await;
}

#[tokio::test]
async fn ownership_transfer_swaps_owner_and_administrator() {
    let app = spawn_app().await;
    let owner = app.owner().await;
    let admin = app
        .member_with_role(&owner, "admin@example.org", "AD")
        .await;
    let pending = app.join_via_link(&owner, "pending@example.org").await;
    let path = format!(
        "/api/organizations/{}/transfer-ownership",
        owner.organization_id
    );

    let refused = app
        .post(
            &path,
            Some(&owner.access),
            json!({"user_id": pending.user_id}),
        )
        .await;
    assert_problem(refused, StatusCode::BAD_REQUEST, "transfer_target_invalid").await;
    let by_admin = app
        .post(
            &path,
            Some(&admin.access),
            json!({"user_id": admin.user_id}),
        )
        .await;
    assert_problem(by_admin, StatusCode::FORBIDDEN, "permission_denied").await;

    let new_owner = json_body(
        app.post(
            &path,
            Some(&owner.access),
            json!({"user_id": admin.user_id}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(new_owner["role"], "OW");
    let old_owner = app.whoami(&owner.access).await;
    assert_eq!(old_owner["organization_membership"]["role"], "AD");
    // The former Owner, now an Administrator, cannot touch the new Owner.
    let touch = app
        .patch(
            &format!("/api/organizations/{}/memberships", owner.organization_id),
            &owner.access,
            json!({"user_id": admin.user_id, "role": "AN"}),
        )
        .await;
    assert_problem(touch, StatusCode::FORBIDDEN, "owner_protected").await;
}

#[tokio::test]
async fn another_organizations_members_do_not_exist_for_you() {
    let app = spawn_app().await;
    let owner = app.owner().await;
    let other_org = app.bootstrap("other@example.org", "Other").await;
    let members = format!("/api/organizations/{}/memberships", other_org);
    assert_problem(
        app.get(&members, &owner.access).await,
        StatusCode::NOT_FOUND,
        "organization_not_found",
    )
    .await;
    let patch = app
        .patch(&members, &owner.access, json!({"user_id": 1, "role": "AN"}))
        .await;
    assert_problem(patch, StatusCode::NOT_FOUND, "organization_not_found").await;
    assert_problem(
        app.get(&format!("/api/organizations/{}", other_org), &owner.access)
            .await,
        StatusCode::NOT_FOUND,
        "organization_not_found",
    )
    .await;
}

#[tokio::test]
async fn role_assignment_names_bad_fields() {
    let app = spawn_app().await;
    let owner = app.owner().await;
    let path = format!("/api/organizations/{}/memberships", owner.organization_id);
    let problem = assert_problem(
        app.patch(&path, &owner.access, json!({"role": "XX"})).await,
        StatusCode::BAD_REQUEST,
        "validation_failed",
    )
    .await;
    assert_eq!(problem["errors"].as_array().map(Vec::len), Some(2));
    assert_problem(
        app.patch(&path, &owner.access, json!({"user_id": 999, "role": "AN"}))
            .await,
        StatusCode::NOT_FOUND,
        "member_not_found",
    )
    .await;
    assert_problem(
        app.patch(
            &path,
            &owner.access,
            json!({"user_id": "one", "role": "AN"}),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "validation_failed",
    )
    .await;
}

#[tokio::test]
async fn a_role_change_on_one_instance_is_enforced_by_another_on_the_next_request() {
    let a = spawn_app().await;
    let b = crate::helpers::spawn_sibling(&a).await;
    let owner = a.owner().await;
    let admin = a.member_with_role(&owner, "admin@example.org", "AD").await;
    json_body(b.get("/api/invite", &admin.access).await, StatusCode::OK).await;
    a.assign(&owner, admin.user_id, "AN").await;
    assert_problem(
        b.get("/api/invite", &admin.access).await,
        StatusCode::FORBIDDEN,
        "permission_denied",
    )
    .await;
}

#[tokio::test]
async fn concurrent_transfers_leave_exactly_one_owner() {
    let app = spawn_app().await;
    let owner = app.owner().await;
    let org = owner.organization_id;
    let mut candidates = Vec::new();
    for i in 0..4 {
        let member = app
            .member_with_role(&owner, &format!("heir{i}@example.org"), "AD")
            .await;
        candidates.push(member.user_id);
    }
    let path = format!("/api/organizations/{org}/transfer-ownership");
    let transfers = candidates
        .iter()
        .map(|id| app.post(&path, Some(&owner.access), json!({"user_id": id})));
    let statuses: Vec<StatusCode> = futures_util::future::join_all(transfers)
        .await
        .iter()
        .map(|r| r.status())
        .collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        1,
        "{statuses:?}"
    );
    // The others were refused: the caller was no longer Owner, or lost the race.
    assert!(
        statuses
            .iter()
            .all(|s| [StatusCode::OK, StatusCode::FORBIDDEN, StatusCode::CONFLICT].contains(s)),
        "{statuses:?}"
    );
    let owners = json_body(
        app.get(
            &format!("/api/organizations/{org}/memberships?role=OW"),
            &owner.access,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(owners["count"], 1, "{owners}");
    assert!(candidates.contains(&owners["results"][0]["user"]["id"].as_i64().unwrap_or(0)));
    crate::helpers::assert_member_counts_match(&app, org).await;
}

/// Two Administrators demoting each other at the same moment: no serial order lets both succeed,
/// so one wins and the other, already demoted, is refused. Without the caller's own membership
/// locked with the target's, each read the other still an Administrator (PostgreSQL and MariaDB
/// let both through most of the time). Fifteen pairs at once, for the race to happen.
#[tokio::test]
async fn two_administrators_demoting_each_other_at_once_cannot_both_win() {
    let app = spawn_app().await;
    let owner = app.owner().await;
    let org = owner.organization_id;
    let path = format!("/api/organizations/{org}/memberships");
    let mut pairs = Vec::new();
    for pair in 0..15 {
        let first = app
            .member_with_role(&owner, &format!("first{pair}@example.org"), "AD")
            .await;
        let second = app
            .member_with_role(&owner, &format!("second{pair}@example.org"), "AD")
            .await;
        pairs.push((first, second));
    }
    let demote = |access: String, whom: i64| {
        let (app, path) = (&app, &path);
        async move {
            app.patch(path, &access, json!({"user_id": whom, "role": "AN"}))
                .await
        }
    };
    let duels = pairs.iter().map(|(first, second)| async {
        let (one, other) = tokio::join!(
            demote(first.access.clone(), second.user_id),
            demote(second.access.clone(), first.user_id)
        );
        (one.status(), other.status())
    });
    let outcomes = futures_util::future::join_all(duels).await;
    for (pair, outcome) in pairs.iter().zip(outcomes) {
        let won = [outcome.0, outcome.1]
            .iter()
            .filter(|status| **status == StatusCode::OK)
            .count();
        assert_eq!(won, 1, "pair {}: {outcome:?}", pair.0.user_id);
        assert!(
            [outcome.0, outcome.1].contains(&StatusCode::FORBIDDEN),
            "the loser is refused as no longer an Administrator: {outcome:?}"
        );
    }
    let administrators = json_body(
        app.get(&format!("{path}?role=AD&page_size=100"), &owner.access)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(administrators["count"], 15, "one of each pair is left");
    crate::helpers::assert_member_counts_match(&app, org).await;
}

/// Role changes sent at once, some refused inside their transaction: a refusal takes nothing of
/// the others with it.
#[tokio::test]
async fn a_burst_of_role_changes_keeps_every_success_and_no_refusal() {
    let app = spawn_app().await;
    let owner = app.owner().await;
    let org = owner.organization_id;
    let pending = app.pending_members(&owner, "burst", 6).await;
    let path = format!("/api/organizations/{org}/memberships");
    // Each activation is followed by a refused change: the Owner's own role, then no such member.
    let bodies = pending.iter().enumerate().flat_map(|(i, id)| {
        let refused = if i % 2 == 0 { owner.user_id } else { 999_999 };
        [
            json!({"user_id": id, "role": "AN"}),
            json!({"user_id": refused, "role": "AN"}),
        ]
    });
    let responses =
        futures_util::future::join_all(bodies.map(|body| app.patch(&path, &owner.access, body)))
            .await;
    for (n, response) in responses.into_iter().enumerate() {
        match (n % 2, n / 2 % 2) {
            (0, _) => assert_eq!(json_body(response, StatusCode::OK).await["role"], "AN"),
            (_, 0) => {
                assert_problem(response, StatusCode::FORBIDDEN, "own_role_change").await;
            }
            _ => {
                assert_problem(response, StatusCode::NOT_FOUND, "member_not_found").await;
            }
        }
    }
    let annotators = json_body(
        app.get(&format!("{path}?role=AN&page_size=100"), &owner.access)
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        member_user_ids(&annotators),
        pending,
        "every activation is stored"
    );
    assert_eq!(
        app.whoami(&owner.access).await["organization_membership"]["role"],
        "OW"
    );
    let log = json_body(
        app.get(
            &format!("/api/organizations/{org}/audit-log?action=member.role_changed"),
            &owner.access,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        log["count"], 6,
        "one entry per activation, none per refusal: {log}"
    );
    crate::helpers::assert_member_counts_match(&app, org).await;
}

#[tokio::test]
async fn a_removal_racing_a_role_change_never_revives_the_member() {
    let app = spawn_app().await;
    let owner = app.owner().await;
    let admin = app
        .member_with_role(&owner, "admin@example.org", "AD")
        .await;
    let org = owner.organization_id;
    for i in 0..5 {
        let target = app
            .join_via_link(&owner, &format!("pending{i}@example.org"))
            .await;
        let member_path = format!("/api/organizations/{org}/memberships/{}", target.user_id);
        let remove = app.request(Method::DELETE, &member_path, Some(&owner.access), None);
        let members_path = format!("/api/organizations/{org}/memberships");
        let assign = app.patch(
            &members_path,
            &admin.access,
            json!({"user_id": target.user_id, "role": "AN"}),
        );
        let (removed, assigned) = tokio::join!(remove, assign);
        assert_eq!(removed.status(), StatusCode::NO_CONTENT);
        assert!(
            [StatusCode::OK, StatusCode::NOT_FOUND, StatusCode::CONFLICT]
                .contains(&assigned.status()),
            "{}",
            assigned.status()
        );
        // Whatever the order, the member is gone and their token does nothing.
        assert_eq!(
            app.get(&member_path, &owner.access).await.status(),
            StatusCode::NOT_FOUND
        );
        assert_problem(
            app.get(&format!("/api/organizations/{org}"), &target.access)
                .await,
            StatusCode::NOT_FOUND,
            "organization_not_found",
        )
        .await;
    }
    crate::helpers::assert_member_counts_match(&app, org).await;
}

/// Search finds a substring of the email or the name in any case, also through the SQLite
/// trigram index (three characters or more) and below it; FTS syntax is plain text.
#[tokio::test]
async fn search_finds_substrings_of_names_and_emails() {
    let app = spawn_app().await;
    let owner = app.owner().await;
    let token = app.invite_token(&owner).await;
    let person = |email: &str, first: &str, last: &str| {
        json!({"email": email, "password": crate::helpers::PASSWORD, "token": token,
               "first_name": first, "last_name": last})
    };
    let ada = app
        .signup(person("ada@example.org", "Ada", "Lovelace-Byron"))
        .await;
    let grace = app
        .signup(person(
            "g.hopper@navy.example",
            "Grace",
            "Hopper \"Amazing\"",
        ))
        .await;
    app.signup(person("someone@example.org", "Alan", "Turing"))
        .await;
    // Each of LOVELACE's trigrams but not the name: the LIKE conditions must drop her.
    app.signup(person("acela@example.org", "Ace", "Lovela-Acela"))
        .await;
    // Another organization's member with a matching name is never found.
    app.bootstrap("elsewhere@example.org", "Elsewhere").await;

    let base = format!("/api/organizations/{}/memberships", owner.organization_id);
    let nobody: &[i64] = &[];
    let cases: [(&str, &[i64], &str); 12] = [
        ("LOVELACE", &[ada.user_id], "last name, any case"),
        (
            "hopper",
            &[grace.user_id],
            "email and last name: one member",
        ),
        ("byron", &[ada.user_id], "inside a hyphenated name"),
        ("race", &[grace.user_id], "inside a first name"),
        ("navy.EXAMPLE", &[grace.user_id], "email domain"),
        ("ada%40example", &[ada.user_id], "email with its @"),
        ("%22amazing%22", &[grace.user_id], "double quotes"),
        (
            "Ho",
            &[grace.user_id],
            "two characters, below the trigram index",
        ),
        ("a%2A", nobody, "* is not a wildcard"),
        ("NEAR%28x", nobody, "FTS syntax"),
        ("elsewhere", nobody, "another organization"),
        (
            "ada lovelace",
            &[ada.user_id],
            "first and last name together",
        ),
    ];
    for (term, expected, why) in cases {
        let body = json_body(
            app.get(&format!("{base}?search={term}"), &owner.access)
                .await,
            StatusCode::OK,
        )
        .await;
        let ids = member_user_ids(&body);
        assert_eq!(ids, expected, "{term}: {why}");
        assert_eq!(body["count"].as_u64(), Some(ids.len() as u64), "{term}");
    }
}

/// Names with letters beyond ASCII are found by their spelling in any case, on every database:
/// both sides are folded the same way, whatever the database's own `lower()` does. (Addresses
/// are ASCII: `domain::email`.)
#[tokio::test]
async fn search_finds_non_ascii_names_and_emails_in_any_case() {
    let app = spawn_app().await;
    let owner = app.owner().await;
    let token = app.invite_token(&owner).await;
    let person = |email: &str, first: &str, last: &str| {
        json!({"email": email, "password": crate::helpers::PASSWORD, "token": token,
               "first_name": first, "last_name": last})
    };
    let emile = app
        .signup(person("Emile.Zola@Example.ORG", "Émile", "Zola"))
        .await;
    let zoe = app
        .signup(person("zoe@example.org", "ZOË", "Ødegård"))
        .await;
    let base = format!("/api/organizations/{}/memberships", owner.organization_id);
    let cases: [(&str, &[i64]); 10] = [
        ("Émile", &[emile.user_id]),
        ("émile", &[emile.user_id]),
        ("ÉMILE", &[emile.user_id]),
        ("Ém", &[emile.user_id]),
        ("émile zola", &[emile.user_id]),
        ("EMILE.zola@example", &[emile.user_id]),
        ("zoë", &[zoe.user_id]),
        ("ZOË", &[zoe.user_id]),
        ("ødegård", &[zoe.user_id]),
        ("ØDEGÅRD", &[zoe.user_id]),
    ];
    for (term, expected) in cases {
        let body = json_body(
            app.get(&format!("{base}?search={term}"), &owner.access)
                .await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(member_user_ids(&body), expected, "{term}");
        assert_eq!(
            body["count"].as_u64(),
            Some(expected.len() as u64),
            "{term}"
        );
    }
}

/// The user ids of a members page, sorted.
fn member_user_ids(page: &Value) -> Vec<i64> {
    let mut ids: Vec<i64> = page["results"]
        .as_array()
        .expect("results")
        .iter()
        .map(|member| member["user"]["id"].as_i64().expect("user id"))
        .collect();
    ids.sort_unstable();
    ids
}

/// A user row another tool wrote, its timestamp in a format this service never writes: the
/// caller is still served, with that instant.
#[tokio::test]
async fn a_caller_whose_row_another_tool_wrote_is_still_served() {
    use sea_orm::{ConnectionTrait, DbBackend, Statement};

    let app = spawn_app().await;
    let owner = app.owner().await;
    let backend = app.state.db.backend();
    let rewritten = match backend {
        // RFC 3339 text, as a script or the sqlite3 shell might write it.
        DbBackend::Sqlite => "2026-12-01T01:02:03Z",
        _ => "2026-12-01 01:02:03",
    };
    let rewrite = Statement::from_sql_and_values(
        backend,
        match backend {
            DbBackend::Postgres => "UPDATE users SET date_joined = $1::timestamp WHERE id = $2",
            _ => "UPDATE users SET date_joined = ? WHERE id = ?",
        },
        [rewritten.into(), owner.user_id.into()],
    );
    app.state
        .db
        .transaction(async |txn| txn.execute_raw(rewrite).await)
        .await
        .expect("rewritten");
    let me = app.whoami(&owner.access).await;
    assert_eq!(me["id"], owner.user_id);
    assert_eq!(me["date_joined"], "2026-12-01T01:02:03Z");
    assert_eq!(me["organization_membership"]["role"], "OW");
}

/// Owners and Administrators rename the organization; the audit log keeps both titles.
#[tokio::test]
async fn an_administrator_renames_the_organization_and_the_log_keeps_both_titles() {
    let app = spawn_app().await;
    let owner = app.owner().await;
    let org = owner.organization_id;
    let admin = app
        .member_with_role(&owner, "admin@example.org", "AD")
        .await;
    let path = format!("/api/organizations/{org}");
    let renamed = json_body(
        app.patch(&path, &admin.access, json!({"title": "  Acme Research "}))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(renamed["title"], "Acme Research");
    for bad in [
        json!({"title": ""}),
        json!({"title": "Pat\u{202e}"}),
        json!({}),
    ] {
        let refused = app.patch(&path, &owner.access, bad.clone()).await;
        assert_problem(refused, StatusCode::BAD_REQUEST, "validation_failed").await;
    }
    let annotator = app.member_with_role(&owner, "ann@example.org", "AN").await;
    let refused = app
        .patch(&path, &annotator.access, json!({"title": "Mine"}))
        .await;
    assert_problem(refused, StatusCode::FORBIDDEN, "permission_denied").await;
    let log = json_body(
        app.get(
            &format!("{path}/audit-log?action=organization.renamed"),
            &owner.access,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(log["results"][0]["before"]["title"], "Acme");
    assert_eq!(log["results"][0]["after"]["title"], "Acme Research");
}

/// One person in two organizations switches back and forth with the same token, acts in each,
/// and the choice holds at the next login; nobody switches into an organization they are not in.
#[tokio::test]
async fn a_person_in_two_organizations_switches_with_the_same_token() {
    let app = spawn_app().await;
    let acme = app.owner().await;
    let other = app.bootstrap("owner@other.example", "Other").await;
    let other_owner = app.login("owner@other.example").await;
    let invited = app
        .post(
            "/api/invite/send-email",
            Some(&other_owner.access),
            json!({"emails": ["owner@example.org"], "role": "AD", "send_email": false}),
        )
        .await;
    let invited = json_body(invited, StatusCode::OK).await;
    let link = invited["results"][0]["invite_url"].as_str().expect("url");
    let token = crate::helpers::token_in(link);
    json_body(
        app.post(
            "/api/invite/accept",
            Some(&acme.access),
            json!({"token": token}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    // Accepting moved the Owner of Acme to Other; the same token now acts there.
    let me = json_body(
        app.get("/api/current-user", &acme.access).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(me["active_organization"], other);
    let switch = |organization: Value| {
        app.patch(
            "/api/current-user",
            &acme.access,
            json!({"active_organization": organization}),
        )
    };
    json_body(switch(json!(acme.organization_id)).await, StatusCode::OK).await;
    let link = json_body(app.get("/api/invite", &acme.access).await, StatusCode::OK).await;
    let acme_link = link["token"].clone();
    json_body(switch(json!(other)).await, StatusCode::OK).await;
    let link = json_body(app.get("/api/invite", &acme.access).await, StatusCode::OK).await;
    assert_ne!(link["token"], acme_link, "acting in Other now");
    json_body(switch(json!(acme.organization_id)).await, StatusCode::OK).await;
    let again = app.login("owner@example.org").await;
    assert_eq!(
        again.organization_id, acme.organization_id,
        "kept for the next login"
    );
    let mine = json_body(
        app.get("/api/organizations", &acme.access).await,
        StatusCode::OK,
    )
    .await;
    let listed: Vec<(Value, Value, Value)> = mine
        .as_array()
        .expect("a list")
        .iter()
        .map(|o| (o["id"].clone(), o["role"].clone(), o["active"].clone()))
        .collect();
    assert_eq!(
        listed,
        vec![
            (json!(acme.organization_id), json!("OW"), json!(true)),
            (json!(other), json!("AD"), json!(false)),
        ]
    );

    let nowhere = app.bootstrap("owner@third.example", "Third").await;
    let refused = switch(json!(nowhere)).await;
    let problem = assert_problem(refused, StatusCode::BAD_REQUEST, "validation_failed").await;
    assert_eq!(problem["errors"][0]["pointer"], "/active_organization");

    let renamed = json_body(
        app.patch(
            "/api/current-user",
            &acme.access,
            json!({"first_name": "Émile", "last_name": "Zola"}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(renamed["first_name"], "Émile");
    let found = json_body(
        app.get(
            &format!(
                "/api/organizations/{}/memberships?search=%C3%89MILE",
                acme.organization_id
            ),
            &acme.access,
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(found["count"], 1, "the search reads the new name");
}
