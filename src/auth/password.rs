//! Argon2id password hashing, run on the blocking pool so the async workers keep serving.
//!
//! Each hash takes about 19 MiB and a core for tens of milliseconds, so at most one runs per core:
//! a burst of logins then queues instead of spawning a thread (and 19 MiB) per request, which
//! would buy no throughput and cost hundreds of megabytes.

use std::sync::OnceLock;

use argon2::{Argon2, PasswordHasher, PasswordVerifier};
use tokio::sync::{Semaphore, SemaphorePermit};

use crate::error::ApiError;

async fn hashing_slot() -> Result<SemaphorePermit<'static>, ApiError> {
    static SLOTS: OnceLock<Semaphore> = OnceLock::new();
    let cores = std::thread::available_parallelism().map_or(2, usize::from);
    SLOTS
        .get_or_init(|| Semaphore::new(cores))
        .acquire()
        .await
        .map_err(|_| ApiError::Internal("password hashing slots closed".into()))
}

/// Hashes `password` with Argon2id and a random salt, as a PHC string.
pub async fn hash(password: String) -> Result<String, ApiError> {
    let _slot = hashing_slot().await?;
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|hash| hash.to_string())
            .map_err(|error| ApiError::Internal(format!("password hashing failed: {error}")))
    })
    .await
    .map_err(|error| ApiError::Internal(format!("password hashing task failed: {error}")))?
}

/// Whether `password` matches `phc_hash`. A malformed stored hash never matches.
pub async fn verify(password: String, phc_hash: String) -> Result<bool, ApiError> {
    let _slot = hashing_slot().await?;
    tokio::task::spawn_blocking(move || {
        Argon2::default()
            .verify_password(password.as_bytes(), phc_hash.as_str())
            .is_ok()
    })
    .await
    .map_err(|error| ApiError::Internal(format!("password check task failed: {error}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_hash_verifies_its_password_and_no_other() {
        let hashed = hash("correct horse".into()).await.expect("hashes");
        assert!(hashed.starts_with("$argon2id$"));
        assert!(
            verify("correct horse".into(), hashed.clone())
                .await
                .expect("runs")
        );
        assert!(!verify("wrong horse".into(), hashed).await.expect("runs"));
        assert!(!verify("x".into(), "not a hash".into()).await.expect("runs"));
    }
}
