//! Every endpoint against every kind of caller: each role of the organization, anonymous,
//! another organization's Owner, a deactivated user and a removed member. A new endpoint
//! without a row here fails `every_documented_endpoint_has_a_row`.

use std::collections::BTreeSet;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{PASSWORD, Session, TestApp, spawn_app};

/// Who may call an endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rule {
    /// No token needed.
    Public,
    /// Any valid token, whatever the membership.
    Authenticated,
    /// Active members (OW, AD, MA, RE, AN) of the organization.
    Active,
    /// Owners, Administrators and Managers.
    Readers,
    /// Owners and Administrators.
    Managers,
    OwnerOnly,
}

/// How the endpoint names its organization: in the path, or through the caller's token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Scope {
    Path,
    Token,
    /// Names a resource of organization A by id or address: another organization's Owner acts
    /// in their own organization, where it does not exist.
    TokenResource(&'static str),
    None,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Caller {
    Anonymous,
    Role(&'static str),
    Outsider,
    Removed,
}

/// What a row needs fresh for each call, so that one caller's success never changes what the
/// next caller meets.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Needs {
    Nothing,
    PendingMember,
    ActiveMember,
    PendingInvitation,
    LinkToken,
    RefreshToken,
    NewAddress,
}

struct Fixture {
    org: i64,
    user_id: i64,
    invitation_id: i64,
    text: String,
}

type Build = fn(&Fixture) -> (String, Option<Value>);

struct Row {
    method: Method,
    path: &'static str,
    rule: Rule,
    scope: Scope,
    needs: Needs,
    /// The status an allowed caller gets.
    allowed: StatusCode,
    build: Build,
}

fn rows() -> Vec<Row> {
    use Needs::*;
    use Rule::*;
    use Scope::{None as NoScope, Path, Token, TokenResource};
    let row = |method, path, rule, scope, needs, allowed, build: Build| Row {
        method,
        path,
        rule,
        scope,
        needs,
        allowed,
        build,
    };
    let ok = StatusCode::OK;
    vec![
        row(Method::GET, "/health", Public, NoScope, Nothing, ok, |_| {
            ("/health".into(), None)
        }),
        row(Method::GET, "/ready", Public, NoScope, Nothing, ok, |_| {
            ("/ready".into(), None)
        }),
        row(
            Method::GET,
            "/version",
            Public,
            NoScope,
            Nothing,
            ok,
            |_| ("/version".into(), None),
        ),
        row(
            Method::POST,
            "/api/signup",
            Public,
            NoScope,
            LinkToken,
            StatusCode::CREATED,
            |f| {
                let email = format!("joiner{}@a.example", uuid::Uuid::new_v4().simple());
                (
                    "/api/signup".into(),
                    Some(json!({"email": email, "password": PASSWORD, "token": f.text})),
                )
            },
        ),
        row(
            Method::POST,
            "/api/auth/login",
            Public,
            NoScope,
            Nothing,
            ok,
            |_| {
                (
                    "/api/auth/login".into(),
                    Some(json!({"email": "owner@a.example", "password": PASSWORD})),
                )
            },
        ),
        row(
            Method::GET,
            "/api/invite/lookup",
            Public,
            NoScope,
            LinkToken,
            ok,
            |f| (format!("/api/invite/lookup?token={}", f.text), None),
        ),
        row(
            Method::POST,
            "/api/token/refresh/",
            Public,
            NoScope,
            RefreshToken,
            ok,
            |f| {
                (
                    "/api/token/refresh".into(),
                    Some(json!({"refresh": f.text})),
                )
            },
        ),
        row(
            Method::POST,
            "/api/token/blacklist/",
            Public,
            NoScope,
            RefreshToken,
            StatusCode::NO_CONTENT,
            |f| {
                (
                    "/api/token/blacklist".into(),
                    Some(json!({"refresh": f.text})),
                )
            },
        ),
        row(
            Method::GET,
            "/api/current-user/whoami",
            Authenticated,
            NoScope,
            Nothing,
            ok,
            |_| ("/api/current-user/whoami".into(), None),
        ),
        row(
            Method::GET,
            "/api/current-user",
            Authenticated,
            NoScope,
            Nothing,
            ok,
            |_| ("/api/current-user".into(), None),
        ),
        row(
            Method::PATCH,
            "/api/current-user",
            Authenticated,
            NoScope,
            Nothing,
            ok,
            |_| {
                (
                    "/api/current-user".into(),
                    Some(json!({"first_name": "Sam"})),
                )
            },
        ),
        row(
            Method::GET,
            "/api/organizations",
            Active,
            Token,
            Nothing,
            ok,
            |_| ("/api/organizations".into(), None),
        ),
        row(
            Method::GET,
            "/api/token/",
            Active,
            Token,
            Nothing,
            ok,
            |_| ("/api/token".into(), None),
        ),
        row(
            Method::POST,
            "/api/token/",
            Active,
            Token,
            Nothing,
            StatusCode::CREATED,
            |_| ("/api/token".into(), Some(json!({}))),
        ),
        // An unknown token: every caller who may try gets past authorization to the lookup.
        row(
            Method::POST,
            "/api/invite/accept",
            Authenticated,
            NoScope,
            Nothing,
            StatusCode::NOT_FOUND,
            |_| {
                (
                    "/api/invite/accept".into(),
                    Some(json!({"token": "unknown-token"})),
                )
            },
        ),
        row(
            Method::GET,
            "/api/organizations/{id}",
            Active,
            Path,
            Nothing,
            ok,
            |f| (format!("/api/organizations/{}", f.org), None),
        ),
        row(
            Method::PATCH,
            "/api/organizations/{id}",
            Managers,
            Path,
            Nothing,
            ok,
            |f| {
                (
                    format!("/api/organizations/{}", f.org),
                    Some(json!({"title": "A"})),
                )
            },
        ),
        row(
            Method::GET,
            "/api/organizations/{id}/memberships",
            Readers,
            Path,
            Nothing,
            ok,
            |f| (format!("/api/organizations/{}/memberships", f.org), None),
        ),
        row(
            Method::GET,
            "/api/organizations/{id}/memberships/{user_id}",
            Readers,
            Path,
            PendingMember,
            ok,
            |f| {
                (
                    format!("/api/organizations/{}/memberships/{}", f.org, f.user_id),
                    None,
                )
            },
        ),
        row(
            Method::PATCH,
            "/api/organizations/{id}/memberships",
            Managers,
            Path,
            PendingMember,
            ok,
            |f| {
                (
                    format!("/api/organizations/{}/memberships", f.org),
                    Some(json!({"user_id": f.user_id, "role": "AN"})),
                )
            },
        ),
        row(
            Method::DELETE,
            "/api/organizations/{id}/memberships/{user_id}",
            Managers,
            Path,
            PendingMember,
            StatusCode::NO_CONTENT,
            |f| {
                (
                    format!("/api/organizations/{}/memberships/{}", f.org, f.user_id),
                    None,
                )
            },
        ),
        row(
            Method::DELETE,
            "/api/organizations/{id}/memberships/{user_id}/sessions",
            Managers,
            Path,
            ActiveMember,
            StatusCode::NO_CONTENT,
            |f| {
                (
                    format!(
                        "/api/organizations/{}/memberships/{}/sessions",
                        f.org, f.user_id
                    ),
                    None,
                )
            },
        ),
        row(
            Method::GET,
            "/api/organizations/{id}/audit-log",
            Managers,
            Path,
            Nothing,
            ok,
            |f| (format!("/api/organizations/{}/audit-log", f.org), None),
        ),
        row(
            Method::GET,
            "/api/invite",
            Managers,
            Token,
            Nothing,
            ok,
            |_| ("/api/invite".into(), None),
        ),
        row(
            Method::POST,
            "/api/invite/reset-token",
            Managers,
            Token,
            Nothing,
            ok,
            |_| ("/api/invite/reset-token".into(), Some(json!({}))),
        ),
        row(
            Method::POST,
            "/api/invite/send-email",
            Managers,
            Token,
            NewAddress,
            ok,
            |f| {
                (
                    "/api/invite/send-email".into(),
                    Some(json!({"emails": [f.text], "role": "AN"})),
                )
            },
        ),
        row(
            Method::GET,
            "/api/invitations",
            Managers,
            Token,
            Nothing,
            ok,
            |_| ("/api/invitations".into(), None),
        ),
        row(
            Method::GET,
            "/api/invitations/{id}",
            Managers,
            TokenResource("invitation_not_found"),
            PendingInvitation,
            ok,
            |f| (format!("/api/invitations/{}", f.invitation_id), None),
        ),
        row(
            Method::POST,
            "/api/invitations/{id}/resend",
            Managers,
            TokenResource("invitation_not_found"),
            PendingInvitation,
            ok,
            |f| {
                (
                    format!("/api/invitations/{}/resend", f.invitation_id),
                    Some(json!({})),
                )
            },
        ),
        row(
            Method::POST,
            "/api/invitations/{id}/revoke",
            Managers,
            TokenResource("invitation_not_found"),
            PendingInvitation,
            ok,
            |f| {
                (
                    format!("/api/invitations/{}/revoke", f.invitation_id),
                    Some(json!({})),
                )
            },
        ),
        row(
            Method::POST,
            "/api/invite/revoke",
            Managers,
            TokenResource("invitation_not_found"),
            PendingInvitation,
            StatusCode::NO_CONTENT,
            |f| ("/api/invite/revoke".into(), Some(json!({"email": f.text}))),
        ),
        row(
            Method::POST,
            "/api/auth/password-reset",
            Public,
            NoScope,
            Nothing,
            StatusCode::ACCEPTED,
            |_| {
                (
                    "/api/auth/password-reset".into(),
                    Some(json!({"email": "nobody@a.example"})),
                )
            },
        ),
        // An unknown reset token: every caller gets past authorization to the lookup.
        row(
            Method::POST,
            "/api/auth/password-reset/confirm",
            Public,
            NoScope,
            Nothing,
            StatusCode::BAD_REQUEST,
            |_| {
                (
                    "/api/auth/password-reset/confirm".into(),
                    Some(json!({"token": "unknown", "password": PASSWORD})),
                )
            },
        ),
        // Last: the Owner's call hands the organization over.
        row(
            Method::POST,
            "/api/organizations/{id}/transfer-ownership",
            OwnerOnly,
            Path,
            ActiveMember,
            ok,
            |f| {
                (
                    format!("/api/organizations/{}/transfer-ownership", f.org),
                    Some(json!({"user_id": f.user_id})),
                )
            },
        ),
        // After everything: a password change ends every session of the caller.
        row(
            Method::POST,
            "/api/current-user/password",
            Authenticated,
            NoScope,
            Nothing,
            ok,
            |_| {
                (
                    "/api/current-user/password".into(),
                    Some(json!({"current_password": PASSWORD, "new_password": PASSWORD})),
                )
            },
        ),
    ]
}

fn may(rule: Rule, role: &str) -> bool {
    match rule {
        Rule::Public | Rule::Authenticated => true,
        Rule::Active => ["OW", "AD", "MA", "RE", "AN"].contains(&role),
        Rule::Readers => ["OW", "AD", "MA"].contains(&role),
        Rule::Managers => ["OW", "AD"].contains(&role),
        Rule::OwnerOnly => role == "OW",
    }
}

/// `None`: allowed. `Some((status, code))`: refused like this.
fn expected_refusal(row: &Row, caller: Caller) -> Option<(StatusCode, &'static str)> {
    let forbidden = StatusCode::FORBIDDEN;
    let missing = StatusCode::NOT_FOUND;
    match (row.rule, caller) {
        (Rule::Public, _) => None,
        (_, Caller::Anonymous) => Some((StatusCode::UNAUTHORIZED, "authentication_required")),
        (Rule::Authenticated, _) => None,
        (_, Caller::Outsider) => match row.scope {
            Scope::Path => Some((missing, "organization_not_found")),
            Scope::TokenResource(code) => Some((missing, code)),
            // Acts in the outsider's own organization (checked for leaks by the caller).
            Scope::Token | Scope::None => None,
        },
        (_, Caller::Removed) => match row.scope {
            Scope::Path => Some((missing, "organization_not_found")),
            _ => Some((forbidden, "membership_removed")),
        },
        (rule, Caller::Role(role)) if may(rule, role) => None,
        (_, Caller::Role("NO")) => Some((forbidden, "account_not_activated")),
        (_, Caller::Role("DI")) => Some((forbidden, "account_deactivated")),
        (_, Caller::Role(_)) => Some((forbidden, "permission_denied")),
    }
}

struct World {
    owner: Session,
    sessions: Vec<(Caller, Option<Session>)>,
}

async fn world(app: &TestApp) -> World {
    let owner = app
        .signup(
            json!({"email": "owner@a.example", "password": PASSWORD, "organization_title": "A"}),
        )
        .await;
    let mut sessions = vec![(Caller::Anonymous, None)];
    app.bootstrap("owner@b.example", "B").await;
    sessions.push((Caller::Outsider, Some(app.login("owner@b.example").await)));
    let removed = app
        .member_with_role(&owner, "removed@a.example", "AN")
        .await;
    let gone = app
        .request(
            Method::DELETE,
            &format!(
                "/api/organizations/{}/memberships/{}",
                owner.organization_id, removed.user_id
            ),
            Some(&owner.access),
            None,
        )
        .await;
    assert_eq!(gone.status(), StatusCode::NO_CONTENT);
    sessions.push((Caller::Removed, Some(removed)));
    for role in ["DI", "NO", "AN", "RE", "MA", "AD"] {
        let email = format!("{}@a.example", role.to_lowercase());
        let session = app.member_with_role(&owner, &email, role).await;
        sessions.push((Caller::Role(role), Some(session)));
    }
    sessions.push((Caller::Role("OW"), Some(owner.clone())));
    World { owner, sessions }
}

async fn fixture(app: &TestApp, world: &World, needs: Needs) -> Fixture {
    let owner = &world.owner;
    let fresh = || format!("f{}@a.example", uuid::Uuid::new_v4().simple());
    let mut fixture = Fixture {
        org: owner.organization_id,
        user_id: 0,
        invitation_id: 0,
        text: String::new(),
    };
    match needs {
        Needs::Nothing => {}
        Needs::PendingMember => fixture.user_id = app.join_via_link(owner, &fresh()).await.user_id,
        Needs::ActiveMember => {
            fixture.user_id = app.member_with_role(owner, &fresh(), "AN").await.user_id;
        }
        Needs::PendingInvitation => {
            let email = fresh();
            let invited = app.invite(owner, json!([email]), "AN").await;
            fixture.invitation_id = invited["results"][0]["invitation_id"].as_i64().expect("id");
            fixture.text = email;
        }
        Needs::LinkToken => fixture.text = app.invite_token(owner).await,
        Needs::RefreshToken => fixture.text = app.login("owner@a.example").await.refresh,
        // Outside organization A's domain: an outsider inviting it is no leak.
        Needs::NewAddress => {
            fixture.text = format!("n{}@elsewhere.example", uuid::Uuid::new_v4().simple());
        }
    }
    fixture
}

#[test]
fn every_documented_endpoint_has_a_row() {
    let spec = serde_json::to_value(org_members::openapi::spec()).expect("spec as JSON");
    let documented: BTreeSet<String> = spec["paths"]
        .as_object()
        .expect("paths")
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .into_iter()
                .flatten()
                .map(move |(method, _)| format!("{} {path}", method.to_uppercase()))
        })
        .collect();
    let covered: BTreeSet<String> = rows()
        .iter()
        .map(|row| format!("{} {}", row.method, row.path))
        .collect();
    let missing: Vec<_> = documented.difference(&covered).collect();
    let stale: Vec<_> = covered.difference(&documented).collect();
    assert!(
        missing.is_empty(),
        "endpoints without an authorization row: {missing:?}"
    );
    assert!(
        stale.is_empty(),
        "rows for endpoints that do not exist: {stale:?}"
    );
}

