//! `GET /metrics` in Prometheus' text format, for operators: requests by route pattern, method and
//! status with their latency (`actix-web-prom`), the database pool, the outbox, email sends, rate
//! limit refusals and the password-hashing queue. The endpoint exists only when `METRICS_TOKEN`
//! is set, and a scraper sends that token as a bearer token.
//!
//! Counters of work done outside requests live in the process's default registry; the pool and
//! outbox are read at each scrape.

use std::sync::LazyLock;

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use actix_web_prom::{PrometheusMetrics, PrometheusMetricsBuilder};
use chrono::NaiveDateTime;
use prometheus::{
    Encoder, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry, TextEncoder,
};
use sea_orm::{ColumnTrait, EntityTrait, FromQueryResult, QuerySelect};
use sha2::{Digest, Sha256};

use crate::email::outbox::QUEUED;
use crate::entities::email_outbox;
use crate::entities::timestamp::Timestamp;
use crate::error::{ApiError, ErrorCode};
use crate::state::AppState;

const NAMESPACE: &str = "org_members";

/// Emails the SMTP server accepted.
pub static EMAILS_SENT: LazyLock<IntCounter> = LazyLock::new(|| {
    registered(counter(
        "emails_sent_total",
        "Emails the SMTP server accepted",
    ))
});

/// Send attempts that failed, `outcome` saying whether the message will be retried.
pub static EMAIL_FAILURES: LazyLock<IntCounterVec> = LazyLock::new(|| {
    registered(
        IntCounterVec::new(
            opts("email_send_failures_total", "Send attempts that failed"),
            &["outcome"],
        )
        .expect("valid metric"),
    )
});

/// Requests refused by a rate limit, by limit.
pub static RATE_LIMITED: LazyLock<IntCounterVec> = LazyLock::new(|| {
    registered(
        IntCounterVec::new(
            opts("rate_limited_total", "Requests refused by a rate limit"),
            &["limit"],
        )
        .expect("valid metric"),
    )
});

/// Password hashes waiting for a hashing thread.
pub static HASH_QUEUE_DEPTH: LazyLock<IntGauge> = LazyLock::new(|| {
    registered(
        IntGauge::with_opts(opts(
            "password_hash_queue_depth",
            "Password hashes waiting for a hashing thread",
        ))
        .expect("valid metric"),
    )
});

/// Requests answered 503 `deadline_exceeded`. They end before the request metrics see an answer,
/// so they are counted here.
pub static DEADLINE_EXCEEDED: LazyLock<IntCounter> = LazyLock::new(|| {
    registered(counter(
        "request_deadline_exceeded_total",
        "Requests answered 503 because they did not finish within REQUEST_TIMEOUT",
    ))
});

/// Requests answered 503 because the database could not be reached or a connection could not be
/// had in time (pool waits that failed).
pub static DATABASE_UNAVAILABLE: LazyLock<IntCounter> = LazyLock::new(|| {
    registered(counter(
        "database_unavailable_total",
        "Requests answered 503 because the database or a pooled connection could not be had",
    ))
});

fn opts(name: &str, help: &str) -> Opts {
    Opts::new(name, help).namespace(NAMESPACE)
}

fn counter(name: &str, help: &str) -> IntCounter {
    IntCounter::with_opts(opts(name, help)).expect("valid metric")
}

fn registered<M: prometheus::core::Collector + Clone + 'static>(metric: M) -> M {
    if let Err(error) = prometheus::register(Box::new(metric.clone())) {
        log::warn!("metric not registered: {error}");
    }
    metric
}

/// The request metrics middleware of one server; its registry is scraped with the rest.
pub fn http_metrics() -> Result<PrometheusMetrics, String> {
    PrometheusMetricsBuilder::new(NAMESPACE)
        // Unknown paths are one series, not one per path a scanner tries.
        .mask_unmatched_patterns("unmatched")
        .build()
        .map_err(|error| format!("request metrics: {error}"))
}

