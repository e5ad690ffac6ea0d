//! Argon2id password hashing, off the async executor on a few dedicated threads.
//!
//! Each hash takes 7 MiB and a core for tens of milliseconds. One thread per core does them all,
//! each in the same 7 MiB every time: a burst of logins queues instead of spawning a blocking
//! thread (and a malloc arena that keeps its memory) per request, which would buy no throughput
//! and cost tens of megabytes. The queue is bounded: past a second or so of work a login is
//! answered 503 at once rather than after the flood, and a job whose requester has gone (the
//! client hung up, the request timed out) is skipped.

use std::cell::RefCell;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use argon2::password_hash::phc::{Output, ParamsString, PasswordHash, Salt};
use argon2::{Algorithm, Argon2, Block, Params, Version};

use crate::error::{ApiError, ErrorCode};

/// Argon2id with 7 MiB, 5 passes and 1 lane. OWASP's Password Storage Cheat Sheet lists five
/// settings that "provide an equal level of defense" and differ only in trading memory for CPU
/// (46 MiB x 1 pass, 19 x 2, 12 x 3, 9 x 4, 7 x 5); each costs about the same CPU time, so this one
/// lets a hash per core fit the service's small memory at the same login rate. Hashes made with other parameters still verify, and are replaced at the next login.
const PARAMS: Params = match Params::new(7 * 1024, 5, 1, None) {
    Ok(params) => params,
    Err(_) => panic!("invalid Argon2 parameters"),
};

fn argon2() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, PARAMS)
}

type Job = Box<dyn FnOnce() + Send>;

/// Hashes that may wait per hashing thread: each takes tens of milliseconds, so a full queue is
/// about a second of work.
const QUEUED_PER_THREAD: usize = 16;

fn hashing_threads() -> &'static SyncSender<Job> {
    static JOBS: OnceLock<SyncSender<Job>> = OnceLock::new();
    JOBS.get_or_init(|| {
        let cores = std::thread::available_parallelism().map_or(1, usize::from);
        start_threads(cores, cores * QUEUED_PER_THREAD)
    })
}

/// Starts `threads` hashing threads behind a queue of `capacity` jobs.
fn start_threads(threads: usize, capacity: usize) -> SyncSender<Job> {
    let (sender, receiver) = sync_channel::<Job>(capacity);
    let receiver = Arc::new(Mutex::new(receiver));
    for n in 0..threads {
        let receiver = Arc::clone(&receiver);
        let spawned = std::thread::Builder::new()
            .name(format!("password-hash-{n}"))
            .spawn(move || run_jobs(&receiver));
        if let Err(error) = spawned {
            log::error!("cannot start a password hashing thread: {error}");
        }
    }
    sender
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
    run_on(hashing_threads(), work).await
}

/// Queues `work` on `threads`, or refuses at once when their queue is full.
async fn run_on<T: Send + 'static>(
    threads: &SyncSender<Job>,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, ApiError> {
    let (done, result) = tokio::sync::oneshot::channel();
    let job: Job = Box::new(move || {
        crate::metrics::HASH_QUEUE_DEPTH.dec();
        // Nobody waits for it any more: the effort would only delay the next one.
        if !done.is_closed() {
            let _ = done.send(work());
        }
    });
    crate::metrics::HASH_QUEUE_DEPTH.inc();
    threads.try_send(job).map_err(|refused| match refused {
        TrySendError::Full(_) => {
            crate::metrics::HASH_QUEUE_DEPTH.dec();
            ApiError::RetryLater {
                code: ErrorCode::ServerBusy,
                detail:
                    "Too many sign-ins are being checked at this moment; try again in a second."
                        .into(),
                retry_after: Duration::from_secs(1),
            }
        }
        TrySendError::Disconnected(_) => {
            crate::metrics::HASH_QUEUE_DEPTH.dec();
            ApiError::Internal("password hashing threads stopped".into())
        }
    })?;
    result
        .await
        .map_err(|_| ApiError::Internal("password hashing job dropped".into()))
}