#[tokio::test]
async fn every_caller_gets_exactly_what_the_rules_allow_on_every_endpoint() {
    let app = spawn_app().await;
    let world = world(&app).await;
    let link_of_a = app.invite_token(&world.owner).await;
    let mut failures = Vec::new();
    for row in rows() {
        for (caller, session) in &world.sessions {
            let fixture = fixture(&app, &world, row.needs).await;
            let (path, body) = (row.build)(&fixture);
            let token = session.as_ref().map(|s| s.access.as_str());
            let response = app.request(row.method.clone(), &path, token, body).await;
            let status = response.status();
            let text = response.text().await.unwrap_or_default();
            let problem: Value = serde_json::from_str(&text).unwrap_or(Value::Null);
            let label = format!("{caller:?} {} {path}", row.method);
            match expected_refusal(&row, *caller) {
                Some((expected, code)) => {
                    if status != expected || problem["code"] != code {
                        failures.push(format!(
                            "{label}: expected {expected} {code}, got {status} {text}"
                        ));
                    }
                }
                None => {
                    if status != row.allowed {
                        failures.push(format!(
                            "{label}: expected {}, got {status} {text}",
                            row.allowed
                        ));
                    }
                    // Another organization's Owner acting in their own organization never sees
                    // organization A's people or link.
                    if *caller == Caller::Outsider
                        && row.rule != Rule::Public
                        && (text.contains("a.example") || text.contains(&link_of_a))
                    {
                        failures.push(format!("{label}: leaked organization A: {text}"));
                    }
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
    crate::helpers::assert_member_counts_match(&app, world.owner.organization_id).await;
}
