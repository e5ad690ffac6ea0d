//! Argon2id password hashing, off the async executor on a few dedicated threads.
//!
//! Each hash takes about 19 MiB and a core for tens of milliseconds. One thread per core does them
//! all: a burst of logins queues instead of spawning a blocking thread (and a malloc arena that
//! keeps its 19 MiB) per request, which would buy no throughput and cost hundreds of megabytes.

use std::sync::mpsc::{Receiver, Sender, channel};
use std::sync::{Arc, Mutex, OnceLock};

use argon2::{Argon2, PasswordHasher, PasswordVerifier};

use crate::error::ApiError;

type Job = Box<dyn FnOnce() + Send>;

fn hashing_threads() -> &'static Sender<Job> {
    static JOBS: OnceLock<Sender<Job>> = OnceLock::new();
    JOBS.get_or_init(|| {
        let (sender, receiver) = channel::<Job>();
        let receiver = Arc::new(Mutex::new(receiver));
        let cores = std::thread::available_parallelism().map_or(2, usize::from);
        for n in 0..cores {
            let receiver = Arc::clone(&receiver);
            let spawned = std::thread::Builder::new()
                .name(format!("password-hash-{n}"))
                .spawn(move || run_jobs(&receiver));
            if let Err(error) = spawned {
                log::error!("cannot start a password hashing thread: {error}");
            }
        }
        sender
    })
}

fn run_jobs(receiver: &Mutex<Receiver<Job>>) {
    loop {
        let job = match receiver.lock() {
            Ok(receiver) => receiver.recv(),
            Err(_) => return,
        };
        match job {
            Ok(job) => job(),
            Err(_) => return,
        }
    }
}

/// Runs `work` on a hashing thread and waits for its result without blocking the executor.
async fn on_hashing_thread<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    let (done, result) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        let _ = done.send(work());
    });
    hashing_threads()
        .send(job)
        .map_err(|_| ApiError::Internal("password hashing threads stopped".into()))?;
    result
        .await
        .map_err(|_| ApiError::Internal("password hashing job dropped".into()))
}

/// Hashes `password` with Argon2id and a random salt, as a PHC string.
pub async fn hash(password: String) -> Result<String, ApiError> {
    on_hashing_thread(move || {
        Argon2::default()
            .hash_password(password.as_bytes())
            .map(|hash| hash.to_string())
            .map_err(|error| ApiError::Internal(format!("password hashing failed: {error}")))
    })
    .await?
}

/// Whether `password` matches `phc_hash`. A malformed stored hash never matches.
pub async fn verify(password: String, phc_hash: String) -> Result<bool, ApiError> {
    on_hashing_thread(move || {
        Argon2::default()
            .verify_password(password.as_bytes(), phc_hash.as_str())
            .is_ok()
    })
    .await
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
