//! The ceiling of issue 5: a bare actix-web handler answering `GET /api/invite` with JSON of the
//! same shape as the service's, with no authentication and no database. `bench/compare.sh`
//! measures it beside the service, so the service's share of it (the target for
//! `GET /api/invite` is 30%) is read off the same run, whatever the machine gives that day.
//!
//! `PORT=18384 cargo run --release --example ceiling`

use actix_web::{App, HttpServer, get, web};
use serde::Serialize;

#[derive(Serialize)]
struct InviteLink {
    token: String,
    invite_url: String,
}

#[get("/api/invite")]
async fn invite_link() -> web::Json<InviteLink> {
    // 43 characters, as the service's 256-bit tokens in base64url.
    let token = "x".repeat(43);
    web::Json(InviteLink {
        invite_url: format!("/user/signup/?token={token}"),
        token,
    })
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let port: u16 = std::env::var("PORT")
        .ok()
        .and_then(|port| port.parse().ok())
        .unwrap_or(18384);
    // One worker per core, as the service runs.
    let workers = std::thread::available_parallelism().map_or(1, std::num::NonZeroUsize::get);
    HttpServer::new(|| App::new().service(invite_link))
        .workers(workers)
        .bind(("127.0.0.1", port))?
        .run()
        .await
}
