//! Building the application: database, migrations, JWT keys, the App factory, the HTTP server.

use std::future::ready;
use std::net::TcpListener;
use std::sync::Arc;

use actix_cors::Cors;
use actix_web::dev::{Server, Service};
use actix_web::middleware::{Condition, Logger};
use actix_web::{App, HttpServer, web};
use futures_util::TryFutureExt;
use futures_util::future::Either;
use utoipa_actix_web::AppExt;
use utoipa_swagger_ui::{Config, SwaggerUi};

use crate::auth::JwtKeys;
use crate::db::{self, Db};
use crate::domain::token::random_url_token;
use crate::email::sender::EmailSender;
use crate::http::extractors::{hostile_query, json_config, path_config, query_config};
use crate::http::idempotency::IdempotencySecret;
use crate::http::rate_limit::RateLimits;
use crate::http::request_context;
use crate::maintenance;
use crate::openapi::ServedSpec;
use crate::routes::fallback::{KnownRoutes, no_route};
use crate::settings::Settings;
use crate::state::AppState;

/// A bound, ready-to-run service.
pub struct Application {
    port: u16,
    server: Server,
    state: web::Data<AppState>,
    /// The email sender's and housekeeping's own connections (see `db::connect_background`).
    background: Db,
}

impl Application {
    /// Connects, migrates, resolves the JWT secret and binds `settings.host:settings.port`
    /// (port 0 picks a free port, as tests do).
    pub async fn build(settings: Settings) -> Result<Application, Box<dyn std::error::Error>> {
        let state = prepare_state(settings).await?;
        let (host, port) = (state.settings.host.as_str(), state.settings.port);
        let listener = TcpListener::bind((host, port)).map_err(|error| {
            format!("cannot listen on {host}:{port} (set by HOST and PORT): {error}")
        })?;
        let port = listener.local_addr()?.port();
        let server = server(listener, state.clone())?;
        let background = db::connect_background(&state.settings, &state.db).await?;
        Ok(Application {
            port,
            server,
            state,
            background,
        })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// The shared state, for tests and background tasks.
    pub fn state(&self) -> web::Data<AppState> {
        self.state.clone()
    }

    /// Serves until SIGINT or SIGTERM, then drains requests in flight; the email sender (when
    /// enabled) runs beside the server and finishes the message in flight before exiting.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let maintenance = tokio::spawn(maintenance::run(
            self.state.rate_limits.clone(),
            self.background.clone(),
            stopped.clone(),
        ));
        let sender = if self.state.settings.run_email_sender {
            let sender = EmailSender::new(self.state.settings.clone(), self.background)
                .map_err(std::io::Error::other)?;
            Some(tokio::spawn(sender.run(stopped)))
        } else {
            None
        };
        let served = self.server.await;
        let _ = stop.send(true);
        if let Some(sender) = sender
            && let Err(error) = sender.await
        {
            log::error!("email sender ended abnormally: {error}");
        }
        let _ = maintenance.await;
        served
    }
}

/// Connects, migrates and resolves the JWT secret: everything a request or a command needs.
pub async fn prepare_state(settings: Settings) -> Result<web::Data<AppState>, sea_orm::DbErr> {
    let db = db::connect(&settings).await?;
    db.migrate().await?;
    let secret = jwt_secret(&db, &settings).await?;
    Ok(web::Data::new(AppState {
        db,
        jwt: JwtKeys::new(secret.as_bytes()),
        idempotency: IdempotencySecret::derive(secret.as_bytes()),
        rate_limits: Arc::new(RateLimits::new(&settings)),
        settings,
    }))
}

/// `JWT_SECRET`, or the one kept in the database (generated once, shared by every instance).
async fn jwt_secret(db: &Db, settings: &Settings) -> Result<String, sea_orm::DbErr> {
    if let Some(secret) = &settings.jwt_secret {
        return Ok(secret.expose().to_owned());
    }
    let stored = db::instance_setting(db.read(), db::JWT_SECRET_KEY).await?;
    if stored.is_none() {
        log::warn!(
            "JWT_SECRET is not set: generated one and stored it in the database; set JWT_SECRET to manage it yourself"
        );
    }
    match stored {
        Some(secret) => Ok(secret),
        None => {
            let generated = format!("{}{}", random_url_token(), random_url_token());
            db.transaction(async |txn| {
                db::claim_instance_setting(txn, db::JWT_SECRET_KEY, generated).await
            })
            .await
        }
    }
}

