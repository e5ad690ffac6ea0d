//! The pages people meet: `/user/signup/`, `/user/login/`, `/user/password-reset/` and
//! `/organization/`, with their
//! scripts and stylesheet under `/ui/`. Static files embedded in the binary, calling the public
//! API only, under a Content-Security-Policy that admits no script but their own. `SERVE_PAGES`
//! turns them off for API-only deployments.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpResponse, web};

/// Only this site's own files; no inline script or style, no frames, no form posted elsewhere.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self' data:; form-action 'self'; base-uri 'none'; \
     frame-ancestors 'none'";

const LOGIN: &str = include_str!("../ui/login.html");
const PASSWORD_RESET: &str = include_str!("../ui/password-reset.html");
const ORGANIZATION: &str = include_str!("../ui/organization.html");
const SIGNUP: &str = include_str!("../ui/signup.html");

/// Files under `/ui/`, by name.
const ASSETS: &[(&str, &str, &str)] = &[
    (
        "app.css",
        "text/css; charset=utf-8",
        include_str!("../ui/app.css"),
    ),
    (
        "api.js",
        "text/javascript; charset=utf-8",
        include_str!("../ui/api.js"),
    ),
    (
        "login.js",
        "text/javascript; charset=utf-8",
        include_str!("../ui/login.js"),
    ),
    (
        "organization.js",
        "text/javascript; charset=utf-8",
        include_str!("../ui/organization.js"),
    ),
    (
        "password-reset.js",
        "text/javascript; charset=utf-8",
        include_str!("../ui/password-reset.js"),
    ),
    (
        "signup.js",
        "text/javascript; charset=utf-8",
        include_str!("../ui/signup.js"),
    ),
];

/// The signup page as this instance serves it: whether signup without a link is closed is known
/// at start, so the page can say so before anyone types anything.
struct SignupPage(String);

/// Registers the pages and their files.
pub fn configure(config: &mut web::ServiceConfig, signup_closed: bool) {
    let signup = SIGNUP.replace(
        "{{signup_closed}}",
        if signup_closed { "true" } else { "false" },
    );
    config
        .app_data(web::Data::new(SignupPage(signup)))
        .route("/user/signup", web::get().to(signup_page))
        .route("/user/login", web::get().to(|| async { page(LOGIN) }))
        .route(
            "/user/password-reset",
            web::get().to(|| async { page(PASSWORD_RESET) }),
        )
        .route(
            "/organization",
            web::get().to(|| async { page(ORGANIZATION) }),
        )
        .route("/ui/{file}", web::get().to(asset));
}

async fn signup_page(signup: web::Data<SignupPage>) -> HttpResponse {
    page(&signup.0)
}

fn page(html: &str) -> HttpResponse {
    let mut response = HttpResponse::Ok();
    guarded(&mut response);
    // A signup URL carries its token: never cached, never sent on as a referrer.
    response.insert_header((header::CACHE_CONTROL, "no-store"));
    response
        .content_type("text/html; charset=utf-8")
        .body(html.to_owned())
}

async fn asset(file: web::Path<String>) -> HttpResponse {
    match ASSETS.iter().find(|(name, _, _)| *name == file.as_str()) {
        Some((_, content_type, body)) => {
            let mut response = HttpResponse::Ok();
            guarded(&mut response);
            // Revalidated each time: the names carry no version, and a stale script would call
            // the API as an older release did.
            response.insert_header((header::CACHE_CONTROL, "no-cache"));
            response.content_type(*content_type).body(*body)
        }
        None => actix_web::ResponseError::error_response(&crate::error::ApiError::new(
            crate::error::ErrorCode::NotFound,
            "No such file.",
        )),
    }
}

fn guarded(response: &mut actix_web::HttpResponseBuilder) {
    response
        .insert_header((
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(CONTENT_SECURITY_POLICY),
        ))
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::REFERRER_POLICY, "no-referrer"))
        .insert_header((header::X_FRAME_OPTIONS, "DENY"));
}
