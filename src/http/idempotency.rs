//! `Idempotency-Key` for requests that create things or send email: a retry with the same key and
//! body within 24 hours gets the first response again, and nothing is done twice.
//!
//! How it holds across instances and crashes: the key row is inserted in the same transaction as
//! the change, so the change and the key commit together or not at all; a second request with
//! the key waits on the row's unique index, then gets 409 until the first one is answered. The
//! response is stored right after the commit, encrypted with a key derived from the server secret
//! and the request body (responses carry tokens and invite links, never kept readable at rest).

use std::future::{Ready, ready};

use actix_web::http::StatusCode;
use actix_web::{FromRequest, HttpRequest, HttpResponse};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use chrono::Duration as ChronoDuration;
use hmac::{Hmac, Mac};
use rand::Rng;
use sea_orm::ActiveValue::Set;
use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter};
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::db::Db;
use crate::entities::idempotency_key;
use crate::error::{ApiError, ErrorCode, FieldError};
use crate::services::{is_unique_violation, now};
use crate::state::AppState;

pub const HEADER: &str = "idempotency-key";
/// Response header set on a replayed response.
pub const REPLAYED_HEADER: &str = "idempotent-replayed";
/// How long a key is remembered.
pub const RETENTION_HOURS: i64 = 24;

type HmacSha256 = Hmac<Sha256>;

/// The `Idempotency-Key` header: absent, or 1 to 255 visible ASCII characters.
#[derive(Debug)]
pub struct IdempotencyKey(Option<String>);

impl FromRequest for IdempotencyKey {
    type Error = ApiError;
    type Future = Ready<Result<IdempotencyKey, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut actix_web::dev::Payload) -> Self::Future {
        let Some(value) = req.headers().get(HEADER) else {
            return ready(Ok(IdempotencyKey(None)));
        };
        let key = value
            .to_str()
            .ok()
            .filter(|key| (1..=255).contains(&key.len()))
            .filter(|key| key.chars().all(|c| c.is_ascii_graphic()));
        ready(match key {
            Some(key) => Ok(IdempotencyKey(Some(key.to_owned()))),
            None => Err(ApiError::validation(vec![FieldError::new(
                "/headers/idempotency-key",
                "invalid_idempotency_key",
                "1 to 255 visible ASCII characters",
            )])),
        })
    }
}

/// The secret idempotency fingerprints and encryption keys derive from.
#[derive(Clone)]
pub struct IdempotencySecret([u8; 32]);

impl IdempotencySecret {
    /// Derived from the server secret, so every instance agrees and nothing new is configured.
    pub fn derive(server_secret: &[u8]) -> IdempotencySecret {
        IdempotencySecret(mac(server_secret, &[b"org-members idempotency v1"]))
    }
}

impl std::fmt::Debug for IdempotencySecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("IdempotencySecret(<redacted>)")
    }
}

fn mac(key: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut mac = <HmacSha256 as Mac>::new_from_slice(key).expect("HMAC takes keys of any length");
    for part in parts {
        // Length-prefixed, so ("ab", "c") and ("a", "bc") differ.
        mac.update(&(part.len() as u64).to_be_bytes());
        mac.update(part);
    }
    mac.finalize().into_bytes().into()
}

/// What to do with a request that may carry a key.
pub enum Begun {
    /// The first response to this key and body, to send again as is.
    Replay(HttpResponse),
    /// Do the work; hold the claim (if any) in the change's transaction, then `finish`.
    Proceed(Option<Claim>),
}

/// A request's right to be the one that does the work for its key.
#[derive(Clone, Debug)]
pub struct Claim {
    scope: String,
    key: String,
    fingerprint: String,
    response_key: [u8; 32],
}