/// Hashes `password` with Argon2id and a random salt, as a PHC string.
pub async fn hash(password: String) -> Result<String, ApiError> {
    on_hashing_thread(move || {
        hash_now(password.as_bytes())
            .map_err(|error| ApiError::Internal(format!("password hashing failed: {error}")))
    })
    .await?
}

/// Whether `password` matches `phc_hash`, checked with the parameters the hash names. A
/// malformed stored hash never matches.
pub async fn verify(password: String, phc_hash: String) -> Result<bool, ApiError> {
    on_hashing_thread(move || matches_now(password.as_bytes(), &phc_hash)).await
}

thread_local! {
    /// This hashing thread's Argon2 memory, kept from one hash to the next: with fresh memory per
    /// hash the allocator touched new pages before it let go of the last hash's, and a burst of
    /// logins grew the service well above where it settled.
    static MEMORY: RefCell<Vec<Block>> = const { RefCell::new(Vec::new()) };
}

/// Computes `argon2`'s output for `password` and `salt` into `out`, in this thread's memory
/// (resized, old memory first let go, only for a hash made with other parameters).
fn compute(argon2: &Argon2, password: &[u8], salt: &[u8], out: &mut [u8]) -> argon2::Result<()> {
    MEMORY.with_borrow_mut(|memory| {
        let blocks = argon2.params().block_count();
        if memory.len() != blocks {
            *memory = Vec::new();
            memory.resize(blocks, Block::new());
        }
        argon2.hash_password_into_with_memory(password, salt, out, memory.as_mut_slice())
    })
}

/// What `PasswordHasher::hash_password` makes, computed in the kept memory.
fn hash_now(password: &[u8]) -> argon2::password_hash::Result<String> {
    let salt = Salt::generate();
    let mut out = [0; Params::DEFAULT_OUTPUT_LEN];
    compute(&argon2(), password, salt.as_ref(), &mut out)?;
    let hash = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&PARAMS)?,
        salt: Some(salt),
        hash: Some(Output::new(&out)?),
    };
    Ok(hash.to_string())
}

/// What `PasswordVerifier::verify_password` decides, computed in the kept memory: the hash's
/// own algorithm, version and parameters, and the crate's constant-time comparison of outputs.
fn matches_now(password: &[u8], phc_hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc_hash) else {
        return false;
    };
    let (Some(salt), Some(expected)) = (&parsed.salt, &parsed.hash) else {
        return false;
    };
    let algorithm = Algorithm::new(parsed.algorithm.as_str());
    let version = parsed.version.map_or(Ok(Version::V0x13), Version::try_from);
    let (Ok(algorithm), Ok(version), Ok(params)) = (algorithm, version, Params::try_from(&parsed))
    else {
        return false;
    };
    let mut out = vec![0; expected.len()];
    compute(
        &Argon2::new(algorithm, version, params),
        password,
        salt.as_ref(),
        &mut out,
    )
    .is_ok()
        && Output::new(&out).is_ok_and(|computed| computed == *expected)
}

