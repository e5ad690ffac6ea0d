//! The ceiling of issue 5: a bare actix-web handler answering `GET /api/invite` with JSON of the
//! same shape as the service's, with no authentication and no database. `bench/compare.sh`
//! measures it beside the service, so the service's share of it (the target for
//! `GET /api/invite` is 30%) is read off the same run, whatever the machine gives that day.
//!
//! With `DATABASE_URL` set to the service's database it also answers `GET /api/invite/one-query`:
//! the same handler, plus the one query no answer to `GET /api/invite` can skip (the organization
//! `ORGANIZATION_ID`, by its key), made as the service makes the query every request makes: on
//! SQLite on the HTTP worker's own thread (`inline_reads`, the worker kept to one CPU as
//! `PIN_THREADS` does), elsewhere sea-orm over sqlx through the worker's own pool. What it loses
//! against the bare handler is the cost of one query in this stack; what the service loses
//! against it is the rest of its work (the access token, the caller's user and role, the joins).
//!
//! `PORT=18384 cargo run --release --example ceiling`

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use actix_web::{App, HttpResponse, HttpServer, get, web};
use org_members::affinity;
use org_members::db::{self, WorkerConnections};
use org_members::entities::organization;
use org_members::inline_reads::InlineReader;
use org_members::settings::Settings;
use sea_orm::{DatabaseConnection, EntityTrait};
use serde::Serialize;

#[derive(Serialize)]
struct InviteLink {
    token: String,
    invite_url: String,
}

fn link(token: String) -> InviteLink {
    InviteLink {
        invite_url: format!("/user/signup/?token={token}"),
        token,
    }
}

#[get("/api/invite")]
async fn invite_link() -> web::Json<InviteLink> {
    // 43 characters, as the service's 256-bit tokens in base64url.
    web::Json(link("x".repeat(43)))
}

/// One worker's read connections and the organization to read.
struct OneQuery {
    readers: DatabaseConnection,
    /// On SQLite, as the service reads its caller: on the worker's thread.
    inline: Option<InlineReader>,
    organization_id: i32,
}

#[get("/api/invite/one-query")]
async fn invite_link_in_one_query(state: web::Data<OneQuery>) -> HttpResponse {
    let token = match &state.inline {
        Some(inline) => inline
            .query_optional(
                "SELECT invite_token FROM organizations WHERE id = ?",
                [state.organization_id],
                |row| row.get::<_, String>(0),
            )
            .map_err(|error| error.to_string()),
        None => organization::Entity::find_by_id(state.organization_id)
            .one(&state.readers)
            .await
            .map(|found| found.map(|organization| organization.invite_token))
            .map_err(|error| error.to_string()),
    };
    match token {
        Ok(Some(token)) => HttpResponse::Ok().json(link(token)),
        Ok(None) => HttpResponse::NotFound().finish(),
        Err(error) => HttpResponse::InternalServerError().body(error),
    }
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    env_logger::Builder::from_env(env_logger::Env::default().default_filter_or("warn")).init();
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|port| port.parse().ok())
        .unwrap_or(18384);
    let with_database = std::env::var_os("DATABASE_URL").is_some();
    let settings = Settings::from_env().map_err(std::io::Error::other)?;
    let organization_id: i32 = std::env::var("ORGANIZATION_ID")
        .ok()
        .and_then(|id| id.parse().ok())
        .unwrap_or(1);
    // One worker per core, as the service runs.
    let workers = affinity::cores();
    let next_worker = Arc::new(AtomicUsize::new(0));
    HttpServer::new(move || {
        let app = App::new().service(invite_link);
        if !with_database {
            return app;
        }
        // As the service's workers start: the same connections, the same CPUs.
        let index = next_worker.fetch_add(1, Ordering::Relaxed);
        let (readers, inline) = match db::worker_connections(&settings, workers, index)
            .expect("a lazy pool opens nothing yet")
        {
            WorkerConnections::SqliteReaders { readers, inline } => (readers, inline),
            WorkerConnections::Pool(readers) => (readers, None),
        };
        app.app_data(web::Data::new(OneQuery {
            readers,
            inline,
            organization_id,
        }))
        .service(invite_link_in_one_query)
    })
    .workers(workers)
    .bind(("127.0.0.1", port))?
    .run()
    .await
}