/// Looks the key up: replays a finished request, refuses a reused key (422) or one whose first
/// request is still running (409), or lets the request proceed. A caller's request is authorized
/// before this (the routes check the role first), so a replay never outlives the right to it.
pub async fn begin(
    state: &AppState,
    key: IdempotencyKey,
    actor_id: Option<i32>,
    operation: &str,
    request: &impl Serialize,
) -> Result<Begun, ApiError> {
    let Some(key) = key.0 else {
        return Ok(Begun::Proceed(None));
    };
    let body = serde_json::to_vec(request).map_err(|e| ApiError::Internal(e.to_string()))?;
    // An anonymous key is scoped by its request's body too: someone who knows or guesses another
    // person's key then cannot block their signup with a request of their own.
    let scope = match actor_id {
        Some(id) => format!("user:{id}"),
        None => format!("anonymous:{}", hex(&Sha256::digest(&body))),
    };
    let digest = Sha256::new()
        .chain_update(scope.as_bytes())
        .chain_update([0])
        .chain_update(key.as_bytes())
        .chain_update([0])
        .chain_update(operation.as_bytes())
        .chain_update([0])
        .chain_update(&body)
        .finalize();
    let secret = &state.idempotency.0;
    let claim = Claim {
        fingerprint: hex(&mac(secret, &[b"fingerprint", &digest])),
        response_key: mac(secret, &[b"response", &digest]),
        scope,
        key,
    };
    let existing = idempotency_key::Entity::find()
        .filter(idempotency_key::Column::Scope.eq(claim.scope.as_str()))
        .filter(idempotency_key::Column::IdempotencyKey.eq(claim.key.as_str()))
        // The read pool: on SQLite a lookup then never waits for the single writer.
        .one(state.db.read())
        .await?;
    let Some(existing) = existing else {
        return Ok(Begun::Proceed(Some(claim)));
    };
    if existing.expires_at <= now() {
        let expired = idempotency_key::Entity::delete_by_id(existing.id);
        state
            .db
            .transaction(async move |txn| expired.exec(txn).await)
            .await?;
        return Ok(Begun::Proceed(Some(claim)));
    }
    if existing.request_fingerprint != claim.fingerprint {
        return Err(ApiError::new(
            ErrorCode::IdempotencyKeyReused,
            "This Idempotency-Key was used for another request; use a new key for a new request.",
        ));
    }
    match (existing.response_status, existing.response_body) {
        (Some(status), Some(sealed)) => claim.replay(status, &sealed).map(Begun::Replay),
        _ => Err(in_use()),
    }
}

fn in_use() -> ApiError {
    ApiError::new(
        ErrorCode::IdempotencyKeyInUse,
        "A request with this Idempotency-Key is still being processed; retry in a moment.",
    )
}

impl Claim {
    /// Takes the key inside the change's transaction; a concurrent request with the same key
    /// waits here and then gets 409.
    pub async fn hold<C: ConnectionTrait>(&self, db: &C) -> Result<(), ApiError> {
        let at = now();
        let inserted = idempotency_key::ActiveModel {
            scope: Set(self.scope.clone()),
            idempotency_key: Set(self.key.clone()),
            request_fingerprint: Set(self.fingerprint.clone()),
            created_at: Set(at),
            expires_at: Set(at + ChronoDuration::hours(RETENTION_HOURS)),
            response_status: Set(None),
            response_body: Set(None),
            ..Default::default()
        }
        .insert(db)
        .await;
        match inserted {
            Ok(_) => Ok(()),
            Err(error) if is_unique_violation(&error) => Err(in_use()),
            Err(error) => Err(error.into()),
        }
    }

    fn replay(&self, status: i32, sealed: &str) -> Result<HttpResponse, ApiError> {
        let status = u16::try_from(status)
            .ok()
            .and_then(|s| StatusCode::from_u16(s).ok())
            .ok_or_else(|| ApiError::Internal("stored status out of range".into()))?;
        let body = self.open(sealed)?;
        Ok(HttpResponse::build(status)
            .content_type("application/json")
            .insert_header((REPLAYED_HEADER, "true"))
            .body(body))
    }