/// The registry of the request metrics, for the scrape handler.
pub struct HttpRegistry(pub Registry);

/// `GET /metrics`.
pub async fn serve(
    state: web::Data<AppState>,
    http: web::Data<HttpRegistry>,
    request: HttpRequest,
) -> Result<HttpResponse, ApiError> {
    let Some(token) = &state.settings.metrics_token else {
        return Err(ApiError::new(ErrorCode::NotFound, "No such resource."));
    };
    let presented = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "))
        .unwrap_or_default();
    // Compared as digests: equal lengths, and no early exit that times the token out.
    if Sha256::digest(presented.as_bytes()) != Sha256::digest(token.expose().as_bytes()) {
        return Err(ApiError::new(
            ErrorCode::AuthenticationRequired,
            "Send the metrics token as `Authorization: Bearer <token>`.",
        ));
    }
    let scraped = Registry::new();
    record_pool(&scraped, &state)?;
    record_outbox(&scraped, &state).await?;
    let mut families = http.0.gather();
    families.extend(prometheus::gather());
    families.extend(scraped.gather());
    let mut body = Vec::new();
    TextEncoder::new()
        .encode(&families, &mut body)
        .map_err(|error| ApiError::Internal(format!("metrics encoding: {error}")))?;
    Ok(HttpResponse::Ok()
        .content_type(TextEncoder::new().format_type())
        .body(body))
}

fn gauge_vec(
    registry: &Registry,
    name: &str,
    help: &str,
    label: &str,
) -> Result<IntGaugeVec, ApiError> {
    let gauges = IntGaugeVec::new(opts(name, help), &[label])
        .map_err(|error| ApiError::Internal(error.to_string()))?;
    registry
        .register(Box::new(gauges.clone()))
        .map_err(|error| ApiError::Internal(error.to_string()))?;
    Ok(gauges)
}

fn record_pool(registry: &Registry, state: &AppState) -> Result<(), ApiError> {
    let gauges = gauge_vec(
        registry,
        "db_pool_connections",
        "Database connections by state (`max` is the pool's size)",
        "state",
    )?;
    let pool = state.db.pool_status();
    gauges.with_label_values(&["in_use"]).set(pool.in_use);
    gauges.with_label_values(&["idle"]).set(pool.idle);
    gauges.with_label_values(&["max"]).set(pool.max);
    Ok(())
}

#[derive(FromQueryResult)]
struct OutboxState {
    status: String,
    count: i64,
    oldest: Option<Timestamp>,
}

async fn record_outbox(registry: &Registry, state: &AppState) -> Result<(), ApiError> {
    let states = email_outbox::Entity::find()
        .select_only()
        .column(email_outbox::Column::Status)
        .column_as(email_outbox::Column::Id.count(), "count")
        .column_as(email_outbox::Column::CreatedAt.min(), "oldest")
        .group_by(email_outbox::Column::Status)
        .into_model::<OutboxState>()
        .all(state.db.read())
        .await?;
    let messages = gauge_vec(
        registry,
        "outbox_messages",
        "Outbox messages by state",
        "state",
    )?;
    let oldest = IntGauge::with_opts(opts(
        "outbox_oldest_queued_age_seconds",
        "Age of the oldest message waiting to be sent (0 when none waits)",
    ))
    .map_err(|error| ApiError::Internal(error.to_string()))?;
    registry
        .register(Box::new(oldest.clone()))
        .map_err(|error| ApiError::Internal(error.to_string()))?;
    for state_row in states {
        messages
            .with_label_values(&[state_row.status.as_str()])
            .set(state_row.count);
        if state_row.status == QUEUED
            && let Some(Timestamp(created)) = state_row.oldest
        {
            oldest.set(age_seconds(created));
        }
    }
    Ok(())
}

fn age_seconds(since: NaiveDateTime) -> i64 {
    (crate::services::now() - since).num_seconds().max(0)
}