/// Where the OpenAPI document is served, and where the docs UI loads it from.
const SPEC_PATH: &str = "/api/openapi.json";

fn server(listener: TcpListener, state: web::Data<AppState>) -> std::io::Result<Server> {
    let spec = crate::openapi::spec();
    let routes = web::Data::new(KnownRoutes::from_spec(&spec));
    let served_spec = web::Data::new(ServedSpec::new(&spec).map_err(std::io::Error::other)?);
    drop(spec);
    let max_body = state.settings.max_body_bytes;
    let origins = state.settings.cors_allowed_origins.clone();
    let trust_forwarded_for = state.settings.trust_forwarded_for;
    let workers = state.settings.workers;
    let request_timeout = state.settings.request_timeout;
    let serve_pages = state.settings.serve_pages;
    let signup_closed = state.settings.disable_signup_without_link;
    let request_metrics = crate::metrics::http_metrics().map_err(std::io::Error::other)?;
    let metrics_registry = web::Data::new(crate::metrics::HttpRegistry(
        request_metrics.registry.clone(),
    ));
    let server = HttpServer::new(move || {
        App::new()
            .into_utoipa_app()
            .configure(crate::routes::configure)
            .into_app()
            .app_data(state.clone())
            .app_data(routes.clone())
            .app_data(json_config(max_body))
            .app_data(query_config())
            .app_data(path_config())
            .app_data(served_spec.clone())
            .app_data(metrics_registry.clone())
            .configure(|config| {
                if serve_pages {
                    crate::routes::ui::configure(config, signup_closed);
                }
            })
            .route(SPEC_PATH, web::get().to(crate::openapi::serve))
            .route("/metrics", web::get().to(crate::metrics::serve))
            // The docs UI lives under `/docs/`; its bare name is where people type it.
            .route(
                "/docs",
                web::get().to(|| async {
                    actix_web::HttpResponse::PermanentRedirect()
                        .insert_header((actix_web::http::header::LOCATION, "/docs/"))
                        .finish()
                }),
            )
            .service(SwaggerUi::new("/docs/{_:.*}").config(Config::from(SPEC_PATH)))
            .default_service(web::to(no_route))
            .wrap_fn(move |mut req, service| {
                trim_trailing_slash(&mut req);
                match hostile_query(req.query_string()) {
                    Some(refusal) => Either::Left(ready(Ok(req.error_response(refusal)))),
                    None => Either::Right(within_deadline(
                        request_timeout,
                        format!("{} {}", req.method(), req.path()),
                        service
                            .call(req)
                            .map_ok(actix_web::dev::ServiceResponse::map_into_boxed_body),
                    )),
                }
            })
            .wrap_fn(move |req, service| {
                let context = request_context::context_for(&req, trust_forwarded_for);
                request_context::respond(context, service.call(req))
            })
            .wrap(request_metrics.clone())
            .wrap(Condition::new(!origins.is_empty(), cors(&origins)))
            .wrap_fn(|req, service| service.call(req).map_ok(cors_refusal_as_problem))
            // The route pattern, never the query: query strings can carry invite tokens.
            .wrap(
                Logger::new("%{method}xi %{route}xo %s %b %Dms id=%{x-request-id}o")
                    .custom_request_replace("method", |req| req.method().to_string())
                    .custom_response_replace("route", |res| {
                        res.request()
                            .match_pattern()
                            .unwrap_or_else(|| "-".to_owned())
                    }),
            )
    });
    let server = match workers {
        Some(workers) => server.workers(workers),
        None => server,
    };
    Ok(server.listen(listener)?.run())
}