    fn cipher(&self) -> ChaCha20Poly1305 {
        ChaCha20Poly1305::new(&Key::from(self.response_key))
    }

    fn seal(&self, body: &[u8]) -> Result<String, ApiError> {
        let mut nonce = [0u8; 12];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = self
            .cipher()
            .encrypt(&Nonce::from(nonce), body)
            .map_err(|_| ApiError::Internal("could not encrypt a response".into()))?;
        Ok(STANDARD.encode([nonce.as_slice(), &sealed].concat()))
    }

    fn open(&self, sealed: &str) -> Result<Vec<u8>, ApiError> {
        let bytes = STANDARD
            .decode(sealed)
            .map_err(|_| ApiError::Internal("stored response is not base64".into()))?;
        let truncated = || ApiError::Internal("stored response is truncated".into());
        let (nonce, sealed) = bytes.split_at_checked(12).ok_or_else(truncated)?;
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| truncated())?;
        self.cipher()
            .decrypt(&Nonce::from(nonce), sealed)
            .map_err(|_| ApiError::Internal("stored response does not decrypt".into()))
    }
}

/// Sends `body` with `status`, first storing it for replays when the request holds a claim.
/// The change is already committed: when storing fails, the response still goes out (a retry
/// then gets 409 rather than a second change).
pub async fn finish(
    state: &AppState,
    claim: Option<Claim>,
    status: StatusCode,
    body: &impl Serialize,
) -> Result<HttpResponse, ApiError> {
    let json = serde_json::to_vec(body).map_err(|e| ApiError::Internal(e.to_string()))?;
    if let Some(claim) = claim {
        let response = idempotency_key::Entity::update_many()
            .col_expr(
                idempotency_key::Column::ResponseStatus,
                Expr::value(i32::from(status.as_u16())),
            )
            .col_expr(
                idempotency_key::Column::ResponseBody,
                Expr::value(claim.seal(&json)?),
            )
            .filter(idempotency_key::Column::Scope.eq(claim.scope.as_str()))
            .filter(idempotency_key::Column::IdempotencyKey.eq(claim.key.as_str()));
        let stored = state
            .db
            .transaction(async move |txn| response.exec(txn).await)
            .await;
        if let Err(error) = stored {
            log::error!("could not store a response for idempotent replays: {error}");
        }
    }
    Ok(HttpResponse::build(status)
        .content_type("application/json")
        .body(json))
}

/// Forgets keys past their 24 hours; run periodically by every instance (each delete is
/// idempotent, so instances never conflict).
pub async fn purge_expired(db: &Db) -> Result<u64, ApiError> {
    let expired = idempotency_key::Entity::delete_many()
        .filter(idempotency_key::Column::ExpiresAt.lte(now()));
    let deleted = db
        .transaction(async move |txn| expired.exec(txn).await)
        .await?;
    Ok(deleted.rows_affected)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claim(response_key: [u8; 32]) -> Claim {
        Claim {
            scope: "user:1".into(),
            key: "k".into(),
            fingerprint: String::new(),
            response_key,
        }
    }

    #[test]
    fn sealed_responses_open_only_with_their_key() {
        let sealed = claim([7; 32])
            .seal(b"{\"access\":\"secret\"}")
            .expect("sealed");
        assert!(!sealed.contains("secret"));
        assert_eq!(
            claim([7; 32]).open(&sealed).expect("opens"),
            b"{\"access\":\"secret\"}"
        );
        assert!(claim([8; 32]).open(&sealed).is_err());
    }

    #[test]
    fn macs_separate_their_parts() {
        assert_ne!(mac(b"k", &[b"ab", b"c"]), mac(b"k", &[b"a", b"bc"]));
        assert_ne!(mac(b"k", &[b"x"]), mac(b"j", &[b"x"]));
    }
}