/// Whether `phc_hash` was made otherwise than `hash` makes hashes now (another algorithm,
/// version or parameters), so a login that has just verified it should store a new one.
pub fn needs_rehash(phc_hash: &str) -> bool {
    let Ok(parsed) = PasswordHash::new(phc_hash) else {
        return true;
    };
    let current = (PARAMS.m_cost(), PARAMS.t_cost(), PARAMS.p_cost());
    parsed.algorithm.as_str() != Algorithm::Argon2id.as_str()
        || parsed.version != Some(Version::V0x13 as u32)
        || Params::try_from(&parsed)
            .map(|params| (params.m_cost(), params.t_cost(), params.p_cost()) != current)
            .unwrap_or(true)
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use argon2::{PasswordHasher, PasswordVerifier};
    use futures_util::FutureExt;

    use super::*;

    #[tokio::test]
    async fn a_full_queue_refuses_at_once_and_abandoned_jobs_are_skipped() {
        let threads = start_threads(1, 1);
        let (started, on_started) = std::sync::mpsc::channel();
        let (release, on_release) = std::sync::mpsc::channel::<()>();
        let mut busy = Box::pin(run_on(&threads, move || {
            let _ = started.send(());
            let _ = on_release.recv();
        }));
        assert!((&mut busy).now_or_never().is_none(), "queued");
        on_started
            .recv()
            .expect("the one thread took the first job");
        // Queued, then its requester goes away before a thread is free.
        let abandoned_ran = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&abandoned_ran);
        let abandoned = run_on(&threads, move || flag.store(true, Ordering::SeqCst));
        assert!(abandoned.now_or_never().is_none(), "queued, waiting");
        // The queue (one place) is full: refused at once, not after the wait.
        let refused = run_on(&threads, || ()).await;
        assert!(matches!(
            refused,
            Err(ApiError::RetryLater {
                code: ErrorCode::ServerBusy,
                ..
            })
        ));
        release.send(()).expect("release");
        busy.await.expect("the first job ran");
        run_on(&threads, || ()).await.expect("room again");
        assert!(
            !abandoned_ran.load(Ordering::SeqCst),
            "nobody waited for it"
        );
    }

    #[tokio::test]
    async fn a_hash_verifies_its_password_and_no_other() {
        let hashed = hash("correct horse".into()).await.expect("hashes");
        assert!(hashed.starts_with("$argon2id$"));
        assert!(
            verify("correct horse".into(), hashed.clone())
                .await
                .expect("runs")
        );
        assert!(
            !verify("wrong horse".into(), hashed.clone())
                .await
                .expect("runs")
        );
        assert!(!verify("x".into(), "not a hash".into()).await.expect("runs"));
        assert!(hashed.contains("$m=7168,t=5,p=1$"), "{hashed}");
        assert!(!needs_rehash(&hashed));
    }

    #[tokio::test]
    async fn a_hash_with_older_parameters_verifies_and_asks_to_be_replaced() {
        // Made with the argon2 crate's defaults (19 MiB, 2 passes), this service's earlier ones.
        let older = Argon2::default()
            .hash_password(b"correct horse")
            .expect("hashes")
            .to_string();
        assert!(older.contains("$m=19456,t=2,p=1$"), "{older}");
        assert!(
            verify("correct horse".into(), older.clone())
                .await
                .expect("runs")
        );
        assert!(needs_rehash(&older));
        assert!(needs_rehash("not a hash"));
        // Same parameters, Argon2's older version 0x10.
        let older_version = Argon2::new(Algorithm::Argon2id, Version::V0x10, PARAMS)
            .hash_password(b"correct horse")
            .expect("hashes")
            .to_string();
        assert!(older_version.contains("$v=16$"), "{older_version}");
        assert!(needs_rehash(&older_version));
        for (password, stored, matches) in [
            ("correct horse", &older_version, true),
            ("wrong horse", &older, false),
            ("wrong horse", &older_version, false),
        ] {
            let verified = verify(password.into(), stored.clone()).await.expect("runs");
            assert_eq!(verified, matches, "{password} against {stored}");
        }
        // Back to the current parameters after the hashing threads computed older ones.
        let current = hash("correct horse".into()).await.expect("hashes");
        assert!(verify("correct horse".into(), current).await.expect("runs"));
    }

    #[test]
    fn hashes_agree_with_the_argon2_crates_own_hashing_and_verifying() {
        let ours = hash_now(b"correct horse").expect("hashes");
        let parsed = PasswordHash::new(&ours).expect("a PHC string");
        assert!(argon2().verify_password(b"correct horse", &parsed).is_ok());
        assert!(argon2().verify_password(b"wrong horse", &parsed).is_err());
        let theirs = argon2()
            .hash_password(b"correct horse")
            .expect("hashes")
            .to_string();
        assert!(matches_now(b"correct horse", &theirs));
        assert!(!matches_now(b"wrong horse", &theirs));
        let truncated = &theirs[..theirs.len() - 4];
        assert!(!matches_now(b"correct horse", truncated));
    }
}
