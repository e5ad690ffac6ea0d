//! Argon2id password hashing, run on the blocking pool so the async workers keep serving.

use argon2::{Argon2, PasswordHasher, PasswordVerifier};

use crate::error::ApiError;

/// Hashes `password` with Argon2id and a random salt, as a PHC string.
pub async fn hash(password: String) -> Result<String, ApiError> {
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