/// Answers 503 `deadline_exceeded` when `handled` is not done within `timeout`: a database that
/// froze or a network that dropped it must not hang clients. The handler is dropped, which rolls
/// back its transaction if it had not committed. The answer goes out as an error carrying its
/// finished response: the request, held by the router, cannot be borrowed to build one.
async fn within_deadline(
    timeout: std::time::Duration,
    request: String,
    handled: impl std::future::Future<
        Output = Result<actix_web::dev::ServiceResponse, actix_web::Error>,
    >,
) -> Result<actix_web::dev::ServiceResponse, actix_web::Error> {
    let Ok(response) = tokio::time::timeout(timeout, handled).await else {
        // The path only: a query string can carry an invite token.
        log::warn!("{request} did not finish within {} s", timeout.as_secs());
        crate::metrics::DEADLINE_EXCEEDED.inc();
        let error = crate::error::ApiError::new(
            crate::error::ErrorCode::DeadlineExceeded,
            format!(
                "The request did not finish within {} s (the database may be unreachable); \
                 it may or may not have taken effect. Try again.",
                timeout.as_secs()
            ),
        );
        let mut response = actix_web::ResponseError::error_response(&error);
        if let Some(id) = request_context::current_id()
            && let Ok(id) = actix_web::http::header::HeaderValue::from_str(&id)
        {
            response.headers_mut().insert(request_context::HEADER, id);
        }
        return Err(
            actix_web::error::InternalError::from_response("deadline exceeded", response).into(),
        );
    };
    response
}

/// actix-cors answers a refused preflight in plain text; clients get a problem document like
/// every other refusal.
fn cors_refusal_as_problem<B: actix_web::body::MessageBody + 'static>(
    response: actix_web::dev::ServiceResponse<B>,
) -> actix_web::dev::ServiceResponse {
    let refusal = response
        .response()
        .error()
        .and_then(|error| error.as_error::<actix_cors::CorsError>())
        .map(ToString::to_string);
    let Some(refusal) = refusal else {
        return response.map_into_boxed_body();
    };
    let problem = crate::error::ApiError::new(
        crate::error::ErrorCode::OriginNotAllowed,
        format!("{refusal}; allowed origins are set by CORS_ALLOWED_ORIGINS."),
    );
    let (request, _) = response.into_parts();
    actix_web::dev::ServiceResponse::new(
        request,
        actix_web::ResponseError::error_response(&problem),
    )
}

/// CORS for browser frontends on the allowed origins. A request from another origin simply gets
/// no CORS headers (the browser refuses it), rather than a non-problem error body.
fn cors(origins: &[String]) -> Cors {
    use actix_web::http::header::{self, HeaderName};
    let mut cors = Cors::default()
        .allowed_methods(["GET", "POST", "PATCH", "DELETE"])
        .allowed_headers([header::AUTHORIZATION, header::CONTENT_TYPE])
        .allowed_header(crate::http::idempotency::HEADER)
        .allowed_header(request_context::HEADER)
        .expose_headers([
            header::WWW_AUTHENTICATE,
            header::RETRY_AFTER,
            request_context::HEADER,
            HeaderName::from_static(crate::http::idempotency::REPLAYED_HEADER),
        ])
        .block_on_origin_mismatch(false)
        .max_age(3600);
    for origin in origins {
        cors = if origin == "*" {
            cors.allow_any_origin()
        } else {
            cors.allowed_origin(origin)
        };
    }
    cors
}

/// Label Studio clients call paths with and without a trailing slash; routes are registered
/// without one, so every path is trimmed before routing (and so is the 404/405 answer). The docs
/// UI is left alone: it relies on its own slashes.
fn trim_trailing_slash(req: &mut actix_web::dev::ServiceRequest) {
    let path = req.path();
    if path.len() <= 1 || !path.ends_with('/') || path.starts_with("/docs") {
        return;
    }
    let trimmed = path.trim_end_matches('/').to_owned();
    let path_and_query = match req.query_string() {
        "" => trimmed,
        query => format!("{trimmed}?{query}"),
    };
    let mut parts = req.head().uri.clone().into_parts();
    let Ok(path_and_query) = path_and_query.parse() else {
        return;
    };
    parts.path_and_query = Some(path_and_query);
    if let Ok(uri) = actix_web::http::Uri::from_parts(parts) {
        req.match_info_mut().get_mut().update(&uri);
        req.head_mut().uri = uri;
    }
}
